/** Machine-readable dead-letter reasons: a closed set, so operators can group and replay by reason. */
export type DeadLetterReason =
  | 'InvalidJson'
  | 'InvalidEnvelope'
  | 'UnknownType'
  | 'ValidationFailed'
  | 'PermanentSqlError'
  | 'RetriesExhausted'
  | 'MaxDeliveryCountExceeded';

/** What the pipeline decided for one message; the consumer settles the message accordingly. */
export type Outcome =
  | { kind: 'complete' }
  | { kind: 'deadLetter'; reason: DeadLetterReason; description: string }
  /**
   * Not done now; Service Bus delivers the message again. `retryable`: the failure is transient (the
   * adapter classified it so), worth a retry of the same message, through the retry tier.
   */
  | { kind: 'abandon'; error: unknown; retryable?: boolean }
  /**
   * A transient failure with a retry job already added: the message waits deferred in Service Bus,
   * `properties` (the attempt counter) written onto it as it is deferred.
   */
  | { kind: 'defer'; error: unknown; properties?: Record<string, string | number> };
