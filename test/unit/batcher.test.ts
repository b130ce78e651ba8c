import { describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../src/cloudevents/cloud-event.ts';
import { createBatcher } from '../../src/pipeline/batcher.ts';
import type { Outcome } from '../../src/pipeline/outcome.ts';

const event = (id: string): CloudEvent => ({ specversion: '1.0', id, source: '/t', type: 't', data: {} });

const recorder = (outcome: (e: CloudEvent) => Outcome = () => ({ kind: 'complete' })) => {
  const batches: string[][] = [];
  return {
    batches,
    write: async (events: CloudEvent[]) => {
      batches.push(events.map((e) => e.id));
      return new Map(events.map((e) => [e.id, outcome(e)]));
    },
  };
};

describe('batcher', () => {
  it('writes a full batch at once, without waiting for the timer', async () => {
    const r = recorder();
    const b = createBatcher({ maxBatchSize: 3, flushMs: 10_000, write: r.write });
    const outcomes = await Promise.all(['a', 'b', 'c'].map((id) => b.submit(event(id))));
    expect(outcomes).toEqual([{ kind: 'complete' }, { kind: 'complete' }, { kind: 'complete' }]);
    expect(r.batches).toEqual([['a', 'b', 'c']]);
    await b.close();
  });

  it('writes a partial batch flushMs after its first event', async () => {
    const r = recorder();
    const b = createBatcher({ maxBatchSize: 100, flushMs: 5, write: r.write });
    const started = Date.now();
    await Promise.all([b.submit(event('a')), b.submit(event('b'))]);
    expect(r.batches).toEqual([['a', 'b']]);
    expect(Date.now() - started).toBeLessThan(1_000);
    await b.close();
  });

  it("gives each event its own batch's outcome", async () => {
    const r = recorder((e) =>
      e.id === 'bad'
        ? { kind: 'deadLetter', reason: 'PermanentSqlError', description: 'x' }
        : { kind: 'complete' },
    );
    const b = createBatcher({ maxBatchSize: 2, write: r.write });
    const [good, bad] = await Promise.all([b.submit(event('good')), b.submit(event('bad'))]);
    expect(good).toEqual({ kind: 'complete' });
    expect(bad).toMatchObject({ kind: 'deadLetter' });
    await b.close();
  });

  it('abandons the events of a batch whose write throws', async () => {
    const b = createBatcher({
      write: async () => {
        throw new Error('down');
      },
    });
    expect(await b.submit(event('a'))).toMatchObject({ kind: 'abandon', error: new Error('down') });
    await b.close();
  });

  it('keeps at most maxPending events queued: submit waits for room', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const r = recorder();
    const b = createBatcher({
      maxBatchSize: 2,
      maxPending: 2,
      write: async (events) => {
        await gate;
        return r.write(events);
      },
    });
    const first = [b.submit(event('1')), b.submit(event('2'))];
    await new Promise((res) => setTimeout(res, 10));
    const queued = [b.submit(event('3')), b.submit(event('4'))];
    let lateAccepted = false;
    const late = b.submit(event('5')).then((o) => {
      lateAccepted = true;
      return o;
    });
    await new Promise((res) => setTimeout(res, 20));
    expect(lateAccepted).toBe(false);
    release();
    await Promise.all([...first, ...queued, late]);
    expect(r.batches.flat().sort()).toEqual(['1', '2', '3', '4', '5']);
    await b.close();
  });

  it('writes what is queued on close and abandons what comes after', async () => {
    const r = recorder();
    const b = createBatcher({ flushMs: 10_000, write: r.write });
    const pending = b.submit(event('a'));
    await b.close();
    expect(r.batches).toEqual([['a']]);
    expect(await pending).toEqual({ kind: 'complete' });
    expect(await b.submit(event('b'))).toMatchObject({ kind: 'abandon' });
  });
});
