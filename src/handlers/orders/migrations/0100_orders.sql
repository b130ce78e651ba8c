-- The example orders domain's tables. A domain's migrations are numbered from 0100 in the same
-- sequence as the product's (below 0100), each applied once. The guards: databases migrated before
-- the domain had a folder of its own got these tables from migration 0001.

-- One row per order. A status change may arrive before the order is placed, so the placed fields
-- are nullable and filled when `placed` arrives; StatusVersion only ever grows.
IF OBJECT_ID(N'dbo.Orders', N'U') IS NULL
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
IF OBJECT_ID(N'dbo.OrderLines', N'U') IS NULL
CREATE TABLE dbo.OrderLines (
  OrderId UNIQUEIDENTIFIER NOT NULL CONSTRAINT FK_OrderLines_Orders REFERENCES dbo.Orders (OrderId),
  LineNumber INT NOT NULL,
  Sku NVARCHAR(64) NOT NULL,
  Quantity INT NOT NULL CONSTRAINT CK_OrderLines_Quantity CHECK (Quantity > 0),
  UnitPrice DECIMAL(19, 2) NOT NULL,
  CONSTRAINT PK_OrderLines PRIMARY KEY CLUSTERED (OrderId, LineNumber)
);
