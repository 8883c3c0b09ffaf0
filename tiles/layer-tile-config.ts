import { z } from 'zod';
import { MAX_TILE_ZOOM, TILE_EXTENT } from './tile-math.ts';

/**
 * How a layer is cut into tiles. Lengths are in tile units: a tile is TILE_EXTENT (4096) units
 * wide, so on a 512-pixel map tile 8 units are one CSS pixel.
 */
export interface LayerTileConfig {
  /** Below it the layer is absent from tiles. */
  readonly minZoom: number;
  /**
   * Above it the layer is absent too; at it tiles carry full detail (no simplification, no size
   * filter), and clients overzoom from it. A composite's TileJSON maxzoom should be the smallest
   * of its layers' maxZoom, so that no layer vanishes when the map zooms past it.
   */
  readonly maxZoom: number;
  /** Douglas–Peucker tolerance for lines and polygon rings; 0 disables. Not applied at maxZoom. */
  readonly simplify: number;
  /** Below maxZoom, lines and polygons whose box has no side this long are left out. */
  readonly minFeatureSize: number;
  /** Geometry kept beyond each tile edge, so that strokes and fills join across tiles (Martin's 64). */
  readonly buffer: number;
  /** Encoded tile bytes not to exceed; past it the tile is degraded (see cutTile). */
  readonly sizeBudget: number;
}

/** The catalog's domains; `admin` is for administrative areas. */
export type TileDomain = 'pipeline' | 'building' | 'land' | 'water' | 'road' | 'green' | 'address' | 'business' | 'admin';

type GeometryClass = 'point' | 'line' | 'polygon';

export const DEFAULT_SIZE_BUDGET = 500 * 1024;
const DEFAULT_BUFFER = 64;
/** geojson-vt's default: about 0.4 px on a 512-pixel tile, invisible but it halves dense coastlines. */
const DEFAULT_SIMPLIFY = 3;
/** One CSS pixel on a 512-pixel tile. */
const DEFAULT_MIN_FEATURE_SIZE = 8;
const DEFAULT_MAX_ZOOM = 18;

/**
 * First zoom at which each kind of layer appears. Buildings at z14 (a z14 tile is ~2 km across in
 * Quanzhou, a house is ~10 px), pipes and parcels at z13, roads at z10, water and green at z8,
 * administrative areas at z6; point layers (manholes, addresses, enterprises) from z14 or later,
 * when there are few enough per tile to read.
 */
const MIN_ZOOM: Record<TileDomain, Record<GeometryClass, number>> = {
  building: { polygon: 14, line: 15, point: 15 },
  pipeline: { polygon: 13, line: 13, point: 15 },
  land: { polygon: 13, line: 13, point: 15 },
  road: { polygon: 12, line: 10, point: 15 },
  water: { polygon: 8, line: 10, point: 14 },
  green: { polygon: 8, line: 12, point: 14 },
  // The catalog keeps administrative areas (districts, towns, communities) under `address` too.
  address: { polygon: 6, line: 14, point: 14 },
  business: { polygon: 14, line: 14, point: 14 },
  admin: { polygon: 6, line: 6, point: 8 },
};

function geometryClass(geometryType: string): GeometryClass {
  switch (geometryType) {
    case 'Point': case 'MultiPoint': return 'point';
    case 'LineString': case 'MultiLineString': return 'line';
    // Polygon, MultiPolygon, and mixed layers ("Geometry"), which take the polygon zooms.
    default: return 'polygon';
  }
}

const length = z.number().finite().min(0).max(TILE_EXTENT);
const zoom = z.number().int().min(0).max(MAX_TILE_ZOOM);

/** Per-layer overrides, as a configuration file gives them; every field optional. */
export const layerTileOverridesSchema = z.object({
  minZoom: zoom.optional(),
  maxZoom: zoom.optional(),
  simplify: length.optional(),
  minFeatureSize: length.optional(),
  buffer: length.optional(),
  sizeBudget: z.number().int().min(1024).optional(),
}).strict();

export type LayerTileOverrides = z.infer<typeof layerTileOverridesSchema>;

/**
 * The tile configuration for a layer of this domain and geometry type, with overrides applied
 * and checked. Unknown domains get the polygon/line/point defaults of `land`. Frozen.
 */
export function layerTileConfig(domain: string, geometryType: string, overrides: LayerTileOverrides = {}): LayerTileConfig {
  const o = layerTileOverridesSchema.parse(overrides);
  const cls = geometryClass(geometryType);
  const table = MIN_ZOOM[domain as TileDomain] ?? MIN_ZOOM.land;
  const config: LayerTileConfig = {
    minZoom: o.minZoom ?? table[cls],
    maxZoom: o.maxZoom ?? DEFAULT_MAX_ZOOM,
    simplify: o.simplify ?? (cls === 'point' ? 0 : DEFAULT_SIMPLIFY),
    minFeatureSize: o.minFeatureSize ?? (cls === 'point' ? 0 : DEFAULT_MIN_FEATURE_SIZE),
    buffer: o.buffer ?? DEFAULT_BUFFER,
    sizeBudget: o.sizeBudget ?? DEFAULT_SIZE_BUDGET,
  };
  if (config.minZoom > config.maxZoom) {
    throw new RangeError(`layer tile config: minZoom ${config.minZoom} is above maxZoom ${config.maxZoom}; lower minZoom or raise maxZoom`);
  }
  return Object.freeze(config);
}
