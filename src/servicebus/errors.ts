import { isServiceBusError, type ServiceBusErrorCode } from '@azure/service-bus';

/**
 * The Service Bus error code behind anything a Service Bus call threw, or undefined when it is
 * not a Service Bus error. The SDK throws an AggregateError after its retried attempts (each a
 * ServiceBusError, e.g. `UnauthorizedAccess`), and core-amqp errors can arrive as a `cause`: the
 * first coded one says why. Detected by name, as the SDK's own `isServiceBusError` does.
 */
export function serviceBusCode(error: unknown, depth = 0): ServiceBusErrorCode | undefined {
  if (depth > 5 || typeof error !== 'object' || error === null) return undefined;
  if (isServiceBusError(error)) return error.code;
  const inner = (error as { errors?: unknown }).errors;
  for (const each of Array.isArray(inner) ? inner : []) {
    const code = serviceBusCode(each, depth + 1);
    if (code) return code;
  }
  return serviceBusCode((error as { cause?: unknown }).cause, depth + 1);
}
