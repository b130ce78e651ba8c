import { parseArgs } from 'node:util';
import type { DeadLetterFilter } from './dlq.ts';
import type { InboxFilter } from './inbox.ts';

/** A sub-command with its options, as `npm run reprocess` was asked. */
export type ReprocessCommand = {
  dryRun: boolean;
  max: number | undefined;
  ratePerSec: number | undefined;
} & (
  | { what: 'dlq'; action: 'replay' | 'purge'; filter: DeadLetterFilter; duplicateWindowMs: number }
  | { what: 'inbox'; filter: InboxFilter }
  | { what: 'retries'; action: 'list' | 'retry' | 'give-up'; messageId: string | undefined }
);

export const reprocessUsage = `usage: npm run reprocess -- <dlq|retries|inbox> [--dry-run] [--max N] [--rate N/s]
  dlq      [--reason R] [--type T] [--since ISO] [--until ISO] [--message-id ID] [--purge] [--duplicate-window 10m]
  retries  --list | --retry | --give-up   [--message-id ID]
  inbox    [--type T] [--since ISO] [--until ISO] [--after MESSAGE_ID]`;

/** Bad arguments: the message says which and what was expected. */
export class ReprocessArgsError extends Error {
  override readonly name = 'ReprocessArgsError';
  readonly code = 'BadArgument' as const;
}

const bad = (message: string): never => {
  throw new ReprocessArgsError(message);
};

const date = (name: string, v: string | undefined): Date | undefined => {
  if (v === undefined) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? bad(`--${name} must be a date and time (ISO 8601), got ${v}`) : d;
};

const durationMs = (v: string): number => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) return bad(`--duplicate-window must be a duration such as 10m, 30s or 0, got ${v}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'ms') as 'ms'];
  return Number(m[1]) * unit;
};

/** `npm run reprocess` arguments → the command, or a ReprocessArgsError naming what is wrong. */
export function parseReprocessArgs(argv: readonly string[]): ReprocessCommand {
  const { values: v, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      'dry-run': { type: 'boolean', default: false },
      max: { type: 'string' },
      rate: { type: 'string' },
      reason: { type: 'string' },
      type: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      after: { type: 'string' },
      'message-id': { type: 'string' },
      purge: { type: 'boolean', default: false },
      'duplicate-window': { type: 'string', default: '10m' },
      list: { type: 'boolean', default: false },
      retry: { type: 'boolean', default: false },
      'give-up': { type: 'boolean', default: false },
    },
  });
  const max = v.max === undefined ? undefined : Number(v.max);
  if (max !== undefined && !(Number.isInteger(max) && max > 0)) bad('--max must be a positive integer');
  const rate = v.rate === undefined ? undefined : Number(v.rate.replace(/\/s$/, ''));
  if (rate !== undefined && !(rate > 0))
    bad('--rate must be a positive number of items per second, such as 50/s');
  const common = { dryRun: v['dry-run'] ?? false, max, ratePerSec: rate };
  const since = date('since', v.since);
  const until = date('until', v.until);
  switch (positionals[0]) {
    case 'dlq':
      return {
        ...common,
        what: 'dlq',
        action: v.purge ? 'purge' : 'replay',
        duplicateWindowMs: durationMs(v['duplicate-window'] ?? '10m'),
        filter: { reason: v.reason, type: v.type, since, until, messageId: v['message-id'] },
      };
    case 'inbox':
      return { ...common, what: 'inbox', filter: { type: v.type, since, until, after: v.after } };
    case 'retries': {
      const actions = (['list', 'retry', 'give-up'] as const).filter((a) => v[a]);
      if (actions.length !== 1) bad('retries needs exactly one of --list, --retry, --give-up');
      return { ...common, what: 'retries', action: actions[0] as 'list', messageId: v['message-id'] };
    }
    default:
      return bad(`unknown sub-command ${positionals[0] ?? '(none)'}; expected dlq, retries or inbox`);
  }
}
