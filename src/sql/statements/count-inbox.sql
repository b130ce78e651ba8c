-- How many stored events a re-apply selects, per type (for --dry-run and the progress bar).
SELECT i.Type, COUNT(*) AS Events
FROM dbo.Inbox AS i
WHERE (@type IS NULL OR i.Type = @type)
  AND (@since IS NULL OR i.ProcessedAt >= @since)
  AND (@until IS NULL OR i.ProcessedAt < @until)
  AND i.MessageId > @after
GROUP BY i.Type;
