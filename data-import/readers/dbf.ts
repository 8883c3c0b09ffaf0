/**
 * Streaming dBASE III/IV (.dbf) reader for Shapefile attribute tables.
 *
 * Chinese survey deliveries usually store GBK text, sometimes say so in a .cpg, sometimes in the
 * header's language driver byte, often nowhere. The encoding is therefore chosen in this order:
 * explicit option > .cpg > an unambiguous language driver byte > detection (all text of the first
 * records and the field names decode as strict UTF-8 → UTF-8, else GBK). A declared encoding that
 * does not decode the bytes is an error telling the user to pass --encoding, never mojibake.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import iconv from 'iconv-lite';
import { normaliseEncoding } from './text-encoding.ts';

export { normaliseEncoding };
import { SourceError, type SourceField } from '../source.ts';

/** How the encoding was chosen; finer than SourceInfo's `from` (which has no 'language-driver'). */
export type DbfEncodingSource = 'option' | 'cpg' | 'language-driver' | 'detected';

export interface DbfEncoding {
  /** Canonical name, e.g. "GBK", "UTF-8", "GB18030", "Big5", "windows-1252". */
  name: string;
  from: DbfEncodingSource;
}

export interface DbfField {
  /** Decoded name; a duplicate (compared case-insensitively) gets a suffix "_2", "_3", ... */
  name: string;
  /** The dBASE type letter: C, N, F, D, L, or another letter read as text. */
  dbfType: string;
  type: SourceField['type'];
  /** Byte offset inside the record, after the deletion flag. */
  offset: number;
  length: number;
  decimals: number;
}

export interface DbfHeader {
  version: number;
  recordCount: number;
  headerLength: number;
  recordLength: number;
  languageDriver: number;
  fields: DbfField[];
}

export interface DbfRecord {
  /** 1-based position in the file, deleted records included. */
  recordNumber: number;
  /** dBASE marks deleted records with '*'; they are yielded so the caller can keep counting. */
  deleted: boolean;
  values: Record<string, unknown>;
  problem?: { field: string; reason: string };
}

export interface DbfOpenOptions {
  /** Overrides everything else (the CLI's --encoding). */
  encoding?: string;
  /** The text of the sibling .cpg, if there is one. */
  cpg?: string;
  /** Name used in messages, e.g. "pipes.zip/pipes.dbf"; defaults to the base name. */
  displayName?: string;
  /** Records decoded up front to detect or verify the encoding. */
  sampleRecords?: number;
}

const DEFAULT_SAMPLE_RECORDS = 1000;
/** When the first records are pure ASCII, keep looking for text that settles the encoding up to this many bytes. */
const MAX_DETECTION_SCAN_BYTES = 32 * 1024 * 1024;
/** A declared GBK table whose sample holds at least this many multi-byte sequences, all valid UTF-8, is really UTF-8. */
const UTF8_EVIDENCE_SEQUENCES = 16;
const CHUNK_BYTES = 1 << 20;
const BATCH_RECORDS = 2048;
/** Messages tell the user what to do: the CLI takes --encoding (openShapefile takes options.encoding). */
const ENCODING_HINT = 'pass --encoding GBK or --encoding UTF-8 (or whatever the data really uses)';

/**
 * Language driver ids that name a code page without doubt. 0x57 ("ANSI", i.e. whatever the
 * writing PC used) and 0x00 (none) say nothing; Western single-byte ids are too often wrong on
 * Chinese data and would decode GBK silently into Latin garbage, so they are not trusted either.
 */
const LANGUAGE_DRIVERS: Record<number, string> = {
  0x4d: 'GBK', // 936 Chinese (PRC, Singapore)
  0x7a: 'GBK', // 936 PRC GBK
  0x4f: 'Big5', // 950 Chinese (Hong Kong SAR, Taiwan)
  0x78: 'Big5',
  0x13: 'Shift_JIS',
  0x7b: 'Shift_JIS',
  0x4e: 'EUC-KR',
  0x79: 'EUC-KR',
};


/** Decodes bytes strictly where the platform can (throws on invalid input), leniently otherwise. */
interface TextCodec {
  readonly name: string;
  /** True when decode() throws on bytes that are not valid in the encoding. */
  readonly strict: boolean;
  decode(bytes: Uint8Array): string;
}

function makeCodec(name: string): TextCodec {
  const label = name === 'GBK' ? 'gb18030' : name;
  try {
    const decoder = new TextDecoder(label, { fatal: true });
    return { name, strict: true, decode: (bytes) => decoder.decode(bytes) };
  } catch {
    return { name, strict: false, decode: (bytes) => iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), name) };
  }
}

const UTF8 = makeCodec('UTF-8');

function isAscii(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] >= 0x80) return false;
  return true;
}

/** Counts UTF-8 multi-byte sequences (lead bytes) in an already validated UTF-8 slice. */
function countUtf8Sequences(bytes: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] >= 0xc2) n++;
  return n;
}

function fieldType(dbfType: string, decimals: number): SourceField['type'] {
  switch (dbfType) {
    case 'N': return decimals === 0 ? 'integer' : 'number';
    case 'F': case 'O': return 'number';
    case 'I': case '+': return 'integer';
    case 'D': return 'date';
    case 'L': return 'boolean';
    default: return 'string';
  }
}

const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export class DbfReader {
  private constructor(
    private readonly fh: FileHandle,
    readonly displayName: string,
    readonly header: DbfHeader,
    readonly encoding: DbfEncoding,
    private readonly codec: TextCodec,
  ) {
    this.prevBytes = header.fields.map((f) => new Uint8Array(f.dbfType === 'C' ? f.length : 0));
    this.prevLength = new Int32Array(header.fields.length).fill(-1);
    this.prevText = header.fields.map(() => '');
  }

  /**
   * Each text field's bytes and value in the previous record. Survey tables repeat a value down
   * many records (owner, material, road, codes); comparing a few bytes costs far less than
   * decoding them again.
   */
  private readonly prevBytes: Uint8Array[];
  private readonly prevLength: Int32Array;
  private readonly prevText: string[];

  get fields(): DbfField[] {
    return this.header.fields;
  }

  /** Opens the table, validates the header against the file size and settles the encoding. */
  static async open(path: string, options: DbfOpenOptions = {}): Promise<DbfReader> {
    const displayName = options.displayName ?? basename(path);
    const fh = await open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      const raw = await readHeader(fh, size, displayName);
      const { codec, encoding } = await chooseEncoding(fh, raw, displayName, options);
      const names = decodeFieldNames(raw, codec, encoding, displayName);
      const fields = raw.fields.map((f, i) => ({ ...f, name: names[i], type: fieldType(f.dbfType, f.decimals) }));
      const header: DbfHeader = { ...raw, fields };
      return new DbfReader(fh, displayName, header, encoding, codec);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Yields every record in file order, deleted ones flagged; may be iterated more than once. */
  async *records(): AsyncGenerator<DbfRecord> {
    for await (const batch of this.batches()) yield* batch;
  }

  /** Records in file order, a few thousand at a time (one await per batch instead of per record). */
  async *batches(): AsyncGenerator<DbfRecord[]> {
    const { recordCount, recordLength, headerLength } = this.header;
    const perChunk = Math.max(1, Math.min(BATCH_RECORDS, Math.floor(CHUNK_BYTES / recordLength)));
    const buf = Buffer.allocUnsafe(perChunk * recordLength);
    let recordNumber = 0;
    while (recordNumber < recordCount) {
      const want = Math.min(perChunk, recordCount - recordNumber);
      const bytes = want * recordLength;
      const { bytesRead } = await this.fh.read(buf, 0, bytes, headerLength + recordNumber * recordLength);
      if (bytesRead < bytes) {
        const ends = recordNumber + Math.floor(bytesRead / recordLength) + 1;
        throw new SourceError(`${this.displayName} ends inside record ${ends} of ${recordCount}: the file is truncated`, { file: this.displayName, row: ends });
      }
      const batch: DbfRecord[] = new Array(want);
      for (let i = 0; i < want; i++) batch[i] = this.parseRecord(buf, i * recordLength, ++recordNumber);
      yield batch;
    }
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }

  private parseRecord(buf: Buffer, start: number, recordNumber: number): DbfRecord {
    const deleted = buf[start] === 0x2a;
    const values: Record<string, unknown> = {};
    let problem: DbfRecord['problem'];
    const fields = this.header.fields;
    for (let f = 0; f < fields.length; f++) {
      const field = fields[f]!;
      let a = start + 1 + field.offset;
      let b = a + field.length;
      // Visual FoxPro binary integers and doubles: read before any trimming.
      if ((field.dbfType === 'I' && field.length === 4) || (field.dbfType === 'O' && field.length === 8)) {
        values[field.name] = field.dbfType === 'I' ? buf.readInt32LE(a) : buf.readDoubleLE(a);
        continue;
      }
      // Trim ASCII padding at the byte level: 0x20 and 0x00 never occur inside a GBK or UTF-8
      // multi-byte character, while String.prototype.trim would also eat U+3000 (全角空格) data.
      while (b > a && (buf[b - 1] === 0x20 || buf[b - 1] === 0x00)) b--;
      while (a < b && buf[a] === 0x20) a++;
      let value: unknown = null;
      let reason: string | undefined;
      if (a < b) {
        switch (field.dbfType) {
          case 'C': value = this.textValue(buf, a, b, f, recordNumber, field.name); break;
          case 'N': case 'F':
            if (isPlainNumber(buf, a, b)) value = b - a > 15 ? (field.decimals === 0 ? bigInteger(buf.toString('latin1', a, b)) : Number(buf.toString('latin1', a, b))) : plainNumber(buf, a, b);
            else ({ value, reason } = parseNumber(buf.toString('latin1', a, b), field));
            break;
          case 'D': ({ value, reason } = parseDate(buf, a, b)); break;
          case 'L': ({ value, reason } = parseLogical(buf[a])); break;
          // Other types (memo block numbers, timestamps, ...) are passed on as text, decoded leniently:
          // they are not character data, so a failure says nothing about the encoding.
          default: value = this.decodeLenient(buf, a, b);
        }
      }
      values[field.name] = value;
      if (reason && !problem) problem = { field: field.name, reason };
    }
    return problem ? { recordNumber, deleted, values, problem } : { recordNumber, deleted, values };
  }

  /** A text field's value: the previous record's when the bytes are the same, else decoded. */
  private textValue(buf: Buffer, a: number, b: number, f: number, recordNumber: number, fieldName: string): string {
    const n = b - a;
    const prev = this.prevBytes[f]!;
    if (this.prevLength[f] === n) {
      let i = 0;
      while (i < n && prev[i] === buf[a + i]) i++;
      if (i === n) return this.prevText[f]!;
    }
    const text = this.decodeText(buf, a, b, recordNumber, fieldName);
    // n is at most the field's length, which is the size of prev.
    for (let i = 0; i < n; i++) prev[i] = buf[a + i]!;
    this.prevLength[f] = n;
    this.prevText[f] = text;
    return text;
  }

  private decodeLenient(buf: Buffer, a: number, b: number): string {
    try {
      return isAscii(buf, a, b) ? buf.toString('latin1', a, b) : this.codec.decode(buf.subarray(a, b));
    } catch {
      return buf.toString('latin1', a, b);
    }
  }

  private decodeText(buf: Buffer, a: number, b: number, recordNumber: number, fieldName: string): string {
    if (isAscii(buf, a, b)) return buf.toString('latin1', a, b);
    try {
      return this.codec.decode(buf.subarray(a, b));
    } catch (err) {
      throw decodeError(this.displayName, this.encoding, recordNumber, fieldName, err);
    }
  }
}

function decodeError(file: string, encoding: DbfEncoding, recordNumber: number, fieldName: string, cause: unknown): SourceError {
  const why = {
    option: `the --encoding option says ${encoding.name}`,
    cpg: `the .cpg file says ${encoding.name}`,
    'language-driver': `the DBF header's language driver byte says ${encoding.name}`,
    detected: `the first records looked like ${encoding.name}`,
  }[encoding.from];
  return new SourceError(
    `${file}: record ${recordNumber}, field "${fieldName}" is not valid ${encoding.name} text, but ${why}; ${ENCODING_HINT}`,
    { file, row: recordNumber, field: fieldName },
    { cause },
  );
}

function parseNumber(text: string, field: DbfField): { value: unknown; reason?: string } {
  if (NUMBER_RE.test(text)) {
    return { value: field.type === 'integer' ? bigInteger(text) : Number(text) };
  }
  if (/^\*+$/.test(text)) {
    // shapelib (and so GDAL and much else) writes NULL numbers as stars filling the whole width;
    // stars that do not fill it are dBASE's overflow display of a value that was lost.
    if (text.length === field.length) return { value: null };
    return { value: null, reason: `numeric overflow ("${text}"): the value did not fit the field width ${field.length}` };
  }
  // Some writers use a comma as the decimal separator.
  if (/^[+-]?\d+,\d+$/.test(text)) return { value: Number(text.replace(',', '.')) };
  return { value: null, reason: `not a number: "${text}"` };
}

function twoDigits(buf: Buffer, i: number): number {
  return (buf[i] - 0x30) * 10 + buf[i + 1] - 0x30;
}

/** "YYYYMMDD" → "YYYY-MM-DD", checked against the calendar. */
function parseDate(buf: Buffer, a: number, b: number): { value: unknown; reason?: string } {
  let zeros = true;
  let digits = b - a === 8;
  for (let i = a; i < b; i++) {
    const c = buf[i];
    if (c !== 0x30) zeros = false;
    if (c < 0x30 || c > 0x39) digits = false;
  }
  if (zeros) return { value: null };
  if (digits) {
    const y = twoDigits(buf, a) * 100 + twoDigits(buf, a + 2), mo = twoDigits(buf, a + 4), d = twoDigits(buf, a + 6);
    const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
    if (mo >= 1 && mo <= 12 && d >= 1 && d <= (mo === 2 && !leap ? 28 : DAYS_IN_MONTH[mo - 1])) {
      const t = buf.toString('latin1', a, b);
      return { value: `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6)}` };
    }
  }
  return { value: null, reason: `not a date (expected YYYYMMDD): "${buf.toString('latin1', a, b)}"` };
}

/** [sign] digits [. digits]: the form nearly every value takes, checked without a RegExp. */
function isPlainNumber(buf: Buffer, a: number, b: number): boolean {
  let i = a;
  if (buf[i] === 0x2d || buf[i] === 0x2b) i++;
  let digits = 0;
  let dot = false;
  for (; i < b; i++) {
    const c = buf[i];
    if (c >= 0x30 && c <= 0x39) digits++;
    else if (c === 0x2e && !dot) dot = true;
    else return false;
  }
  return digits > 0;
}

const POWERS_OF_TEN = Array.from({ length: 16 }, (_, k) => 10 ** k);

/**
 * The value of a plain number of at most 15 digits, read from the bytes without making a string.
 * Exact: the digits form an integer below 2^53 and the power of ten is exact, so the one division
 * rounds correctly, just as Number() of the text does.
 */
export function plainNumber(buf: Buffer, a: number, b: number): number {
  let i = a;
  const negative = buf[i] === 0x2d;
  if (negative || buf[i] === 0x2b) i++;
  let n = 0;
  let fraction = -1;
  for (; i < b; i++) {
    const c = buf[i];
    if (c === 0x2e) fraction = 0;
    else {
      n = n * 10 + (c - 0x30);
      if (fraction >= 0) fraction++;
    }
  }
  const v = fraction > 0 ? n / POWERS_OF_TEN[fraction]! : n;
  return negative ? -v : v;
}

/** Integers beyond 2^53 (e.g. 18-digit ids in N(19,0)) keep every digit as text. */
function bigInteger(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) || !/^[+-]?\d+$/.test(text) ? n : text;
}

function parseLogical(byte: number): { value: unknown; reason?: string } {
  switch (byte) {
    case 0x54: case 0x74: case 0x59: case 0x79: return { value: true }; // T t Y y
    case 0x46: case 0x66: case 0x4e: case 0x6e: return { value: false }; // F f N n
    case 0x3f: return { value: null }; // ?
    default: return { value: null, reason: `not a logical value: "${String.fromCharCode(byte)}"` };
  }
}

interface RawField { nameBytes: Buffer; dbfType: string; offset: number; length: number; decimals: number }
interface RawHeader { version: number; recordCount: number; headerLength: number; recordLength: number; languageDriver: number; fields: RawField[] }

async function readHeader(fh: FileHandle, size: number, file: string): Promise<RawHeader> {
  const fixed = Buffer.alloc(32);
  const { bytesRead } = await fh.read(fixed, 0, 32, 0);
  if (bytesRead < 32) throw new SourceError(`${file} is too short to be a dBASE file (${size} bytes)`, { file });
  const version = fixed[0];
  const recordCount = fixed.readUInt32LE(4);
  const headerLength = fixed.readUInt16LE(8);
  const recordLength = fixed.readUInt16LE(10);
  const languageDriver = fixed[29];
  if (headerLength < 33 || recordLength < 1) {
    throw new SourceError(`${file} is not a dBASE file: header length ${headerLength}, record length ${recordLength}`, { file });
  }
  if (size < headerLength) throw new SourceError(`${file} is truncated inside its header (${size} of ${headerLength} bytes)`, { file });
  const descriptors = Buffer.alloc(headerLength - 32);
  await fh.read(descriptors, 0, descriptors.length, 32);
  const fields: RawField[] = [];
  let offset = 0;
  for (let p = 0; p + 32 <= descriptors.length && descriptors[p] !== 0x0d; p += 32) {
    const d = descriptors.subarray(p, p + 32);
    let nameEnd = d.indexOf(0);
    if (nameEnd < 0 || nameEnd > 11) nameEnd = 11;
    while (nameEnd > 0 && d[nameEnd - 1] === 0x20) nameEnd--;
    const dbfType = String.fromCharCode(d[11]).toUpperCase();
    const length = d[16];
    const decimals = d[17];
    fields.push({ nameBytes: trimPartialUtf8(Buffer.from(d.subarray(0, nameEnd))), dbfType, offset, length, decimals });
    offset += length;
  }
  // FoxPro and Clipper store C widths above 255 with the high byte in the decimals slot.
  if (offset + 1 !== recordLength) {
    let fixedOffset = 0;
    for (const f of fields) {
      if (f.dbfType === 'C' && f.decimals > 0) { f.length += f.decimals * 256; f.decimals = 0; }
      f.offset = fixedOffset;
      fixedOffset += f.length;
    }
    if (fixedOffset + 1 !== recordLength) {
      throw new SourceError(`${file}: the fields add up to ${fixedOffset + 1} bytes per record but the header says ${recordLength}`, { file });
    }
  }
  const need = headerLength + recordCount * recordLength;
  if (size < need) {
    const complete = Math.floor((size - headerLength) / recordLength);
    throw new SourceError(
      `${file} is truncated: the header announces ${recordCount} records but the file ends inside record ${complete + 1} (${size} of ${need} bytes)`,
      { file, row: complete + 1 },
    );
  }
  return { version, recordCount, headerLength, recordLength, languageDriver, fields };
}

function decodeFieldNames(raw: RawHeader, codec: TextCodec, encoding: DbfEncoding, file: string): string[] {
  const seen = new Map<string, number>();
  return raw.fields.map((f, i) => {
    let name: string;
    try {
      name = isAscii(f.nameBytes, 0, f.nameBytes.length) ? f.nameBytes.toString('latin1') : codec.decode(f.nameBytes);
    } catch (err) {
      throw new SourceError(
        `${file}: the name of field ${i + 1} is not valid ${encoding.name}; ${ENCODING_HINT}`,
        { file, field: `#${i + 1}` },
        { cause: err },
      );
    }
    if (name === '') name = `FIELD_${i + 1}`;
    const key = name.toLowerCase();
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    return n === 1 ? name : `${name}_${n}`;
  });
}

/**
 * Field names have 10 bytes, and writers such as GDAL cut UTF-8 names there, often inside a
 * character (管线编号 keeps 管线编 and one byte of 号). A trailing incomplete UTF-8 sequence of
 * a full-width name is dropped when what precedes it is valid UTF-8, so that the stub still reads,
 * and still detects, as UTF-8; GBK text before such an ending is practically never valid UTF-8.
 */
function trimPartialUtf8(bytes: Buffer): Buffer {
  // Only a name that fills its 10 bytes can have been cut.
  if (bytes.length < 10) return bytes;
  let i = bytes.length - 1;
  let continuation = 0;
  while (i >= 0 && (bytes[i]! & 0xc0) === 0x80 && continuation < 3) { i--; continuation++; }
  if (i < 0) return bytes;
  const lead = bytes[i]!;
  const need = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : lead >= 0xc0 ? 1 : 0;
  if (need > continuation && i > 0) {
    const head = bytes.subarray(0, i);
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(head);
      return Buffer.from(head);
    } catch {
      return bytes;
    }
  }
  return bytes;
}

/** The text bytes (trimmed C values and field names) of the first records, for detection and verification. */
interface Sample { recordNumber: number; field: string; bytes: Uint8Array }

async function* textSamples(fh: FileHandle, raw: RawHeader, maxRecords: number): AsyncGenerator<Sample> {
  for (let i = 0; i < raw.fields.length; i++) {
    yield { recordNumber: 0, field: `#${i + 1}`, bytes: raw.fields[i].nameBytes };
  }
  const textFields = raw.fields.filter((f) => f.dbfType === 'C');
  if (textFields.length === 0) return;
  const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / raw.recordLength));
  const buf = Buffer.allocUnsafe(perChunk * raw.recordLength);
  const fieldIndex = new Map(raw.fields.map((f, i) => [f, i]));
  let sawNonAscii = false;
  for (let r = 0; r < raw.recordCount;) {
    if (r >= maxRecords && (sawNonAscii || r * raw.recordLength >= MAX_DETECTION_SCAN_BYTES)) return;
    const want = Math.min(perChunk, raw.recordCount - r);
    const { bytesRead } = await fh.read(buf, 0, want * raw.recordLength, raw.headerLength + r * raw.recordLength);
    const got = Math.floor(bytesRead / raw.recordLength);
    if (got === 0) return;
    for (let i = 0; i < got; i++) {
      const rs = i * raw.recordLength + 1;
      for (const f of textFields) {
        const a = rs + f.offset;
        let b = a + f.length;
        while (b > a && (buf[b - 1] === 0x20 || buf[b - 1] === 0x00)) b--;
        if (!isAscii(buf, a, b)) {
          sawNonAscii = true;
          yield { recordNumber: r + i + 1, field: `#${fieldIndex.get(f)! + 1}`, bytes: Buffer.from(buf.subarray(a, b)) };
        }
      }
    }
    r += got;
  }
}

function fieldLabel(raw: RawHeader, sample: Sample, codec: TextCodec): string {
  const f = raw.fields[Number(sample.field.slice(1)) - 1];
  try {
    return codec.decode(f.nameBytes);
  } catch {
    return sample.field;
  }
}

async function chooseEncoding(
  fh: FileHandle,
  raw: RawHeader,
  file: string,
  options: DbfOpenOptions,
): Promise<{ codec: TextCodec; encoding: DbfEncoding }> {
  const sampleRecords = options.sampleRecords ?? DEFAULT_SAMPLE_RECORDS;
  if (options.encoding !== undefined) {
    const name = normaliseEncoding(options.encoding);
    if (!name) throw new SourceError(`Unknown encoding "${options.encoding}"; use GBK, UTF-8, GB18030, Big5 or a code page number`, { file });
    // The user said so: decode as told, failures surface per record while reading.
    return { codec: makeCodec(name), encoding: { name, from: 'option' } };
  }

  let declared: DbfEncoding | undefined;
  if (options.cpg !== undefined) {
    const name = normaliseEncoding(options.cpg);
    // An unreadable .cpg is no declaration at all; detection is the best we can do.
    if (name) declared = { name, from: 'cpg' };
  }
  if (!declared && LANGUAGE_DRIVERS[raw.languageDriver]) {
    declared = { name: LANGUAGE_DRIVERS[raw.languageDriver], from: 'language-driver' };
  }

  if (declared) {
    const codec = makeCodec(declared.name);
    const isGb = declared.name === 'GBK' || declared.name === 'GB18030';
    let utf8Sequences = 0;
    let allUtf8 = true;
    const where = declared.from === 'cpg' ? 'the .cpg file' : "the DBF header's language driver byte";
    const looksUtf8 = (): SourceError => new SourceError(
      `${file}: ${where} says ${declared!.name} but the text is valid UTF-8 (${utf8Sequences} multi-byte characters in the first records); ${ENCODING_HINT}`,
      { file },
    );
    for await (const s of textSamples(fh, raw, sampleRecords)) {
      let validUtf8 = false;
      if (isGb && allUtf8 && !isAscii(s.bytes, 0, s.bytes.length)) {
        try {
          UTF8.decode(s.bytes);
          utf8Sequences += countUtf8Sequences(s.bytes);
          validUtf8 = true;
        } catch {
          allUtf8 = false;
        }
      }
      if (codec.strict) {
        try {
          codec.decode(s.bytes);
        } catch (err) {
          if (validUtf8 && allUtf8) throw looksUtf8();
          if (s.recordNumber === 0) {
            throw new SourceError(`${file}: the name of field ${s.field} is not valid ${declared.name}; ${ENCODING_HINT}`, { file, field: s.field }, { cause: err });
          }
          throw decodeError(file, declared, s.recordNumber, fieldLabel(raw, s, codec), err);
        }
      }
    }
    // GBK decoding accepts most UTF-8 byte strings and turns them into mojibake without an error.
    // Real GBK text almost never validates as UTF-8, so enough valid UTF-8 means the label is wrong.
    if (isGb && allUtf8 && utf8Sequences >= UTF8_EVIDENCE_SEQUENCES) throw looksUtf8();
    return { codec, encoding: declared };
  }

  // Nothing declared: strict UTF-8 over all text of the first records, else GBK.
  const gbk = makeCodec('GBK');
  let utf8Ok = true;
  let firstGbkFailure: Sample | undefined;
  for await (const s of textSamples(fh, raw, sampleRecords)) {
    if (utf8Ok) {
      try {
        UTF8.decode(s.bytes);
        continue;
      } catch {
        utf8Ok = false;
      }
    }
    if (!firstGbkFailure) {
      try {
        gbk.decode(s.bytes);
      } catch {
        firstGbkFailure = s;
      }
    }
  }
  if (utf8Ok) return { codec: UTF8, encoding: { name: 'UTF-8', from: 'detected' } };
  if (firstGbkFailure) {
    const where = firstGbkFailure.recordNumber === 0
      ? `the name of field ${firstGbkFailure.field}`
      : `record ${firstGbkFailure.recordNumber}, field "${fieldLabel(raw, firstGbkFailure, gbk)}"`;
    throw new SourceError(
      `${file}: cannot tell the text encoding (no .cpg; ${where} is neither UTF-8 nor GBK); ${ENCODING_HINT}`,
      { file, row: firstGbkFailure.recordNumber || undefined, field: firstGbkFailure.recordNumber === 0 ? firstGbkFailure.field : undefined },
    );
  }
  return { codec: gbk, encoding: { name: 'GBK', from: 'detected' } };
}
