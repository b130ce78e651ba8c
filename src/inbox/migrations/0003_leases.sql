-- Named leases, so that one replica at a time runs a periodic job (inbox retention). A lease is
-- held until ExpiresAt by server time; a replica that dies simply lets it expire.
CREATE TABLE dbo.Leases (
  Name NVARCHAR(128) NOT NULL CONSTRAINT PK_Leases PRIMARY KEY CLUSTERED,
  Holder NVARCHAR(128) NOT NULL,
  ExpiresAt DATETIME2(7) NOT NULL
);
INSERT INTO dbo.Leases (Name, Holder, ExpiresAt) VALUES (N'inbox-retention', N'', SYSUTCDATETIME());
