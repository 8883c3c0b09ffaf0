import type { Geometry } from 'geojson';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { ewkbLength, writeEwkb } from './ewkb.ts';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
const PG_EPOCH_MS = 946_684_800_000;
const TWO_32 = 2 ** 32;

/**
 * Rows in PostgreSQL's binary COPY format, built straight into one growing buffer. Binary rather
 * than text: geometry travels as EWKB bytes (no hex either side), and text needs no escaping.
 * Field order and types must match the column list given to `copyBinary`.
 */
export class CopyBinaryRows {
  #buf: Buffer;
  #o = 0;
  rows = 0;

  constructor(bytes = 1 << 20) {
    this.#buf = Buffer.allocUnsafe(bytes);
    this.reset();
  }

  /** Empties the buffer for reuse (its memory is kept). */
  reset(): void {
    this.#o = 0;
    this.rows = 0;
    SIGNATURE.copy(this.#buf, 0);
    this.#buf.writeInt32BE(0, 11); // flags
    this.#buf.writeInt32BE(0, 15); // header extension length
    this.#o = 19;
  }

  get byteLength(): number {
    return this.#o;
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

  /** The COPY data with its trailer; valid until the next reset. */
  finish(): Buffer {
    this.#room(2);
    this.#buf.writeInt16BE(-1, this.#o);
    return this.#buf.subarray(0, this.#o + 2);
  }
}

/**
 * Sends binary COPY data into `table`. `freeze` (the table was created in this transaction) writes
 * the rows already frozen, sparing PostgreSQL a later pass to set their hint bits. Frozen rows are
 * visible to every snapshot that can see the table, even one older than the commit: fine for a
 * temporary table, and for a new layer's partition, which no reader looks into before the layer
 * itself (created in the same transaction) is visible to it.
 */
export async function copyBinary(client: pg.ClientBase, table: string, columns: string[], data: Buffer, freeze: boolean): Promise<number> {
  const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const stream = client.query(copyFrom(`copy ${ident(table)} (${columns.map(ident).join(', ')}) from stdin with (format binary${freeze ? ', freeze' : ''})`));
  await new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    stream.on('finish', resolve);
    stream.end(data);
  });
  return stream.rowCount;
}
