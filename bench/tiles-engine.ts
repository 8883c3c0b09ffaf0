/**
 * bench:tiles-engine — cold (uncached) vector tiles of the seeded demo city, buildings + drainage
 * pipes as one composite tile, cut by our engine (tiles/cut-tile.ts, from the in-memory index)
 * against what an on-demand Node tile server does with the usual libraries: take the features the
 * tile's bbox query returns (already parsed GeoJSON, handed over for free), build geojson-vt from
 * them, getTile, and encode with vt-pbf. Same tiles, interleaved tile by tile, after a warm-up pass.
 * Also: index build time and index memory per million feature versions.
 *
 * With --postgis URL, a third contender: PostGIS ST_AsMVT with Martin's table-source query
 * (ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(z, x, y), 4096, 64, true), bbox filter
 * on the GiST index, one ST_AsMVT per layer concatenated as Martin does for composites) on the same
 * versions, loaded once into tables of its own (tiles_engine_bench_s<scale>_<layer>, geometry 4490,
 * gist (geom, validity) like the store's partitions), with the store's session settings.
 *
 *   npx tsx bench/tiles-engine.ts [--scale 8] [--tiles 8] [--rounds 3] [--seed 7] [--postgis postgres://…/onemap_bench]
 */
import { parseArgs } from 'node:util';
import Flatbush from 'flatbush';
import pg from 'pg';
import GeoJSONVT from 'geojson-vt';
import vtpbf from 'vt-pbf';
import type { Feature, Geometry } from 'geojson';
import { generateDemoCity } from '../fixtures/demo-city/index.ts';
import { FeatureIndexBuilder, type FeatureIndex, type TileFeatureVersion } from '../tiles/feature-index.ts';
import { layerTileConfig } from '../tiles/layer-tile-config.ts';
import { cutTile, type TileLayerRequest } from '../tiles/cut-tile.ts';
import { latToY, lonToX, TILE_EXTENT, tileForLonLat } from '../tiles/tile-math.ts';
import { SESSION_OPTIONS } from '../store/db.ts';
import { ensureDatabase } from './database.ts';
import { fmt, summarize } from './stats.ts';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '8' },
    tiles: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    seed: { type: 'string', default: '7' },
    postgis: { type: 'string' },
  },
});
const scale = Number(values.scale);
const tilesPerZoom = Number(values.tiles);
const rounds = Number(values.rounds);
const ZOOMS = [12, 13, 14, 15, 16];
const LAYERS = { buildings: 'buildings', pipes: 'drainage-pipes' } as const;
const BUFFER = 64;
const NOW = Date.parse('2026-06-01T00:00:00Z');

/** The baseline's "database": current features as GeoJSON, found by an R-tree over their boxes. */
interface Baseline {
  features: Feature[];
  tree: Flatbush;
}

function baselineOf(versions: TileFeatureVersion[]): Baseline {
  const current = versions.filter((v) => v.validFrom <= NOW && NOW < (v.validTo ?? Infinity) && v.geometry);
  const tree = new Flatbush(current.length);
  const features: Feature[] = [];
  for (const v of current) {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    const visit = (c: unknown): void => {
      if (typeof (c as number[])[0] === 'number') {
        const x = lonToX((c as number[])[0]!), y = latToY((c as number[])[1]!);
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      } else for (const d of c as unknown[]) visit(d);
    };
    visit((v.geometry as { coordinates: unknown }).coordinates);
    tree.add(x0, y0, x1, y1);
    features.push({ type: 'Feature', geometry: v.geometry!, properties: { feature_id: v.featureId, ...v.attributes } });
  }
  tree.finish();
  return { features, tree };
}

function baselineTile(bases: Record<string, Baseline>, z: number, x: number, y: number): Uint8Array {
  const n = 2 ** z;
  const b = BUFFER / TILE_EXTENT;
  const tiles: Record<string, NonNullable<ReturnType<GeoJSONVT['getTile']>>> = {};
  for (const [name, base] of Object.entries(bases)) {
    const ids = base.tree.search((x - b) / n, (y - b) / n, (x + 1 + b) / n, (y + 1 + b) / n);
    if (ids.length === 0) continue;
    // The fastest way to one tile that we found: indexMaxZoom 0 splits only the path down to it, and
    // maxZoom = z skips simplification there (maxZoom 18 with simplification at z was 1.5–2× slower).
    const vt = new GeoJSONVT({ type: 'FeatureCollection', features: ids.map((i) => base.features[i]!) }, {
      maxZoom: z, indexMaxZoom: 0, tolerance: 3, buffer: BUFFER, extent: TILE_EXTENT,
    });
    const tile = vt.getTile(z, x, y);
    if (tile && tile.features.length) tiles[name] = tile;
  }
  return Object.keys(tiles).length ? vtpbf.fromGeojsonVt(tiles, { version: 2, extent: TILE_EXTENT }) : new Uint8Array(0);
}

/** The PostGIS contender: loads the versions once (per scale), then answers tiles with ST_AsMVT. */
async function postgisContender(url: string, versions: Record<string, TileFeatureVersion[]>) {
  await ensureDatabase(url);
  const client = new pg.Client({ connectionString: url, options: SESSION_OPTIONS });
  await client.connect();
  await client.query('create extension if not exists postgis');
  const tables: Record<string, string> = {};
  for (const [name, vs] of Object.entries(versions)) {
    const table = `tiles_engine_bench_s${String(scale).replace(/\W/g, '_')}_${name}`;
    tables[name] = table;
    const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from pg_tables where tablename = $1`, [table]);
    if (rows[0]!.n > 0) {
      const { rows: count } = await client.query<{ n: number }>(`select count(*)::int as n from ${table}`);
      if (count[0]!.n === vs.filter((v) => v.geometry).length) continue;
      await client.query(`drop table ${table}`);
    }
    console.log(`loading ${vs.length} ${name} versions into ${table} (once)…`);
    await client.query(`create table ${table} (feature_id text not null, geom geometry(Geometry, 4490) not null, attributes jsonb not null, validity tstzrange not null)`);
    const rowsOf = vs.filter((v) => v.geometry);
    for (let i = 0; i < rowsOf.length; i += 5000) {
      const batch = rowsOf.slice(i, i + 5000).map((v) => [v.featureId, JSON.stringify(v.geometry), v.attributes ?? {}, new Date(v.validFrom).toISOString(), v.validTo === null ? null : new Date(v.validTo).toISOString()]);
      await client.query(`insert into ${table} select d->>0, st_setsrid(st_geomfromgeojson(d->>1), 4490), d->2, tstzrange((d->>3)::timestamptz, (d->>4)::timestamptz)
        from jsonb_array_elements($1::jsonb) d`, [JSON.stringify(batch)]);
    }
    await client.query(`create index on ${table} using gist (geom, validity)`);
    await client.query(`analyze ${table}`);
  }
  const at = new Date(NOW).toISOString();
  return {
    async tile(t: { z: number; x: number; y: number }): Promise<number> {
      let bytes = 0;
      for (const [name, table] of Object.entries(tables)) {
        const { rows } = await client.query<{ mvt: Buffer | null }>(`select st_asmvt(t, $4, 4096, 'geom') as mvt from (
            select st_asmvtgeom(st_transform(geom, 3857), st_tileenvelope($1, $2, $3), 4096, 64, true) as geom, feature_id, attributes
            from ${table}
            where validity @> $5::timestamptz and geom && st_transform(st_tileenvelope($1, $2, $3, margin => (64.0 / 4096)), 4490)) t`,
          [t.z, t.x, t.y, name, at]);
        bytes += rows[0]?.mvt?.length ?? 0;
      }
      return bytes;
    },
    end: () => client.end(),
  };
}

/** Seeded tile picks: tiles under randomly chosen buildings, so that they are where the city is. */
function pickTiles(versions: TileFeatureVersion[], seed: number): Array<{ z: number; x: number; y: number }> {
  let s = seed;
  const rnd = () => ((s = (s * 48271) % 2147483647) / 2147483647);
  const out: Array<{ z: number; x: number; y: number }> = [];
  for (const z of ZOOMS) {
    const seen = new Set<string>();
    for (let tries = 0; seen.size < tilesPerZoom && tries < 10_000; tries++) {
      const v = versions[Math.floor(rnd() * versions.length)]!;
      const [lon, lat] = (v.geometry as { coordinates: number[][][] }).coordinates[0]![0]!;
      const t = tileForLonLat(lon!, lat!, z);
      const key = `${t.x}/${t.y}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(t);
    }
  }
  return out;
}

async function main() {
  console.log(`bench:tiles-engine  demo city scale ${scale}, ${tilesPerZoom} tiles per zoom z${ZOOMS[0]}–z${ZOOMS.at(-1)}, ${rounds} rounds after 1 warm-up\n`);
  let t0 = performance.now();
  // The versions as the store's loader receives them: text rows (GeoJSON geometry, JSON attributes,
  // epoch ms). The generated city is dropped before anything is measured, so that the collector is
  // not marking a gigabyte of demo objects during the runs.
  type Row = [featureId: string, geometry: string, attributes: string, validFrom: number, validTo: number | null];
  const rows: Record<string, Row[]> = {};
  const meta: Record<string, { domain: string; geometryType: string }> = {};
  {
    const city = generateDemoCity({ scale });
    for (const [name, id] of Object.entries(LAYERS)) {
      const l = city.layers.find((c) => c.meta.id === id)!;
      meta[name] = { domain: l.meta.domain, geometryType: l.meta.geometryType };
      rows[name] = l.versions.map((v) => [v.featureId, JSON.stringify(v.geometry), JSON.stringify(v.attributes),
        Date.parse(v.validFrom), v.validTo === null ? null : Date.parse(v.validTo)]);
    }
  }
  console.log(`demo city generated in ${((performance.now() - t0) / 1000).toFixed(1)} s (not measured)`);
  const versionOf = (r: Row): TileFeatureVersion => ({
    featureId: r[0], geometry: JSON.parse(r[1]) as Geometry, attributes: JSON.parse(r[2]) as Record<string, unknown>, validFrom: r[3], validTo: r[4],
  });

  // Index build from rows (JSON.parse of geometry and attributes included, as the store's loader
  // does it), each layer three times, median.
  const requests: TileLayerRequest[] = [];
  let totalItems = 0, totalBytes = 0, totalMs = 0;
  for (const [name, rs] of Object.entries(rows)) {
    const times: number[] = [];
    let index: FeatureIndex | undefined;
    for (let r = 0; r < 3; r++) {
      t0 = performance.now();
      const builder = new FeatureIndexBuilder();
      for (const row of rs) builder.add(versionOf(row));
      index = builder.finish();
      times.push(performance.now() - t0);
    }
    const ms = summarize(times).median;
    const bytes = index!.memoryBytes();
    totalItems += index!.size; totalBytes += bytes; totalMs += ms;
    console.log(`index ${name.padEnd(10)} ${String(index!.size).padStart(8)} versions  built in ${fmt(ms).padStart(8)} ms (median of 3)  ` +
      `${(bytes / 2 ** 20).toFixed(1).padStart(6)} MiB = ${(bytes / index!.size).toFixed(0)} B/version  ${index!.coords.length / 2 / index!.size} vertices/version`);
    // Every layer from z12 so the low zooms have work to do; budget off so both sides write everything.
    requests.push({ name, index: index!, config: layerTileConfig(meta[name]!.domain, meta[name]!.geometryType, { minZoom: 12, sizeBudget: 1 << 30 }) });
  }
  console.log(`index total: ${totalItems} versions, ${fmt(totalMs)} ms → ${((totalMs / totalItems) * 1e3).toFixed(2)} s per million rows; ` +
    `memory ${((totalBytes / totalItems) * 1e6 / 2 ** 20).toFixed(0)} MiB per million versions\n`);

  const versions = Object.fromEntries(Object.entries(rows).map(([name, rs]) => [name, rs.map(versionOf)]));
  const bases = Object.fromEntries(Object.entries(versions).map(([name, vs]) => [name, baselineOf(vs)]));
  const tiles = pickTiles(versions.buildings!, Number(values.seed));

  const ours = (t: { z: number; x: number; y: number }) => cutTile(requests, t.z, t.x, t.y, NOW);
  const theirs = (t: { z: number; x: number; y: number }) => baselineTile(bases, t.z, t.x, t.y);
  const postgis = values.postgis ? await postgisContender(values.postgis, versions) : null;

  // Warm-up, and what each side writes.
  const written = new Map<number, { oursBytes: number; theirBytes: number; oursFeatures: number; pgBytes: number }>();
  for (const t of tiles) {
    const a = ours(t), b = theirs(t);
    const w = written.get(t.z) ?? { oursBytes: 0, theirBytes: 0, oursFeatures: 0, pgBytes: 0 };
    w.oursBytes += a.bytes.length; w.theirBytes += b.length;
    if (postgis) w.pgBytes += await postgis.tile(t);
    w.oursFeatures += Object.values(a.featureCounts).reduce((p, q) => p + q, 0);
    written.set(t.z, w);
  }

  const times = new Map<number, { ours: number[]; theirs: number[]; pg: number[] }>();
  for (let r = 0; r < rounds; r++) {
    for (const t of tiles) {
      const entry = times.get(t.z) ?? { ours: [], theirs: [], pg: [] };
      times.set(t.z, entry);
      let s = performance.now();
      ours(t);
      entry.ours.push(performance.now() - s);
      s = performance.now();
      theirs(t);
      entry.theirs.push(performance.now() - s);
      if (postgis) {
        s = performance.now();
        await postgis.tile(t);
        entry.pg.push(performance.now() - s);
      }
    }
  }

  console.log('zoom  features/tile   KiB/tile ours / geojson-vt   ours ms (median, min)   geojson-vt+vt-pbf ms   ours tiles/s  theirs tiles/s   ratio');
  const ratios: number[] = [];
  let allOurs: number[] = [], allTheirs: number[] = [];
  for (const z of ZOOMS) {
    const e = times.get(z)!, w = written.get(z)!;
    const a = summarize(e.ours), b = summarize(e.theirs);
    const n = e.ours.length / rounds;
    ratios.push(b.median / a.median);
    allOurs = allOurs.concat(e.ours); allTheirs = allTheirs.concat(e.theirs);
    console.log(`z${z}`.padEnd(6) + String(Math.round(w.oursFeatures / n)).padStart(13) +
      `${(w.oursBytes / n / 1024).toFixed(0)} / ${(w.theirBytes / n / 1024).toFixed(0)}`.padStart(29) +
      `${fmt(a.median)} (${fmt(a.min)})`.padStart(24) + `${fmt(b.median)} (${fmt(b.min)})`.padStart(23) +
      (1000 / a.median).toFixed(0).padStart(15) + (1000 / b.median).toFixed(1).padStart(16) + `${(b.median / a.median).toFixed(1)}×`.padStart(8));
  }
  const sumOurs = allOurs.reduce((p, q) => p + q, 0), sumTheirs = allTheirs.reduce((p, q) => p + q, 0);
  if (postgis) {
    console.log('\nzoom  KiB/tile PostGIS   PostGIS ST_AsMVT ms (median, min)   ours ms   ratio PostGIS / ours');
    for (const z of ZOOMS) {
      const e = times.get(z)!, w = written.get(z)!;
      const a = summarize(e.ours), p = summarize(e.pg);
      console.log(`z${z}`.padEnd(6) + (w.pgBytes / (e.pg.length / rounds) / 1024).toFixed(0).padStart(15) +
        `${fmt(p.median)} (${fmt(p.min)})`.padStart(36) + fmt(a.median).padStart(10) + `${(p.median / a.median).toFixed(1)}×`.padStart(25));
    }
    await postgis.end();
  }
  console.log(`\nall ${tiles.length} tiles × ${rounds}: ours ${fmt(sumOurs)} ms, geojson-vt+vt-pbf ${fmt(sumTheirs)} ms → ${(sumTheirs / sumOurs).toFixed(1)}× ` +
    `(per-zoom median ratios ${ratios.map((r) => r.toFixed(1)).join(', ')})`);

  // The same tiles with the default 500 KiB budget: how many degrade and what it costs.
  const budgeted = requests.map((r) => ({ ...r, config: layerTileConfig(meta[r.name]!.domain, meta[r.name]!.geometryType, { minZoom: 12 }) }));
  let degraded = 0;
  const budgetTimes: number[] = [];
  let maxBytes = 0;
  for (const t of tiles) {
    const s = performance.now();
    const res = cutTile(budgeted, t.z, t.x, t.y, NOW);
    budgetTimes.push(performance.now() - s);
    if (res.degraded) degraded++;
    maxBytes = Math.max(maxBytes, res.bytes.length);
  }
  console.log(`with the default 500 KiB budget: ${degraded} of ${tiles.length} tiles degraded, largest ${(maxBytes / 1024).toFixed(0)} KiB, ` +
    `median ${fmt(summarize(budgetTimes).median)} ms, max ${fmt(Math.max(...budgetTimes))} ms`);
}

await main();
