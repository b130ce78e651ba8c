-- A status change for an order not placed yet creates the order; `placed` fills the rest later.
INSERT INTO dbo.Orders (OrderId, Status, StatusVersion)
SELECT s.OrderId, s.Status, s.Version
FROM OPENJSON(@changes) WITH (
  OrderId UNIQUEIDENTIFIER '$.orderId',
  Status NVARCHAR(16) '$.status',
  Version INT '$.version'
) AS s
WHERE NOT EXISTS (SELECT 1 FROM dbo.Orders AS o WITH (UPDLOCK, SERIALIZABLE) WHERE o.OrderId = s.OrderId);
