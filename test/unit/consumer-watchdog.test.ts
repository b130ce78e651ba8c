import { describe, expect, it } from 'vitest';
import { createReceiverWatchdog, type ReceiverWatchdogDeps } from '../../src/servicebus/watchdog.ts';
import { capturingLogger } from './consumer-fakes.ts';

function watchdog(patch: Partial<ReceiverWatchdogDeps>) {
  const calls = { peeks: 0, recreations: 0 };
  const dog = createReceiverWatchdog({
    idleMs: 1_000,
    now: () => 10_000,
    lastActivityAt: () => 0,
    inFlight: () => 0,
    hasWaitingMessages: async () => {
      calls.peeks++;
      return true;
    },
    recreate: async () => {
      calls.recreations++;
    },
    logger: capturingLogger().logger,
    ...patch,
  });
  return { dog, calls };
}

describe('receiver watchdog', () => {
  it('recreates a receiver idle past idleMs while unlocked messages wait', async () => {
    const { dog, calls } = watchdog({});
    expect(await dog.check()).toBe('recreated');
    expect(calls).toEqual({ peeks: 1, recreations: 1 });
  });

  it('leaves a receiver alone that delivered recently, without peeking', async () => {
    const { dog, calls } = watchdog({ lastActivityAt: () => 9_500 });
    expect(await dog.check()).toBe('recent');
    expect(calls.peeks).toBe(0);
  });

  it('leaves a receiver alone while messages are in flight: it is waiting for credit, not stalled', async () => {
    const { dog, calls } = watchdog({ inFlight: () => 3 });
    expect(await dog.check()).toBe('busy');
    expect(calls.peeks).toBe(0);
  });

  it('leaves a quiet receiver alone when nothing waits', async () => {
    const { dog, calls } = watchdog({ hasWaitingMessages: async () => false });
    expect(await dog.check()).toBe('empty');
    expect(calls.recreations).toBe(0);
  });

  it('survives a failing peek or recreation and tries again on the next check', async () => {
    const failingPeek = watchdog({
      hasWaitingMessages: async () => {
        throw new Error('management link down');
      },
    });
    expect(await failingPeek.dog.check()).toBe('failed');
    const failingRecreate = watchdog({
      recreate: async () => {
        throw new Error('connection refused');
      },
    });
    expect(await failingRecreate.dog.check()).toBe('failed');
  });
});
