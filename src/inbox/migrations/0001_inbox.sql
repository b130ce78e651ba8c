-- The inbox that makes every message's effect happen once. (Databases migrated before the
-- example orders domain moved into its own folder recorded this migration as orders_and_inbox,
-- with the orders tables: handlers/orders/migrations/0100_orders.sql finds them there.)

-- Every message id whose effect is committed, with what is needed to replay the event later.
CREATE TABLE dbo.Inbox (
  MessageId NVARCHAR(128) NOT NULL CONSTRAINT PK_Inbox PRIMARY KEY CLUSTERED,
  Type NVARCHAR(256) NOT NULL,
  Source NVARCHAR(1024) NOT NULL,
  EventTime DATETIMEOFFSET(7) NULL,
  ReceivedAt DATETIME2(7) NOT NULL,
  ProcessedAt DATETIME2(7) NOT NULL,
  Payload NVARCHAR(MAX) NOT NULL
);
