import type { Geometry, Position } from 'geojson';

/**
 * Hex EWKB (SRID 4490) of a GeoJSON geometry: what bulk writes send PostGIS, because parsing
 * hex WKB costs PostgreSQL a fraction of parsing GeoJSON text (bench/import.ts). Z is kept when
 * the first position has it; all positions of a geometry then carry Z (missing Z is 0).
 */
const WKB_TYPE: Record<Geometry['type'], number> = {
  Point: 1, LineString: 2, Polygon: 3, MultiPoint: 4, MultiLineString: 5, MultiPolygon: 6, GeometryCollection: 7,
};
const Z_FLAG = 0x80000000;
const SRID_FLAG = 0x20000000;

function firstPosition(g: Geometry): Position | undefined {
  switch (g.type) {
    case 'Point': return g.coordinates;
    case 'MultiPoint': case 'LineString': return g.coordinates[0];
    case 'MultiLineString': case 'Polygon': return g.coordinates[0]?.[0];
    case 'MultiPolygon': return g.coordinates[0]?.[0]?.[0];
    case 'GeometryCollection': return g.geometries[0] ? firstPosition(g.geometries[0]) : undefined;
  }
}

function size(g: Geometry, dims: number, header: number): number {
  const pos = 8 * dims;
  switch (g.type) {
    case 'Point': return header + pos;
    case 'LineString': return header + 4 + g.coordinates.length * pos;
    case 'Polygon': return header + 4 + g.coordinates.reduce((s, r) => s + 4 + r.length * pos, 0);
    case 'MultiPoint': return header + 4 + g.coordinates.length * (5 + pos);
    case 'MultiLineString': return header + 4 + g.coordinates.reduce((s, l) => s + 9 + l.length * pos, 0);
    case 'MultiPolygon': return header + 4 + g.coordinates.reduce((s, p) => s + 9 + p.reduce((t, r) => t + 4 + r.length * pos, 0), 0);
    case 'GeometryCollection': return header + 4 + g.geometries.reduce((s, c) => s + size(c, dims, 5), 0);
  }
}

export function toEwkbHex(g: Geometry): string {
  const hasZ = (firstPosition(g)?.length ?? 2) > 2;
  const dims = hasZ ? 3 : 2;
  const buf = Buffer.allocUnsafe(size(g, dims, 9));
  let o = 0;
  const u8 = (v: number) => { buf[o++] = v; };
  const u32 = (v: number) => { buf.writeUInt32LE(v >>> 0, o); o += 4; };
  const pos = (p: Position) => {
    buf.writeDoubleLE(p[0]!, o); buf.writeDoubleLE(p[1]!, o + 8); o += 16;
    if (hasZ) { buf.writeDoubleLE(p[2] ?? 0, o); o += 8; }
  };
  const ring = (r: Position[]) => { u32(r.length); for (const p of r) pos(p); };
  const header = (type: number, srid: boolean) => {
    u8(1);
    u32(type | (hasZ ? Z_FLAG : 0) | (srid ? SRID_FLAG : 0));
    if (srid) u32(4490);
  };
  const write = (geom: Geometry, srid: boolean) => {
    header(WKB_TYPE[geom.type], srid);
    switch (geom.type) {
      case 'Point': pos(geom.coordinates); break;
      case 'LineString': ring(geom.coordinates); break;
      case 'Polygon': u32(geom.coordinates.length); for (const r of geom.coordinates) ring(r); break;
      case 'MultiPoint': u32(geom.coordinates.length); for (const p of geom.coordinates) { header(1, false); pos(p); } break;
      case 'MultiLineString': u32(geom.coordinates.length); for (const l of geom.coordinates) { header(2, false); ring(l); } break;
      case 'MultiPolygon':
        u32(geom.coordinates.length);
        for (const p of geom.coordinates) { header(3, false); u32(p.length); for (const r of p) ring(r); }
        break;
      case 'GeometryCollection': u32(geom.geometries.length); for (const c of geom.geometries) write(c, false); break;
    }
  };
  write(g, true);
  return buf.toString('hex');
}
