-- Creates the orders no event has created yet, with the initial status at version 0.
INSERT INTO dbo.Orders (OrderId, CustomerId, Currency, PlacedAt, Total, Status, StatusVersion)
SELECT p.OrderId, p.CustomerId, p.Currency, p.PlacedAt, p.Total, N'placed', 0
FROM OPENJSON(@orders) WITH (
  OrderId UNIQUEIDENTIFIER '$.orderId',
  CustomerId NVARCHAR(128) '$.customerId',
  Currency CHAR(3) '$.currency',
  PlacedAt DATETIMEOFFSET(7) '$.placedAt',
  Total DECIMAL(19, 2) '$.total'
) AS p
WHERE NOT EXISTS (SELECT 1 FROM dbo.Orders AS o WITH (UPDLOCK, SERIALIZABLE) WHERE o.OrderId = p.OrderId);
