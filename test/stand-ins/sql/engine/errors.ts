import { SqlServerError, type SqlServerErrorInfo } from '../engine-api.ts';
import { type Catalog, tableKey } from './catalog.ts';

/** What the error mapper needs to know about the failing statement to word messages as SQL Server does. */
export type ErrorContext = {
  catalog: Catalog;
  database: string;
  verb: string;
  names: Map<string, string>;
  /** The table the statement writes, for errors PostgreSQL reports without one (22001). */
  target?: { schema: string; table: string };
};

type PgError = {
  code?: string;
  message?: string;
  detail?: string;
  constraint?: string;
  table?: string;
  column?: string;
  schema?: string;
};

const TYPE_NAMES: Record<string, string> = {
  integer: 'int',
  bigint: 'bigint',
  smallint: 'smallint',
  numeric: 'numeric',
  boolean: 'bit',
  uuid: 'uniqueidentifier',
  'timestamp without time zone': 'datetime2',
  'timestamp with time zone': 'datetimeoffset',
  'double precision': 'float',
  real: 'real',
  text: 'nvarchar',
  'character varying': 'nvarchar',
  character: 'nchar',
  bytea: 'varbinary',
  json: 'nvarchar',
  jsonb: 'nvarchar',
};

const err = (number: number, severity: number, state: number, message: string): SqlServerError =>
  new SqlServerError({ number, severity, state, message } satisfies SqlServerErrorInfo);

const display = (names: Map<string, string>, catalog: Catalog, lower: string): string =>
  names.get(lower.toLowerCase()) ?? catalog.names.get(lower.toLowerCase()) ?? lower;

export const isPgError = (e: unknown): e is PgError =>
  typeof e === 'object' &&
  e !== null &&
  typeof (e as PgError).code === 'string' &&
  (e as PgError).code?.length === 5;

/** Maps a PostgreSQL error to the SQL Server error a client would see for the same failure. */
export const toSqlServerError = (e: PgError, c: ErrorContext): SqlServerError => {
  const msg = e.message ?? '';
  const table =
    e.table && e.schema
      ? c.catalog.tables.get(tableKey(e.schema, e.table))
      : c.target && c.catalog.tables.get(tableKey(c.target.schema, c.target.table));
  const object = table ? `${table.schema}.${table.name}` : `${e.schema ?? 'dbo'}.${e.table ?? '?'}`;
  const column = (lower: string | undefined): string =>
    (lower && table?.columns.get(lower)?.name) ?? (lower ? display(c.names, c.catalog, lower) : '?');
  switch (e.code) {
    case '23505': {
      const info = c.catalog.constraints.get((e.constraint ?? '').toLowerCase());
      const value = /\)=\((.*)\) already exists/.exec(e.detail ?? '')?.[1] ?? '';
      if (info?.kind === 'INDEX') {
        return err(
          2601,
          14,
          1,
          `Cannot insert duplicate key row in object '${object}' with unique index '${info.name}'. The duplicate key value is (${value}).`,
        );
      }
      const kind = info?.kind === 'UNIQUE KEY' ? 'UNIQUE KEY' : 'PRIMARY KEY';
      return err(
        2627,
        14,
        1,
        `Violation of ${kind} constraint '${info?.name ?? e.constraint}'. Cannot insert duplicate key in object '${object}'. The duplicate key value is (${value}).`,
      );
    }
    case '23502':
      return err(
        515,
        16,
        2,
        `Cannot insert the value NULL into column '${column(e.column)}', table '${c.database}.${object}'; column does not allow nulls. ${c.verb === 'UPDATE' ? 'UPDATE' : 'INSERT'} fails.`,
      );
    case '23514':
    case '23503': {
      const info = c.catalog.constraints.get((e.constraint ?? '').toLowerCase());
      const kind = e.code === '23514' ? 'CHECK' : c.verb === 'DELETE' ? 'REFERENCE' : 'FOREIGN KEY';
      const col = info?.column ? `, column '${info.column}'` : '';
      return err(
        547,
        16,
        0,
        `The ${c.verb} statement conflicted with the ${kind} constraint "${info?.name ?? e.constraint}". The conflict occurred in database "${c.database}", table "${object}"${col}.`,
      );
    }
    case '22001': {
      const m = /value too long for type (character varying|character)\((\d+)\)/.exec(msg);
      const candidates =
        m && table
          ? [...table.columns.values()].filter((col) => col.type.length === Number(m[2]) && col.type.isString)
          : [];
      if (candidates.length === 1) {
        return err(
          2628,
          16,
          1,
          `String or binary data would be truncated in table '${c.database}.${object}', column '${candidates[0]?.name}'.`,
        );
      }
      return err(8152, 16, 30, 'String or binary data would be truncated.');
    }
    case '22003': {
      const m = /^(integer|bigint|smallint) out of range/.exec(msg);
      if (m)
        return err(
          8115,
          16,
          2,
          `Arithmetic overflow error converting expression to data type ${TYPE_NAMES[m[1] as string]}.`,
        );
      return err(8115, 16, 8, 'Arithmetic overflow error converting numeric to data type numeric.');
    }
    case '22P02': {
      const m = /invalid input syntax for type ([a-z ]+): "(.*)"$/s.exec(msg);
      const pgType = m?.[1] ?? '';
      const value = m?.[2] ?? '';
      if (pgType === 'uuid')
        return err(
          8169,
          16,
          2,
          'Conversion failed when converting from a character string to uniqueidentifier.',
        );
      if (pgType === 'numeric' || pgType === 'double precision' || pgType === 'real') {
        return err(8114, 16, 5, `Error converting data type nvarchar to ${TYPE_NAMES[pgType]}.`);
      }
      if (pgType === 'json' || /json/i.test(msg)) {
        return err(
          13609,
          16,
          4,
          `JSON text is not properly formatted. Unexpected character '${value.slice(0, 1)}' is found at position 0.`,
        );
      }
      return err(
        245,
        16,
        1,
        `Conversion failed when converting the nvarchar value '${value}' to data type ${TYPE_NAMES[pgType] ?? pgType}.`,
      );
    }
    case '22007':
    case '22008':
      return err(241, 16, 1, 'Conversion failed when converting date and/or time from character string.');
    case '22012':
      return err(8134, 16, 1, 'Divide by zero error encountered.');
    case '42P01': {
      const name = /relation "(.+)" does not exist/.exec(msg)?.[1] ?? '?';
      const parts = name.split('.').map((p) => display(c.names, c.catalog, p));
      return err(208, 16, 1, `Invalid object name '${parts.join('.')}'.`);
    }
    case '42703': {
      const m = /column "?([^"\s]+)"? does not exist/.exec(msg);
      const name = (m?.[1] ?? '?').split('.').pop() as string;
      return err(207, 16, 1, `Invalid column name '${display(c.names, c.catalog, name)}'.`);
    }
    case '42702': {
      const name = /column reference "(.+)" is ambiguous/.exec(msg)?.[1] ?? '?';
      return err(209, 16, 1, `Ambiguous column name '${display(c.names, c.catalog, name)}'.`);
    }
    case '42P07':
    case '42P06':
    case '42710': {
      const name = /"(.+)" already exists/.exec(msg)?.[1] ?? '?';
      return err(
        2714,
        16,
        6,
        `There is already an object named '${display(c.names, c.catalog, name)}' in the database.`,
      );
    }
    case '42701': {
      const name = /column "(.+)" of relation/.exec(msg)?.[1] ?? '?';
      return err(
        2705,
        16,
        3,
        `Column names in each table must be unique. Column name '${display(c.names, c.catalog, name)}' is specified more than once.`,
      );
    }
    case '42601': {
      const near =
        /at or near "(.*)"/.exec(msg)?.[1]?.replace(/^"|"$/g, '') ?? /at end of input/.exec(msg)?.[0];
      return err(102, 15, 1, `Incorrect syntax near '${near ?? ''}'.`);
    }
    case '42883':
    case '42804': {
      const m =
        /operator does not exist: ([a-z ]+?) [^a-z ]+ ([a-z ]+)/.exec(msg) ??
        /is of type ([a-z ]+) but expression is of type ([a-z ]+)/.exec(msg);
      const a = TYPE_NAMES[m?.[1] ?? ''] ?? m?.[1] ?? '?';
      const b = TYPE_NAMES[m?.[2] ?? ''] ?? m?.[2] ?? '?';
      return err(206, 16, 2, `Operand type clash: ${b} is incompatible with ${a}`);
    }
    case '21000':
      return err(
        512,
        16,
        1,
        'Subquery returned more than 1 value. This is not permitted when the subquery follows =, !=, <, <= , >, >= or when the subquery is used as an expression.',
      );
    case '3F000': {
      const name = /schema "(.+)" does not exist/.exec(msg)?.[1] ?? '?';
      return err(
        2760,
        16,
        1,
        `The specified schema name "${name}" either does not exist or you do not have permission to use it.`,
      );
    }
    case '2BP01':
      return err(
        3726,
        16,
        1,
        `Could not drop object because it is referenced by a FOREIGN KEY constraint. (${msg})`,
      );
    default:
      // No SQL Server equivalent is emulated: say so rather than pretend.
      return err(
        50000,
        16,
        1,
        `PostgreSQL ${e.code}: ${msg} (no SQL Server error is mapped for this in the stand-in)`,
      );
  }
};
