-- Message ids of the batch whose effect is already committed. The key-range locks keep a
-- concurrent batch with the same ids waiting until this transaction ends, so it then sees them.
SELECT i.MessageId
FROM dbo.Inbox AS i WITH (UPDLOCK, SERIALIZABLE)
WHERE i.MessageId IN (SELECT j.MessageId FROM OPENJSON(@ids) WITH (MessageId NVARCHAR(128) '$') AS j);
