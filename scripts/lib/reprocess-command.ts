import type { DeadLetterFilter } from '../../src/reprocess/dlq.ts';
import type { InboxFilter } from '../../src/reprocess/inbox.ts';
import { defineCommand, usageError, type Values } from './cli.ts';
import {
  dryRunFlag,
  durationMs,
  isoDate,
  jsonFlag,
  positiveInteger,
  ratePerSec,
  yesFlag,
} from './cli-values.ts';

/** A sub-command of `npm run reprocess` with its options. */
export type ReprocessCommand = {
  dryRun: boolean;
  max: number | undefined;
  ratePerSec: number | undefined;
  json: boolean;
  yes: boolean;
  /** What the run would do to everything, when no filter narrows it: it asks first. */
  bulk: string | undefined;
} & (
  | { what: 'dlq'; action: 'replay' | 'purge'; filter: DeadLetterFilter; duplicateWindowMs: number }
  | { what: 'inbox'; filter: InboxFilter }
  | { what: 'retries'; action: 'list' | 'retry' | 'give-up'; messageId: string | undefined }
);

const common = {
  'dry-run': dryRunFlag,
  max: { type: 'string', value: 'N', help: 'acts on at most N items' },
  rate: { type: 'string', value: 'RATE', help: 'items per second at most: 50/s, 600/m (default no limit)' },
  yes: yesFlag,
  json: jsonFlag,
} as const;
const range = {
  type: { type: 'string', value: 'T', help: 'only events of this CloudEvents type' },
  since: { type: 'string', value: 'ISO', help: 'only those from this time on (ISO 8601)' },
  until: { type: 'string', value: 'ISO', help: 'only those before this time' },
} as const;

const commonOf = (v: Values<typeof common>) => ({
  dryRun: v['dry-run'] === true,
  max: v.max === undefined ? undefined : positiveInteger('max', v.max),
  ratePerSec: v.rate === undefined ? undefined : ratePerSec('rate', v.rate),
  json: v.json === true,
  yes: v.yes === true,
});
const unless = (dryRun: boolean, filtered: boolean, change: string) =>
  dryRun || filtered ? undefined : change;

const dlq = defineCommand({
  name: 'reprocess dlq',
  usage: 'npm run reprocess -- dlq [filters] [--purge] [options]',
  about:
    'Sends dead letters back to the queue with their MessageId (the inbox keeps the effect single),\n' +
    'or deletes them with --purge. Needs Azure Service Bus Data Receiver and Data Sender on the queue.',
  flags: {
    reason: { type: 'string', value: 'R', help: 'only dead letters of this reason (ValidationFailed, …)' },
    ...range,
    'message-id': { type: 'string', value: 'ID', help: 'only this message' },
    purge: { type: 'boolean', help: 'deletes them instead of sending them back' },
    'duplicate-window': {
      type: 'string',
      value: 'DURATION',
      help: "the queue's duplicate detection window: 10m (default), 0 without one",
    },
    ...common,
  },
  parse(v): ReprocessCommand {
    const filter = {
      reason: v.reason,
      type: v.type,
      since: isoDate('since', v.since),
      until: isoDate('until', v.until),
      messageId: v['message-id'],
    };
    const action = v.purge ? 'purge' : 'replay';
    const c = commonOf(v);
    const filtered = Object.values(filter).some((f) => f !== undefined);
    return {
      ...c,
      what: 'dlq',
      action,
      duplicateWindowMs: durationMs('duplicate-window', v['duplicate-window'] ?? '10m'),
      filter,
      bulk: unless(c.dryRun, filtered, `${action === 'purge' ? 'delete' : 'replay'} every dead letter`),
    };
  },
});

const retries = defineCommand({
  name: 'reprocess retries',
  usage: 'npm run reprocess -- retries --list | --retry | --give-up [--message-id ID] [options]',
  about:
    "The retry tier's waiting jobs (BullMQ on Redis): list them, run them now, or give up and\n" +
    'dead-letter their messages as RetriesExhausted. Needs the Redis and Azure Service Bus Data Receiver.',
  flags: {
    list: { type: 'boolean', help: 'lists the waiting retries with attempt, due time and last error' },
    retry: { type: 'boolean', help: 'runs them now' },
    'give-up': { type: 'boolean', help: 'dead-letters their messages and removes the jobs' },
    'message-id': { type: 'string', value: 'ID', help: 'only the retries of this message' },
    ...common,
  },
  parse(v): ReprocessCommand {
    const actions = (['list', 'retry', 'give-up'] as const).filter((a) => v[a]);
    if (actions.length !== 1) usageError('retries needs exactly one of --list, --retry, --give-up');
    const action = actions[0] as 'list' | 'retry' | 'give-up';
    const c = commonOf(v);
    const messageId = v['message-id'];
    const bulk =
      action === 'give-up'
        ? unless(c.dryRun, messageId !== undefined, 'give up every waiting retry')
        : undefined;
    return { ...c, what: 'retries', action, messageId, bulk };
  },
});

const inbox = defineCommand({
  name: 'reprocess inbox',
  usage: 'npm run reprocess -- inbox [filters] [options]',
  about:
    "Re-applies stored events (dbo.Inbox) through today's handlers, for a backfill after a handler\n" +
    'changed; safe only for handlers that are idempotent per entity. Needs db_datareader + db_datawriter.',
  flags: {
    ...range,
    after: {
      type: 'string',
      value: 'ID',
      help: 'resumes after this message id (an interrupted run prints it)',
    },
    ...common,
  },
  parse(v): ReprocessCommand {
    const filter = {
      type: v.type,
      since: isoDate('since', v.since),
      until: isoDate('until', v.until),
      after: v.after,
    };
    const c = commonOf(v);
    const filtered = Object.values(filter).some((f) => f !== undefined);
    return { ...c, what: 'inbox', filter, bulk: unless(c.dryRun, filtered, 're-apply every stored event') };
  },
});

export const reprocessCommands = {
  name: 'reprocess',
  usage: 'npm run reprocess -- <dlq|retries|inbox> [options]',
  about:
    "Operators' batch reprocessing, as the operator identity. Each sub-command shows progress on\n" +
    'stderr, ends with a summary (--json: one JSON document) and exits 1 when anything failed, 130\n' +
    'when interrupted (Ctrl-C stops after the item in hand). A change to everything, with no filter,\n' +
    'asks first on a terminal and needs --yes elsewhere; --dry-run looks first.',
  commands: { dlq, retries, inbox },
};
