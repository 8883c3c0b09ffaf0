import type { Geometry } from 'geojson';
import pg from 'pg';
import { from as copyFrom, type CopyStreamQuery } from 'pg-copy-streams';
import { ewkbLength, writeEwkb } from './ewkb.ts';

/** Signature, flags and header extension length: what starts every binary COPY. */
const HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
const TRAILER = Buffer.from([0xff, 0xff]);
/** Milliseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
const PG_EPOCH_MS = 946_684_800_000;
const TWO_32 = 2 ** 32;
/** Rows are sent in chunks of about this size… */
const CHUNK_BYTES = 256 * 1024;
/** …up to this much queued beyond what the socket has taken before the writer waits… */
const QUEUED_BYTES = 4 * 1024 * 1024;
/** …and each COPY statement ends after this much, so that none runs into the statement timeout. */
const STATEMENT_BYTES = 64 * 1024 * 1024;

/**
 * Rows in PostgreSQL's binary COPY format, built straight into a buffer. Binary rather than text:
 * geometry travels as EWKB bytes (no hex either side), and text needs no escaping. Field order
 * and types must match the COPY's column list.
 */
export class CopyBinaryRows {
  #buf: Buffer;
  #o = 0;
  rows = 0;

  constructor(bytes = CHUNK_BYTES + 64 * 1024) {
    this.#buf = Buffer.allocUnsafe(bytes);
  }

  get byteLength(): number {
    return this.#o;
  }

  /** The rows so far; the buffer then belongs to the caller and a new one takes the next rows. */
  take(): Buffer {
    const out = this.#buf.subarray(0, this.#o);
    this.#buf = Buffer.allocUnsafe(this.#buf.length);
    this.#o = 0;
    this.rows = 0;
    return out;
  }

  #room(n: number): void {
    if (this.#o + n <= this.#buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#o + n));
    this.#buf.copy(bigger, 0, 0, this.#o);
    this.#buf = bigger;
  }

  row(fields: number): void {
    this.#room(2);
    this.#buf.writeInt16BE(fields, this.#o);
    this.#o += 2;
    this.rows++;
  }

  null(): void {
    this.#room(4);
    this.#buf.writeInt32BE(-1, this.#o);
    this.#o += 4;
  }

  int4(v: number): void {
    this.#room(8);
    this.#buf.writeInt32BE(4, this.#o);
    this.#buf.writeInt32BE(v, this.#o + 4);
    this.#o += 8;
  }

  text(s: string): void {
    this.#utf8(s, 0);
  }

  /** jsonb's binary form is a version byte and the JSON text. */
  jsonb(json: string): void {
    this.#utf8(json, 1);
  }

  #utf8(s: string, version: number): void {
    const prefix = version ? 1 : 0;
    this.#room(4 + prefix + s.length * 3);
    const at = this.#o;
    if (prefix) this.#buf[at + 4] = version;
    const n = this.#buf.write(s, at + 4 + prefix, 'utf8');
    this.#buf.writeInt32BE(n + prefix, at);
    this.#o = at + 4 + prefix + n;
  }

  geometry(g: Geometry): void {
    const n = ewkbLength(g);
    this.#room(4 + n);
    this.#buf.writeInt32BE(n, this.#o);
    writeEwkb(g, this.#buf, this.#o + 4);
    this.#o += 4 + n;
  }

  timestamptz(ms: number): void {
    this.#room(12);
    const micros = (ms - PG_EPOCH_MS) * 1000;
    const hi = Math.floor(micros / TWO_32);
    this.#buf.writeInt32BE(8, this.#o);
    this.#buf.writeInt32BE(hi, this.#o + 4);
    this.#buf.writeUInt32BE(micros - hi * TWO_32, this.#o + 8);
    this.#o += 12;
  }
}

/**
 * A stream of rows into one table by binary COPY on one connection. The caller encodes each row
 * into `rows` and then calls `rowDone()`; chunks go out as they fill, so PostgreSQL stores rows
 * while this process is still reading the next ones, and neither side waits for a batch boundary.
 *
 * `freeze` (the table was created in this transaction) writes the rows already frozen, sparing
 * PostgreSQL a later pass to set their hint bits. Frozen rows are visible to every snapshot that
 * can see the table, even one older than the commit: fine for a temporary table, and for a new
 * layer's partition, which no reader looks into before the layer itself (created in the same
 * transaction) is visible to it.
 */
export class BinaryCopy {
  readonly rows = new CopyBinaryRows();
  #client: pg.ClientBase;
  #command: string;
  #stream: CopyStreamQuery | undefined;
  #statementBytes = 0;
  #statements: Array<Promise<number>> = [];
  #error: Error | undefined;

  #chunkBytes: number;
  #statementLimit: number;

  constructor(client: pg.ClientBase, table: string, columns: string[], options: { freeze: boolean; chunkBytes?: number; statementBytes?: number }) {
    this.#client = client;
    this.#chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
    this.#statementLimit = options.statementBytes ?? STATEMENT_BYTES;
    this.#command = `copy ${pg.escapeIdentifier(table)} (${columns.map((c) => pg.escapeIdentifier(c)).join(', ')}) from stdin with (format binary${options.freeze ? ', freeze' : ''})`;
  }

  /** After each row. Returns a promise only when the connection is behind (await it then). */
  rowDone(): Promise<void> | undefined {
    if (this.#error) return Promise.reject(this.#error);
    if (this.rows.byteLength < this.#chunkBytes) return undefined;
    return this.#send(false);
  }

  /** Sends what is left and waits until PostgreSQL has stored every row; returns how many. */
  async close(): Promise<number> {
    if (this.#error) throw this.#error;
    if (this.rows.rows > 0 || this.#stream) await this.#send(true);
    const counts = await Promise.all(this.#statements);
    if (this.#error) throw this.#error;
    return counts.reduce((a, b) => a + b, 0);
  }

  /**
   * Abandons the copy: an open COPY is failed (CopyFail), so that the connection leaves COPY mode
   * and can roll back. Without it the connection would wait for data that never comes.
   */
  async abort(reason: string): Promise<void> {
    const stream = this.#stream;
    this.#stream = undefined;
    this.#error ??= new Error(reason);
    stream?.destroy(new Error(reason));
    await Promise.allSettled(this.#statements);
  }

  #open(): CopyStreamQuery {
    const stream = this.#client.query(copyFrom(this.#command, { highWaterMark: QUEUED_BYTES }));
    const done = new Promise<number>((resolve, reject) => {
      stream.on('finish', () => resolve(stream.rowCount));
      stream.on('error', (err: Error) => {
        this.#error ??= err;
        reject(err);
      });
    });
    // Awaited in close(); a failure before then surfaces at the next rowDone().
    done.catch(() => undefined);
    this.#statements.push(done);
    this.#stream = stream;
    this.#statementBytes = 0;
    stream.write(HEADER);
    return stream;
  }

  #send(last: boolean): Promise<void> | undefined {
    const stream = this.#stream ?? this.#open();
    const chunk = this.rows.take();
    this.#statementBytes += chunk.length;
    const ready = stream.write(chunk);
    if (last || this.#statementBytes >= this.#statementLimit) {
      stream.end(TRAILER);
      this.#stream = undefined;
      return undefined;
    }
    if (ready) return undefined;
    return new Promise<void>((resolve, reject) => {
      const settle = (err?: Error) => {
        stream.off('drain', settle);
        stream.off('error', settle);
        if (err) reject(err);
        else resolve();
      };
      stream.on('drain', settle);
      stream.on('error', settle);
    });
  }
}
