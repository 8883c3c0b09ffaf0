/** Coordinate reference systems of the importer: registry and transformers, .prj recognition, inference, GCJ-02/BD-09. */
export {
  resolveCrs,
  findCrs,
  supportedCrsCodes,
  SUPPORTED_CRS_SUMMARY,
  withinBounds,
  toCgcs2000,
  fromCgcs2000,
  type CrsInfo,
  type CrsKind,
  type CoordTransform,
} from './registry.ts';
export { crsFromPrj, crsFromDeclared, parseWkt, type WktNode, type WktValue } from './prj.ts';
export { inferCrs, inChinaOutline, type CrsInference, type InferOptions } from './infer.ts';
export {
  wgs84ToGcj02,
  gcj02ToWgs84,
  gcj02ToBd09,
  bd09ToGcj02,
  wgs84ToBd09,
  bd09ToWgs84,
  outOfChina,
  type LonLat,
} from './china-offsets.ts';
