import { sql, type Kysely } from 'kysely';
import type { Geometry } from 'geojson';
import type { Database } from '../store/schema.ts';
import { Geocoder, type GeocoderInput, type GeocoderOptions } from './geocoder.ts';
import type { GeocodeResult } from './match.ts';
import type { AreaInput, FormerAddressInput, RoadInput, StandardAddressInput } from './address-index.ts';
import { addressRecord, areaRecord, canonicalRoadNumber, roadRecord } from './records.ts';

/**
 * The geocoder's records from the store, as of now: points of the public `address` layers are
 * standard addresses, their polygons with a division code are areas, lines of the public `road`
 * layers are road centrelines. Only public layers: anyone may geocode, so nothing restricted or
 * internal may leak through an answer. Plain queries, so that it also reads inside the
 * transaction of an import that has just written the addresses.
 */

export interface StoreGeocoderInput extends GeocoderInput {
  addresses: StandardAddressInput[];
  roads: RoadInput[];
  areas: AreaInput[];
  former: FormerAddressInput[];
  /** Revision of each layer read, to tell whether a change concerns the geocoder. */
  layers: Map<string, number>;
}

export const GEOCODER_DOMAINS: ReadonlySet<string> = new Set(['address', 'road']);

export async function loadGeocoderInput(db: Kysely<Database>): Promise<StoreGeocoderInput> {
  const layers = await db.selectFrom('layer').select(['id', 'domain', 'revision'])
    .where('domain', 'in', [...GEOCODER_DOMAINS]).where('access_class', '=', 'public').orderBy('id').execute();
  const out: StoreGeocoderInput = { addresses: [], roads: [], areas: [], former: [], layers: new Map() };
  for (const layer of layers) {
    out.layers.set(layer.id, Number(layer.revision));
    const { rows } = await sql<{ id: string; g: string | null; a: Record<string, unknown> }>`
      select feature_id as id, st_asgeojson(geom, 8, 0) as g, attributes as a
      from feature_version where layer_id = ${layer.id} and valid_to is null order by feature_id`.execute(db);
    for (const r of rows) {
      const geometry = r.g ? JSON.parse(r.g) as Geometry : null;
      const attributes = typeof r.a === 'string' ? JSON.parse(r.a) as Record<string, unknown> : r.a;
      if (layer.domain === 'road') {
        const road = roadRecord(r.id, attributes, geometry);
        if (road) out.roads.push(road);
      } else if (geometry?.type === 'Point') {
        const address = addressRecord(r.id, attributes, geometry);
        if (address) out.addresses.push(address);
      } else {
        const area = areaRecord(attributes, geometry);
        if (area) out.areas.push(area);
      }
    }
    if (layer.domain !== 'address') continue;
    // Ended versions that had a road: what an address was called before a renaming or re-numbering.
    const { rows: ended } = await sql<{ id: string; road: string; n: string | null; until: string }>`
      select feature_id as id, attributes->>'road' as road, attributes->>'road_number' as n, to_char(valid_to at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as until
      from feature_version where layer_id = ${layer.id} and valid_to is not null and attributes ? 'road'`.execute(db);
    for (const r of ended) out.former.push({ id: r.id, road: r.road, roadNumber: canonicalRoadNumber(r.n), until: r.until });
  }
  return out;
}

/** A one-address lookup over the store as this connection (or transaction) sees it, for an import. */
export async function storeLocator(db: Kysely<Database>, options: GeocoderOptions = {}): Promise<(address: string) => GeocodeResult | null> {
  const geocoder = Geocoder.build(await loadGeocoderInput(db), options);
  return (address) => geocoder.locate(address);
}
