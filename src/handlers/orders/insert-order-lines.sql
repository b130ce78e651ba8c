-- Lines are immutable once placed: a repeated `placed` finds them and inserts nothing.
INSERT INTO dbo.OrderLines (OrderId, LineNumber, Sku, Quantity, UnitPrice)
SELECT l.OrderId, l.LineNumber, l.Sku, l.Quantity, l.UnitPrice
FROM OPENJSON(@lines) WITH (
  OrderId UNIQUEIDENTIFIER '$.orderId',
  LineNumber INT '$.lineNumber',
  Sku NVARCHAR(64) '$.sku',
  Quantity INT '$.quantity',
  UnitPrice DECIMAL(19, 2) '$.unitPrice'
) AS l
WHERE NOT EXISTS (
  SELECT 1 FROM dbo.OrderLines AS x WITH (UPDLOCK, SERIALIZABLE)
  WHERE x.OrderId = l.OrderId AND x.LineNumber = l.LineNumber
);
