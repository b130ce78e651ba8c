import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { Connection, type ConnectionConfiguration, Request, TYPES } from 'tedious';
import { defaults } from '../defaults.ts';
import { toSqlError } from './classify.ts';
import type { SqlConnection, SqlParams, SqlParamType, SqlResult, SqlRow } from './client.ts';

export type SqlAuthentication =
  | { type: 'token-credential'; options: { credential: TokenCredential } }
  /** SQL authentication: local stand-ins only, never Azure (no secrets in this project). */
  | { type: 'default'; options: { userName: string; password: string } };

export type SqlConnectionOptions = {
  /** Host name; also the name the server certificate must carry. */
  server: string;
  /** @defaultValue 1433 */
  port?: number;
  /** Always named: a managed identity's contained user exists in its database, not in `master`. */
  database: string;
  authentication: SqlAuthentication;
  /** @defaultValue true */
  encrypt?: boolean;
  /** @defaultValue false */
  trustServerCertificate?: boolean;
  /** Extra CA certificates (PEM) to trust, for a local stand-in's certificate. @defaultValue undefined (system CAs) */
  ca?: string | Buffer;
  /** @defaultValue 15000 */
  connectTimeoutMs?: number;
  /** @defaultValue 30000 */
  requestTimeoutMs?: number;
};

const TEDIOUS_TYPES = {
  nvarchar: TYPES.NVarChar,
  int: TYPES.Int,
  bigint: TYPES.BigInt,
  bit: TYPES.Bit,
  decimal: TYPES.Decimal,
  uniqueidentifier: TYPES.UniqueIdentifier,
  datetime2: TYPES.DateTime2,
  datetimeoffset: TYPES.DateTimeOffset,
} as const satisfies Record<SqlParamType, unknown>;

const paramOptions = (type: SqlParamType, value: unknown): Record<string, number> => {
  if (type === 'decimal') {
    const text = String(value ?? '0');
    const scale = text.includes('.') ? text.length - text.indexOf('.') - 1 : 0;
    return { precision: 38, scale };
  }
  if (type === 'datetime2' || type === 'datetimeoffset') return { scale: 7 };
  if (type === 'nvarchar')
    return { length: typeof value === 'string' && value.length > 4000 ? Infinity : 4000 };
  return {};
};

/** Wraps the credential to learn when the token tedious logs in with expires: connections are recycled before it. */
const recordingCredential = (inner: TokenCredential, seen: { expiresAt?: number }): TokenCredential => ({
  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const token = await inner.getToken(scopes, options);
    if (token) seen.expiresAt = token.expiresOnTimestamp;
    return token;
  },
});

/** Opens one tedious connection and logs in. Rejects with a SqlError. */
export const openTediousConnection = (options: SqlConnectionOptions): Promise<SqlConnection> => {
  const seen: { expiresAt?: number } = {};
  let loginErrorNumber: number | undefined;
  const authentication =
    options.authentication.type === 'token-credential'
      ? {
          type: 'token-credential' as const,
          options: { credential: recordingCredential(options.authentication.options.credential, seen) },
        }
      : options.authentication;
  const config: ConnectionConfiguration = {
    server: options.server,
    authentication,
    options: {
      port: options.port ?? defaults.sqlPort,
      database: options.database,
      encrypt: options.encrypt ?? true,
      trustServerCertificate: options.trustServerCertificate ?? false,
      connectTimeout: options.connectTimeoutMs ?? defaults.sqlConnectTimeoutMs,
      requestTimeout: options.requestTimeoutMs ?? defaults.sqlRequestTimeoutMs,
      // tedious retries transient login errors itself; the pool decides about retries instead.
      maxRetriesOnTransientErrors: 0,
      // A batch's statements carry tens of kilobytes of JSON: at the default 4 KB each is dozens of
      // TDS packets, each encrypted and written on its own. The server may lower it; it says so.
      packetSize: defaults.sqlPacketSize,
      ...(options.ca ? { cryptoCredentialsDetails: { ca: options.ca } } : {}),
    },
  };
  const connection = new Connection(config);
  let broken = false;
  connection.on('errorMessage', (token: { number: number }) => {
    loginErrorNumber ??= token.number;
  });
  connection.on('error', () => {
    broken = true;
  });
  connection.on('end', () => {
    broken = true;
  });

  const run = (sql: string, params: SqlParams | undefined): Promise<SqlResult> =>
    new Promise((resolve, reject) => {
      let rows: SqlRow[] = [];
      const request = new Request(sql, (err, rowCount) => {
        if (err) {
          const e = toSqlError(err);
          if (e.transient && e.code !== 'Deadlock' && e.code !== 'Throttled') broken = true;
          reject(e);
        } else resolve({ rows, rowCount: rowCount ?? 0 });
      });
      request.on('columnMetadata', () => {
        rows = [];
      });
      request.on('row', (columns: { metadata: { colName: string }; value: unknown }[]) => {
        const row: SqlRow = {};
        for (const c of columns) row[c.metadata.colName] = c.value;
        rows.push(row);
      });
      if (params === undefined) {
        connection.execSqlBatch(request);
        return;
      }
      for (const [name, p] of Object.entries(params)) {
        request.addParameter(name, TEDIOUS_TYPES[p.type], p.value, paramOptions(p.type, p.value));
      }
      connection.execSql(request);
    });

  const tx = (op: 'beginTransaction' | 'commitTransaction' | 'rollbackTransaction'): Promise<void> =>
    new Promise((resolve, reject) => {
      connection[op]((err?: Error | null) => (err ? reject(toSqlError(err)) : resolve()));
    });

  const api: SqlConnection = {
    query: (sql, params) => run(sql, params),
    begin: () => tx('beginTransaction'),
    commit: () => tx('commitTransaction'),
    rollback: () => tx('rollbackTransaction'),
    close: () =>
      new Promise<void>((resolve) => {
        broken = true;
        if (connection.closed) return resolve();
        connection.once('end', () => resolve());
        connection.close();
      }),
    get broken() {
      return broken || connection.closed;
    },
    get tokenExpiresAt() {
      return seen.expiresAt;
    },
  };

  return new Promise((resolve, reject) => {
    connection.connect((err) => {
      if (err) {
        broken = true;
        reject(toSqlError(err, loginErrorNumber));
      } else {
        loginErrorNumber = undefined;
        resolve(api);
      }
    });
  });
};
