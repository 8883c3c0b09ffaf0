/**
 * Shapefile writer (.shp/.shx/.dbf, optional .prj and .cpg) for survey deliveries.
 *
 * Streams record by record: geometry goes straight to .shp/.shx; attribute values go to a small
 * binary spool file, because dBASE field widths sit in the header and are only known once every
 * value has been seen. close() then writes the .dbf from the spool. Memory stays flat whatever the
 * record count.
 *
 * Geometry follows the spec: outer rings clockwise, holes counter-clockwise, Z written as the
 * third coordinate of Z types (no M values, as GDAL writes them).
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { once } from 'node:events';
import type { Geometry, Position } from 'geojson';
import iconv from 'iconv-lite';
import yazl from 'yazl';

export type ShapefileShapeType = 'Point' | 'PointZ' | 'MultiPoint' | 'MultiPointZ' | 'PolyLine' | 'PolyLineZ' | 'Polygon' | 'PolygonZ';
export type DbfFieldType = 'C' | 'N' | 'F' | 'D' | 'L';
export type ShapefileEncoding = 'GBK' | 'UTF-8';

export interface ShapefileFieldSpec {
  /** The property key to read; also the field name unless `dbfName` is given. */
  name: string;
  /** Field name in the .dbf (at most 10 bytes in the encoding; longer names are cut on a character boundary). */
  dbfName?: string;
  /** Inferred from the values when omitted. */
  type?: DbfFieldType;
  /** Computed from the values when omitted. */
  length?: number;
  decimals?: number;
}

export interface ShapefileWriterOptions {
  /** Defaults to the type of the first non-null geometry (Z when its coordinates have 3 values). */
  shapeType?: ShapefileShapeType;
  /** Defaults to the keys of the first feature's properties, typed from the data. */
  fields?: ShapefileFieldSpec[];
  /** Attribute encoding; default UTF-8. GBK is what Chinese desktop GIS expects. */
  encoding?: ShapefileEncoding;
  /** Write a .cpg naming the encoding (default true). */
  cpg?: boolean;
  /** Write this text as the .prj (WKT, ESRI flavour preferred by desktop GIS). */
  prj?: string;
}

export interface ShapefileFeatureInput {
  geometry: Geometry | null;
  properties?: Record<string, unknown> | null;
}

export interface WrittenField {
  /** Property key the values came from. */
  source: string;
  /** Name as written (possibly cut to 10 bytes and de-duplicated). */
  name: string;
  type: DbfFieldType;
  length: number;
  decimals: number;
}

export interface WriteShapefileResult {
  /** Paths of the files written. */
  files: string[];
  recordCount: number;
  shapeType: ShapefileShapeType;
  fields: WrittenField[];
  /** Text values cut to fit 254 bytes (or a declared width). */
  truncatedValues: number;
}

const SHAPE_CODES: Record<ShapefileShapeType, number> = {
  Point: 1, PolyLine: 3, Polygon: 5, MultiPoint: 8, PointZ: 11, PolyLineZ: 13, PolygonZ: 15, MultiPointZ: 18,
};
const MAX_C_BYTES = 254;
const MAX_NUMBER_WIDTH = 24; // what GDAL writes for Real; wide enough for 15 significant digits
const BUFFER_BYTES = 1 << 20;
const ASCII = /^[\x00-\x7f]*$/;

/** Appends to a file through a 1 MiB buffer; positioned writes let the header be patched at the end. */
class BufferedFile {
  private buf = Buffer.allocUnsafe(BUFFER_BYTES);
  private used = 0;
  /** Bytes written so far, buffered ones included. */
  length = 0;
  private constructor(private readonly fh: FileHandle, readonly path: string) {}

  static async create(path: string): Promise<BufferedFile> {
    return new BufferedFile(await open(path, 'w+'), path);
  }

  /** The buffer that claim() offsets point into. */
  get buffer(): Buffer {
    return this.buf;
  }

  /** Makes room for `n` more bytes; returns a promise only when the buffer had to be flushed. */
  room(n: number): Promise<void> | undefined {
    return this.used + n <= this.buf.length ? undefined : this.makeRoom(n);
  }

  private async makeRoom(n: number): Promise<void> {
    await this.flush();
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
  }

  /** Claims `n` bytes (after room(n)) and returns their offset in `buffer`. */
  claim(n: number): number {
    const at = this.used;
    this.used += n;
    this.length += n;
    return at;
  }

  async write(data: Uint8Array): Promise<void> {
    if (this.used + data.length > this.buf.length) await this.flush();
    if (data.length > this.buf.length) {
      await this.fh.write(data, 0, data.length);
    } else {
      this.buf.set(data, this.used);
      this.used += data.length;
    }
    this.length += data.length;
  }

  async flush(): Promise<void> {
    if (this.used > 0) await this.fh.write(this.buf, 0, this.used);
    this.used = 0;
  }

  async writeAt(data: Uint8Array, position: number): Promise<void> {
    await this.flush();
    await this.fh.write(data, 0, data.length, position);
  }

  async read(buf: Buffer, position: number): Promise<number> {
    await this.flush();
    return (await this.fh.read(buf, 0, buf.length, position)).bytesRead;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.fh.close();
  }

  async abandon(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}

/** Spool tags: one byte per value. */
const Tag = { Null: 0, Text: 1, Number: 2, True: 3, False: 4, IntText: 5, Date: 6 } as const;

interface ShapeLayout { parts: Position[][]; numPoints: number; size: number }

interface FieldState {
  spec: ShapefileFieldSpec;
  name: string;
  nameBytes: Buffer;
  sawText: boolean;
  sawNumber: boolean;
  sawNonInteger: boolean;
  sawBool: boolean;
  sawDate: boolean;
  maxTextBytes: number;
  maxIntDigits: number; // sign included
  maxFracDigits: number;
}

/** Cuts encoded text to at most `max` bytes without splitting a character. */
function encodeCapped(text: string, encoding: ShapefileEncoding, max: number): { bytes: Buffer; cut: boolean } {
  const bytes = iconv.encode(text, encoding);
  if (bytes.length <= max) return { bytes, cut: false };
  if (encoding === 'UTF-8') {
    let end = max;
    while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // don't start inside a continuation
    return { bytes: bytes.subarray(0, end), cut: true };
  }
  // GBK trail bytes overlap ASCII, so walk characters instead of bytes.
  let used = 0;
  let chars = 0;
  for (const ch of text) {
    const n = iconv.encode(ch, encoding).length;
    if (used + n > max) break;
    used += n;
    chars += ch.length;
  }
  return { bytes: iconv.encode(text.slice(0, chars), encoding), cut: true };
}

function fractionDigits(n: number): number {
  const s = String(Math.abs(n));
  const e = s.indexOf('e');
  if (e < 0) {
    const dot = s.indexOf('.');
    return dot < 0 ? 0 : s.length - dot - 1;
  }
  const mantissa = s.slice(0, e);
  const exp = Number(s.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const mFrac = dot < 0 ? 0 : mantissa.length - dot - 1;
  return Math.max(0, mFrac - exp);
}

function integerDigits(n: number): number {
  const a = Math.abs(n);
  const digits = a < 1 ? 1 : Math.floor(Math.log10(a)) + 1;
  return digits + (n < 0 ? 1 : 0);
}

const ISO_DATE = /^(\d{4})-?(\d{2})-?(\d{2})$/;

function dateText(value: unknown): string | undefined {
  if (value instanceof Date) {
    const y = value.getUTCFullYear(), m = value.getUTCMonth() + 1, d = value.getUTCDate();
    if (Number.isNaN(y) || y < 0 || y > 9999) return undefined;
    // Dates are calendar days: a Date is taken at its UTC day, as JSON and PostgreSQL render it.
    return `${y < 1000 ? String(y).padStart(4, '0') : y}${m < 10 ? '0' : ''}${m}${d < 10 ? '0' : ''}${d}`;
  }
  if (typeof value === 'string') {
    const m = ISO_DATE.exec(value.trim());
    if (m) return `${m[1]}${m[2]}${m[3]}`;
  }
  return undefined;
}

function shapeTypeOf(g: Geometry): ShapefileShapeType {
  const z = (p: Position | undefined): boolean => p !== undefined && p.length >= 3;
  switch (g.type) {
    case 'Point': return z(g.coordinates) ? 'PointZ' : 'Point';
    case 'MultiPoint': return z(g.coordinates[0]) ? 'MultiPointZ' : 'MultiPoint';
    case 'LineString': return z(g.coordinates[0]) ? 'PolyLineZ' : 'PolyLine';
    case 'MultiLineString': return z(g.coordinates[0]?.[0]) ? 'PolyLineZ' : 'PolyLine';
    case 'Polygon': return z(g.coordinates[0]?.[0]) ? 'PolygonZ' : 'Polygon';
    case 'MultiPolygon': return z(g.coordinates[0]?.[0]?.[0]) ? 'PolygonZ' : 'Polygon';
    default: throw new Error(`${g.type} cannot be written to a Shapefile; split it into its parts first`);
  }
}

/** Twice the signed area; negative for clockwise rings. */
function signedArea2(ring: Position[]): number {
  let s = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) s += (ring[j][0] - ring[i][0]) * (ring[j][1] + ring[i][1]);
  return s;
}

function closedRing(ring: Position[], clockwise: boolean): Position[] {
  if (ring.length < 3) throw new Error(`a polygon ring needs at least 3 points, this one has ${ring.length}`);
  let r = ring;
  const a = r[0], b = r[r.length - 1];
  if (a[0] !== b[0] || a[1] !== b[1]) r = [...r, a];
  const isCw = signedArea2(r) < 0;
  return isCw === clockwise ? r : r.slice().reverse();
}

/** The parts of a geometry as the target shape type lays them out. */
function partsFor(g: Geometry, shapeType: ShapefileShapeType): Position[][] {
  const family = shapeType.replace(/Z$/, '');
  if (family === 'PolyLine') {
    if (g.type === 'LineString') return [g.coordinates];
    if (g.type === 'MultiLineString') return g.coordinates;
  } else if (family === 'Polygon') {
    if (g.type === 'Polygon') return g.coordinates.map((r, i) => closedRing(r, i === 0));
    if (g.type === 'MultiPolygon') return g.coordinates.flatMap((p) => p.map((r, i) => closedRing(r, i === 0)));
  } else if (family === 'MultiPoint') {
    if (g.type === 'MultiPoint') return [g.coordinates];
    if (g.type === 'Point') return [[g.coordinates]];
  } else if (g.type === 'Point') {
    return [[g.coordinates]];
  }
  throw new Error(`a ${g.type} cannot be written to a ${shapeType} Shapefile; write it to a Shapefile of its own type`);
}

export class ShapefileWriter {
  private shapeType: ShapefileShapeType | undefined;
  private fields: FieldState[] | undefined;
  private recordCount = 0;
  private truncatedValues = 0;
  private bbox = [Infinity, Infinity, -Infinity, -Infinity];
  private zRange = [Infinity, -Infinity];
  private closed = false;

  private constructor(
    private readonly base: string,
    private readonly options: ShapefileWriterOptions,
    private readonly shp: BufferedFile,
    private readonly shx: BufferedFile,
    private readonly spool: BufferedFile,
    private readonly spoolDir: string,
  ) {
    this.shapeType = options.shapeType;
  }

  /** `basePath` is the path without extension (a trailing ".shp" is accepted and dropped). */
  static async create(basePath: string, options: ShapefileWriterOptions = {}): Promise<ShapefileWriter> {
    const base = basePath.replace(/\.shp$/i, '');
    const encoding = options.encoding ?? 'UTF-8';
    if (encoding !== 'GBK' && encoding !== 'UTF-8') throw new Error(`encoding must be GBK or UTF-8, not ${String(encoding)}`);
    const spoolDir = await mkdtemp(join(tmpdir(), 'onemap-dbf-'));
    const shp = await BufferedFile.create(`${base}.shp`);
    const shx = await BufferedFile.create(`${base}.shx`);
    const spool = await BufferedFile.create(join(spoolDir, 'values.bin'));
    const header = Buffer.alloc(100); // patched in close()
    await shp.write(header);
    await shx.write(header);
    return new ShapefileWriter(base, { ...options, encoding }, shp, shx, spool, spoolDir);
  }

  private get encoding(): ShapefileEncoding {
    return this.options.encoding ?? 'UTF-8';
  }

  async write(feature: ShapefileFeatureInput): Promise<void> {
    if (this.closed) throw new Error('write() after close()');
    const props = feature.properties ?? {};
    if (!this.fields) this.fields = this.initFields(props);
    const g = feature.geometry;
    if (g && !this.shapeType) this.shapeType = shapeTypeOf(g);
    // Validate and encode attributes first, so a bad value leaves the three files in step.
    const valuesLength = this.encodeValues(props);
    const layout = g ? this.layout(g) : undefined;
    const contentLength = layout ? layout.size : 4;
    const offsetWords = this.shp.length / 2;
    // Offsets and lengths are signed 32-bit counts of 16-bit words.
    if (this.shp.length + 8 + contentLength > 2 * 0x7fffffff) {
      throw new Error(`a .shp cannot exceed 4 GiB; record ${this.recordCount + 1} does not fit, split the data into several Shapefiles`);
    }

    const r1 = this.shp.room(8 + contentLength);
    if (r1) await r1;
    const at = this.shp.claim(8 + contentLength);
    const b = this.shp.buffer;
    b.writeInt32BE(this.recordCount + 1, at);
    b.writeInt32BE(contentLength / 2, at + 4);
    if (layout) this.encodeShape(b, at + 8, layout);
    else b.writeInt32LE(0, at + 8);

    const r2 = this.shx.room(8);
    if (r2) await r2;
    const ix = this.shx.claim(8);
    this.shx.buffer.writeInt32BE(offsetWords, ix);
    this.shx.buffer.writeInt32BE(contentLength / 2, ix + 4);

    const r3 = this.spool.room(valuesLength);
    if (r3) await r3;
    this.scratch.copy(this.spool.buffer, this.spool.claim(valuesLength), 0, valuesLength);
    this.recordCount++;
  }

  private fieldKeys: Set<string> | undefined;

  private initFields(props: Record<string, unknown>): FieldState[] {
    const specs: ShapefileFieldSpec[] = this.options.fields ?? Object.keys(props).map((name) => ({ name }));
    this.fieldKeys = new Set(specs.map((f) => f.name));
    const taken = new Set<string>();
    return specs.map((spec) => {
      const { name, nameBytes } = this.fieldName(spec.dbfName ?? spec.name, taken);
      return {
        spec, name, nameBytes,
        sawText: false, sawNumber: false, sawNonInteger: false, sawBool: false, sawDate: false,
        maxTextBytes: 0, maxIntDigits: 0, maxFracDigits: 0,
      };
    });
  }

  /** dBASE names hold 10 bytes; cut on a character boundary and de-duplicate case-insensitively. */
  private fieldName(wanted: string, taken: Set<string>): { name: string; nameBytes: Buffer } {
    const encoding = this.encoding;
    const cleaned = wanted.replace(/\0/g, '') || 'FIELD';
    let { bytes } = encodeCapped(cleaned, encoding, 10);
    let name = iconv.decode(bytes, encoding);
    for (let n = 2; taken.has(name.toLowerCase()); n++) {
      const suffix = `_${n}`;
      bytes = Buffer.concat([encodeCapped(cleaned, encoding, 10 - suffix.length).bytes, Buffer.from(suffix)]);
      name = iconv.decode(bytes, encoding);
    }
    taken.add(name.toLowerCase());
    return { name, nameBytes: bytes };
  }

  /** Reusable buffer for one record's spooled values. */
  private scratch = Buffer.allocUnsafe(4096);
  private scratchLength = 0;
  /** Encoded text of recent values: survey tables repeat the same materials, owners and codes. */
  private textCache = new Map<string, { bytes: Buffer; cut: boolean }>();

  private reserveScratch(n: number): number {
    const at = this.scratchLength;
    if (at + n > this.scratch.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.scratch.length * 2, at + n));
      this.scratch.copy(bigger, 0, 0, at);
      this.scratch = bigger;
    }
    this.scratchLength += n;
    return at;
  }

  /** Spools the record's values into `scratch` as [u32 length][tag, payload]...; returns the length. */
  private encodeValues(props: Record<string, unknown>): number {
    const fields = this.fields!;
    for (const key in props) {
      if (props[key] !== undefined && !this.fieldKeys!.has(key)) {
        throw new Error(`property "${key}" of record ${this.recordCount + 1} is not among the fields (taken from the first record); pass options.fields`);
      }
    }
    this.scratchLength = 0;
    this.reserveScratch(4);
    for (const f of fields) this.encodeValue(f, props[f.spec.name]);
    this.scratch.writeUInt32LE(this.scratchLength - 4, 0);
    return this.scratchLength;
  }

  private putTag(tag: number): void {
    this.scratch[this.reserveScratch(1)] = tag;
  }

  private putAscii(tag: number, text: string, withLength: boolean): void {
    const at = this.reserveScratch(1 + (withLength ? 1 : 0) + text.length);
    this.scratch[at] = tag;
    if (withLength) this.scratch[at + 1] = text.length;
    this.scratch.write(text, at + 1 + (withLength ? 1 : 0), 'latin1');
  }

  private encodeText(text: string, max: number): { bytes: Buffer; cut: boolean } {
    if (max !== MAX_C_BYTES || text.length > 64) return encodeCapped(text, this.encoding, max);
    let hit = this.textCache.get(text);
    if (!hit) {
      if (this.textCache.size >= 10_000) this.textCache.clear();
      hit = encodeCapped(text, this.encoding, max);
      this.textCache.set(text, hit);
    }
    return hit;
  }

  private encodeValue(f: FieldState, value: unknown): void {
    const type = f.spec.type;
    if (value === null || value === undefined || (typeof value === 'number' && Number.isNaN(value))) return this.putTag(Tag.Null);
    if (type === 'D' || (type === undefined && value instanceof Date)) {
      const d = dateText(value);
      if (d === undefined) throw new Error(`field "${f.spec.name}": ${String(value)} is not a date (use a Date or "YYYY-MM-DD")`);
      f.sawDate = true;
      return this.putAscii(Tag.Date, d, false);
    }
    if (type === 'L' || (type === undefined && typeof value === 'boolean')) {
      if (typeof value !== 'boolean') throw new Error(`field "${f.spec.name}": ${String(value)} is not a boolean`);
      f.sawBool = true;
      return this.putTag(value ? Tag.True : Tag.False);
    }
    if ((type === 'N' || type === 'F' || type === undefined) && (typeof value === 'number' || typeof value === 'bigint')) {
      if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`field "${f.spec.name}": ${value} cannot be stored in dBASE`);
      f.sawNumber = true;
      if (typeof value === 'bigint' || (Number.isInteger(value) && !Number.isSafeInteger(value) && Math.abs(value) < 1e21)) {
        const text = typeof value === 'bigint' ? value.toString() : BigInt(value).toString();
        f.maxIntDigits = Math.max(f.maxIntDigits, text.length);
        return this.putAscii(Tag.IntText, text, true);
      }
      if (!Number.isInteger(value)) {
        f.sawNonInteger = true;
        f.maxFracDigits = Math.max(f.maxFracDigits, Math.min(15, fractionDigits(value)));
      }
      f.maxIntDigits = Math.max(f.maxIntDigits, integerDigits(value));
      const at = this.reserveScratch(9);
      this.scratch[at] = Tag.Number;
      this.scratch.writeDoubleLE(value, at + 1);
      return;
    }
    if (type === 'N' || type === 'F') {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      if (!Number.isFinite(n)) throw new Error(`field "${f.spec.name}": "${String(value)}" is not a number`);
      return this.encodeValue(f, n);
    }
    // Text: strings, and anything else in a C field, as its string form.
    const text = typeof value === 'string' ? value
      : value instanceof Date ? value.toISOString() : typeof value === 'object' ? JSON.stringify(value) : String(value);
    const max = Math.min(MAX_C_BYTES, f.spec.length ?? MAX_C_BYTES);
    f.sawText = true;
    if (text.length <= max && ASCII.test(text)) {
      // Codes, ids and numbers as text: no encoder needed, same bytes in GBK and UTF-8.
      if (text.length > f.maxTextBytes) f.maxTextBytes = text.length;
      const at = this.reserveScratch(3 + text.length);
      this.scratch[at] = Tag.Text;
      this.scratch.writeUInt16LE(text.length, at + 1);
      this.scratch.write(text, at + 3, 'latin1');
      return;
    }
    const { bytes, cut } = this.encodeText(text, max);
    if (cut) this.truncatedValues++;
    if (bytes.length > f.maxTextBytes) f.maxTextBytes = bytes.length;
    const at = this.reserveScratch(3 + bytes.length);
    this.scratch[at] = Tag.Text;
    this.scratch.writeUInt16LE(bytes.length, at + 1);
    bytes.copy(this.scratch, at + 3);
  }

  /** The parts of `g` in the file's shape type, and the record content size they need. */
  private layout(g: Geometry): ShapeLayout {
    const shapeType = this.shapeType!;
    const hasZ = shapeType.endsWith('Z');
    const parts = partsFor(g, shapeType);
    if (shapeType === 'Point' || shapeType === 'PointZ') return { parts, numPoints: 1, size: hasZ ? 28 : 20 };
    let numPoints = 0;
    for (const p of parts) numPoints += p.length;
    const multipoint = shapeType === 'MultiPoint' || shapeType === 'MultiPointZ';
    const xyEnd = (multipoint ? 40 : 44 + 4 * parts.length) + 16 * numPoints;
    return { parts, numPoints, size: hasZ ? xyEnd + 16 + 8 * numPoints : xyEnd };
  }

  private encodeShape(b: Buffer, o: number, { parts, numPoints }: ShapeLayout): void {
    const shapeType = this.shapeType!;
    const hasZ = shapeType.endsWith('Z');
    const bb = this.bbox, zr = this.zRange;
    b.writeInt32LE(SHAPE_CODES[shapeType], o);
    if (shapeType === 'Point' || shapeType === 'PointZ') {
      const p = parts[0][0];
      const z = p[2] ?? 0;
      b.writeDoubleLE(p[0], o + 4);
      b.writeDoubleLE(p[1], o + 12);
      if (hasZ) b.writeDoubleLE(z, o + 20);
      bb[0] = Math.min(bb[0], p[0]); bb[1] = Math.min(bb[1], p[1]); bb[2] = Math.max(bb[2], p[0]); bb[3] = Math.max(bb[3], p[1]);
      if (hasZ) { zr[0] = Math.min(zr[0], z); zr[1] = Math.max(zr[1], z); }
      return;
    }
    const multipoint = shapeType === 'MultiPoint' || shapeType === 'MultiPointZ';
    const pointsAt = o + (multipoint ? 40 : 44 + 4 * parts.length);
    const xyEnd = pointsAt + 16 * numPoints;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity, z0 = Infinity, z1 = -Infinity;
    let i = 0;
    for (let p = 0; p < parts.length; p++) {
      if (!multipoint) b.writeInt32LE(i, o + 44 + 4 * p);
      for (const c of parts[p]) {
        const x = c[0], y = c[1];
        b.writeDoubleLE(x, pointsAt + 16 * i);
        b.writeDoubleLE(y, pointsAt + 16 * i + 8);
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
        if (hasZ) {
          const z = c[2] ?? 0;
          b.writeDoubleLE(z, xyEnd + 16 + 8 * i);
          if (z < z0) z0 = z;
          if (z > z1) z1 = z;
        }
        i++;
      }
    }
    if (numPoints === 0) { x0 = y0 = x1 = y1 = z0 = z1 = 0; }
    b.writeDoubleLE(x0, o + 4); b.writeDoubleLE(y0, o + 12); b.writeDoubleLE(x1, o + 20); b.writeDoubleLE(y1, o + 28);
    if (multipoint) b.writeInt32LE(numPoints, o + 36);
    else { b.writeInt32LE(parts.length, o + 36); b.writeInt32LE(numPoints, o + 40); }
    if (hasZ) { b.writeDoubleLE(z0, xyEnd); b.writeDoubleLE(z1, xyEnd + 8); zr[0] = Math.min(zr[0], z0); zr[1] = Math.max(zr[1], z1); }
    if (numPoints > 0) { bb[0] = Math.min(bb[0], x0); bb[1] = Math.min(bb[1], y0); bb[2] = Math.max(bb[2], x1); bb[3] = Math.max(bb[3], y1); }
  }

  /** Finishes the header, writes the .dbf (and .prj/.cpg); the writer cannot be used afterwards. */
  async close(): Promise<WriteShapefileResult> {
    if (this.closed) throw new Error('close() called twice');
    this.closed = true;
    try {
      const shapeType = this.shapeType ?? 'Point';
      const code = SHAPE_CODES[shapeType];
      const empty = this.bbox[0] === Infinity;
      const bbox = empty ? [0, 0, 0, 0] : this.bbox;
      const zr = this.zRange[0] === Infinity ? [0, 0] : this.zRange;
      for (const f of [this.shp, this.shx]) {
        const h = Buffer.alloc(100);
        h.writeInt32BE(9994, 0);
        h.writeInt32BE(f.length / 2, 24);
        h.writeInt32LE(1000, 28);
        h.writeInt32LE(code, 32);
        bbox.forEach((v, i) => h.writeDoubleLE(v, 36 + 8 * i));
        h.writeDoubleLE(zr[0], 68);
        h.writeDoubleLE(zr[1], 76);
        await f.writeAt(h, 0);
      }
      await this.shp.close();
      await this.shx.close();
      const fields = this.resolveFields();
      await this.writeDbf(fields);
      const files = [`${this.base}.shp`, `${this.base}.shx`, `${this.base}.dbf`];
      if (this.options.cpg ?? true) {
        // "936" rather than "GBK": the code page number is what ArcGIS documents and GDAL maps to CP936.
        await writeFile(`${this.base}.cpg`, this.encoding === 'GBK' ? '936' : 'UTF-8');
        files.push(`${this.base}.cpg`);
      }
      if (this.options.prj !== undefined) {
        await writeFile(`${this.base}.prj`, this.options.prj);
        files.push(`${this.base}.prj`);
      }
      return {
        files,
        recordCount: this.recordCount,
        shapeType,
        fields: fields.map((f) => ({ source: f.state.spec.name, name: f.state.name, type: f.type, length: f.length, decimals: f.decimals })),
        truncatedValues: this.truncatedValues,
      };
    } finally {
      await this.spool.abandon();
      await rm(this.spoolDir, { recursive: true, force: true });
    }
  }

  /** Stops writing and removes what was written; safe after a failed close(). */
  async abort(): Promise<void> {
    this.closed = true;
    await Promise.all([this.shp.abandon(), this.shx.abandon(), this.spool.abandon()]);
    await rm(this.spoolDir, { recursive: true, force: true });
    for (const ext of ['.shp', '.shx', '.dbf', '.cpg', '.prj']) await rm(`${this.base}${ext}`, { force: true });
  }

  private resolveFields(): { state: FieldState; type: DbfFieldType; length: number; decimals: number }[] {
    return (this.fields ?? []).map((f) => {
      const spec = f.spec;
      let type: DbfFieldType = spec.type
        ?? (f.sawText || (f.sawBool && (f.sawNumber || f.sawDate)) || (f.sawNumber && f.sawDate) ? 'C'
          : f.sawNumber ? 'N' : f.sawDate ? 'D' : f.sawBool ? 'L' : 'C');
      if (type === 'D') return { state: f, type, length: 8, decimals: 0 };
      if (type === 'L') return { state: f, type, length: 1, decimals: 0 };
      if (type === 'C') {
        // Mixed numbers/booleans in a text field are written as text: widen for them.
        const other = Math.max(f.sawNumber ? MAX_NUMBER_WIDTH : 0, f.sawDate ? 8 : 0, f.sawBool ? 5 : 0);
        return { state: f, type, length: spec.length ?? Math.min(MAX_C_BYTES, Math.max(1, f.maxTextBytes, other)), decimals: 0 };
      }
      let decimals = spec.decimals ?? (f.sawNonInteger ? f.maxFracDigits : 0);
      const intDigits = Math.max(1, f.maxIntDigits);
      let length = spec.length ?? intDigits + (decimals > 0 ? decimals + 1 : 0);
      if (spec.length === undefined && length > MAX_NUMBER_WIDTH && intDigits <= MAX_NUMBER_WIDTH) {
        decimals = spec.decimals ?? Math.max(0, MAX_NUMBER_WIDTH - intDigits - 1);
        length = MAX_NUMBER_WIDTH;
      }
      type = spec.type ?? 'N';
      return { state: f, type, length: Math.min(254, length), decimals };
    });
  }

  private async writeDbf(fields: { state: FieldState; type: DbfFieldType; length: number; decimals: number }[]): Promise<void> {
    const recordLength = 1 + fields.reduce((s, f) => s + f.length, 0);
    if (recordLength > 65535) throw new Error(`a dBASE record holds at most 65535 bytes; these fields need ${recordLength}`);
    const headerLength = 32 + 32 * fields.length + 1;
    const header = Buffer.alloc(headerLength);
    const now = new Date();
    header[0] = 0x03;
    header[1] = now.getUTCFullYear() - 1900;
    header[2] = now.getUTCMonth() + 1;
    header[3] = now.getUTCDate();
    header.writeUInt32LE(this.recordCount, 4);
    header.writeUInt16LE(headerLength, 8);
    header.writeUInt16LE(recordLength, 10);
    // Language driver: 0x4D is code page 936 (GBK); dBASE has no id for UTF-8, the .cpg says it.
    header[29] = this.encoding === 'GBK' ? 0x4d : 0x00;
    fields.forEach((f, i) => {
      const d = 32 + 32 * i;
      f.state.nameBytes.copy(header, d, 0, Math.min(10, f.state.nameBytes.length));
      header[d + 11] = f.type.charCodeAt(0);
      header[d + 16] = f.length;
      header[d + 17] = f.decimals;
    });
    header[headerLength - 1] = 0x0d;

    const dbf = await BufferedFile.create(`${this.base}.dbf`);
    try {
      await dbf.write(header);
      const record = Buffer.allocUnsafe(recordLength);
      const chunk = Buffer.allocUnsafe(BUFFER_BYTES);
      let pending = Buffer.alloc(0);
      let pos = 0;
      for (;;) {
        const n = await this.spool.read(chunk, pos);
        if (n === 0) break;
        pos += n;
        const data = pending.length ? Buffer.concat([pending, chunk.subarray(0, n)]) : chunk.subarray(0, n);
        let at = 0;
        while (at + 4 <= data.length) {
          const size = data.readUInt32LE(at);
          if (at + 4 + size > data.length) break;
          this.formatRecord(data, at + 4, fields, record);
          await dbf.write(record);
          at += 4 + size;
        }
        pending = Buffer.from(data.subarray(at));
      }
      await dbf.write(Buffer.of(0x1a));
      await dbf.close();
    } catch (err) {
      await dbf.abandon();
      throw err;
    }
  }

  private formatRecord(
    data: Buffer,
    start: number,
    fields: { state: FieldState; type: DbfFieldType; length: number; decimals: number }[],
    out: Buffer,
  ): void {
    out.fill(0x20);
    let at = start;
    let o = 1;
    for (const f of fields) {
      const tag = data[at++];
      let text: string | undefined;
      let bytes: Buffer | undefined;
      switch (tag) {
        case Tag.Null:
          if (f.type === 'L') text = '?';
          break;
        case Tag.Text: {
          const len = data.readUInt16LE(at);
          bytes = data.subarray(at + 2, at + 2 + len);
          at += 2 + len;
          if (f.type !== 'C') throw new Error(`field "${f.state.name}" is ${f.type} but holds text`);
          if (bytes.length > f.length) {
            bytes = encodeCapped(iconv.decode(bytes, this.encoding), this.encoding, f.length).bytes;
            this.truncatedValues++;
          }
          break;
        }
        case Tag.Number: {
          const v = data.readDoubleLE(at);
          at += 8;
          text = f.type === 'C' ? String(v) : formatNumber(v, f.length, f.decimals, f.state.name);
          break;
        }
        case Tag.IntText: {
          const len = data[at];
          text = data.toString('latin1', at + 1, at + 1 + len);
          at += 1 + len;
          if (f.type !== 'C' && text.length > f.length) throw new Error(`field "${f.state.name}": ${text} does not fit width ${f.length}`);
          if (f.type !== 'C') text = text.padStart(f.length);
          break;
        }
        case Tag.True: case Tag.False:
          text = f.type === 'L' ? (tag === Tag.True ? 'T' : 'F') : tag === Tag.True ? 'true' : 'false';
          break;
        case Tag.Date: {
          const d = data.toString('latin1', at, at + 8);
          at += 8;
          text = f.type === 'C' ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}` : d;
          break;
        }
      }
      if (bytes) bytes.copy(out, o, 0, Math.min(bytes.length, f.length));
      else if (text !== undefined) out.write(text.slice(0, f.length), o, 'latin1');
      o += f.length;
    }
  }
}

/** Right-aligned fixed-point text of exactly `width` characters, as dBASE N/F fields hold numbers. */
function formatNumber(v: number, width: number, decimals: number, field: string): string {
  let text = v.toFixed(decimals);
  if (text.length > width) {
    // Fewer decimals before giving up: 123.456789 into N(8,6) becomes 123.4568.
    const intLen = v.toFixed(0).length;
    const d = Math.max(0, width - intLen - 1);
    text = v.toFixed(intLen < width ? d : 0);
    if (text.length > width) {
      const exp = v.toExponential(Math.max(0, width - 7));
      if (exp.length > width) throw new Error(`field "${field}": ${v} does not fit width ${width}`);
      text = exp;
    }
  }
  return text.padStart(width);
}

/** Writes every feature and closes; `features` may be an array, any iterable or an async iterable. */
export async function writeShapefile(
  basePath: string,
  features: Iterable<ShapefileFeatureInput> | AsyncIterable<ShapefileFeatureInput>,
  options: ShapefileWriterOptions = {},
): Promise<WriteShapefileResult> {
  const writer = await ShapefileWriter.create(basePath, options);
  try {
    for await (const f of features) await writer.write(f);
    return await writer.close();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

/**
 * Writes the Shapefile set into a zip at `zipPath`; `name` is the base name inside the archive
 * (default: the zip's own base name). Entry names are stored as UTF-8 with the zip's UTF-8 flag.
 */
export async function writeShapefileZip(
  zipPath: string,
  features: Iterable<ShapefileFeatureInput> | AsyncIterable<ShapefileFeatureInput>,
  options: ShapefileWriterOptions & { name?: string } = {},
): Promise<WriteShapefileResult & { zipPath: string }> {
  const name = options.name ?? basename(zipPath).replace(/\.zip$/i, '');
  const dir = await mkdtemp(join(tmpdir(), 'onemap-shpzip-'));
  try {
    const result = await writeShapefile(join(dir, name), features, options);
    const zip = new yazl.ZipFile();
    for (const f of result.files) zip.addFile(f, basename(f));
    const out = createWriteStream(zipPath);
    zip.outputStream.pipe(out);
    zip.end();
    await once(out, 'close');
    return { ...result, files: result.files.map((f) => basename(f)), zipPath };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

