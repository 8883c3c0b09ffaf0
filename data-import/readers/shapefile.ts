/**
 * The Shapefile SourceReader: a .shp (siblings found case-insensitively) or a .zip holding one
 * Shapefile set, joined record by record with its .dbf.
 */
import { constants } from 'node:fs';
import { access, readdir, readFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { SourceError, type SourceInfo, type SourceReader, type SourceRow } from '../source.ts';
import { DbfReader } from './dbf.ts';
import { ShpReader, readShxRecordCount } from './shp.ts';
import { extractZip, type ExtractedZip } from './zip.ts';

export interface OpenShapefileOptions {
  /** Attribute encoding, overriding the .cpg, the language driver byte and detection (the CLI's --encoding). */
  encoding?: string;
  /** Zip inputs only: cap on the total inflated size (default 2 GiB). */
  maxUncompressedBytes?: number;
  /**
   * Zip inputs only: which .shp to read when the archive holds several, by its path inside the
   * zip or its base name, with or without ".shp", case-insensitive. Without it, an archive with
   * several Shapefiles is rejected with a message listing them.
   */
  member?: string;
}

export interface ShapefileReader extends SourceReader {
  /** Records marked deleted in the .dbf and skipped so far (their row numbers are not yielded). */
  readonly deletedCount: number;
}

/** The sidecar files a Shapefile set may have; anything else in a zip is not extracted. */
const SIDECARS = new Set(['.shp', '.shx', '.dbf', '.prj', '.cpg']);

/** Opens a .shp or a .zip; every check that can be made before reading rows is made here. */
export async function openShapefile(path: string, options: OpenShapefileOptions = {}): Promise<ShapefileReader> {
  const fileName = basename(path);
  try {
    await access(path, constants.R_OK);
  } catch (err) {
    throw new SourceError(`${fileName} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file: fileName }, { cause: err });
  }
  if (extname(path).toLowerCase() === '.zip') {
    const zip = await extractZip(path, {
      maxUncompressedBytes: options.maxUncompressedBytes,
      filter: (name) => SIDECARS.has(extname(name).toLowerCase()),
      displayName: fileName,
    });
    try {
      const member = pickMember(zip, fileName, options.member);
      return await openSet(join(zip.dir, member), fileName, `${fileName}/`, options, zip);
    } catch (err) {
      await zip.cleanup();
      throw err;
    }
  }
  if (extname(path).toLowerCase() !== '.shp') {
    throw new SourceError(`${fileName}: expected a .shp file or a .zip holding one`, { file: fileName });
  }
  return openSet(path, fileName, '', options, undefined);
}

function pickMember(zip: ExtractedZip, fileName: string, wanted: string | undefined): string {
  const shps = zip.files.filter((f) => extname(f).toLowerCase() === '.shp' && !isMacResourceFork(f));
  if (shps.length === 0) {
    throw new SourceError(`${fileName} holds no .shp file (entries: ${zip.entries.slice(0, 20).join(', ') || 'none'})`, { file: fileName });
  }
  if (wanted !== undefined) {
    const w = wanted.replace(/\\/g, '/').toLowerCase();
    const wShp = w.endsWith('.shp') ? w : `${w}.shp`;
    let hits = shps.filter((f) => f.toLowerCase() === wShp);
    if (hits.length === 0) hits = shps.filter((f) => basename(f).toLowerCase() === basename(wShp));
    if (hits.length === 1) return hits[0];
    throw new SourceError(
      hits.length === 0
        ? `${fileName} has no Shapefile "${wanted}"; it holds: ${shps.join(', ')}`
        : `${fileName} has several Shapefiles named "${wanted}": ${hits.join(', ')}; give the path inside the zip`,
      { file: fileName },
    );
  }
  if (shps.length > 1) {
    throw new SourceError(`${fileName} holds ${shps.length} Shapefiles (${shps.join(', ')}); choose one with the member option`, { file: fileName });
  }
  return shps[0];
}

/** macOS's zip tool adds __MACOSX/._name.shp resource forks, which are not Shapefiles. */
function isMacResourceFork(name: string): boolean {
  return name.startsWith('__MACOSX/') || basename(name).startsWith('._');
}

/** Sibling files by extension, matched case-insensitively (PIPES.SHP next to pipes.dbf is common). */
async function findSiblings(shpPath: string): Promise<Map<string, string>> {
  const dir = dirname(shpPath);
  const stem = basename(shpPath, extname(shpPath));
  const found = new Map<string, string>();
  for (const name of await readdir(dir)) {
    const ext = extname(name);
    if (basename(name, ext).toLowerCase() !== stem.toLowerCase()) continue;
    const key = ext.toLowerCase();
    // Prefer the exact-case stem when several spellings exist.
    if (!found.has(key) || basename(name, ext) === stem) found.set(key, join(dir, name));
  }
  return found;
}

async function openSet(
  shpPath: string,
  fileName: string,
  prefix: string,
  options: OpenShapefileOptions,
  zip: ExtractedZip | undefined,
): Promise<ShapefileReader> {
  const siblings = await findSiblings(shpPath);
  const shpName = prefix + basename(shpPath);
  const dbfPath = siblings.get('.dbf');
  if (!dbfPath) {
    throw new SourceError(`${shpName} has no .dbf attribute table next to it; a Shapefile needs its .shp, .dbf (and ideally .shx, .prj)`, { file: fileName });
  }
  const dbfName = prefix + basename(dbfPath);
  const shxPath = siblings.get('.shx');
  const prjPath = siblings.get('.prj');
  const cpgPath = siblings.get('.cpg');
  const crsDeclared = prjPath ? (await readFile(prjPath, 'utf8')).replace(/^\uFEFF/, '').trim() || undefined : undefined;
  const cpg = cpgPath ? (await readFile(cpgPath, 'utf8')).trim() : undefined;

  const shp = await ShpReader.open(shpPath, shpName);
  let dbf: DbfReader;
  try {
    dbf = await DbfReader.open(dbfPath, { encoding: options.encoding, cpg, displayName: dbfName });
  } catch (err) {
    await shp.close();
    throw err;
  }
  const closeFiles = async (): Promise<void> => {
    await shp.close();
    await dbf.close();
    await zip?.cleanup();
  };

  const dbfCount = dbf.header.recordCount;
  const shxCount = shxPath ? await readShxRecordCount(shxPath) : undefined;
  if (shxCount !== undefined && shxCount !== dbfCount) {
    await shp.close();
    await dbf.close();
    throw countMismatch(fileName, shpName, dbfName, shxCount, dbfCount, ' (per its .shx)');
  }

  const fromMap = { option: 'option', cpg: 'cpg', 'language-driver': 'detected', detected: 'detected' } as const;
  const info: SourceInfo = {
    format: 'shapefile',
    fileName,
    crsDeclared,
    encoding: { name: dbf.encoding.name, from: fromMap[dbf.encoding.from] },
    fields: dbf.fields.map((f) => ({ name: f.name, type: f.type })),
    rowCount: dbfCount,
    shapeType: shp.header.shapeTypeName,
  };

  let deletedCount = 0;
  let closed = false;
  return {
    info,
    get deletedCount() {
      return deletedCount;
    },
    rows(): AsyncIterable<SourceRow> {
      if (closed) throw new Error('rows() called after close(); open the Shapefile again');
      deletedCount = 0;
      return joinRows(shp, dbf, fileName, shpName, dbfName, () => deletedCount++);
    },
    async close() {
      if (closed) return;
      closed = true;
      await closeFiles();
    },
  };
}

function countMismatch(file: string, shpName: string, dbfName: string, shpCount: number, dbfCount: number, note = ''): SourceError {
  return new SourceError(
    `${shpName} has ${shpCount} records${note} but ${dbfName} has ${dbfCount}; the geometry and attribute files do not belong together (or one was cut short)`,
    { file },
  );
}

/** Pulls records a batch at a time from either file and pairs them by position. */
class BatchCursor<T> {
  private batch: T[] = [];
  private i = 0;
  private done = false;
  constructor(private readonly it: AsyncIterator<T[]>) {}

  async next(): Promise<T | undefined> {
    while (this.i >= this.batch.length) {
      if (this.done) return undefined;
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        return undefined;
      }
      this.batch = r.value;
      this.i = 0;
    }
    return this.batch[this.i++];
  }

  async close(): Promise<void> {
    await this.it.return?.(undefined);
  }
}

async function* joinRows(
  shp: ShpReader,
  dbf: DbfReader,
  file: string,
  shpName: string,
  dbfName: string,
  onDeleted: () => void,
): AsyncGenerator<SourceRow> {
  const dbfCount = dbf.header.recordCount;
  const shapes = new BatchCursor(shp.batches()[Symbol.asyncIterator]());
  const records = new BatchCursor(dbf.batches()[Symbol.asyncIterator]());
  try {
    for (let n = 1; ; n++) {
      const shape = await shapes.next();
      if (!shape) {
        if (n - 1 !== dbfCount) throw countMismatch(file, shpName, dbfName, n - 1, dbfCount);
        return;
      }
      const record = await records.next();
      if (!record) {
        let more = n;
        while (await shapes.next()) more++;
        throw countMismatch(file, shpName, dbfName, more, dbfCount);
      }
      if (record.deleted) {
        onDeleted();
        continue;
      }
      const row: SourceRow = { row: n, geometry: shape.geometry, properties: record.values };
      if (shape.problem !== undefined && record.problem) {
        row.problem = { field: record.problem.field, reason: `geometry: ${shape.problem}; ${record.problem.field}: ${record.problem.reason}` };
      } else if (shape.problem !== undefined) {
        row.problem = { reason: `geometry: ${shape.problem}` };
      } else if (record.problem) {
        row.problem = record.problem;
      }
      yield row;
    }
  } finally {
    await shapes.close();
    await records.close();
  }
}
