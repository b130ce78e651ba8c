-- Records the batch's new message ids, in the transaction of their effects (exactly-once effect).
INSERT INTO dbo.Inbox (MessageId, Type, Source, EventTime, ReceivedAt, ProcessedAt, Payload)
SELECT m.MessageId, m.Type, m.Source, m.EventTime, SYSUTCDATETIME(), SYSUTCDATETIME(), m.Payload
FROM OPENJSON(@messages) WITH (
  MessageId NVARCHAR(128) '$.id',
  Type NVARCHAR(256) '$.type',
  Source NVARCHAR(1024) '$.source',
  EventTime DATETIMEOFFSET(7) '$.time',
  Payload NVARCHAR(MAX) '$.payload'
) AS m;
