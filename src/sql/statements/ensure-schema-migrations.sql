-- Not numbered: the table that records numbered migrations, created before any of them runs.
IF OBJECT_ID(N'dbo.SchemaMigrations', N'U') IS NULL
  CREATE TABLE dbo.SchemaMigrations (
    Version INT NOT NULL CONSTRAINT PK_SchemaMigrations PRIMARY KEY,
    Name NVARCHAR(256) NOT NULL,
    AppliedAt DATETIME2(7) NOT NULL CONSTRAINT DF_SchemaMigrations_AppliedAt DEFAULT (SYSUTCDATETIME())
  );
