import { createInterface } from 'node:readline/promises';

type Input = NodeJS.ReadableStream & { isTTY?: boolean };

/**
 * Whether a bulk change may go ahead. `--yes` says so; on a terminal the person is asked (y/N, on
 * stderr, so stdout keeps only results); anywhere else (a pipe, a scheduled job) the answer is
 * `needs-yes`, so that nothing changes everything by accident.
 */
export async function confirmBulk(options: {
  /** The change, as a question's subject: `replay every dead letter of orders`. */
  what: string;
  yes: boolean;
  input?: Input;
  output?: NodeJS.WritableStream;
}): Promise<'yes' | 'no' | 'needs-yes'> {
  if (options.yes) return 'yes';
  const input = options.input ?? process.stdin;
  if (!input.isTTY) return 'needs-yes';
  const prompt = createInterface({ input, output: options.output ?? process.stderr });
  try {
    const answer = await prompt.question(`${options.what}? [y/N] `);
    return /^y(es)?$/i.test(answer.trim()) ? 'yes' : 'no';
  } finally {
    prompt.close();
  }
}

/** As a script asks: exit 2 naming --yes when nobody can be asked, exit 1 when the answer is no. */
export async function askFirst(script: string, what: string, yes: boolean): Promise<void> {
  const answer = await confirmBulk({ what, yes });
  if (answer === 'yes') return;
  if (answer === 'needs-yes') {
    console.error(`${script}: this would ${what}; add --yes to go ahead (--dry-run shows what it would do)`);
    process.exit(2);
  }
  console.error(`${script}: nothing changed`);
  process.exit(1);
}
