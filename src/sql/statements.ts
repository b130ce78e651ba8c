import { readFileSync } from 'node:fs';

/** The statements under ./statements, one T-SQL statement per file (graphile-worker's layout). */
export type StatementName =
  | 'ensure-schema-migrations'
  | 'select-applied-migration'
  | 'insert-schema-migration'
  | 'select-inbox-seen'
  | 'insert-inbox'
  | 'update-orders-placed'
  | 'insert-orders-placed'
  | 'insert-order-lines'
  | 'update-orders-status'
  | 'insert-orders-status'
  | 'select-permissions'
  | 'select-inbox-page'
  | 'count-inbox'
  | 'take-lease'
  | 'release-lease'
  | 'delete-inbox-expired';

const cache = new Map<StatementName, string>();

/** The text of a statement, read once. */
export const statement = (name: StatementName): string => {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(`./statements/${name}.sql`, import.meta.url), 'utf8');
    cache.set(name, text);
  }
  return text;
};
