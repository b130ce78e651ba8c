-- What the signed-in user may do on the tables the worker writes, and whether it may create tables
-- (migrations). NULL for a table that does not exist yet (not migrated).
SELECT
  HAS_PERMS_BY_NAME('dbo.Inbox', 'OBJECT', 'SELECT') AS InboxSelect,
  HAS_PERMS_BY_NAME('dbo.Inbox', 'OBJECT', 'INSERT') AS InboxInsert,
  HAS_PERMS_BY_NAME('dbo.Orders', 'OBJECT', 'INSERT') AS OrdersInsert,
  HAS_PERMS_BY_NAME('dbo.Orders', 'OBJECT', 'UPDATE') AS OrdersUpdate,
  HAS_PERMS_BY_NAME('dbo.OrderLines', 'OBJECT', 'INSERT') AS OrderLinesInsert,
  HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'CREATE TABLE') AS CreateTable
