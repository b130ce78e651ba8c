-- One page of stored events for a re-apply, in message id order so a run can resume after the last id.
SELECT TOP (@limit) i.MessageId, i.Type, i.Payload
FROM dbo.Inbox AS i
WHERE (@type = N'' OR i.Type = @type)
  AND i.ProcessedAt >= @since
  AND i.ProcessedAt < @until
  AND i.MessageId > @after
ORDER BY i.MessageId;
