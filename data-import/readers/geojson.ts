import { createReadStream } from 'node:fs';
import { open, stat, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import path from 'node:path';
import type { Feature, Geometry } from 'geojson';
import { SourceError, type SourceField, type SourceReader, type SourceRow } from '../source.ts';

/** Below this a FeatureCollection is parsed whole (JSON.parse is ~10x faster than a streaming parser). */
const WHOLE_FILE_BYTES = 256 * 1024 * 1024;

const GEOMETRY_TYPES = new Set(['Point', 'MultiPoint', 'LineString', 'MultiLineString', 'Polygon', 'MultiPolygon', 'GeometryCollection']);

function crsName(crs: unknown): string | undefined {
  const name = (crs as { properties?: { name?: unknown } } | undefined)?.properties?.name;
  return typeof name === 'string' ? name : undefined;
}

function toRow(value: unknown, row: number): SourceRow {
  const f = value as Partial<Feature> | null;
  if (!f || typeof f !== 'object' || f.type !== 'Feature') {
    return { row, geometry: null, properties: {}, problem: { reason: 'not a GeoJSON Feature' } };
  }
  const properties = f.properties && typeof f.properties === 'object' ? { ...f.properties } : {};
  // A feature's own id is an attribute like any other; --key id picks it.
  if (f.id !== undefined && !('id' in properties)) properties.id = f.id;
  const g = f.geometry as Geometry | null | undefined;
  if (g === null || g === undefined) return { row, geometry: null, properties };
  if (typeof g !== 'object' || !GEOMETRY_TYPES.has((g as Geometry).type)) {
    return { row, geometry: null, properties, problem: { field: 'geometry', reason: `unknown geometry type ${JSON.stringify((g as { type?: unknown }).type)}` } };
  }
  return { row, geometry: g, properties };
}

/** Field list from the first rows' properties; GeoJSON has no schema of its own. */
function fieldsOf(rows: SourceRow[]): SourceField[] {
  const fields = new Map<string, SourceField['type']>();
  for (const r of rows) {
    for (const [k, v] of Object.entries(r.properties)) {
      const t: SourceField['type'] = typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v === 'boolean' ? 'boolean' : 'string';
      const seen = fields.get(k);
      fields.set(k, seen === undefined || seen === t ? t : seen === 'integer' && t === 'number' ? 'number' : 'string');
    }
  }
  return [...fields].map(([name, type]) => ({ name, type }));
}

/**
 * GeoJSON FeatureCollection (parsed whole when it fits comfortably, streamed otherwise) or
 * GeoJSON text sequences / newline-delimited features (RFC 8142), streamed line by line.
 */
export async function openGeoJson(file: string): Promise<SourceReader> {
  const fileName = path.basename(file);
  const size = (await stat(file)).size;
  const head = await readHead(file, 4096);
  const trimmed = head.replace(/^\uFEFF/, '').trimStart();
  const isSeq = trimmed.startsWith('\x1e') || /\.(geojsons|geojsonl|geojsonseq|ndjson|jsonl)$/i.test(file)
    || (/^\{\s*"type"\s*:\s*"Feature"\s*[,}]/.test(trimmed) && /\n\s*[\x1e{]/.test(trimmed));

  if (isSeq) {
    const first = await firstRows(seqRows(file), 200);
    return {
      info: { format: 'geojsonseq', fileName, fields: fieldsOf(first), encoding: { name: 'UTF-8', from: 'utf8-format' } },
      rows: () => seqRows(file),
      close: async () => undefined,
    };
  }

  if (size <= WHOLE_FILE_BYTES) {
    let doc: { type?: unknown; features?: unknown; crs?: unknown };
    try {
      doc = JSON.parse((await readFile(file, 'utf8')).replace(/^\uFEFF/, ''));
    } catch (err) {
      throw new SourceError(`${fileName} is not valid JSON: ${(err as Error).message}`, { file: fileName }, { cause: err });
    }
    const features = doc.type === 'FeatureCollection' && Array.isArray(doc.features) ? doc.features
      : doc.type === 'Feature' ? [doc] : undefined;
    if (!features) throw new SourceError(`${fileName} is neither a GeoJSON FeatureCollection nor a Feature`, { file: fileName });
    const all = features.map((f: unknown, i: number) => toRow(f, i + 1));
    return {
      info: { format: 'geojson', fileName, crsDeclared: crsName(doc.crs), fields: fieldsOf(all.slice(0, 1000)), rowCount: all.length, encoding: { name: 'UTF-8', from: 'utf8-format' } },
      async *rows() { yield* all; },
      close: async () => undefined,
    };
  }

  const crsDeclared = /"crs"\s*:\s*\{[^{}]*"properties"\s*:\s*\{[^{}]*"name"\s*:\s*"([^"]+)"/.exec(head)?.[1];
  const first = await firstRows(streamedRows(file, fileName), 200);
  return {
    info: { format: 'geojson', fileName, crsDeclared, fields: fieldsOf(first), encoding: { name: 'UTF-8', from: 'utf8-format' } },
    rows: () => streamedRows(file, fileName),
    close: async () => undefined,
  };
}

async function readHead(file: string, bytes: number): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

async function firstRows(rows: AsyncIterable<SourceRow>, n: number): Promise<SourceRow[]> {
  const out: SourceRow[] = [];
  for await (const r of rows) {
    out.push(r);
    if (out.length >= n) break;
  }
  return out;
}

async function* seqRows(file: string): AsyncGenerator<SourceRow> {
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let row = 0;
  try {
    for await (const raw of lines) {
      const line = raw.replace(/^[\uFEFF\x1e]+/, '').trim();
      if (line === '') continue;
      row++;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        yield { row, geometry: null, properties: {}, problem: { reason: `not valid JSON: ${(err as Error).message}` } };
        continue;
      }
      yield toRow(value, row);
    }
  } finally {
    lines.close();
  }
}

async function* streamedRows(file: string, fileName: string): AsyncGenerator<SourceRow> {
  const [{ pick }, { streamArray }] = await Promise.all([
    import('stream-json/filters/pick.js'),
    import('stream-json/streamers/stream-array.js'),
  ]);
  const input = createReadStream(file);
  const stream = input.pipe(pick.withParserAsStream({ filter: 'features' })).pipe(streamArray.asStream());
  let row = 0;
  try {
    for await (const item of stream as AsyncIterable<{ value: unknown }>) {
      row++;
      yield toRow(item.value, row);
    }
  } catch (err) {
    throw new SourceError(`${fileName}: invalid JSON after feature ${row}: ${(err as Error).message}`, { file: fileName, row: row + 1 }, { cause: err });
  } finally {
    input.destroy();
  }
}
