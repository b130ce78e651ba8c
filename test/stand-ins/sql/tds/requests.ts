import type { SqlParam, SqlServerErrorInfo, SqlSession, StatementResult } from '../engine-api.ts';
import { parseBulkLoad, parseInsertBulk } from './bulk-load.ts';
import type { FaultState } from './faults.ts';
import { PacketType, type TdsMessage } from './packets.ts';
import { writeColMetadata, writeRow } from './result-set.ts';
import { executeSqlCall, ProcId, parseRpcRequest, skipAllHeaders } from './rpc-request.ts';
import { applySetOnlyBatch, type SessionOptions } from './session-options.ts';
import { sqlError, terminatesConnection } from './sql-errors.ts';
import {
  DoneCommand,
  DoneStatus,
  done,
  doneInProc,
  doneProc,
  EnvChange,
  envChangeBytes,
  errorToken,
  returnStatus,
} from './tokens.ts';
import { parseTransactionRequest } from './transaction-request.ts';
import { ProtocolError, WireReader } from './wire-reader.ts';
import { WireWriter } from './wire-writer.ts';

/** What one logged-in connection keeps between requests. */
export type ConnectionState = {
  session: SqlSession;
  options: SessionOptions;
  /** The transaction descriptor tedious echoes in ALL_HEADERS; zeros outside a transaction. */
  descriptor: Buffer;
  /** @@TRANCOUNT for transaction-manager begins: nested begins only count. */
  tranCount: number;
  savepoints: Set<string>;
  /** The table of the last `insert bulk` batch, which the next bulk-load message fills. */
  bulkTable: string | undefined;
  serverName: string;
  faults: FaultState;
  nextDescriptor(): Buffer;
};

/** The response message to one request; `terminate` closes the connection after sending it (severity >= 20). */
export type Reply = { payload: Buffer; terminate: boolean };

const NO_DESCRIPTOR = Buffer.alloc(8);
const EMPTY = Buffer.alloc(0);

/** Normalises anything the engine throws: SqlServerError by name, anything else as a severity-16 error that says so. */
export function toErrorInfo(err: unknown): SqlServerErrorInfo {
  if (err instanceof Error && err.name === 'SqlServerError') {
    const e = err as Error & { number: number; state: number; severity: number };
    return { number: e.number, state: e.state, severity: e.severity, message: e.message };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { number: 50000, state: 1, severity: 16, message: `SQL stand-in failed: ${message}` };
}

function errorReply(
  st: ConnectionState,
  error: SqlServerErrorInfo,
  finish: (w: WireWriter) => void,
  before?: (w: WireWriter) => void,
): Reply {
  const w = new WireWriter();
  before?.(w);
  errorToken(w, { ...error, serverName: st.serverName });
  finish(w);
  return { payload: w.toBuffer(), terminate: terminatesConnection(error) };
}

/** ENVCHANGE for a transaction that the statement began or ended (BEGIN TRAN / COMMIT in SQL text, deadlock). */
function transactionChanges(
  w: WireWriter,
  st: ConnectionState,
  wasInTransaction: boolean,
  rolledBack: boolean,
): void {
  const now = st.session.inTransaction;
  if (!wasInTransaction && now) {
    st.descriptor = st.nextDescriptor();
    st.tranCount = 1;
    envChangeBytes(w, EnvChange.beginTransaction, st.descriptor, EMPTY);
  } else if (wasInTransaction && !now) {
    envChangeBytes(
      w,
      rolledBack ? EnvChange.rollbackTransaction : EnvChange.commitTransaction,
      EMPTY,
      st.descriptor,
    );
    st.descriptor = NO_DESCRIPTOR;
    st.tranCount = 0;
    st.savepoints.clear();
  }
}

function writeResults(
  w: WireWriter,
  results: readonly StatementResult[],
  mode: 'batch' | 'rpc',
  noCount: boolean,
): void {
  const doneToken = mode === 'batch' ? done : doneInProc;
  const count = noCount ? 0 : DoneStatus.count;
  results.forEach((result, i) => {
    const more = mode === 'rpc' || i < results.length - 1 ? DoneStatus.more : DoneStatus.final;
    if (result.kind === 'rows') {
      const { columns, rows } = result.resultSet;
      writeColMetadata(w, columns);
      for (const row of rows) writeRow(w, columns, row);
      doneToken(w, more | count, DoneCommand.select, rows.length);
    } else {
      doneToken(w, more | count, DoneCommand.insert, result.rowCount);
    }
  });
  if (mode === 'batch' && results.length === 0) done(w, DoneStatus.final);
  if (mode === 'rpc') {
    returnStatus(w, 0);
    doneProc(w, DoneStatus.final);
  }
}

async function runStatement(
  st: ConnectionState,
  sql: string,
  params: SqlParam[] | undefined,
  mode: 'batch' | 'rpc',
): Promise<Reply> {
  const wasInTransaction = st.session.inTransaction;
  const finish = (w: WireWriter): void =>
    mode === 'batch' ? done(w, DoneStatus.error) : doneProc(w, DoneStatus.error);
  let error = st.faults.statementFault(sql, { database: st.session.database, server: st.serverName });
  let results: StatementResult[] = [];
  if (!error) {
    try {
      results = await st.session.execute(sql, params);
    } catch (err: unknown) {
      error = toErrorInfo(err);
    }
  }
  if (error) {
    // A deadlock victim's transaction is rolled back; so is any transaction under XACT_ABORT ON,
    // and the connection's own on severity >= 20. Other statement errors leave it open.
    const abort = error.number === 1205 || st.options.xactAbort || terminatesConnection(error);
    if (abort && st.session.inTransaction) await st.session.rollback();
    return errorReply(st, error, finish, (w) => transactionChanges(w, st, wasInTransaction, true));
  }
  const w = new WireWriter();
  transactionChanges(w, st, wasInTransaction, /\brollback\b/i.test(sql));
  const body = new WireWriter();
  try {
    writeResults(body, results, mode, st.options.noCount);
  } catch (err: unknown) {
    return errorReply(st, toErrorInfo(err), finish, (e) => e.bytes(w.toBuffer()));
  }
  return { payload: w.bytes(body.toBuffer()).toBuffer(), terminate: false };
}

async function sqlBatch(payload: Buffer, st: ConnectionState): Promise<Reply> {
  const r = new WireReader(payload);
  skipAllHeaders(r);
  const sql = r.rest().toString('utf16le');
  const bulk = parseInsertBulk(sql);
  if (applySetOnlyBatch(sql, st.options) || bulk) {
    st.bulkTable = bulk?.table ?? st.bulkTable;
    const w = new WireWriter();
    done(w, DoneStatus.final);
    return { payload: w.toBuffer(), terminate: false };
  }
  return runStatement(st, sql, undefined, 'batch');
}

async function rpc(payload: Buffer, st: ConnectionState): Promise<Reply> {
  const finish = (w: WireWriter): void => doneProc(w, DoneStatus.error);
  let request: ReturnType<typeof parseRpcRequest>;
  try {
    request = parseRpcRequest(payload);
  } catch (err: unknown) {
    // The message boundary is known, so an undecodable parameter fails the request, not the connection.
    if (err instanceof ProtocolError) return errorReply(st, toErrorInfo(err), finish);
    throw err;
  }
  const { procedure } = request;
  if (
    procedure === ProcId.executeSql ||
    (typeof procedure === 'string' && /^(sys\.)?sp_executesql$/i.test(procedure))
  ) {
    const { statement, params } = executeSqlCall(request);
    return runStatement(st, statement, params, 'rpc');
  }
  const name = typeof procedure === 'string' ? procedure : `procedure id ${procedure}`;
  return errorReply(
    st,
    { number: 2812, state: 62, severity: 16, message: `Could not find stored procedure '${name}'.` },
    finish,
  );
}

async function transactionManager(payload: Buffer, st: ConnectionState): Promise<Reply> {
  const tm = parseTransactionRequest(payload);
  const w = new WireWriter();
  const finish = (e: WireWriter): void => done(e, DoneStatus.error);
  try {
    if (tm.kind === 'begin') {
      if (st.session.inTransaction) st.tranCount++;
      else {
        await st.session.begin(tm.isolation ?? st.options.isolation);
        transactionChanges(w, st, false, false);
      }
    } else if (tm.kind === 'save') {
      await st.session.execute(`SAVE TRANSACTION [${tm.name}]`);
      st.savepoints.add(tm.name);
    } else if (!st.session.inTransaction) {
      return errorReply(st, sqlError(tm.kind === 'commit' ? 3902 : 3903), finish);
    } else if (tm.kind === 'commit') {
      if (st.tranCount > 1) st.tranCount--;
      else {
        await st.session.commit();
        transactionChanges(w, st, true, false);
      }
    } else if (tm.name && st.savepoints.has(tm.name)) {
      await st.session.execute(`ROLLBACK TRANSACTION [${tm.name}]`);
    } else {
      await st.session.rollback();
      transactionChanges(w, st, true, true);
    }
  } catch (err: unknown) {
    return errorReply(st, toErrorInfo(err), finish, (e) => e.bytes(w.toBuffer()));
  }
  done(w, DoneStatus.final);
  return { payload: w.toBuffer(), terminate: false };
}

async function bulkLoad(payload: Buffer, st: ConnectionState): Promise<Reply> {
  const finish = (w: WireWriter): void => done(w, DoneStatus.error);
  const table = st.bulkTable;
  st.bulkTable = undefined;
  if (!table)
    return errorReply(
      st,
      toErrorInfo(new Error('bulk load data arrived without an INSERT BULK statement')),
      finish,
    );
  try {
    const { columns, rows } = parseBulkLoad(payload);
    const count = await st.session.bulkInsert(table, columns, rows);
    const w = new WireWriter();
    done(w, DoneStatus.final | (st.options.noCount ? 0 : DoneStatus.count), DoneCommand.insert, count);
    return { payload: w.toBuffer(), terminate: false };
  } catch (err: unknown) {
    return errorReply(st, toErrorInfo(err), finish);
  }
}

/** Answers one request message of a logged-in connection. */
export function handleRequest(message: TdsMessage, st: ConnectionState): Promise<Reply> {
  switch (message.type) {
    case PacketType.sqlBatch:
      return sqlBatch(message.payload, st);
    case PacketType.rpc:
      return rpc(message.payload, st);
    case PacketType.transactionManager:
      return transactionManager(message.payload, st);
    case PacketType.bulkLoad:
      return bulkLoad(message.payload, st);
    default:
      throw new ProtocolError(`packet type 0x${message.type.toString(16)} is not a request`);
  }
}
