import type { Geometry } from 'geojson';

/** The kinds of city data the programme names (BRIEF.md), plus addresses and departments' business tables. */
export const DOMAINS = ['pipeline', 'building', 'land', 'water', 'road', 'green', 'address', 'business'] as const;
export type Domain = (typeof DOMAINS)[number];

/**
 * public: anyone, with or without a key; internal: any valid key;
 * restricted: only keys cleared for the layer (gas and power networks are security-sensitive).
 */
export const ACCESS_CLASSES = ['public', 'internal', 'restricted'] as const;
export type AccessClass = (typeof ACCESS_CLASSES)[number];

export const GEOMETRY_TYPES = [
  'Point', 'LineString', 'Polygon', 'MultiPoint', 'MultiLineString', 'MultiPolygon', 'Geometry',
] as const;
export type GeometryType = (typeof GEOMETRY_TYPES)[number];

export type AttributeType = 'string' | 'integer' | 'number' | 'boolean' | 'date';

export interface AttributeDef {
  type: AttributeType;
  /** Chinese label shown to users, e.g. 起点埋深. */
  title?: string;
  description?: string;
  /** Unit of measure for numbers, e.g. "m" or "mm". */
  unit?: string;
}

export interface LayerMeta {
  /** Slug: lower-case letters, digits and hyphens; used in URLs. */
  id: string;
  titleZh: string;
  titleEn: string;
  domain: Domain;
  geometryType: GeometryType;
  attributeSchema: Record<string, AttributeDef>;
  accessClass: AccessClass;
  /** Where the data came from, in words a data officer understands. */
  source: string;
}

/** One version of one feature, as written to the store. Geometry is in EPSG:4490 (lon, lat). */
export interface FeatureVersionInput {
  featureId: string;
  geometry: Geometry;
  attributes: Record<string, unknown>;
  /** ISO 8601 instant. */
  validFrom: string;
  /** ISO 8601 instant, or null while the version is current. */
  validTo: string | null;
}
