INSERT INTO dbo.SchemaMigrations (Version, Name) VALUES (@version, @name);
