/**
 * Cell towers from OpenCellID CSV, and Wi-Fi access points from a CSV with a header, into a
 * RadioMap; every bad row reported with its line number, never dropped silently.
 *
 * OpenCellID's columns are radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,
 * updated,averageSignal. The world file starts with that header line; the per-country downloads
 * (460.csv.gz for China) have none, so the header is optional and the order is fixed. Rows are
 * plain (OpenCellID never quotes), but quoted fields are accepted for files that passed through a
 * spreadsheet. Feed lines as they come (from readline over a gunzip stream) to load a whole
 * country without holding the file in memory.
 */

import { RadioMap, normaliseMac, parseRadioType, type CellTower } from './radio-map.ts';

export const OPENCELLID_COLUMNS = [
  'radio', 'mcc', 'net', 'area', 'cell', 'unit', 'lon', 'lat', 'range', 'samples', 'changeable', 'created', 'updated', 'averageSignal',
] as const;

export interface CsvRowRejection {
  /** 1-based line number in the file (the header, when present, is line 1). */
  line: number;
  message: string;
  /** The row as read, cut to 200 characters. */
  text: string;
}

export interface RadioCsvReport {
  /** Rows added to the map (including those that replaced an earlier row for the same cell). */
  imported: number;
  /** Rows that replaced an earlier row for the same cell or access point. */
  replaced: number;
  rejectedCount: number;
  /** The first `maxRejections` rejected rows. */
  rejected: CsvRowRejection[];
}

export interface RadioCsvOptions {
  /** How many rejected rows to list (all are counted). Default 1000. */
  maxRejections?: number;
}

const MAX_CELL_ID = 2 ** 36; // NR cell identity (NCI) is 36 bits; the others are smaller

/** Splits one CSV line: plain split when unquoted, RFC 4180 quoting otherwise. */
function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(field);
      field = '';
    } else field += c;
  }
  out.push(field);
  return out;
}

/** A whole non-negative integer up to max, or null (for "", "1.5", "-1", "12abc"). */
function intField(text: string, max: number): number | null {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return n <= max ? n : null;
}

function numField(text: string): number | null {
  const t = text.trim();
  if (t === '') return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

function coordinateProblem(lon: number | null, lat: number | null): string | null {
  if (lon === null || lon < -180 || lon > 180) return 'lon must be a number from -180 to 180';
  if (lat === null || lat < -90 || lat > 90) return 'lat must be a number from -90 to 90';
  if (lon === 0 && lat === 0) return 'lon,lat 0,0 is a placeholder, not a position';
  return null;
}

/** A cell from one row, or what is wrong with the row. */
function readCell(f: string[]): CellTower | string {
  if (f.length !== OPENCELLID_COLUMNS.length) {
    return `expected ${OPENCELLID_COLUMNS.length} columns (${OPENCELLID_COLUMNS.join(',')}), found ${f.length}`;
  }
  const radio = parseRadioType(f[0]);
  if (radio === null) return `radio "${f[0]}" is not one of GSM, UMTS, CDMA, LTE, NR`;
  const mcc = intField(f[1], 999);
  if (mcc === null) return `mcc "${f[1]}" must be an integer from 0 to 999`;
  const mnc = intField(f[2], 32767);
  if (mnc === null) return `net "${f[2]}" must be an integer from 0 to 32767 (MNC, or SID for CDMA)`;
  const area = intField(f[3], 16_777_215);
  if (area === null) return `area "${f[3]}" must be an integer from 0 to 16777215 (LAC/TAC/NID)`;
  const cell = intField(f[4], MAX_CELL_ID);
  if (cell === null) return `cell "${f[4]}" must be an integer from 0 to 2^36`;
  const lon = numField(f[6]);
  const lat = numField(f[7]);
  const where = coordinateProblem(lon, lat);
  if (where !== null) return where;
  const range = numField(f[8]);
  if (range === null || range < 0) return `range "${f[8]}" must be a number of metres, 0 or more`;
  const samples = f[9].trim() === '' ? 0 : intField(f[9], Number.MAX_SAFE_INTEGER);
  if (samples === null) return `samples "${f[9]}" must be a whole number`;
  return { radio, mcc, mnc, area, cell, lon: lon!, lat: lat!, range, samples };
}

/** Line-by-line reader of OpenCellID CSV into a RadioMap. */
export class OpenCellIdCsvReader {
  private lineNo = 0;
  private readonly report: RadioCsvReport = { imported: 0, replaced: 0, rejectedCount: 0, rejected: [] };
  private readonly maxRejections: number;

  constructor(readonly map: RadioMap = new RadioMap(), options: RadioCsvOptions = {}) {
    this.maxRejections = options.maxRejections ?? 1000;
  }

  /** One physical line, without its line break (a trailing "\r" is removed). */
  line(raw: string): void {
    this.lineNo++;
    let text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (this.lineNo === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.trim() === '') return;
    if (this.lineNo === 1 && /^radio,mcc,/i.test(text)) return;
    const cell = readCell(splitCsvLine(text));
    if (typeof cell === 'string') return this.reject(cell, text);
    this.report.imported++;
    if (this.map.addCell(cell)) this.report.replaced++;
  }

  private reject(message: string, text: string): void {
    this.report.rejectedCount++;
    if (this.report.rejected.length < this.maxRejections) this.report.rejected.push({ line: this.lineNo, message, text: text.slice(0, 200) });
  }

  finish(): RadioCsvReport {
    return this.report;
  }
}

function* linesOf(text: string): Generator<string> {
  let start = 0;
  for (;;) {
    const end = text.indexOf('\n', start);
    if (end < 0) {
      if (start < text.length) yield text.slice(start);
      return;
    }
    yield text.slice(start, end);
    start = end + 1;
  }
}

/** A whole OpenCellID CSV text into `map` (a new one by default). */
export function parseOpenCellIdCsv(text: string, map: RadioMap = new RadioMap(), options: RadioCsvOptions = {}): { map: RadioMap; report: RadioCsvReport } {
  const reader = new OpenCellIdCsvReader(map, options);
  for (const line of linesOf(text)) reader.line(line);
  return { map, report: reader.finish() };
}

/** The same from lines as they arrive (e.g. `readline.createInterface({ input: gunzipStream })`). */
export async function readOpenCellIdCsv(lines: AsyncIterable<string> | Iterable<string>, map: RadioMap = new RadioMap(), options: RadioCsvOptions = {}): Promise<{ map: RadioMap; report: RadioCsvReport }> {
  const reader = new OpenCellIdCsvReader(map, options);
  for await (const line of lines) reader.line(line);
  return { map, report: reader.finish() };
}

const WIFI_HEADER: Readonly<Record<string, 'mac' | 'lon' | 'lat' | 'range'>> = {
  mac: 'mac', macaddress: 'mac', bssid: 'mac',
  lon: 'lon', lng: 'lon', longitude: 'lon',
  lat: 'lat', latitude: 'lat',
  range: 'range', accuracy: 'range', radius: 'range',
};

/**
 * Wi-Fi access points from a CSV whose header names the columns: mac (or macAddress, bssid),
 * lon (lng, longitude), lat (latitude) and optionally range (accuracy, radius; metres, default
 * `defaultRange`). Other columns are ignored.
 */
export function parseWifiCsv(text: string, map: RadioMap = new RadioMap(), options: RadioCsvOptions & { defaultRange?: number } = {}): { map: RadioMap; report: RadioCsvReport } {
  const maxRejections = options.maxRejections ?? 1000;
  const defaultRange = options.defaultRange ?? 100;
  const report: RadioCsvReport = { imported: 0, replaced: 0, rejectedCount: 0, rejected: [] };
  const reject = (line: number, message: string, text: string) => {
    report.rejectedCount++;
    if (report.rejected.length < maxRejections) report.rejected.push({ line, message, text: text.slice(0, 200) });
  };
  let column: Partial<Record<'mac' | 'lon' | 'lat' | 'range', number>> | null = null;
  let lineNo = 0;
  for (const raw of linesOf(text)) {
    lineNo++;
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (lineNo === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.trim() === '') continue;
    const f = splitCsvLine(line);
    if (column === null) {
      column = {};
      f.forEach((name, i) => {
        const role = WIFI_HEADER[name.trim().toLowerCase().replace(/[_\s]/g, '')];
        if (role !== undefined && column![role] === undefined) column![role] = i;
      });
      if (column.mac === undefined || column.lon === undefined || column.lat === undefined) {
        throw new Error(`Wi-Fi CSV: the header must name mac, lon and lat columns (found "${line.slice(0, 120)}")`);
      }
      continue;
    }
    const mac = normaliseMac(f[column.mac!] ?? '');
    if (mac === null) {
      reject(lineNo, `mac "${f[column.mac!] ?? ''}" is not a MAC address (six hexadecimal octets)`, line);
      continue;
    }
    const lon = numField(f[column.lon!] ?? '');
    const lat = numField(f[column.lat!] ?? '');
    const where = coordinateProblem(lon, lat);
    if (where !== null) {
      reject(lineNo, where, line);
      continue;
    }
    const rangeText = column.range === undefined ? '' : (f[column.range] ?? '');
    const range = rangeText.trim() === '' ? defaultRange : numField(rangeText);
    if (range === null || range < 0) {
      reject(lineNo, `range "${rangeText}" must be a number of metres, 0 or more`, line);
      continue;
    }
    report.imported++;
    if (map.addWifi({ mac, lon: lon!, lat: lat!, range })) report.replaced++;
  }
  return { map, report };
}
