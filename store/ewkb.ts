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

/** The first position of a geometry (its dimension decides 2D or Z). */
export function firstPosition(g: Geometry): Position | undefined {
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

/**
 * The writer is a class with plain methods rather than closures: closures made per call cost a
 * third of the encoding time under the module loader's name-keeping wrappers (CPU profile).
 */
class EwkbWriter {
  buf: Buffer;
  o: number;
  z: boolean;

  constructor(buf: Buffer, offset: number, z: boolean) {
    this.buf = buf;
    this.o = offset;
    this.z = z;
  }

  u32(v: number): void {
    this.buf.writeUInt32LE(v >>> 0, this.o);
    this.o += 4;
  }

  header(type: number, srid: boolean): void {
    this.buf[this.o++] = 1;
    this.u32(type | (this.z ? Z_FLAG : 0) | (srid ? SRID_FLAG : 0));
    if (srid) this.u32(4490);
  }

  pos(p: Position): void {
    this.buf.writeDoubleLE(p[0]!, this.o);
    this.buf.writeDoubleLE(p[1]!, this.o + 8);
    this.o += 16;
    if (this.z) {
      this.buf.writeDoubleLE(p[2] ?? 0, this.o);
      this.o += 8;
    }
  }

  ring(r: Position[]): void {
    this.u32(r.length);
    for (let i = 0; i < r.length; i++) this.pos(r[i]!);
  }

  geometry(g: Geometry, srid: boolean): void {
    this.header(WKB_TYPE[g.type], srid);
    switch (g.type) {
      case 'Point': this.pos(g.coordinates); break;
      case 'LineString': this.ring(g.coordinates); break;
      case 'Polygon': this.u32(g.coordinates.length); for (const r of g.coordinates) this.ring(r); break;
      case 'MultiPoint': this.u32(g.coordinates.length); for (const p of g.coordinates) { this.header(1, false); this.pos(p); } break;
      case 'MultiLineString': this.u32(g.coordinates.length); for (const l of g.coordinates) { this.header(2, false); this.ring(l); } break;
      case 'MultiPolygon':
        this.u32(g.coordinates.length);
        for (const p of g.coordinates) { this.header(3, false); this.u32(p.length); for (const r of p) this.ring(r); }
        break;
      case 'GeometryCollection': this.u32(g.geometries.length); for (const c of g.geometries) this.geometry(c, false); break;
    }
  }
}

function hasZ(g: Geometry): boolean {
  return (firstPosition(g)?.length ?? 2) > 2;
}

export function toEwkbHex(g: Geometry): string {
  const z = hasZ(g);
  const w = new EwkbWriter(Buffer.allocUnsafe(size(g, z ? 3 : 2, 9)), 0, z);
  w.geometry(g, true);
  return w.buf.toString('hex');
}

/** Bytes of a geometry's EWKB (what `writeEwkb` will write). */
export function ewkbLength(g: Geometry): number {
  return size(g, hasZ(g) ? 3 : 2, 9);
}

/** Writes a geometry's EWKB into `buf` at `offset` (room for `ewkbLength(g)` bytes is the caller's). */
export function writeEwkb(g: Geometry, buf: Buffer, offset: number): void {
  new EwkbWriter(buf, offset, hasZ(g)).geometry(g, true);
}
