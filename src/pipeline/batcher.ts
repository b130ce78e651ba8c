import type { CloudEvent } from '../cloudevents/cloud-event.ts';
import { defaults } from '../defaults.ts';
import type { Outcome } from './outcome.ts';

export type BatcherOptions = {
  /** A batch is written as soon as it has this many events. @defaultValue 100 */
  maxBatchSize?: number;
  /** A batch that is not full is written this long after its first event. @defaultValue 5 */
  flushMs?: number;
  /** Batches written at the same time. @defaultValue 1 */
  maxConcurrentWrites?: number;
  /** Events held before `submit` waits for room (memory bound). @defaultValue 10 × maxBatchSize */
  maxPending?: number;
  /** Writes one batch; must give every event id an outcome (the SQL writer's `writeBatch`). */
  write: (events: CloudEvent[]) => Promise<Map<string, Outcome>>;
};

export type Batcher = {
  /** Queues an event; resolves with its outcome once its batch is written. */
  submit(event: CloudEvent): Promise<Outcome>;
  /** Writes everything queued now and waits for it. */
  flush(): Promise<void>;
  /** Stops taking events, writes what is queued and waits for writes in flight. Idempotent. */
  close(): Promise<void>;
  /** What it holds now: events queued, batches being written, submitters waiting for room. */
  stats(): BatcherStats;
};

export type BatcherStats = { queued: number; writing: number; waitingForRoom: number };

type Pending = { event: CloudEvent; resolve: (o: Outcome) => void };

/**
 * Gathers events that concurrent consumers submit into batches for the SQL writer: one
 * transaction for many messages is what makes the write path fast. Memory stays bounded:
 * `submit` waits while `maxPending` events are queued.
 */
export const createBatcher = (options: BatcherOptions): Batcher => {
  const maxBatchSize = options.maxBatchSize ?? defaults.batchMaxSize;
  const flushMs = options.flushMs ?? defaults.batchFlushMs;
  const maxConcurrent = options.maxConcurrentWrites ?? 1;
  const maxPending = options.maxPending ?? 10 * maxBatchSize;
  let queue: Pending[] = [];
  let timer: NodeJS.Timeout | undefined;
  let writing = 0;
  const inFlight = new Set<Promise<void>>();
  let roomWaiters: (() => void)[] = [];
  let closed = false;

  const writeBatch = async (batch: Pending[]): Promise<void> => {
    let outcomes: Map<string, Outcome>;
    try {
      outcomes = await options.write(batch.map((p) => p.event));
    } catch (error: unknown) {
      outcomes = new Map();
      for (const p of batch) outcomes.set(p.event.id, { kind: 'abandon', error });
    }
    for (const p of batch) {
      p.resolve(
        outcomes.get(p.event.id) ?? {
          kind: 'abandon',
          error: new Error(`The writer gave no outcome for ${p.event.id}`),
        },
      );
    }
  };

  /** Starts as many batches as allowed: full ones always, a partial one when `partial` is set. */
  const pump = (partial: boolean): void => {
    while (writing < maxConcurrent && queue.length > 0 && (partial || queue.length >= maxBatchSize)) {
      const batch = queue.slice(0, maxBatchSize);
      queue = queue.slice(maxBatchSize);
      writing++;
      const done = writeBatch(batch).finally(() => {
        writing--;
        inFlight.delete(done);
        pump(timer === undefined && queue.length > 0);
      });
      inFlight.add(done);
      const waiters = roomWaiters;
      roomWaiters = [];
      for (const w of waiters) w();
    }
    if (queue.length > 0 && timer === undefined && writing < maxConcurrent) schedule();
  };

  const schedule = (): void => {
    timer = setTimeout(() => {
      timer = undefined;
      pump(true);
    }, flushMs);
  };

  const waitForRoom = async (): Promise<void> => {
    while (queue.length >= maxPending) await new Promise<void>((r) => roomWaiters.push(r));
  };

  const flush = async (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    while (queue.length > 0 || inFlight.size > 0) {
      pump(true);
      await Promise.race(inFlight);
    }
  };

  return {
    async submit(event) {
      if (closed) return { kind: 'abandon', error: new Error('The batcher is closed') };
      // Enqueue in the same tick when there is room, so that a close() right after submit() still
      // finds the event queued and writes it instead of leaving it to a timer.
      if (queue.length >= maxPending) await waitForRoom();
      return new Promise<Outcome>((resolve) => {
        queue.push({ event, resolve });
        // After close() began, nothing waits for the timer: write at once.
        if (closed || queue.length >= maxBatchSize) pump(closed);
        else if (timer === undefined) schedule();
      });
    },
    flush,
    async close() {
      closed = true;
      await flush();
    },
    stats: () => ({ queued: queue.length, writing, waitingForRoom: roomWaiters.length }),
  };
};
