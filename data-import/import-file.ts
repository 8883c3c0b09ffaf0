import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Kysely, Transaction } from 'kysely';
import type { Geometry } from 'geojson';
import type { Database } from '../store/schema.ts';
import type { AccessClass, Domain, GeometryType } from '../store/layer-meta.ts';
import { ensureLayer, getLayer, setGeometryType } from '../store/layers.ts';
import { StagedLoad, type LoadOutcome } from '../store/bulk-load.ts';
import { SourceError, type SourceReader, type SourceRow } from './source.ts';
import { openGeoJson } from './readers/geojson.ts';
import { openCsv, ADDRESS_NAMES, type CsvOptions } from './readers/csv.ts';
import { openShapefile } from './readers/shapefile.ts';
import { crsFromDeclared, crsFromPrj, inferCrs, resolveCrs, toCgcs2000, type CrsInfo } from './crs/index.ts';
import { PROFILES, guessDomain, mapFields } from './profiles/profiles.ts';
import { InvalidValue } from './profiles/values.ts';
import { closeRings, firstPosition, geometryProblem, transformGeometry } from './geometry.ts';
import type { GeocodeResult } from '../geocoder/match.ts';

export interface ImportOptions {
  file: string;
  /** The name the user knows the file by (an upload's original name); defaults to the file's. */
  displayName?: string;
  layer: string;
  domain?: Domain;
  titleZh?: string;
  titleEn?: string;
  accessClass?: AccessClass;
  source?: string;
  crs?: string;
  encoding?: string;
  /** Source field whose value is the stable feature id; without it a content hash is used. */
  key?: string;
  mode?: 'upsert' | 'snapshot';
  validFrom?: Date;
  /**
   * A field holding each row's own start of validity (a buried or built date, or a year); rows
   * where it is empty start at validFrom. The field is read, not stored as an attribute.
   */
  validFromField?: string;
  dryRun?: boolean;
  /** skip: load the good rows and report the bad ones; abort: any bad row loads nothing. */
  onError?: 'skip' | 'abort';
  csv?: Omit<CsvOptions, 'encoding'>;
  onProgress?: (p: ImportProgress) => void;
  /**
   * Places records that have an address and no coordinates (a business register). Asked for
   * once, when the file has an address column; without it such rows are kept as pending.
   */
  geocoder?: () => Promise<AddressLocator>;
}

/** An address → where the standard address register puts it, or null. */
export type AddressLocator = (address: string) => GeocodeResult | null;

/**
 * A match good enough to place a record on the map: a door, building, compound or crossing
 * (an interpolated door included), not just a road or an area. Weaker matches leave the record
 * without a point, listed in the report for a person to look at.
 */
export const MIN_GEOCODE_SCORE = 60;
const PLACING_LEVELS: ReadonlySet<string> = new Set(['户室', '单元', '楼栋', '门牌号', '兴趣点', '道路交叉口']);

export interface ImportProgress { read: number; rejected: number; total?: number; elapsedMs: number }

export interface RowIssue { row: number; field?: string; reason: string; properties?: Record<string, unknown> }

export interface ImportReport {
  file: string;
  layer: string;
  layerCreated: boolean;
  domain: Domain;
  format: string;
  crs: { code: string; from: 'option' | 'prj' | 'declared' | 'inferred' | 'rfc7946' };
  encoding?: { name: string; from: string };
  mode: 'upsert' | 'snapshot';
  validFrom: string;
  dryRun: boolean;
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  retired: number;
  rejectedCount: number;
  /** The source's field names in file order (the rejected-rows CSV keeps it). */
  columns: string[];
  /** The first 100,000 rejected rows with the reason (and their source values, for the CSV). */
  rejected: RowIssue[];
  repaired: RowIssue[];
  /** Records without coordinates still to be placed: no geocoder was at hand, or it found no place good enough. */
  awaitingGeocoding: number;
  /** Records placed by the geocoder. */
  geocoded: number;
  /** The first rows the geocoder could not place, with its best guess. */
  ungeocoded: Array<{ row: number; address: string; reason: string; best?: { address: string; level: string; score: number } }>;
  durationMs: number;
}

/** A whole import refused (unreadable file, unknown CRS, a bad row under --on-error abort); nothing was written. */
export class ImportError extends Error {
  constructor(message: string, readonly where: { file: string; row?: number; field?: string; parameter?: string }, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImportError';
  }
}

const MAX_KEPT_REJECTIONS = 100_000;
const SAMPLE_ROWS = 1000;

export async function openSource(file: string, options: Pick<ImportOptions, 'encoding' | 'csv'>): Promise<SourceReader> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.shp' || ext === '.zip') return openShapefile(file, { encoding: options.encoding });
  if (['.geojson', '.json', '.geojsons', '.geojsonl', '.geojsonseq', '.ndjson', '.jsonl'].includes(ext)) return openGeoJson(file);
  if (ext === '.csv' || ext === '.txt' || ext === '.tsv') return openCsv(file, { ...options.csv, encoding: options.encoding });
  throw new SourceError(`${path.basename(file)}: unknown file type "${ext}"; OneMap reads .shp, .zip (Shapefile), .geojson/.json, .geojsons/.ndjson and .csv`, { file: path.basename(file) });
}

function decideCrs(options: ImportOptions, reader: SourceReader, sample: SourceRow[], fileName: string): { crs: CrsInfo; from: ImportReport['crs']['from'] } {
  if (options.crs) {
    try {
      return { crs: resolveCrs(options.crs), from: 'option' };
    } catch (err) {
      throw new ImportError((err as Error).message, { file: fileName, parameter: 'crs' }, { cause: err });
    }
  }
  const declared = reader.info.crsDeclared;
  if (declared) {
    if (reader.info.format === 'shapefile') {
      const crs = crsFromPrj(declared);
      if (crs) return { crs, from: 'prj' };
      const name = /^\s*\w+\[\s*"([^"]+)"/.exec(declared)?.[1] ?? 'unrecognised';
      throw new ImportError(`${fileName}: the .prj names a CRS OneMap does not recognise (${name}); pass --crs EPSG:n`, { file: fileName, parameter: 'crs' });
    }
    const crs = crsFromDeclared(declared);
    if (crs) return { crs, from: 'declared' };
    throw new ImportError(`${fileName}: the file declares CRS "${declared}", which OneMap does not recognise; pass --crs EPSG:n`, { file: fileName, parameter: 'crs' });
  }
  const positions = sample.flatMap((r) => {
    const p = r.geometry ? firstPosition(r.geometry) : undefined;
    return p && Number.isFinite(p[0]) && Number.isFinite(p[1]) ? [[p[0]!, p[1]!] as [number, number]] : [];
  });
  if (positions.length === 0) return { crs: resolveCrs('EPSG:4490'), from: 'inferred' };
  // RFC 7946: GeoJSON without a crs member is lon/lat; a few wild rows are the rows' problem.
  const lonLat = positions.filter(([x, y]) => Math.abs(x) <= 180 && Math.abs(y) <= 90).length;
  if (reader.info.format.startsWith('geojson') && lonLat * 2 > positions.length) return { crs: resolveCrs('EPSG:4490'), from: 'rfc7946' };
  const inferred = inferCrs(positions);
  if (!inferred.crs) {
    throw new ImportError(
      `${fileName}: cannot tell the coordinate system. ${inferred.reason}${inferred.candidates.length ? ` Most likely: ${inferred.candidates.slice(0, 4).join(', ')}.` : ''}`,
      { file: fileName, parameter: 'crs' },
    );
  }
  return { crs: inferred.crs, from: 'inferred' };
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function geometryTypeOf(types: Set<string>): GeometryType {
  if (types.size === 1) return [...types][0] as GeometryType;
  return 'Geometry';
}

class Rollback extends Error {}

/** 2008, "2008", "2008-05-01", "2008/5/1", "20080501", an ISO instant → that instant (a year is 1 January, UTC). */
function parseRowDate(raw: unknown): Date | null {
  const s = String(raw).trim();
  let m = /^(\d{4})(?:\.0+)?$/.exec(s);
  if (m) return new Date(Date.UTC(Number(m[1]), 0, 1));
  m = /^(\d{4})[-/.年](\d{1,2})(?:[-/.月](\d{1,2})日?)?$/.exec(s) ?? /^(\d{4})(\d{2})(\d{2})$/.exec(s);
  if (m) {
    const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3] ?? 1)));
    return d.getUTCMonth() === Number(m[2]) - 1 ? d : null;
  }
  const d = new Date(s);
  return /^\d{4}-\d{2}-\d{2}T/.test(s) && !Number.isNaN(d.getTime()) ? d : null;
}

/**
 * Reads a delivery, normalises it (CRS → EPSG:4490, domain profile, geometry checks) and writes it
 * as versions of the layer in one transaction: either the whole load is committed, or (on a
 * failure, a dry run, or a bad row under onError=abort) nothing of it is.
 */
export async function importLayerFile(db: Kysely<Database>, options: ImportOptions): Promise<ImportReport> {
  const started = performance.now();
  const fileName = options.displayName ?? path.basename(options.file);
  const mode = options.mode ?? 'upsert';
  const validFrom = options.validFrom ?? new Date();
  const onError = options.onError ?? 'skip';
  let reader: SourceReader;
  try {
    reader = await openSource(options.file, options);
  } catch (err) {
    if (err instanceof SourceError) throw new ImportError(err.message.replace(path.basename(options.file), fileName), { ...err.where, file: fileName }, { cause: err });
    throw err;
  }

  try {
    const iterator = reader.rows()[Symbol.asyncIterator]();
    const sample: SourceRow[] = [];
    while (sample.length < SAMPLE_ROWS) {
      const next = await iterator.next();
      if (next.done) break;
      sample.push(next.value);
    }
    const { crs, from: crsFrom } = decideCrs(options, reader, sample, fileName);
    const transform = toCgcs2000(crs);

    const existing = await getLayer(db, options.layer);
    const domain = options.domain ?? (existing?.domain as Domain | undefined) ?? guessDomain(reader.info.fields) ?? (reader.info.format === 'csv' ? 'business' : undefined);
    if (!domain) {
      throw new ImportError(`${fileName}: cannot tell which kind of data this is; pass --domain (pipeline, building, land, water, road, green, address, business)`, { file: fileName, parameter: 'domain' });
    }
    const mapping = mapFields(PROFILES[domain], reader.info.fields);
    const keyField = options.key;
    if (keyField && !reader.info.fields.some((f) => f.name === keyField) && !(keyField === 'id' && reader.info.format.startsWith('geojson'))) {
      throw new ImportError(`${fileName}: --key ${keyField} is not a field of the file; fields are ${reader.info.fields.map((f) => f.name).join(', ')}`, { file: fileName, field: keyField, parameter: 'key' });
    }
    const validFromField = options.validFromField;
    if (validFromField && !reader.info.fields.some((f) => f.name === validFromField)) {
      throw new ImportError(`${fileName}: --valid-from-field ${validFromField} is not a field of the file`, { file: fileName, field: validFromField, parameter: 'validFromField' });
    }
    // Neither the key (unless the profile names it) nor the valid-from field is stored as an attribute.
    if (keyField && !mapping.targets.get(keyField)) delete mapping.schema[keyField];
    if (validFromField) delete mapping.schema[validFromField];
    const addressField = reader.info.fields.find((f) => ADDRESS_NAMES.includes(f.name.trim().toLowerCase()))?.name;

    const rejected: RowIssue[] = [];
    let rejectedCount = 0;
    let read = 0;
    let awaitingGeocoding = 0;
    let geocoded = 0;
    const ungeocoded: ImportReport['ungeocoded'] = [];
    const locate = addressField && options.geocoder && reader.info.format === 'csv' ? await options.geocoder() : undefined;
    const seen = new Map<string, number>();
    const types = new Set<string>();
    const reject = (issue: RowIssue): undefined => {
      rejectedCount++;
      if (rejected.length < MAX_KEPT_REJECTIONS) rejected.push(issue);
      if (onError === 'abort') {
        throw new ImportError(`${fileName}, row ${issue.row}${issue.field ? `, field ${issue.field}` : ''}: ${issue.reason} (nothing was imported: --on-error abort)`, { file: fileName, row: issue.row, field: issue.field });
      }
      return undefined;
    };

    let report: ImportReport | undefined;
    // Inside a caller's transaction (the demo city loads many files as one) the caller commits.
    if (db.isTransaction && options.dryRun) throw new Error('importLayerFile: a dry run needs its own transaction; pass the database, not a transaction');
    const inTransaction = <T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> =>
      db.isTransaction ? work(db as Transaction<Database>) : db.transaction().execute(work);
    try {
      await inTransaction(async (trx) => {
        const sampleTypes = new Set(sample.flatMap((r) => (r.geometry ? [r.geometry.type] : [])));
        const { created } = await ensureLayer(trx, {
          id: options.layer,
          titleZh: options.titleZh ?? options.layer,
          titleEn: options.titleEn ?? options.layer,
          domain,
          geometryType: geometryTypeOf(sampleTypes.size ? sampleTypes : new Set(['Geometry'])),
          attributeSchema: mapping.schema,
          accessClass: options.accessClass ?? 'internal',
          source: options.source ?? `imported from ${fileName}`,
        });
        const load = await StagedLoad.begin(trx, options.layer, { newLayer: created, validFrom, rowOf: (id) => seen.get(id) ?? 0 });

        // Not async: most rows finish without waiting, and an await per row costs a second per million.
        const handle = (r: SourceRow): Promise<void> | undefined => {
          read++;
          if (r.problem) return reject({ row: r.row, field: r.problem.field, reason: r.problem.reason, properties: r.source ?? r.properties });
          const attributes: Record<string, unknown> = {};
          let rowFrom: Date | null = null;
          if (validFromField) {
            const raw = r.properties[validFromField];
            if (raw !== null && raw !== undefined && String(raw).trim() !== '') {
              rowFrom = parseRowDate(raw);
              if (!rowFrom) return reject({ row: r.row, field: validFromField, reason: `"${String(raw)}" is not a date or a year`, properties: r.source ?? r.properties });
            }
          }
          for (const name in r.properties) {
            if (name === validFromField) continue;
            const value = r.properties[name];
            const target = mapping.targets.get(name);
            // Like ogr2ogr's FID option: the key becomes the feature id, not also an attribute,
            // unless the profile gives it a standard meaning (a pipe point's 物探点号 is its point_no).
            if (name === keyField && !target) continue;
            if (target) {
              const v = target.normalise(value);
              if (v instanceof InvalidValue) return reject({ row: r.row, field: name, reason: v.reason, properties: r.source ?? r.properties });
              attributes[target.target] = v;
            } else {
              attributes[name] = value;
            }
          }
          for (const d of mapping.derived) {
            const source = attributes[d.from];
            if (source !== null && source !== undefined) attributes[d.target] = d.value(source);
          }
          let geometry: Geometry | null = null;
          if (r.geometry) {
            const g = closeRings(r.geometry);
            const before = geometryProblem(g, crs.kind !== 'projected');
            if (before) return reject({ row: r.row, field: 'geometry', reason: before, properties: r.source ?? r.properties });
            geometry = transformGeometry(g, transform);
            const after = geometryProblem(geometry, true);
            if (after) return reject({ row: r.row, field: 'geometry', reason: `${after} after conversion from ${crs.code}: is the CRS right?`, properties: r.source ?? r.properties });
            types.add(geometry.type);
          } else if (addressField && String(r.properties[addressField] ?? '').trim()) {
            const address = String(r.properties[addressField]).trim();
            const hit = locate?.(address) ?? null;
            if (hit && hit.lon !== null && hit.lat !== null && hit.score >= MIN_GEOCODE_SCORE && PLACING_LEVELS.has(hit.level)) {
              // The register's points are already on the store's datum: no CRS conversion.
              geometry = { type: 'Point', coordinates: [hit.lon, hit.lat] };
              types.add('Point');
              Object.assign(attributes, {
                geocode_status: 'matched', match_level: hit.level, match_score: hit.score, std_address: hit.address, std_address_code: hit.code, geocode_interpolated: hit.interpolated,
              });
              geocoded++;
            } else {
              attributes.geocode_status = locate ? 'unmatched' : 'pending';
              awaitingGeocoding++;
              if (locate && ungeocoded.length < MAX_KEPT_REJECTIONS) {
                ungeocoded.push({
                  row: r.row, address,
                  reason: hit ? `best match is only ${hit.level} (score ${hit.score}): ${hit.notes.join('; ') || hit.address}` : 'no standard address matches',
                  ...(hit ? { best: { address: hit.address, level: hit.level, score: hit.score } } : {}),
                });
              }
            }
          } else {
            return reject({ row: r.row, field: 'geometry', reason: 'the record has no geometry', properties: r.source ?? r.properties });
          }
          let featureId: string;
          if (keyField) {
            const k = r.properties[keyField];
            if (k === null || k === undefined || String(k).trim() === '') return reject({ row: r.row, field: keyField, reason: `empty key field ${keyField}`, properties: r.source ?? r.properties });
            featureId = String(k).trim();
          } else {
            featureId = createHash('sha1').update(canonicalJson(geometry)).update('\n').update(canonicalJson(attributes)).digest('hex').slice(0, 20);
          }
          const first = seen.get(featureId);
          if (first !== undefined) {
            return reject({ row: r.row, field: keyField, reason: keyField ? `duplicate key ${featureId} (first at row ${first})` : `duplicate of row ${first}`, properties: r.source ?? r.properties });
          }
          seen.set(featureId, r.row);
          if (read % 5000 === 0) options.onProgress?.({ read, rejected: rejectedCount, total: reader.info.rowCount, elapsedMs: performance.now() - started });
          return load.add({ row: r.row, featureId, geometry, attributes, validFrom: rowFrom });
        };

        let outcome: LoadOutcome;
        try {
          for (const r of sample) {
            const wait = handle(r);
            if (wait) await wait;
          }
          for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
            const wait = handle(next.value);
            if (wait) await wait;
          }
          options.onProgress?.({ read, rejected: rejectedCount, total: reader.info.rowCount, elapsedMs: performance.now() - started });
          outcome = await load.finish({ mode });
        } catch (err) {
          // A bad row (--on-error abort) or an unreadable file stops the load mid-stream: the
          // connection must leave COPY before the transaction can roll back.
          await load.abort();
          throw err;
        }
        for (const issue of outcome.rejected) reject(issue);
        const finalType = geometryTypeOf(types);
        if (types.size > 0 && finalType !== geometryTypeOf(sampleTypes)) await setGeometryType(trx, options.layer, finalType);

        report = {
          file: fileName, layer: options.layer, layerCreated: created, domain, format: reader.info.format,
          crs: { code: crs.code, from: crsFrom }, encoding: reader.info.encoding, mode, validFrom: validFrom.toISOString(),
          dryRun: !!options.dryRun, read, inserted: outcome.inserted, updated: outcome.updated, unchanged: outcome.unchanged,
          retired: outcome.retired, rejectedCount, columns: reader.info.columns ?? reader.info.fields.map((f) => f.name), rejected, repaired: outcome.repaired, awaitingGeocoding, geocoded, ungeocoded,
          durationMs: Math.round(performance.now() - started),
        };
        if (options.dryRun) throw new Rollback();
      });
    } catch (err) {
      if (!(err instanceof Rollback)) {
        if (err instanceof SourceError) throw new ImportError(err.message, { ...err.where, file: fileName }, { cause: err });
        throw err;
      }
    }
    return report!;
  } finally {
    await reader.close();
  }
}

/** The rejected rows as CSV: row, field, reason, then the row's own values. */
export function rejectedRowsCsv(report: ImportReport): string {
  const columns = [...new Set([...report.columns, ...report.rejected.flatMap((r) => Object.keys(r.properties ?? {}))])];
  const cell = (v: unknown) => {
    const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [['row', 'field', 'reason', ...columns].map(cell).join(',')];
  for (const r of report.rejected) lines.push([r.row, r.field ?? '', r.reason, ...columns.map((c) => r.properties?.[c])].map(cell).join(','));
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}
