-- Takes a lease that is free or expired, or renews our own: one row changed = we hold it until ExpiresAt.
UPDATE dbo.Leases WITH (UPDLOCK, SERIALIZABLE)
SET Holder = @holder,
  ExpiresAt = DATEADD(millisecond, @leaseMs, SYSUTCDATETIME())
WHERE Name = @name AND (Holder = @holder OR ExpiresAt < SYSUTCDATETIME());
