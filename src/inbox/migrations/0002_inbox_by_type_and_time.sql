-- Replays and backfills select inbox rows by event type and processing time.
CREATE NONCLUSTERED INDEX IX_Inbox_Type_ProcessedAt ON dbo.Inbox (Type, ProcessedAt);
