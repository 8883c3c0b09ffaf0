/**
 * Streaming .shp record reader (ESRI Shapefile Technical Description, July 1998).
 *
 * Reads the file in chunks through a FileHandle, so files larger than memory stream; keeps Z as
 * the third coordinate (M is ignored); turns each record into a GeoJSON geometry. A record that
 * makes no sense but whose length is known gets a `problem` and the stream goes on; a file that
 * cannot be followed any further (truncated, impossible record length) is a SourceError naming
 * the file and the record.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { readSync } from 'node:fs';
import { basename } from 'node:path';
import type { Geometry, Position } from 'geojson';
import { SourceError } from '../source.ts';

export const SHAPE_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'Null', 1: 'Point', 3: 'PolyLine', 5: 'Polygon', 8: 'MultiPoint',
  11: 'PointZ', 13: 'PolyLineZ', 15: 'PolygonZ', 18: 'MultiPointZ',
  21: 'PointM', 23: 'PolyLineM', 25: 'PolygonM', 28: 'MultiPointM', 31: 'MultiPatch',
};

const FILE_CODE = 9994;
const VERSION = 1000;
const HEADER_BYTES = 100;
const CHUNK_BYTES = 1 << 20;
const BATCH_RECORDS = 2048;
/** 16 million XYZ points; a corrupt length beyond this would otherwise be allocated before it is found out. */
const MAX_RECORD_BYTES = 256 * 2 ** 20;

export interface ShpHeader {
  /** Length in bytes as the header declares it. */
  fileLength: number;
  shapeType: number;
  shapeTypeName: string;
  /** [xmin, ymin, xmax, ymax] */
  bbox: [number, number, number, number];
  /** [zmin, zmax] */
  zRange: [number, number];
}

export interface ShpRecord {
  /** 1-based position in the file (the record header's own number is not trusted). */
  recordNumber: number;
  geometry: Geometry | null;
  problem?: string;
}

function parseHeader(h: Buffer, file: string): ShpHeader {
  const fileCode = h.readInt32BE(0);
  if (fileCode !== FILE_CODE) throw new SourceError(`${file} is not a Shapefile (file code ${fileCode}, expected ${FILE_CODE})`, { file });
  const version = h.readInt32LE(28);
  if (version !== VERSION) throw new SourceError(`${file}: unsupported Shapefile version ${version} (expected ${VERSION})`, { file });
  const shapeType = h.readInt32LE(32);
  const shapeTypeName = SHAPE_TYPE_NAMES[shapeType];
  if (shapeTypeName === undefined) throw new SourceError(`${file}: unknown shape type ${shapeType}`, { file });
  if (shapeType === 31) {
    throw new SourceError(`${file}: MultiPatch Shapefiles are not supported; convert them first, e.g. ogr2ogr -f GeoJSON out.geojson ${file}`, { file });
  }
  return {
    fileLength: h.readInt32BE(24) * 2,
    shapeType,
    shapeTypeName,
    bbox: [h.readDoubleLE(36), h.readDoubleLE(44), h.readDoubleLE(52), h.readDoubleLE(60)],
    zRange: [h.readDoubleLE(68), h.readDoubleLE(76)],
  };
}

/**
 * The number of records an index (.shx) lists, or undefined when it is missing or unusable; the
 * .shx is optional, so a broken one is ignored rather than fatal.
 */
export async function readShxRecordCount(path: string): Promise<number | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = (await fh.stat()).size;
    const h = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await fh.read(h, 0, HEADER_BYTES, 0);
    if (bytesRead < HEADER_BYTES || h.readInt32BE(0) !== FILE_CODE) return undefined;
    const declared = h.readInt32BE(24) * 2;
    if (declared !== size || (size - HEADER_BYTES) % 8 !== 0) return undefined;
    return (size - HEADER_BYTES) / 8;
  } finally {
    await fh.close();
  }
}

export class ShpReader {
  private constructor(
    private readonly fh: FileHandle,
    readonly displayName: string,
    readonly header: ShpHeader,
    /** Where the records end: the declared length (bytes beyond it are ignored). */
    private readonly end: number,
  ) {}

  /** Opens the file and validates the header; a truncated file fails here, naming the record where it ends. */
  static async open(path: string, displayName = basename(path)): Promise<ShpReader> {
    const fh = await open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      const h = Buffer.alloc(HEADER_BYTES);
      const { bytesRead } = await fh.read(h, 0, HEADER_BYTES, 0);
      if (bytesRead < HEADER_BYTES) {
        throw new SourceError(`${displayName} is too short to be a Shapefile (${size} bytes; the header alone is ${HEADER_BYTES})`, { file: displayName });
      }
      const header = parseHeader(h, displayName);
      if (header.fileLength < HEADER_BYTES) {
        throw new SourceError(`${displayName}: the header declares an impossible file length of ${header.fileLength} bytes`, { file: displayName });
      }
      if (size < header.fileLength) {
        const row = findTruncatedRecord(fh.fd, size);
        throw new SourceError(
          `${displayName} is truncated: the header declares ${header.fileLength} bytes but the file has ${size}; it ends inside record ${row}`,
          { file: displayName, row },
        );
      }
      return new ShpReader(fh, displayName, header, header.fileLength);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  get hasZ(): boolean {
    const t = this.header.shapeType;
    return t === 11 || t === 13 || t === 15 || t === 18;
  }

  /** Yields every record in file order; may be iterated more than once. */
  async *records(): AsyncGenerator<ShpRecord> {
    for await (const batch of this.batches()) yield* batch;
  }

  /** Records in file order, up to a couple of thousand at a time (one await per batch, not per record). */
  async *batches(): AsyncGenerator<ShpRecord[]> {
    const file = this.displayName;
    let buf = Buffer.allocUnsafe(CHUNK_BYTES);
    let start = 0; // first unread byte in buf
    let filled = 0; // bytes of buf holding data
    let filePos = HEADER_BYTES; // file offset of buf[filled]
    const fh = this.fh;
    const end = this.end;

    /** Makes at least `n` unread bytes available; false when the records end first. */
    const ensure = async (n: number): Promise<boolean> => {
      if (filled - start >= n) return true;
      if (n > buf.length) {
        const bigger = Buffer.allocUnsafe(Math.max(n, buf.length * 2));
        buf.copy(bigger, 0, start, filled);
        buf = bigger;
      } else {
        buf.copy(buf, 0, start, filled);
      }
      filled -= start;
      start = 0;
      while (filled < n && filePos < end) {
        const want = Math.min(buf.length - filled, end - filePos);
        const { bytesRead } = await fh.read(buf, filled, want, filePos);
        if (bytesRead === 0) break;
        filled += bytesRead;
        filePos += bytesRead;
      }
      return filled - start >= n;
    };

    let recordNumber = 0;
    let batch: ShpRecord[] = [];
    for (;;) {
      const recordStart = filePos - (filled - start);
      if (recordStart >= end) break;
      if (batch.length >= BATCH_RECORDS) {
        yield batch;
        batch = [];
      }
      recordNumber++;
      if (!(await ensure(8))) {
        throw new SourceError(`${file} ends inside the header of record ${recordNumber}: the file is truncated`, { file, row: recordNumber });
      }
      const contentLength = buf.readInt32BE(start + 4) * 2;
      if (contentLength >= 0 && contentLength < 4 && recordStart + 8 + contentLength <= end && (await ensure(8 + contentLength))) {
        // Too short to hold a shape type, but the next record's place is still known.
        start += 8 + contentLength;
        batch.push({ recordNumber, geometry: null, problem: `record content is ${contentLength} bytes, too short for a shape type` });
        continue;
      }
      if (contentLength < 0) {
        throw new SourceError(
          `${file}: record ${recordNumber} declares a content length of ${contentLength} bytes; the file cannot be read past it`,
          { file, row: recordNumber },
        );
      }
      if (contentLength > MAX_RECORD_BYTES) {
        throw new SourceError(
          `${file}: record ${recordNumber} declares ${contentLength} bytes (over ${MAX_RECORD_BYTES / 2 ** 20} MiB for one shape); the file is corrupt`,
          { file, row: recordNumber },
        );
      }
      if (recordStart + 8 + contentLength > end) {
        throw new SourceError(
          `${file}: record ${recordNumber} declares ${contentLength} bytes but only ${end - recordStart - 8} remain; the file is truncated or corrupt`,
          { file, row: recordNumber },
        );
      }
      if (!(await ensure(8 + contentLength))) {
        throw new SourceError(`${file} ends inside record ${recordNumber}: the file is truncated`, { file, row: recordNumber });
      }
      const parsed = parseShape(buf, start + 8, contentLength);
      start += 8 + contentLength;
      batch.push(parsed.problem === undefined
        ? { recordNumber, geometry: parsed.geometry }
        : { recordNumber, geometry: parsed.geometry, problem: parsed.problem });
    }
    if (batch.length > 0) yield batch;
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}

/**
 * Hops over record headers to find the record a truncated file ends in. Only runs on the error
 * path; synchronous 8-byte reads keep it to about a microsecond per record.
 */
function findTruncatedRecord(fd: number, size: number): number {
  const h = Buffer.alloc(8);
  let pos = HEADER_BYTES;
  for (let n = 1; ; n++) {
    if (pos + 8 > size) return n;
    if (readSync(fd, h, 0, 8, pos) < 8) return n;
    const len = h.readInt32BE(4) * 2;
    if (len < 4) return n;
    pos += 8 + len;
    if (pos > size) return n;
  }
}

interface Parsed { geometry: Geometry | null; problem?: string }

const isZType = (t: number): boolean => t === 11 || t === 13 || t === 15 || t === 18;

/** Parses one record's content (starting at its shape type) into a GeoJSON geometry. */
export function parseShape(b: Buffer, o: number, len: number): Parsed {
  const type = b.readInt32LE(o);
  switch (type) {
    case 0: return { geometry: null };
    case 1: case 11: case 21: return parsePoint(b, o, len, type);
    case 8: case 18: case 28: return parseMultiPoint(b, o, len, type);
    case 3: case 13: case 23: case 5: case 15: case 25: return parsePoly(b, o, len, type);
    default: return { geometry: null, problem: `unsupported shape type ${type} (${SHAPE_TYPE_NAMES[type] ?? 'unknown'})` };
  }
}

function nonFinite(): Parsed {
  return { geometry: null, problem: 'coordinate is not a finite number' };
}

function parsePoint(b: Buffer, o: number, len: number, type: number): Parsed {
  const z = isZType(type);
  const need = z ? 28 : 20;
  if (len < need) return { geometry: null, problem: `${SHAPE_TYPE_NAMES[type]} record is ${len} bytes, needs ${need}` };
  const x = b.readDoubleLE(o + 4);
  const y = b.readDoubleLE(o + 12);
  // GDAL and ArcGIS write empty points as NaN coordinates.
  if (Number.isNaN(x) && Number.isNaN(y)) return { geometry: null };
  if (!Number.isFinite(x) || !Number.isFinite(y)) return nonFinite();
  if (!z) return { geometry: { type: 'Point', coordinates: [x, y] } };
  const zv = b.readDoubleLE(o + 20);
  if (!Number.isFinite(zv)) return nonFinite();
  return { geometry: { type: 'Point', coordinates: [x, y, zv] } };
}

function parseMultiPoint(b: Buffer, o: number, len: number, type: number): Parsed {
  if (len < 40) return { geometry: null, problem: `${SHAPE_TYPE_NAMES[type]} record is ${len} bytes, too short for its header` };
  const n = b.readInt32LE(o + 36);
  if (n < 0) return { geometry: null, problem: `negative point count ${n}` };
  const z = isZType(type);
  const xyEnd = 40 + 16 * n;
  const need = z ? xyEnd + 16 + 8 * n : xyEnd;
  if (need > len) return { geometry: null, problem: `${n} points need ${need} bytes but the record has ${len}` };
  if (n === 0) return { geometry: null };
  const coords: Position[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const x = b.readDoubleLE(o + 40 + 16 * i);
    const y = b.readDoubleLE(o + 48 + 16 * i);
    if (!Number.isFinite(x) || !Number.isFinite(y)) return nonFinite();
    if (z) {
      const zv = b.readDoubleLE(o + xyEnd + 16 + 8 * i);
      if (!Number.isFinite(zv)) return nonFinite();
      coords[i] = [x, y, zv];
    } else {
      coords[i] = [x, y];
    }
  }
  return { geometry: n === 1 ? { type: 'Point', coordinates: coords[0] } : { type: 'MultiPoint', coordinates: coords } };
}

function parsePoly(b: Buffer, o: number, len: number, type: number): Parsed {
  const name = SHAPE_TYPE_NAMES[type];
  if (len < 44) return { geometry: null, problem: `${name} record is ${len} bytes, too short for its header` };
  const numParts = b.readInt32LE(o + 36);
  const numPoints = b.readInt32LE(o + 40);
  if (numParts < 0) return { geometry: null, problem: `negative part count ${numParts}` };
  if (numPoints < 0) return { geometry: null, problem: `negative point count ${numPoints}` };
  const z = isZType(type);
  const pointsAt = 44 + 4 * numParts;
  const xyEnd = pointsAt + 16 * numPoints;
  const zAt = xyEnd + 16;
  const need = z ? zAt + 8 * numPoints : xyEnd;
  if (need > len) {
    return { geometry: null, problem: `${numParts} parts and ${numPoints} points need ${need} bytes but the record has ${len}` };
  }
  if (numParts === 0 && numPoints === 0) return { geometry: null };
  if (numParts === 0) return { geometry: null, problem: `${numPoints} points but no parts` };

  const parts: Position[][] = [];
  for (let p = 0; p < numParts; p++) {
    const first = b.readInt32LE(o + 44 + 4 * p);
    const last = p + 1 < numParts ? b.readInt32LE(o + 48 + 4 * p) : numPoints;
    if (p === 0 && first !== 0) return { geometry: null, problem: `the first part starts at point ${first}, not 0` };
    if (first < 0 || first > numPoints || last > numPoints) {
      return { geometry: null, problem: `part ${p + 1} starts at point index ${first}, beyond the ${numPoints} points` };
    }
    if (last < first) return { geometry: null, problem: `part ${p + 2} starts before part ${p + 1}` };
    if (last === first) continue; // an empty part carries nothing
    const ring: Position[] = new Array(last - first);
    for (let i = first; i < last; i++) {
      const x = b.readDoubleLE(o + pointsAt + 16 * i);
      const y = b.readDoubleLE(o + pointsAt + 16 * i + 8);
      if (!Number.isFinite(x) || !Number.isFinite(y)) return nonFinite();
      if (z) {
        const zv = b.readDoubleLE(o + zAt + 8 * i);
        if (!Number.isFinite(zv)) return nonFinite();
        ring[i - first] = [x, y, zv];
      } else {
        ring[i - first] = [x, y];
      }
    }
    parts.push(ring);
  }
  if (parts.length === 0) return { geometry: null };

  if (type === 3 || type === 13 || type === 23) {
    for (let p = 0; p < parts.length; p++) {
      if (parts[p].length < 2) return { geometry: null, problem: `line part ${p + 1} has a single point` };
    }
    return { geometry: parts.length === 1 ? { type: 'LineString', coordinates: parts[0] } : { type: 'MultiLineString', coordinates: parts } };
  }
  return assemblePolygons(parts);
}

/** Twice the signed area in x/y; negative for clockwise rings (y up). */
function signedArea2(ring: Position[]): number {
  let s = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    s += (ring[j][0] - ring[i][0]) * (ring[j][1] + ring[i][1]);
  }
  return s;
}

/** 1 inside, -1 outside, 0 on the boundary. */
function pointInRing(x: number, y: number, ring: Position[]): number {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
    const cross = (xj - xi) * (y - yi) - (x - xi) * (yj - yi);
    if (cross === 0 && Math.min(xi, xj) <= x && x <= Math.max(xi, xj) && Math.min(yi, yj) <= y && y <= Math.max(yi, yj)) return 0;
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside ? 1 : -1;
}

/** Whether ring `inner` lies in ring `outer`: decided by its first vertex not on outer's boundary. */
function ringInRing(inner: Position[], outer: Position[]): boolean {
  for (const p of inner) {
    const r = pointInRing(p[0], p[1], outer);
    if (r !== 0) return r > 0;
  }
  return true; // every vertex on the boundary: coincident rings, call it contained
}

function bboxOf(ring: Position[]): [number, number, number, number] {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const p of ring) {
    if (p[0] < x0) x0 = p[0];
    if (p[0] > x1) x1 = p[0];
    if (p[1] < y0) y0 = p[1];
    if (p[1] > y1) y1 = p[1];
  }
  return [x0, y0, x1, y1];
}

/**
 * Groups rings into polygons as the spec defines them: clockwise rings are outer rings,
 * counter-clockwise rings are holes, each hole belongs to the smallest outer ring containing it;
 * a hole inside no outer ring is taken as an outer ring of its own (as GDAL does) rather than
 * dropped. Output follows RFC 7946 winding (outer counter-clockwise, holes clockwise).
 */
function assemblePolygons(rings: Position[][]): Parsed {
  for (let i = 0; i < rings.length; i++) {
    const r = rings[i];
    if (r.length < 3) return { geometry: null, problem: `ring ${i + 1} has ${r.length} points; a ring needs at least 4` };
    const a = r[0], z = r[r.length - 1];
    if (a[0] !== z[0] || a[1] !== z[1]) r.push(a.slice()); // close it, as GDAL does
    if (r.length < 4) return { geometry: null, problem: `ring ${i + 1} has ${r.length - 1} distinct points; a ring needs at least 3` };
  }
  const outers: { ring: Position[]; area: number; bbox: [number, number, number, number]; holes: Position[][] }[] = [];
  const holes: Position[][] = [];
  for (const r of rings) {
    const area = signedArea2(r);
    if (area <= 0) outers.push({ ring: r, area: -area, bbox: bboxOf(r), holes: [] });
    else holes.push(r);
  }
  for (const h of holes) {
    const hb = bboxOf(h);
    let best: (typeof outers)[number] | undefined;
    for (const o of outers) {
      if (hb[0] < o.bbox[0] || hb[1] < o.bbox[1] || hb[2] > o.bbox[2] || hb[3] > o.bbox[3]) continue;
      if (best && best.area <= o.area) continue;
      if (ringInRing(h, o.ring)) best = o;
    }
    if (best) best.holes.push(h.reverse());
    else outers.push({ ring: h, area: signedArea2(h), bbox: hb, holes: [] }); // already counter-clockwise
  }
  const polygons = outers.map((o) => [signedArea2(o.ring) < 0 ? o.ring.reverse() : o.ring, ...o.holes]);
  return { geometry: polygons.length === 1 ? { type: 'Polygon', coordinates: polygons[0] } : { type: 'MultiPolygon', coordinates: polygons } };
}
