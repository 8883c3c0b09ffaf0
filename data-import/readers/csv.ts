import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import iconv from 'iconv-lite';
import { parse } from 'csv-parse';
import { wktToGeoJSON } from '@terraformer/wkt';
import type { Geometry } from 'geojson';
import { SourceError, type SourceReader, type SourceRow, type SourceInfo } from '../source.ts';
import { detectChineseEncoding, decodesCleanly, normaliseEncoding } from './text-encoding.ts';

export interface CsvOptions {
  encoding?: string;
  delimiter?: string;
  /** Column names holding x/longitude and y/latitude; detected when absent. */
  x?: string;
  y?: string;
  /** Column holding WKT geometry; detected when absent. */
  wkt?: string;
}

// Column names seen in Chinese and English business tables, most specific first.
const X_NAMES = ['lon', 'lng', 'long', 'longitude', '经度', 'x', 'x坐标', '东坐标', 'easting', 'gcj_lon', 'wgs_lon', 'bd_lon', 'point_x'];
const Y_NAMES = ['lat', 'latitude', '纬度', 'y', 'y坐标', '北坐标', 'northing', 'gcj_lat', 'wgs_lat', 'bd_lat', 'point_y'];
const WKT_NAMES = ['wkt', 'geometry', 'geom', 'the_geom', 'shape', '几何'];
export const ADDRESS_NAMES = ['address', 'addr', '地址', '详细地址', '住址', '企业地址', '注册地址', '经营地址', '地址全称'];

function findColumn(columns: string[], wanted: string[]): string | undefined {
  const lower = new Map(columns.map((c) => [c.trim().toLowerCase(), c]));
  for (const w of wanted) {
    const hit = lower.get(w);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

function detectDelimiter(firstLine: string): string {
  const candidates = [',', ';', '\t', '|'];
  let best = ',';
  let bestCount = 0;
  for (const c of candidates) {
    const count = firstLine.split(c).length - 1;
    if (count > bestCount) { best = c; bestCount = count; }
  }
  return best;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * A CSV of records with coordinates (x/y or lon/lat columns, or a WKT column) or only an
 * address. Encoding and delimiter are detected from the first 64 KiB unless given.
 */
export async function openCsv(file: string, options: CsvOptions = {}): Promise<SourceReader> {
  const fileName = path.basename(file);
  const fh = await open(file, 'r');
  const head = Buffer.alloc(64 * 1024);
  const { bytesRead } = await fh.read(head, 0, head.length, 0);
  await fh.close();
  const sample = head.subarray(0, bytesRead);

  let encoding: string;
  let from: NonNullable<SourceInfo['encoding']>['from'];
  if (options.encoding) {
    const e = normaliseEncoding(options.encoding);
    if (!e) throw new SourceError(`${fileName}: unknown encoding "${options.encoding}"`, { file: fileName });
    if (!decodesCleanly(sample.subarray(0, Math.max(0, bytesRead - 4)), e)) {
      throw new SourceError(`${fileName} is not valid ${options.encoding}; omit --encoding to detect it, or name the right one`, { file: fileName });
    }
    encoding = e;
    from = 'option';
  } else {
    encoding = detectChineseEncoding(sample);
    from = 'detected';
  }
  const headText = iconv.decode(sample, encoding).replace(/^\uFEFF/, '');
  const firstLine = headText.split(/\r?\n/, 1)[0] ?? '';
  const delimiter = options.delimiter ?? detectDelimiter(firstLine);

  const columns = await readHeader(file, encoding, delimiter);
  if (columns.length === 0) throw new SourceError(`${fileName} has no header line`, { file: fileName, row: 0 });
  const dup = columns.find((c, i) => columns.indexOf(c) !== i);
  if (dup !== undefined) throw new SourceError(`${fileName}: column "${dup}" appears twice in the header`, { file: fileName, row: 0, field: dup });

  const pick = (given: string | undefined, names: string[], what: string) => {
    if (given === undefined) return findColumn(columns, names);
    if (!columns.includes(given)) throw new SourceError(`${fileName}: no column "${given}" for ${what}; columns are ${columns.join(', ')}`, { file: fileName, field: given });
    return given;
  };
  const wktCol = pick(options.wkt, WKT_NAMES, 'WKT');
  const xCol = pick(options.x, X_NAMES, 'x');
  const yCol = pick(options.y, Y_NAMES, 'y');
  const addressCol = findColumn(columns, ADDRESS_NAMES);
  if (!wktCol && !(xCol && yCol) && !addressCol) {
    throw new SourceError(
      `${fileName}: found no coordinate columns (lon/lat, x/y, 经度/纬度), no WKT column and no address column; name them with --x/--y or --wkt`,
      { file: fileName, row: 0 },
    );
  }
  const geometryColumns = new Set([wktCol, xCol, yCol].filter((c): c is string => c !== undefined));

  const info: SourceInfo = {
    format: 'csv',
    fileName,
    encoding: { name: encoding, from },
    fields: columns.filter((c) => !geometryColumns.has(c)).map((name) => ({ name, type: 'string' as const })),
    columns,
  };

  function geometryOf(record: Record<string, string>, row: number): Pick<SourceRow, 'geometry' | 'problem'> {
    if (wktCol && record[wktCol]?.trim()) {
      try {
        return { geometry: wktToGeoJSON(record[wktCol]!.trim()) as Geometry };
      } catch (err) {
        return { geometry: null, problem: { field: wktCol, reason: `not valid WKT: ${(err as Error).message}` } };
      }
    }
    if (xCol && yCol) {
      const xs = record[xCol]?.trim() ?? '';
      const ys = record[yCol]?.trim() ?? '';
      if (xs === '' && ys === '') return { geometry: null };
      if (!NUMBER.test(xs)) return { geometry: null, problem: { field: xCol, reason: `"${xs}" is not a number` } };
      if (!NUMBER.test(ys)) return { geometry: null, problem: { field: yCol, reason: `"${ys}" is not a number` } };
      return { geometry: { type: 'Point', coordinates: [Number(xs), Number(ys)] } };
    }
    void row;
    return { geometry: null };
  }

  async function* rows(): AsyncGenerator<SourceRow> {
    const source = createReadStream(file);
    const parser = source.pipe(iconv.decodeStream(encoding)).pipe(parse({
      delimiter, columns: true, bom: true, skip_empty_lines: true, relax_column_count: true, trim: false,
    }));
    let row = 0;
    try {
      for await (const record of parser as AsyncIterable<Record<string, string>>) {
        row++;
        const properties: Record<string, unknown> = {};
        for (const c of columns) if (!geometryColumns.has(c)) properties[c] = record[c] ?? null;
        const g = geometryOf(record, row);
        if (!g.geometry && !g.problem && !(addressCol && String(record[addressCol] ?? '').trim())) {
          yield { row, geometry: null, properties, source: record, problem: { field: xCol ?? wktCol ?? addressCol, reason: 'no coordinates and no address' } };
          continue;
        }
        yield { row, geometry: g.geometry, properties, source: record, ...(g.problem ? { problem: g.problem } : {}) };
      }
    } catch (err) {
      throw new SourceError(`${fileName}: unreadable CSV after data row ${row}: ${(err as Error).message}`, { file: fileName, row: row + 1 }, { cause: err });
    } finally {
      source.destroy();
    }
  }

  return { info, rows, close: async () => undefined };
}

async function readHeader(file: string, encoding: string, delimiter: string): Promise<string[]> {
  const source = createReadStream(file);
  const parser = source.pipe(iconv.decodeStream(encoding)).pipe(parse({ delimiter, bom: true, to_line: 1, relax_column_count: true }));
  try {
    for await (const header of parser as AsyncIterable<string[]>) return header.map((h) => h.replace(/^\uFEFF/, '').trim());
    return [];
  } finally {
    source.destroy();
  }
}
