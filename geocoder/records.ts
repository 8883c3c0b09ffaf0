import type { Geometry, Position } from 'geojson';
import type { AreaInput, RoadInput, StandardAddressInput } from './address-index.ts';

/**
 * Features of the store (or rows of a register export) → the geocoder's records. The attribute
 * names are the address layer's (see README, "Standard address CSV"); values are brought to the
 * register's spelling: 3 / 3栋 / 3号楼 → 3幢, 2 → 2单元, 32 → 32号.
 */

const str = (v: unknown): string | null => (v === null || v === undefined || String(v).trim() === '' ? null : String(v).trim());

export function canonicalRoadNumber(v: unknown): string | null {
  const s = str(v);
  if (!s) return null;
  const m = /^(\d+(?:-\d+)?)(号)?$/.exec(s.replace(/之/, '-'));
  return m ? `${m[1]}号` : s;
}

export function canonicalBuilding(v: unknown): string | null {
  const s = str(v);
  if (!s) return null;
  const m = /^([0-9]+|[A-Za-z])(号楼|幢|栋|座|号)?$/.exec(s);
  return m ? `${m[1]!.toUpperCase()}幢` : s;
}

export function canonicalUnit(v: unknown): string | null {
  const s = str(v);
  if (!s) return null;
  const m = /^(\d+)(单元)?$/.exec(s);
  return m ? `${m[1]}单元` : s;
}

export function canonicalRoom(v: unknown): string | null {
  const s = str(v);
  return s ? s.replace(/(室|房|户)$/, '') : null;
}

export function addressRecord(id: string, attributes: Record<string, unknown>, geometry: Geometry | null): StandardAddressInput | null {
  if (!geometry || geometry.type !== 'Point') return null;
  const a = attributes;
  const parts = {
    province: str(a.province), city: str(a.city), district: str(a.district), town: str(a.town), community: str(a.community),
    road: str(a.road), roadNumber: canonicalRoadNumber(a.road_number), poi: str(a.poi),
    building: canonicalBuilding(a.building), unit: canonicalUnit(a.unit), room: canonicalRoom(a.room),
  };
  const text = str(a.address) ?? Object.values(parts).filter(Boolean).join('');
  if (!text) return null;
  const units = typeof a.units === 'number' ? a.units : a.units != null && /^\d+$/.test(String(a.units)) ? Number(a.units) : null;
  return {
    id, text, ...parts, units,
    districtCode: str(a.district_code), townCode: str(a.town_code), communityCode: str(a.community_code),
    lon: geometry.coordinates[0]!, lat: geometry.coordinates[1]!,
  };
}

export function roadRecord(id: string, attributes: Record<string, unknown>, geometry: Geometry | null): RoadInput | null {
  const name = str(attributes.name);
  if (!name || !geometry) return null;
  let lines: Position[][];
  if (geometry.type === 'LineString') lines = [geometry.coordinates];
  else if (geometry.type === 'MultiLineString') lines = geometry.coordinates;
  else return null;
  return { id, name, lines };
}

const AREA_LEVEL: Readonly<Record<number, AreaInput['level']>> = { 6: 'district', 9: 'town', 12: 'community' };

export function areaRecord(attributes: Record<string, unknown>, geometry: Geometry | null): AreaInput | null {
  const code = str(attributes.code);
  const name = str(attributes.name);
  const level = code ? AREA_LEVEL[code.length] : undefined;
  if (!code || !name || !level || !geometry || (geometry.type !== 'Polygon' && geometry.type !== 'MultiPolygon')) return null;
  return { code, name, level, geometry };
}
