/**
 * The datum an answer is given in. Fusion works on WGS84 (CRS84 axis order, lon/lat), which is
 * CGCS2000 (EPSG:4490) within centimetres; consumer map SDKs in China want GCJ-02 (AMap, Tencent)
 * or BD-09 (Baidu). The offsets are data-import's; outside mainland China they are the identity,
 * as the map providers apply none there.
 */

import { bd09ToWgs84, gcj02ToWgs84, wgs84ToBd09, wgs84ToGcj02 } from '../data-import/crs/china-offsets.ts';

export type Datum = 'CRS84' | 'EPSG:4490' | 'GCJ02' | 'BD09';
export const DATUMS: readonly Datum[] = ['CRS84', 'EPSG:4490', 'GCJ02', 'BD09'];

/** Accepts the usual spellings (wgs84, cgcs2000, gcj-02, bd-09, EPSG:4326 …); null when unknown. */
export function parseDatum(text: unknown): Datum | null {
  if (typeof text !== 'string') return null;
  switch (text.trim().toUpperCase().replace(/[-_\s]/g, '')) {
    case 'CRS84': case 'WGS84': case 'EPSG:4326': case 'OGC:CRS84': return 'CRS84';
    case 'EPSG:4490': case 'CGCS2000': return 'EPSG:4490';
    case 'GCJ02': return 'GCJ02';
    case 'BD09': case 'BD09LL': return 'BD09';
    default: return null;
  }
}

/** A lon/lat given on WGS84 in another datum. */
export function lonLatIn(datum: Datum, lon: number, lat: number): [number, number] {
  switch (datum) {
    case 'CRS84': case 'EPSG:4490': return [lon, lat];
    case 'GCJ02': return wgs84ToGcj02(lon, lat);
    case 'BD09': return wgs84ToBd09(lon, lat);
  }
}

/** A lon/lat given in `datum` on WGS84 / CGCS2000, which the store holds (GCJ-02 and BD-09 are never stored). */
export function lonLatFrom(datum: Datum, lon: number, lat: number): [number, number] {
  switch (datum) {
    case 'CRS84': case 'EPSG:4490': return [lon, lat];
    case 'GCJ02': return gcj02ToWgs84(lon, lat);
    case 'BD09': return bd09ToWgs84(lon, lat);
  }
}

/**
 * The answer with its fix in `datum` (a copy; the input is untouched). Only answers in CRS84 are
 * accepted: converting twice would add the offset twice. The accuracy radius is unchanged, the
 * offsets being locally a translation.
 */
export function toDatum<A extends { fix: { lat: number; lon: number; crs: Datum } | null }>(answer: A, datum: Datum): A {
  if (answer.fix === null) return answer;
  if (answer.fix.crs !== 'CRS84') throw new Error(`toDatum: the answer is already in ${answer.fix.crs}; convert from the CRS84 answer`);
  const [lon, lat] = lonLatIn(datum, answer.fix.lon, answer.fix.lat);
  return { ...answer, fix: { ...answer.fix, lon, lat, crs: datum } };
}
