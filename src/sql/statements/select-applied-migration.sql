-- Whether a migration is recorded; the range lock makes a concurrent migrator wait for this one.
SELECT m.Version FROM dbo.SchemaMigrations AS m WITH (UPDLOCK, SERIALIZABLE) WHERE m.Version = @version;
