import { readFileSync } from 'node:fs';
import { SqlError } from './errors.ts';

/**
 * One T-SQL statement per `.sql` file (graphile-worker's layout), read once when its owner is set
 * up, so a missing file stops the start instead of failing a message. Each owner keeps its
 * statements beside its code: the SQL layer's own here, the inbox's in inbox/, a handler's in its
 * folder.
 */
export type Statements<N extends string> = (name: N) => string;

/**
 * Reads `names` from `dir` now.
 * @throws SqlError `InvalidStatement` naming the file that cannot be read.
 */
export function loadStatements<const N extends string>(dir: URL, names: readonly N[]): Statements<N> {
  const texts = new Map<string, string>();
  for (const name of names) {
    const file = new URL(`${name}.sql`, dir);
    try {
      texts.set(name, readFileSync(file, 'utf8'));
    } catch (error: unknown) {
      throw new SqlError(`cannot read the statement ${file.pathname}: ${(error as Error).message}`, {
        code: 'InvalidStatement',
        transient: false,
        cause: error,
      });
    }
  }
  return (name) => {
    const text = texts.get(name);
    // Only reachable through a cast: a name outside the list is a bug, not the message's fault.
    if (text === undefined) {
      throw new SqlError(`no statement ${name} in ${dir.pathname}`, {
        code: 'InvalidStatement',
        transient: false,
      });
    }
    return text;
  };
}

/** The SQL layer's own statements (migrations, rights check), under ./statements. */
export const statement = loadStatements(new URL('./statements/', import.meta.url), [
  'ensure-schema-migrations',
  'select-applied-migration',
  'insert-schema-migration',
  'select-permissions',
]);
