import type { LineString } from 'geojson';
import { metresPerDegreeLat, metresPerDegreeLon } from '../../position/asset-geodesy.ts';

/** Hand-made geometry in metres around one point of Quanzhou, for tests with known answers. */
export const LON = 118.6;
export const LAT = 24.9;
export const KX = metresPerDegreeLon(LAT);
export const KY = metresPerDegreeLat(LAT);

/** A lon/lat `east` and `north` metres from (LON, LAT). */
export const at = (east: number, north: number): [number, number] => [LON + east / KX, LAT + north / KY];
export const line = (...pts: Array<[number, number]>): LineString => ({ type: 'LineString', coordinates: pts.map(([e, n]) => at(e, n)) });
