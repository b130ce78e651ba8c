import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  createStatusLine,
  formatStatus,
  formatTotals,
  type PipelineStatus,
  readStatus,
} from '../../scripts/lib/status-line.ts';
import { formatLogLine } from '../../src/log-format.ts';
import { createLogger } from '../../src/logger.ts';

const record = {
  level: 30,
  time: '2026-12-01T17:45:01.123Z',
  pid: 4242,
  hostname: 'replica-1',
  service: 'keyless-worker',
  component: 'consumer',
  entity: 'orders',
  concurrency: 32,
  msg: 'consumer started',
};

describe('log lines on a terminal', () => {
  it('prints one short line: time, level, component, message, then the fields that say something', () => {
    expect(formatLogLine(JSON.stringify(record), { color: false })).toBe(
      '17:45:01.123 INFO  consumer consumer started entity=orders concurrency=32',
    );
  });

  it('colours only when asked', () => {
    expect(formatLogLine(JSON.stringify(record), { color: false })).not.toContain('\x1b[');
    expect(formatLogLine(JSON.stringify(record), { color: true })).toContain('\x1b[32mINFO \x1b[0m');
  });

  it('shows an error as its type and message, quotes values with spaces, and passes non-JSON through', () => {
    const line = JSON.stringify({
      level: 50,
      time: record.time,
      msg: 'start failed',
      err: { type: 'SqlError', message: 'Login failed', stack: 'SqlError: …', code: 'LoginFailed' },
      reason: 'two words',
    });
    expect(formatLogLine(line, { color: false })).toBe(
      '17:45:01.123 ERROR start failed err="SqlError LoginFailed: Login failed" reason="two words"',
    );
    expect(formatLogLine('plain text', { color: false })).toBe('plain text');
  });

  it('writes the same events pretty when the logger is made for a terminal, still redacting secrets', () => {
    const written: string[] = [];
    const logger = createLogger('info', {}, { pretty: true, out: { write: (t) => written.push(t) } });
    logger.info({ token: 'eyJhbGciOi.secret' }, 'identity ready');
    logger.debug('per message: not shown at info');
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}identity ready token=\[redacted\]\n$/);
  });
});

const status = (patch: Partial<PipelineStatus>): PipelineStatus => ({
  at: 0,
  received: 0,
  completed: 0,
  deadLettered: 0,
  retrying: 0,
  retried: 0,
  inFlight: 0,
  pausedSeconds: 0,
  lagSumSeconds: 0,
  lagCount: 0,
  ...patch,
});

describe('the npm start status line', () => {
  it('shows totals, the rate since the last refresh and the average lag of what committed in it', () => {
    const before = status({ at: 1_000, received: 100, completed: 90, lagSumSeconds: 9, lagCount: 90 });
    const now = status({
      at: 2_000,
      received: 1_350,
      completed: 1_290,
      deadLettered: 10,
      retrying: 2,
      retried: 40,
      lagSumSeconds: 9 + 1_200 * 0.045,
      lagCount: 1_290,
    });
    expect(formatStatus(now, before)).toBe(
      'received 1,350  completed 1,290  dead-lettered 10  retrying 2  1,200 msg/s  lag 45 ms',
    );
    expect(formatStatus(before, undefined)).toBe('received 100  completed 90  dead-lettered 0  retrying 0');
    expect(formatStatus(status({ at: 3_000 }), status({ at: 2_000 }))).toContain('0.0 msg/s  lag -');
  });

  it('says the worker is paused while the database is unavailable, from the breaker gauges', async () => {
    const exposition = [
      'keyless_breaker_state{state="closed"} 0',
      'keyless_breaker_state{state="half-open"} 0',
      'keyless_breaker_state{state="open"} 1',
      'keyless_breaker_open_seconds 12.4',
    ].join('\n');
    const server = createServer((_req, res) => res.end(exposition));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const now = await readStatus(`http://127.0.0.1:${port}/metrics`);
      expect(formatStatus(now, undefined)).toContain('paused: database unavailable 12 s');
      expect(formatStatus(status({}), undefined)).not.toContain('paused');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('reads "retrying" as the retries waiting now (the queue depth gauge), not the count so far', async () => {
    const exposition = [
      'keyless_messages_received_total 120',
      'keyless_messages_abandoned_total 3',
      'keyless_messages_deferred_total 9',
      'keyless_retry_queue_depth 4',
    ].join('\n');
    const server = createServer((_req, res) => res.end(exposition));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const now = await readStatus(`http://127.0.0.1:${port}/metrics`);
      expect(now).toMatchObject({ received: 120, retrying: 4, retried: 12 });
      expect(formatStatus(now, undefined)).toContain('retrying 4');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('prints the totals of the run on exit, with how often a message was handed back for a retry', () => {
    expect(
      formatTotals(
        status({
          at: 61_000,
          received: 1_050,
          completed: 1_000,
          deadLettered: 50,
          retrying: 2,
          retried: 7,
          lagSumSeconds: 150,
          lagCount: 1_000,
        }),
        1_000,
      ),
    ).toBe(
      'totals over 60.0 s: received 1,050, completed 1,000, dead-lettered 50, deferred or abandoned 7, average lag 150 ms',
    );
  });

  it('redraws in place and prints other output above the status line', () => {
    const screen: string[] = [];
    const line = createStatusLine(
      { write: (t) => screen.push(`E:${t}`) },
      { write: (t) => screen.push(`O:${t}`) },
    );
    line.show('received 1');
    line.print('a log line');
    line.show('received 2');
    line.clear();
    expect(screen).toEqual([
      'E:received 1',
      'E:\r\x1b[K',
      'O:a log line\n',
      'E:received 1',
      'E:\r\x1b[K',
      'E:received 2',
      'E:\r\x1b[K',
    ]);
  });
});
