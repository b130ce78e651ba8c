// npm run sql -- "<T-SQL>" [--as worker|publisher|operator] [--json]: runs one batch as an identity
// (default: the worker) and prints the rows as a table, or as JSON.
import { defineCommand, runCommand, usageError } from './lib/cli.ts';
import { asFlag, jsonFlag, oneOf, scriptIdentities } from './lib/cli-values.ts';
import { scriptSettings, scriptSqlPool } from './lib/script-settings.ts';

const args = runCommand(
  defineCommand({
    name: 'sql',
    usage: 'npm run sql -- "<T-SQL>" [--as worker|publisher|operator] [--json]',
    about:
      'Runs one T-SQL batch in the configured database as an identity and prints the rows as a table\n' +
      '(the row count on stderr). The worker reads and writes; the operator also has DDL.',
    operands: true,
    flags: { as: asFlag(scriptIdentities, 'worker'), json: jsonFlag },
    parse(v, operands) {
      const text = operands.join(' ').trim();
      if (!text) usageError('give the T-SQL to run, in quotes');
      return { text, who: oneOf('as', v.as ?? 'worker', scriptIdentities), json: v.json === true };
    },
  }),
);

const { pool, target } = scriptSqlPool(await scriptSettings(args.who, ['sql']));
console.error(`-- ${target}`);
// Binary as SQL Server tools show it; bigint (when a driver gives one) as its digits.
const plain = (v: unknown): unknown =>
  Buffer.isBuffer(v) ? `0x${v.toString('hex')}` : typeof v === 'bigint' ? String(v) : v;
const show = (v: unknown): string =>
  v instanceof Date ? v.toISOString() : v === null || v === undefined ? 'NULL' : String(plain(v));
try {
  const { rows, rowCount } = await pool.query(args.text);
  if (args.json) {
    const values = rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, plain(v)])));
    console.log(JSON.stringify({ rowCount, rows: values }, null, 2));
  } else if (rows.length > 0) {
    const columns = Object.keys(rows[0] as object);
    const cells = rows.map((r) => columns.map((c) => show(r[c])));
    const widths = columns.map((c, i) =>
      Math.min(60, Math.max(c.length, ...cells.map((row) => (row[i] as string).length))),
    );
    const line = (values: string[]) =>
      values.map((v, i) => v.slice(0, widths[i]).padEnd(widths[i] as number)).join(' | ');
    console.log(line(columns));
    console.log(widths.map((w) => '-'.repeat(w)).join('-+-'));
    for (const row of cells) console.log(line(row));
  }
  console.error(`(${rowCount} row${rowCount === 1 ? '' : 's'})`);
} catch (error: unknown) {
  const e = error as { number?: number; code?: string; message?: string };
  console.error(`${e.code ?? 'Error'}${e.number ? ` ${e.number}` : ''}: ${e.message}`);
  process.exitCode = 1;
} finally {
  await pool.close();
}
