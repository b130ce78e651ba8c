-- Moves orders to a newer status only: an older or repeated version changes nothing.
UPDATE dbo.Orders WITH (UPDLOCK, SERIALIZABLE)
SET Status = s.Status,
  StatusVersion = s.Version,
  UpdatedAt = SYSUTCDATETIME()
FROM OPENJSON(@changes) WITH (
  OrderId UNIQUEIDENTIFIER '$.orderId',
  Status NVARCHAR(16) '$.status',
  Version INT '$.version'
) AS s
WHERE s.OrderId = Orders.OrderId AND Orders.StatusVersion < s.Version;
