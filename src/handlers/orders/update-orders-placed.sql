-- Fills the placed fields of orders that a status change created first. An order already placed
-- keeps its fields: a repeated `placed` changes nothing.
UPDATE dbo.Orders WITH (UPDLOCK, SERIALIZABLE)
SET CustomerId = p.CustomerId,
  Currency = p.Currency,
  PlacedAt = p.PlacedAt,
  Total = p.Total,
  UpdatedAt = SYSUTCDATETIME()
FROM OPENJSON(@orders) WITH (
  OrderId UNIQUEIDENTIFIER '$.orderId',
  CustomerId NVARCHAR(128) '$.customerId',
  Currency CHAR(3) '$.currency',
  PlacedAt DATETIMEOFFSET(7) '$.placedAt',
  Total DECIMAL(19, 2) '$.total'
) AS p
WHERE p.OrderId = Orders.OrderId AND Orders.PlacedAt IS NULL;
