-- Gives a lease back at once, so another replica need not wait for it to expire.
UPDATE dbo.Leases
SET ExpiresAt = SYSUTCDATETIME()
WHERE Name = @name AND Holder = @holder;
