import { describe, expect, it } from 'vitest';
import { loggedAt, logRecords, tallyByMessage, warningsBetween } from './worker-log.ts';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, s)).toISOString();
const line = (level: number, s: number, msg: string) =>
  JSON.stringify({ level, time: at(s), service: 'keyless-worker', msg });
const output = [
  line(30, 0, 'worker running'),
  line(40, 1, 'write failed'),
  '(node:123) Warning: something Node says on stderr',
  line(50, 2, 'write failed'),
  line(40, 3, 'database unavailable: intake paused'),
  line(30, 5, 'database available again: intake resumed'),
  line(40, 6, 'after the window'),
  '{"level":40,"time":"2026-01-01T12:00:07.000Z","msg":"half a li',
].join('\n');

describe('worker log reading', () => {
  it('reads the JSON records and skips other lines and a line still being written', () => {
    expect(logRecords(output).map((r) => r.msg)).toEqual([
      'worker running',
      'write failed',
      'write failed',
      'database unavailable: intake paused',
      'database available again: intake resumed',
      'after the window',
    ]);
  });

  it('finds when a message was first logged, and nothing for one never logged', () => {
    expect(loggedAt(output, 'database available again: intake resumed')).toBe(Date.parse(at(5)));
    expect(loggedAt(output, 'write failed', Date.parse(at(2)))).toBe(Date.parse(at(2)));
    expect(loggedAt(output, 'never said')).toBeUndefined();
  });

  it('counts warnings and errors inside a time window, both ends included, and tallies them', () => {
    const warnings = warningsBetween(output, Date.parse(at(1)), Date.parse(at(5)));
    expect(warnings.map((r) => [r.level, r.msg])).toEqual([
      [40, 'write failed'],
      [50, 'write failed'],
      [40, 'database unavailable: intake paused'],
    ]);
    expect(tallyByMessage(warnings)).toEqual([
      ['write failed', 2],
      ['database unavailable: intake paused', 1],
    ]);
  });
});
