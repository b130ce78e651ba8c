import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { lazyChild } from '../../src/logger.ts';

const capture = () => {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, stream) };
};
const flush = () => new Promise((r) => setImmediate(r));

describe('lazyChild', () => {
  it('makes no child while nothing is logged at an enabled level', async () => {
    const { lines, logger } = capture();
    let made = 0;
    const log = lazyChild(logger, () => {
      made++;
      return { messageId: 'm-1' };
    });
    log.debug('not at info');
    log.trace({ x: 1 }, 'nor this');
    await flush();
    expect(made).toBe(0);
    expect(lines).toHaveLength(0);
  });

  it('logs with its bindings once something is logged, and its own children keep them', async () => {
    const { lines, logger } = capture();
    let made = 0;
    const log = lazyChild(logger, () => {
      made++;
      return { messageId: 'm-1' };
    });
    log.warn({ stage: 'settle' }, 'first');
    log.info('second');
    log.child({ eventType: 't' }).error('third');
    await flush();
    expect(made).toBe(1);
    expect(lines.map((l) => [l.msg, l.messageId])).toEqual([
      ['first', 'm-1'],
      ['second', 'm-1'],
      ['third', 'm-1'],
    ]);
    expect(lines[0]?.stage).toBe('settle');
    expect(lines[2]?.eventType).toBe('t');
    expect(log.isLevelEnabled('debug')).toBe(false);
  });
});
