/**
 * Safe extraction of an uploaded zip into a fresh temporary directory.
 *
 * Uploads are hostile until proven otherwise: entry names may try to escape the directory
 * ("../", absolute paths, drive letters, backslashes), entries may be symlinks, and a small file
 * may inflate to terabytes. Sizes in the zip headers are not trusted: bytes are counted while
 * inflating (we inflate ourselves, so both sides of the ratio are measured), and the stream is cut
 * as soon as a limit is crossed. Any failure removes the directory.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw } from 'node:zlib';
import yauzl from 'yauzl';
import { SourceError } from '../source.ts';

export interface ExtractZipOptions {
  /** Total bytes all extracted entries may inflate to (default 2 GiB). */
  maxUncompressedBytes?: number;
  /** Entries in the archive, directories included (default 10,000). */
  maxEntries?: number;
  /**
   * Largest inflated/compressed ratio of one entry once it has produced `ratioFloorBytes`
   * (default 400). Deflate tops out near 1032:1 on runs of zeros; real Shapefile parts, even
   * near-empty attribute tables, stay well below a few hundred.
   */
  maxCompressionRatio?: number;
  /** Below this many inflated bytes an entry's ratio is not checked (default 8 MiB). */
  ratioFloorBytes?: number;
  /** Extract only entries whose (decoded, '/'-separated) name passes; the others are listed but skipped. */
  filter?: (name: string) => boolean;
  /** Name used in messages; defaults to the zip's base name. */
  displayName?: string;
}

export interface ExtractedZip {
  /** The temporary directory holding the extracted files. */
  dir: string;
  /** Extracted files, relative to `dir`, '/'-separated, in archive order. */
  files: string[];
  /** Every file entry's name in the archive, extracted or not. */
  entries: string[];
  /** Removes the directory; safe to call twice. */
  cleanup(): Promise<void>;
}

const GiB = 1024 ** 3;
/** Entries inflated at once: libuv's default thread pool has 4 threads. */
const PARALLEL_ENTRIES = 4;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const gbk = new TextDecoder('gb18030');

/**
 * Entry names: the UTF-8 flag (bit 11) or the Info-ZIP Unicode path field when present; else
 * strict UTF-8 if it decodes, else GBK, which is what Windows in China writes (yauzl would read
 * those bytes as CP437 and produce mojibake).
 */
function decodeEntryName(entry: yauzl.Entry): string {
  const raw = entry.fileNameRaw;
  if ((entry.generalPurposeBitFlag & 0x800) !== 0 || entry.extraFields.some((f) => f.id === 0x7075)) {
    return yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, raw, entry.extraFields, true);
  }
  try {
    return utf8Strict.decode(raw);
  } catch {
    return gbk.decode(raw);
  }
}

/** Why a (decoded) entry name is unsafe, or undefined when it is fine. */
export function unsafeEntryName(name: string): string | undefined {
  if (name.includes('\0')) return 'contains a NUL character';
  // Backslashes are Windows separators to the tools that made the zip; judge the name as they would.
  const normal = name.replace(/\\/g, '/');
  if (normal.startsWith('/') || /^[a-zA-Z]:/.test(normal)) return 'is an absolute path';
  if (normal.split('/').some((s) => s === '..')) return 'contains a ".." segment';
  return undefined;
}

class ByteCounter extends Transform {
  bytes = 0;
  constructor(private readonly onBytes: (total: number, chunk: number) => Error | undefined) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    const err = this.onBytes(this.bytes, chunk.length);
    if (err) cb(err);
    else cb(null, chunk);
  }
}

/** Extracts `zipPath` into a new directory under the OS temp dir; rejects with SourceError on any unsafe or broken input. */
export async function extractZip(zipPath: string, options: ExtractZipOptions = {}): Promise<ExtractedZip> {
  const file = options.displayName ?? basename(zipPath);
  const maxBytes = options.maxUncompressedBytes ?? 2 * GiB;
  const maxEntries = options.maxEntries ?? 10_000;
  const maxRatio = options.maxCompressionRatio ?? 400;
  const ratioFloor = options.ratioFloorBytes ?? 8 * 1024 * 1024;

  const dir = await mkdtemp(join(tmpdir(), 'onemap-zip-'));
  let cleaned = false;
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    await rm(dir, { recursive: true, force: true });
  };

  let zip: yauzl.ZipFile | undefined;
  const jobs: Array<Promise<void>> = [];
  try {
    try {
      // decodeStrings off: yauzl would decode non-UTF-8 names as CP437; we decode and validate ourselves.
      // validateEntrySizes off: we count actual bytes, which is the check that matters.
      zip = await yauzl.openPromise(zipPath, { decodeStrings: false, validateEntrySizes: false, autoClose: false, strictFileNames: true });
    } catch (err) {
      throw new SourceError(`${file} is not a readable zip archive: ${(err as Error).message}`, { file }, { cause: err });
    }
    if (zip.entryCount > maxEntries) {
      throw new SourceError(`${file} has ${zip.entryCount} entries; at most ${maxEntries} are accepted`, { file });
    }

    const files: string[] = [];
    const entries: string[] = [];
    const seen = new Set<string>();
    let total = 0;
    let declaredTotal = 0;
    const extracting = new Set<Promise<void>>();
    const extractEntry = async (archive: yauzl.ZipFile, entry: yauzl.Entry, name: string, target: string): Promise<void> => {
      const raw = await openRawStream(archive, entry);
      const compressed = new ByteCounter(() => undefined);
      const inflated = new ByteCounter((entryBytes, chunk) => {
        total += chunk;
        if (total > maxBytes) {
          return new SourceError(`${file} inflates to more than ${maxBytes} bytes (at entry "${name}"): rejected as a zip bomb`, { file, field: name });
        }
        if (entryBytes > ratioFloor && entryBytes / Math.max(1, compressed.bytes) > maxRatio) {
          return new SourceError(
            `${file}: entry "${name}" inflates more than ${maxRatio}:1 (${entryBytes} bytes from ${compressed.bytes}): rejected as a zip bomb`,
            { file, field: name },
          );
        }
        return undefined;
      });
      const stages: NodeJS.ReadWriteStream[] = entry.compressionMethod === 8 ? [compressed, createInflateRaw(), inflated] : [compressed, inflated];
      try {
        await pipeline([raw, ...stages, createWriteStream(target, { flags: 'wx' })]);
      } catch (err) {
        if (err instanceof SourceError) throw err;
        throw new SourceError(`${file}: entry "${name}" cannot be extracted: ${(err as Error).message}`, { file, field: name }, { cause: err });
      }
      if (inflated.bytes !== entry.uncompressedSize) {
        throw new SourceError(
          `${file}: entry "${name}" inflated to ${inflated.bytes} bytes but its header says ${entry.uncompressedSize}; the archive is corrupt`,
          { file, field: name },
        );
      }
    };
    for (;;) {
      let entry: yauzl.Entry | undefined;
      try {
        entry = await nextEntry(zip);
      } catch (err) {
        throw new SourceError(`${file} is a corrupt zip archive: ${(err as Error).message}`, { file }, { cause: err });
      }
      if (!entry) break;
      const name = decodeEntryName(entry);
      const unsafe = unsafeEntryName(name);
      if (unsafe) throw new SourceError(`${file}: entry "${name}" ${unsafe}; the archive is rejected`, { file, field: name });
      // Zips made on Unix and macOS keep st_mode in the high 16 bits of the external attributes;
      // DOS/Windows zips leave them 0. Only regular files and directories are accepted.
      const kind = (entry.externalFileAttributes >>> 16) & S_IFMT;
      if (kind !== 0 && kind !== S_IFREG && kind !== S_IFDIR) {
        throw new SourceError(`${file}: entry "${name}" is ${kind === S_IFLNK ? 'a symbolic link' : 'not a regular file'}; the archive is rejected`, { file, field: name });
      }
      const normal = name.replace(/\\/g, '/');
      if (normal.endsWith('/') || kind === S_IFDIR) continue;
      entries.push(normal);
      if (options.filter && !options.filter(normal)) continue;
      if (entry.isEncrypted()) throw new SourceError(`${file}: entry "${name}" is encrypted`, { file, field: name });
      if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
        throw new SourceError(`${file}: entry "${name}" uses compression method ${entry.compressionMethod}; only stored and deflated entries are read`, { file, field: name });
      }
      const key = normal.toLowerCase();
      if (seen.has(key)) throw new SourceError(`${file}: entry "${name}" appears twice`, { file, field: name });
      seen.add(key);
      // The declared sizes can lie, so they only allow failing early, never passing.
      declaredTotal += entry.uncompressedSize;
      if (declaredTotal > maxBytes) {
        throw new SourceError(`${file} would inflate to more than ${maxBytes} bytes (entry "${name}"); the limit is maxUncompressedBytes`, { file, field: name });
      }

      const target = resolve(dir, ...normal.split('/').filter((s) => s !== '' && s !== '.'));
      if (!target.startsWith(dir + sep)) throw new SourceError(`${file}: entry "${name}" escapes the extraction directory`, { file, field: name });
      await mkdir(dirname(target), { recursive: true });

      // Entries inflate side by side (zlib runs on libuv's threads): a Shapefile's .shp and .dbf
      // are the bulk of a delivery, and extracting them one after the other left a core idle.
      if (extracting.size >= PARALLEL_ENTRIES) await Promise.race(extracting);
      const job = extractEntry(zip, entry, name, target);
      extracting.add(job);
      jobs.push(job);
      job.then(() => extracting.delete(job), () => extracting.delete(job));
      files.push(normal);
    }
    const settled = await Promise.allSettled(jobs);
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    zip.close();
    return { dir, files, entries, cleanup };
  } catch (err) {
    // No stream may still write into the directory that is about to go.
    await Promise.allSettled(jobs);
    zip?.close();
    await cleanup();
    throw err;
  }
}

function nextEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | undefined> {
  return new Promise((resolvePromise, reject) => {
    const onEntry = (e: yauzl.Entry): void => { done(); resolvePromise(e); };
    const onEnd = (): void => { done(); resolvePromise(undefined); };
    const onError = (err: Error): void => { done(); reject(err); };
    const done = (): void => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}

/** The entry's bytes as stored (still deflated), so the inflater's input can be counted. */
function openRawStream(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<NodeJS.ReadableStream> {
  return new Promise((resolvePromise, reject) => {
    zip.openReadStream(entry, { decodeFileData: false }, (err, stream) => (err ? reject(err) : resolvePromise(stream)));
  });
}
