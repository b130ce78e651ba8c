-- The example orders domain and the inbox that makes every message's effect happen once.

-- One row per order. A status change may arrive before the order is placed, so the placed fields
-- are nullable and filled when `placed` arrives; StatusVersion only ever grows.
CREATE TABLE dbo.Orders (
  OrderId UNIQUEIDENTIFIER NOT NULL CONSTRAINT PK_Orders PRIMARY KEY CLUSTERED,
  CustomerId NVARCHAR(128) NULL,
  Currency CHAR(3) NULL,
  PlacedAt DATETIMEOFFSET(7) NULL,
  Total DECIMAL(19, 2) NULL,
  Status NVARCHAR(16) NOT NULL,
  StatusVersion INT NOT NULL,
  CreatedAt DATETIME2(7) NOT NULL CONSTRAINT DF_Orders_CreatedAt DEFAULT (SYSUTCDATETIME()),
  UpdatedAt DATETIME2(7) NOT NULL CONSTRAINT DF_Orders_UpdatedAt DEFAULT (SYSUTCDATETIME()),
  CONSTRAINT CK_Orders_Status CHECK (Status IN (N'placed', N'paid', N'shipped', N'cancelled')),
  CONSTRAINT CK_Orders_StatusVersion CHECK (StatusVersion >= 0)
);

CREATE TABLE dbo.OrderLines (
  OrderId UNIQUEIDENTIFIER NOT NULL CONSTRAINT FK_OrderLines_Orders REFERENCES dbo.Orders (OrderId),
  LineNumber INT NOT NULL,
  Sku NVARCHAR(64) NOT NULL,
  Quantity INT NOT NULL CONSTRAINT CK_OrderLines_Quantity CHECK (Quantity > 0),
  UnitPrice DECIMAL(19, 2) NOT NULL,
  CONSTRAINT PK_OrderLines PRIMARY KEY CLUSTERED (OrderId, LineNumber)
);

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
