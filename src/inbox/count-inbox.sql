-- How many stored events a re-apply selects, per type (for --dry-run and the progress bar).
SELECT i.Type, COUNT(*) AS Events
FROM dbo.Inbox AS i
WHERE (@type = N'' OR i.Type = @type)
  AND i.ProcessedAt >= @since
  AND i.ProcessedAt < @until
  AND i.MessageId > @after
GROUP BY i.Type;
