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
  /** A transient failure: the message goes back to Service Bus to be delivered again. */
  | { kind: 'abandon'; error: unknown }
  | { kind: 'defer'; error: unknown };
