// npm run sql -- "<T-SQL>" [--as worker|operator]: runs one batch with the configured identity
// (default: the worker) and prints the rows as a table.
import { scriptSettings, scriptSqlPool } from './lib/script-settings.ts';

const args = process.argv.slice(2);
const asAt = args.indexOf('--as');
const who = asAt >= 0 ? args.splice(asAt, 2)[1] : 'worker';
const text = args.join(' ').trim();
if (!text || (who !== 'worker' && who !== 'operator')) {
  console.error('usage: npm run sql -- "SELECT TOP (10) * FROM dbo.Orders" [--as worker|operator]');
  process.exit(2);
}
const { pool, target } = scriptSqlPool(await scriptSettings(who, ['sql']));
console.error(`-- ${target}`);
const show = (v: unknown): string =>
  v instanceof Date ? v.toISOString() : v === null || v === undefined ? 'NULL' : String(v);
try {
  const { rows, rowCount } = await pool.query(text);
  if (rows.length > 0) {
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
