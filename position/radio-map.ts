/**
 * Where cell towers and Wi-Fi access points are: the look-up tables behind base-station and Wi-Fi
 * positioning.
 *
 * A cell is identified as OpenCellID and the Google Geolocation API identify it: mobile country
 * code, network code (MNC; the SID for CDMA), area (LAC for GSM/UMTS, TAC for LTE/NR, NID for
 * CDMA) and cell id (CID; UTRAN cell id = RNC·65536 + CID for UMTS; the 28-bit ECI for LTE; the
 * 36-bit NCI for NR; BID for CDMA). Different radios can reuse the same four numbers, so a cell is
 * found by the four numbers and, when the caller knows it, the radio.
 *
 * Only positions are kept, not the CSV's bookkeeping columns, to hold a country's cells (China has
 * a few million in OpenCellID) in a few hundred megabytes; a deployment that wants them in
 * PostGIS can fetch the cells a request names and put them in a small RadioMap per request.
 */

export type RadioType = 'GSM' | 'UMTS' | 'CDMA' | 'LTE' | 'NR';
export const RADIO_TYPES: readonly RadioType[] = ['GSM', 'UMTS', 'CDMA', 'LTE', 'NR'];

export interface CellTower {
  radio: RadioType;
  mcc: number;
  mnc: number;
  /** LAC, TAC or NID. */
  area: number;
  cell: number;
  lon: number;
  lat: number;
  /** Radius in metres within which the cell was observed (OpenCellID's `range`). */
  range: number;
  /** Measurements behind the position; 0 when unknown. */
  samples: number;
}

export interface WifiAccessPoint {
  /** Normalised: lower-case, colon-separated ("0a:1b:2c:3d:4e:5f"). */
  mac: string;
  lon: number;
  lat: number;
  /** Radius in metres within which the access point was observed. */
  range: number;
}

export interface CellKey {
  radio?: RadioType | null;
  mcc: number;
  mnc: number;
  area: number;
  cell: number;
}

function cellKey(mcc: number, mnc: number, area: number, cell: number): string {
  return `${mcc}:${mnc}:${area}:${cell}`;
}

/**
 * The lookup the fuser needs. RadioMap implements it in memory; anything else that can answer
 * synchronously (a per-request map filled from the database) will do.
 */
export interface RadioLookup {
  findCell(key: CellKey): CellTower | undefined;
  /** `mac` as normaliseMac returns it. */
  findWifi(mac: string): WifiAccessPoint | undefined;
}

export class RadioMap implements RadioLookup {
  /** By mcc:mnc:area:cell; on a clash between radios, the cell with more samples. */
  private readonly cells = new Map<string, CellTower>();
  /** The other radios' cells that clash with an entry of `cells`, by RADIO|mcc:mnc:area:cell. */
  private readonly clashing = new Map<string, CellTower>();
  private readonly wifi = new Map<string, WifiAccessPoint>();

  /** A map of stored rows (store/radio.ts); the radio type is read as parseRadioType reads it. */
  static from(rows: { cells: Iterable<Omit<CellTower, 'radio'> & { radio: string }>; wifi: Iterable<WifiAccessPoint> }): RadioMap {
    const map = new RadioMap();
    for (const c of rows.cells) {
      const radio = parseRadioType(c.radio);
      if (radio) map.addCell({ ...c, radio });
    }
    for (const a of rows.wifi) map.addWifi(a);
    return map;
  }

  get cellCount(): number {
    return this.cells.size + this.clashing.size;
  }

  get wifiCount(): number {
    return this.wifi.size;
  }

  *cellTowers(): IterableIterator<CellTower> {
    yield* this.cells.values();
    yield* this.clashing.values();
  }

  wifiAccessPoints(): IterableIterator<WifiAccessPoint> {
    return this.wifi.values();
  }

  /** Adds a cell; a second row for the same radio and identity replaces the first. Returns true if it replaced one. */
  addCell(tower: CellTower): boolean {
    const key = cellKey(tower.mcc, tower.mnc, tower.area, tower.cell);
    const held = this.cells.get(key);
    if (held === undefined) {
      this.cells.set(key, tower);
      return false;
    }
    if (held.radio === tower.radio) {
      this.cells.set(key, tower);
      return true;
    }
    const radioKey = `${tower.radio}|${key}`;
    const replaced = this.clashing.has(radioKey);
    if (tower.samples > held.samples) {
      this.cells.set(key, tower);
      this.clashing.set(`${held.radio}|${key}`, held);
      this.clashing.delete(radioKey);
    } else {
      this.clashing.set(radioKey, tower);
    }
    return replaced;
  }

  addWifi(ap: WifiAccessPoint): boolean {
    const mac = normaliseMac(ap.mac);
    if (mac === null) throw new Error(`RadioMap.addWifi: "${ap.mac}" is not a MAC address; give six hexadecimal octets`);
    const replaced = this.wifi.has(mac);
    this.wifi.set(mac, mac === ap.mac ? ap : { ...ap, mac });
    return replaced;
  }

  findCell(key: CellKey): CellTower | undefined {
    const k = cellKey(key.mcc, key.mnc, key.area, key.cell);
    const held = this.cells.get(k);
    if (held === undefined || key.radio == null || held.radio === key.radio) return held;
    return this.clashing.get(`${key.radio}|${k}`) ?? held;
  }

  findWifi(mac: string): WifiAccessPoint | undefined {
    return this.wifi.get(mac);
  }
}

const HEX = /^[0-9a-f]{12}$/;

/**
 * "01:23:45:67:89:AB", "01-23-45-67-89-ab", "0123.4567.89ab" or "0123456789ab" → "01:23:45:67:89:ab";
 * null for anything else, and for the all-zero and broadcast addresses, which name no access point.
 */
export function normaliseMac(text: string): string | null {
  if (typeof text !== 'string' || text.length < 12 || text.length > 17) return null;
  const hex = text.toLowerCase().replace(/[:.-]/g, '');
  if (!HEX.test(hex) || hex === '000000000000' || hex === 'ffffffffffff') return null;
  return `${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:${hex.slice(6, 8)}:${hex.slice(8, 10)}:${hex.slice(10, 12)}`;
}

/** OpenCellID's radio names, and the Google Geolocation API's lower-case ones (wcdma = UMTS). */
export function parseRadioType(text: unknown): RadioType | null {
  if (typeof text !== 'string') return null;
  switch (text.trim().toUpperCase()) {
    case 'GSM': return 'GSM';
    case 'UMTS': case 'WCDMA': return 'UMTS';
    case 'CDMA': return 'CDMA';
    case 'LTE': return 'LTE';
    case 'NR': case '5G': return 'NR';
    default: return null;
  }
}
