// npm run fault -- <sql|servicebus|identity> …: tells the running local stack (`npm start` or
// `npm run stack`) to misbehave, for demos and for trying the retries. `--wait` stays until it ends.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type FaultControlError,
  faultUsage,
  parseFaultArgs,
  sendFault,
} from '../test/stand-ins/fault-control.ts';
import { findLocalStack } from './lib/local-stack.ts';

const args = process.argv.slice(2);
const wait = args.includes('--wait');
const clock = (iso: string): string => new Date(iso).toISOString().slice(11, 19);
try {
  const request = parseFaultArgs(args.filter((a) => a !== '--wait'));
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
  const bad = (error as FaultControlError).code === 'BadRequest' || (error as Error).name === 'TypeError';
  console.error(`fault: ${(error as Error).message}`);
  if (bad) console.error(faultUsage);
  process.exit(bad ? 2 : 1);
}
