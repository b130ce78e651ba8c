-- Deletes one small batch of the oldest inbox rows past retention: short transactions, short locks.
DELETE FROM dbo.Inbox
WHERE MessageId IN (
  SELECT TOP (@batch) i.MessageId
  FROM dbo.Inbox AS i
  WHERE i.ProcessedAt < DATEADD(day, 0 - @days, SYSUTCDATETIME())
  ORDER BY i.ProcessedAt
);
