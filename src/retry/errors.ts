export type RetryErrorCode =
  /** Redis did not take a retry job (down, or too slow to answer): the message is abandoned instead. */
  | 'RedisUnavailable'
  /** Redis evicts keys (`maxmemory-policy` is not `noeviction`): BullMQ would lose jobs. */
  | 'EvictionPolicy'
  /** No token for Redis from the identity (REDIS_AUTH=entra). */
  | 'RedisAuth'
  /** A deferred message is still being settled elsewhere; the job runs again shortly. */
  | 'NotDeferredYet'
  /** A job points into another entity than this worker's: one Redis is shared by two deployments. */
  | 'ForeignEntity';

/** The retry tier's one error class; callers act on `code`. */
export class RetryError extends Error {
  override readonly name = 'RetryError';
  readonly code: RetryErrorCode;
  constructor(code: RetryErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
