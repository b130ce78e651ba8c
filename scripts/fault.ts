// npm run fault -- <sql|servicebus|identity> …: tells the running local stack (`npm start` or
// `npm run stack`) to misbehave, for demos and for trying the retries. `--wait` stays until it ends.
import { setTimeout as sleep } from 'node:timers/promises';
import { sendFault } from '../test/stand-ins/fault-control.ts';
import { runGroup } from './lib/cli.ts';
import { faultCommands } from './lib/fault-command.ts';
import { findLocalStack } from './lib/local-stack.ts';

const { request, wait } = runGroup(faultCommands);
const clock = (iso: string): string => new Date(iso).toISOString().slice(11, 19);
try {
  const stack = findLocalStack();
  if (!stack?.control) {
    console.error('fault: no local stack runs (start one with `npm start` or `npm run stack`)');
    process.exit(1);
  }
  const answer = await sendFault(stack.control, request);
  console.log(answer.endsAt ? `${answer.set}; ends at ${clock(answer.endsAt)} UTC` : answer.set);
  if (wait && answer.endsAt) {
    await sleep(Math.max(0, Date.parse(answer.endsAt) - Date.now()));
    console.log(`${request.service}: fault ended at ${clock(new Date().toISOString())} UTC`);
  }
} catch (error: unknown) {
  console.error(`fault: ${(error as Error).message}`);
  process.exit(1);
}
