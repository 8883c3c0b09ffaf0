import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  bd09ToGcj02, bd09ToWgs84, crsFromDeclared, crsFromPrj, findCrs, fromCgcs2000, gcj02ToBd09, gcj02ToWgs84,
  inChinaOutline, inferCrs, resolveCrs, supportedCrsCodes, toCgcs2000, wgs84ToBd09, wgs84ToGcj02, type CrsInfo,
} from '../data-import/crs/index.ts';

// The same database rule as test/helpers/stores.ts; kept local so that this suite depends on
// PostGIS only, not on the store modules.
import { POSTGIS_URL } from './helpers/stores.ts';
const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'prj');

const QUANZHOU: [number, number] = [118.59, 24.91];
const M_PER_DEG_LAT = 111_320;

/** Distance in metres between two lon/lat points a few millimetres apart (flat-earth is exact enough). */
function degToMetres(lon1: number, lat1: number, lon2: number, lat2: number): number {
  const dx = (lon1 - lon2) * M_PER_DEG_LAT * Math.cos((lat1 * Math.PI) / 180);
  return Math.hypot(dx, (lat1 - lat2) * M_PER_DEG_LAT);
}

function grid(lonMin: number, lonMax: number, latMin: number, latMax: number, nLon: number, nLat: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < nLon; i++) {
    for (let j = 0; j < nLat; j++) {
      out.push([lonMin + ((lonMax - lonMin) * i) / (nLon - 1), latMin + ((latMax - latMin) * j) / (nLat - 1)]);
    }
  }
  return out;
}

/** Points over Fujian (115.8–120.7°E, 23.5–28.3°N, every ~0.35°) and Quanzhou itself. */
const FUJIAN = [...grid(115.8, 120.7, 23.5, 28.3, 15, 13), QUANZHOU];

/** The central meridian of a Gauss-Krüger or UTM definition. */
const centralMeridian = (crs: CrsInfo): number => {
  const lon0 = /\+lon_0=(-?[\d.]+)/.exec(crs.proj4 ?? '');
  if (lon0) return Number(lon0[1]);
  const zone = Number(/\+zone=(\d+)/.exec(crs.proj4 ?? '')![1]);
  return 6 * zone - 183;
};

const halfZoneWidth = (crs: CrsInfo): number => (/3-degree/.test(crs.name) ? 1.5 : 3);

interface Agreement { projectedM: number; geographicM: number; points: number }

describe('CRS transforms agree with PostGIS (PROJ)', () => {
  let client: pg.Client;
  let projVersion = '';
  const worst = new Map<string, Agreement>();

  before(async () => {
    client = new pg.Client({ connectionString: POSTGIS_URL });
    try {
      await client.connect();
      const r = await client.query<{ v: string }>('select postgis_full_version() as v');
      projVersion = /PROJ="([^"]+)"/.exec(r.rows[0]!.v)?.[1] ?? 'unknown';
    } catch (err) {
      await client.end().catch(() => undefined);
      throw new Error(
        `The CRS tests compare with PostGIS at ${POSTGIS_URL} (set DATABASE_URL). `
        + `Run "bash scripts/test-db.sh" (npm test does) to install and prepare it. Cause: ${(err as Error).message}`,
      );
    }
  });
  after(async () => {
    await client?.end();
  });

  /**
   * Projects the points 4490 → srid → 4490 in PostGIS (one query, bound arrays) and compares
   * our forward result (metres) and our inverse of PostGIS's projected coordinates (degrees,
   * as metres) with PostGIS's. Returns the worst disagreements.
   */
  async function compare(code: string, points: Array<[number, number]>, geographicSrid = 4490): Promise<Agreement> {
    const crs = resolveCrs(code);
    const srid = Number(code.slice(5));
    const { rows } = await client.query<{ x: number; y: number; lon: number; lat: number }>(
      `select ST_X(p) as x, ST_Y(p) as y, ST_X(b) as lon, ST_Y(b) as lat
         from (select t.i, ST_Transform(ST_SetSRID(ST_MakePoint(t.lon, t.lat), $4::int), $3::int) as p
                 from unnest($1::float8[], $2::float8[]) with ordinality as t(lon, lat, i)) s
         cross join lateral ST_Transform(s.p, $4::int) as b
        order by s.i`,
      [points.map((p) => p[0]), points.map((p) => p[1]), srid, geographicSrid],
    );
    assert.equal(rows.length, points.length);
    const forward = fromCgcs2000(crs);
    const inverse = toCgcs2000(crs);
    let projectedM = 0;
    let geographicM = 0;
    points.forEach(([lon, lat], i) => {
      const row = rows[i]!;
      const [x, y] = forward(lon, lat);
      const dProj = Math.hypot(x - row.x, y - row.y);
      const [ilon, ilat] = inverse(row.x, row.y);
      const dGeo = degToMetres(ilon, ilat, row.lon, row.lat);
      assert.ok(dProj < 0.01, `${code} forward (${lon}, ${lat}): ours (${x}, ${y}) vs PostGIS (${row.x}, ${row.y}), ${dProj} m apart`);
      assert.ok(dGeo < 0.01, `${code} inverse (${row.x}, ${row.y}): ours (${ilon}, ${ilat}) vs PostGIS (${row.lon}, ${row.lat}), ${dGeo} m apart`);
      projectedM = Math.max(projectedM, dProj);
      geographicM = Math.max(geographicM, dGeo);
    });
    const result = { projectedM, geographicM, points: points.length };
    worst.set(code, result);
    return result;
  }

  it('every CGCS2000 zone covering Fujian, over the Fujian grid and Quanzhou, within 1 cm', async (t) => {
    // A point belongs to a zone when it lies in the zone's own strip (3° or 6° wide).
    const fujianZones = supportedCrsCodes()
      .map((c) => findCrs(c)!)
      .filter((c) => /^CGCS2000 \//.test(c.name));
    let tested = 0;
    for (const crs of fujianZones) {
      const cm = centralMeridian(crs);
      const inZone = FUJIAN.filter(([lon]) => Math.abs(lon - cm) <= halfZoneWidth(crs));
      if (inZone.length === 0) continue;
      await compare(crs.code, inZone);
      tested++;
    }
    // 3° CM 117E/120E (4548, 4549) and zones 39/40 (4527, 4528); 6° CM 117E/123E (4509, 4510)
    // and zones 20/21 (4498, 4499).
    const expected = ['EPSG:4498', 'EPSG:4499', 'EPSG:4509', 'EPSG:4510', 'EPSG:4527', 'EPSG:4528', 'EPSG:4548', 'EPSG:4549'];
    assert.deepEqual([...worst.keys()].filter((c) => expected.includes(c)).sort(), expected);
    assert.equal(tested, expected.length);
    t.diagnostic(`PROJ ${projVersion}; Fujian zones: ${expected.map((c) => `${c} ${worst.get(c)!.points} pts`).join(', ')}`);
  });

  it('zones stretched past their edge (Fujian in CM 117E and CM 120E, up to 3.7° off) still agree', async () => {
    await compare('EPSG:4548', FUJIAN);
    await compare('EPSG:4549', FUJIAN);
  });

  it('Web Mercator and UTM 50N over Fujian, NAD83 UTM 10N over Vancouver Island', async () => {
    await compare('EPSG:3857', FUJIAN);
    await compare('EPSG:32650', FUJIAN);
    await compare('EPSG:26910', grid(-126.5, -122.5, 48.3, 50.8, 9, 6));
  });

  it('every generated projected definition matches EPSG as PostGIS knows it (name, and numbers within 1 cm)', async (t) => {
    const { rows } = await client.query<{ srid: number; name: string }>(
      `select srid, substring(srtext from '^[A-Z]+\\["([^"]+)"') as name from spatial_ref_sys
        where auth_name = 'EPSG' and srid = any($1::int[])`,
      [supportedCrsCodes().filter((c) => c.startsWith('EPSG:')).map((c) => Number(c.slice(5)))],
    );
    const epsgNames = new Map(rows.map((r) => [`EPSG:${r.srid}`, r.name]));
    let crsCount = 0;
    let pointCount = 0;
    for (const code of supportedCrsCodes()) {
      const crs = findCrs(code)!;
      if (!code.startsWith('EPSG:')) continue;
      assert.ok(epsgNames.has(code), `${code} is not in PostGIS's spatial_ref_sys`);
      if (crs.kind !== 'projected') continue;
      assert.equal(crs.name, epsgNames.get(code), `${code} name`);
      if (code === 'EPSG:3857') continue;
      const cm = centralMeridian(crs);
      const half = halfZoneWidth(crs);
      const south = /UTM zone \d+S/.test(crs.name);
      const [latMin, latMax] = /^CGCS2000/.test(crs.name) ? [18, 53] : south ? [-79, -1] : [1, 79];
      // From each family's own geographic CRS: PROJ takes ~0.2 s per CRS pair to search EPSG for
      // a CGCS2000 → WGS 84/NAD83 datum operation (it finds only a ballpark identity), and this
      // sweep checks the projection definitions, which is the same from either.
      const base = code.startsWith('EPSG:326') || code.startsWith('EPSG:327') ? 4326 : code.startsWith('EPSG:269') ? 4269 : 4490;
      const r = await compare(code, grid(cm - half, cm + half, latMin, latMax, 5, 5), base);
      crsCount++;
      pointCount += r.points;
    }
    assert.equal(crsCount, 64 + 120 + 23);
    let max = 0;
    let where = '';
    for (const [code, a] of worst) {
      const m = Math.max(a.projectedM, a.geographicM);
      if (m > max) {
        max = m;
        where = code;
      }
    }
    t.diagnostic(`${crsCount} zone definitions × 25 points (${pointCount}); worst disagreement over all comparisons `
      + `${(max * 1e6).toFixed(3)} µm (${where}); PROJ ${projVersion}`);
  });
});

describe('resolveCrs', () => {
  it('accepts the usual spellings', () => {
    for (const name of ['EPSG:4549', 'epsg:4549', '4549', ' EPSG:4549 ', 'urn:ogc:def:crs:EPSG::4549',
      'urn:ogc:def:crs:EPSG:9.8.15:4549', 'http://www.opengis.net/def/crs/EPSG/0/4549']) {
      assert.equal(resolveCrs(name).code, 'EPSG:4549', name);
    }
    for (const name of ['CRS84', 'OGC:CRS84', 'urn:ogc:def:crs:OGC:1.3:CRS84', 'http://www.opengis.net/def/crs/OGC/1.3/CRS84']) {
      assert.equal(resolveCrs(name).code, 'CRS84', name);
    }
    for (const name of ['GCJ02', 'gcj-02', 'GCJ-02']) assert.equal(resolveCrs(name).code, 'GCJ02');
    for (const name of ['BD09', 'bd-09', 'BD09LL']) assert.equal(resolveCrs(name).code, 'BD09');
    assert.equal(resolveCrs('ESRI:102100').code, 'EPSG:3857');
  });

  it('knows the CGCS2000 zone families by their exact numbers', () => {
    const expect = (code: string, lon0: number, x0: number): void => {
      const crs = resolveCrs(code);
      assert.match(crs.proj4!, new RegExp(`\\+lon_0=${lon0} \\+k=1 \\+x_0=${x0} \\+y_0=0 \\+ellps=GRS80 `), code);
      assert.equal(crs.kind, 'projected');
      assert.equal(crs.axisOrder, 'xy');
    };
    expect('EPSG:4491', 75, 13500000);
    expect('EPSG:4501', 135, 23500000);
    expect('EPSG:4502', 75, 500000);
    expect('EPSG:4512', 135, 500000);
    expect('EPSG:4513', 75, 25500000);
    expect('EPSG:4527', 117, 39500000);
    expect('EPSG:4528', 120, 40500000);
    expect('EPSG:4533', 135, 45500000);
    expect('EPSG:4534', 75, 500000);
    expect('EPSG:4548', 117, 500000);
    expect('EPSG:4549', 120, 500000);
    expect('EPSG:4554', 135, 500000);
    assert.equal(resolveCrs('EPSG:26910').proj4, '+proj=utm +zone=10 +datum=NAD83 +units=m +no_defs');
    assert.equal(resolveCrs('4490').kind, 'geographic');
    assert.equal(resolveCrs('4490').axisOrder, 'lonlat');
    assert.equal(resolveCrs('GCJ02').kind, 'china-offset');
  });

  it('rejects unknown names with a message listing what is supported', () => {
    for (const name of ['EPSG:2437', 'EPSG:4555', 'EPSG:4490x', '', 'Beijing 1954', 'EPSG:32661', 'EPSG:26924']) {
      assert.throws(() => resolveCrs(name), (err: Error) => {
        assert.match(err.message, /Unknown or unsupported CRS/);
        assert.match(err.message, /EPSG:4491–4554/);
        assert.match(err.message, /EPSG:4549/);
        return true;
      }, name);
    }
  });

  it('bounds hold the zone and exclude the other zone families', () => {
    const b = resolveCrs('EPSG:4528').bounds!;
    assert.ok(b[0] >= 40_000_000 && b[2] < 41_000_000 && b[1] === 0 && b[3] > 6_000_000);
    const [x, y] = fromCgcs2000(resolveCrs('EPSG:4549'))(...QUANZHOU);
    assert.ok(x > resolveCrs('EPSG:4549').bounds![0] && x < resolveCrs('EPSG:4549').bounds![2] && y > 0);
  });
});

describe('toCgcs2000 / fromCgcs2000', () => {
  it('pass Z through unchanged and return pairs without it', () => {
    const crs = resolveCrs('EPSG:4549');
    const [x, y] = fromCgcs2000(crs)(...QUANZHOU);
    const p = toCgcs2000(crs)(x, y, -2.35);
    assert.equal(p.length, 3);
    assert.equal(p[2], -2.35);
    assert.ok(degToMetres(p[0], p[1], ...QUANZHOU) < 1e-6);
    assert.equal(toCgcs2000(crs)(x, y).length, 2);
    assert.deepEqual(toCgcs2000(resolveCrs('CRS84'))(118.5, 24.5, 3), [118.5, 24.5, 3]);
    assert.deepEqual(toCgcs2000(resolveCrs('EPSG:4326'))(118.5, 24.5), [118.5, 24.5]);
  });

  it('one transformer serves many points (no shared state leaks between calls)', () => {
    const to = toCgcs2000(resolveCrs('EPSG:4528'));
    const from = fromCgcs2000(resolveCrs('EPSG:4528'));
    const projected = FUJIAN.map(([lon, lat]) => from(lon, lat));
    const back = projected.map(([x, y]) => to(x, y));
    back.forEach(([lon, lat], i) => assert.ok(degToMetres(lon, lat, ...FUJIAN[i]!) < 1e-6));
  });

  it('gives NaN, not an exception, for points it cannot transform', () => {
    const [x, y] = toCgcs2000(resolveCrs('EPSG:4549'))(Number.NaN, 2_700_000);
    assert.ok(Number.isNaN(x) && Number.isNaN(y));
    const [a, b] = fromCgcs2000(resolveCrs('EPSG:3857'))(118, 90);
    assert.ok(Number.isNaN(a) && Number.isNaN(b));
  });

  it('GCJ-02 and BD-09 are wired into the registry', () => {
    const [gLon, gLat] = wgs84ToGcj02(...QUANZHOU);
    const [lon, lat] = toCgcs2000(resolveCrs('GCJ-02'))(gLon, gLat);
    assert.ok(degToMetres(lon, lat, ...QUANZHOU) < 0.001);
    const [bLon, bLat] = fromCgcs2000(resolveCrs('BD09'))(...QUANZHOU);
    const [lon2, lat2, z] = toCgcs2000(resolveCrs('BD09'))(bLon, bLat, 12);
    assert.ok(degToMetres(lon2, lat2, ...QUANZHOU) < 0.001);
    assert.equal(z, 12);
  });
});

describe('crsFromPrj', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.prj')).sort();

  it('has ESRI, WKT1 and WKT2 fixtures', () => {
    assert.ok(files.filter((f) => f.startsWith('esri-')).length >= 15);
    assert.ok(files.filter((f) => f.startsWith('wkt1-')).length >= 9);
    assert.ok(files.filter((f) => f.startsWith('wkt2')).length >= 9);
  });

  for (const file of files) {
    // File names say the answer: <flavour>-<EPSG code>[-note].prj, or none-… when there is none.
    const expected = file.startsWith('none-') ? undefined : `EPSG:${/-(\d{4,5})(?:\D|$)/.exec(file)![1]}`;
    it(`${file} → ${expected ?? 'undefined'}`, () => {
      const crs = crsFromPrj(readFileSync(path.join(FIXTURES, file), 'utf8'));
      assert.equal(crs?.code, expected);
    });
  }

  it('recognises the names ArcGIS writes even when the layout differs', () => {
    const esri = (name: string, fe: number, cm: number): string => `PROJCS["${name}",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",`
      + 'DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],'
      + `PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",${fe}],PARAMETER["False_Northing",0.0],`
      + `PARAMETER["Central_Meridian",${cm}],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]`;
    assert.equal(crsFromPrj(esri('CGCS2000_GK_CM_117E', 500000, 117))?.code, 'EPSG:4509');
    assert.equal(crsFromPrj(esri('CGCS2000_3_Degree_GK_CM_117E', 500000, 117))?.code, 'EPSG:4548');
    // No usable name: the parameters alone; 3° and 6° CM 117E are the same projection.
    assert.equal(crsFromPrj(esri('Custom', 500000, 117))?.code, 'EPSG:4548');
    assert.equal(crsFromPrj(esri('CGCS2000_3_Degree_GK_Zone_40', 40500000, 120))?.code, 'EPSG:4528');
    // A zone number that the false easting contradicts.
    assert.equal(crsFromPrj(esri('CGCS2000_3_Degree_GK_Zone_39', 40500000, 120)), undefined);
    // CM 118.5 is no CGCS2000 zone at all.
    assert.equal(crsFromPrj(esri('Custom', 500000, 118.5)), undefined);
  });

  it('returns undefined for garbage rather than throwing', () => {
    for (const text of ['', ' ', 'EPSG:4549', 'PROJCS[', 'PROJCS["x"]]', '[[[]]]', 'GEOGCS["x",DATUM["y"]]',
      '\u0000\u0001\u0002', 'PROJCS["a",'.repeat(2000), `${'A['.repeat(200_000)}1${']'.repeat(200_000)}`, '{"type":"GeographicCRS"}', 'LOCAL_CS["Quanzhou local grid",UNIT["metre",1]]']) {
      assert.equal(crsFromPrj(text), undefined, JSON.stringify(text.slice(0, 40)));
    }
  });

  it('crsFromDeclared takes names and WKT alike', () => {
    assert.equal(crsFromDeclared('urn:ogc:def:crs:OGC:1.3:CRS84')?.code, 'CRS84');
    assert.equal(crsFromDeclared('EPSG:4549')?.code, 'EPSG:4549');
    assert.equal(crsFromDeclared(readFileSync(path.join(FIXTURES, 'esri-4549.prj'), 'utf8'))?.code, 'EPSG:4549');
    assert.equal(crsFromDeclared('EPSG:2437'), undefined);
  });
});

describe('inferCrs', () => {
  const project = (code: string, points = FUJIAN): Array<[number, number]> => {
    const f = fromCgcs2000(resolveCrs(code));
    return points.map(([lon, lat]) => f(lon, lat) as [number, number]);
  };
  /** Quanzhou's urban area: the kind of extent one survey file covers. */
  const QUANZHOU_AREA = grid(118.45, 118.75, 24.75, 25.05, 6, 6);

  it('plain Gauss-Krüger eastings are ambiguous: candidates, no guess', () => {
    for (const code of ['EPSG:4549', 'EPSG:4548']) {
      const r = inferCrs(project(code, QUANZHOU_AREA));
      assert.equal(r.crs, undefined, code);
      assert.ok(r.candidates.includes('EPSG:4548') && r.candidates.includes('EPSG:4549'), r.candidates.join());
      assert.equal(r.candidates[0], code, 'the reading that lands in Quanzhou comes first');
      assert.match(r.reason, /Ambiguous.*--crs EPSG:n/);
      assert.match(r.reason, /EPSG:4549/);
    }
  });

  it('zone-prefixed eastings name their zone exactly', () => {
    // 40 357 547 → 3° zone 40 (CM 120E) → EPSG:4528, not 4549 or 4527.
    assert.equal(inferCrs(project('EPSG:4528', QUANZHOU_AREA)).crs?.code, 'EPSG:4528');
    assert.equal(inferCrs(project('EPSG:4527', grid(116.0, 118.4, 24, 28, 5, 5))).crs?.code, 'EPSG:4527');
    // 6° zone 20 (CM 117E) → EPSG:4498.
    assert.equal(inferCrs(project('EPSG:4498', QUANZHOU_AREA)).crs?.code, 'EPSG:4498');
    const r = inferCrs([[40_357_547.5, 2_756_823.0]]);
    assert.equal(r.crs?.code, 'EPSG:4528');
    assert.match(r.reason, /zone 40/);
  });

  it('lon/lat is EPSG:4490, wherever it is', () => {
    assert.equal(inferCrs(FUJIAN).crs?.code, 'EPSG:4490');
    assert.equal(inferCrs([[-123.37, 48.43], [-123.1, 49.28]]).crs?.code, 'EPSG:4490');
  });

  it('Web Mercator over China is EPSG:3857, not a far-west 6° zone', () => {
    assert.equal(inferCrs(project('EPSG:3857')).crs?.code, 'EPSG:3857');
    for (const city of [[116.4, 39.9], [121.47, 31.23], [126.6, 45.75], [87.6, 43.8], [102.7, 25.0]] as Array<[number, number]>) {
      assert.equal(inferCrs(project('EPSG:3857', [city])).crs?.code, 'EPSG:3857', city.join());
    }
  });

  it('swapped columns (northing first, as Chinese surveyors write X) are reported, not guessed', () => {
    const r = inferCrs(project('EPSG:4528', QUANZHOU_AREA).map(([x, y]) => [y, x]));
    assert.equal(r.crs, undefined);
    assert.deepEqual(r.candidates, ['EPSG:4528']);
    assert.match(r.reason, /swapped/);
    const ll = inferCrs(QUANZHOU_AREA.map(([lon, lat]) => [lat, lon]));
    assert.equal(ll.crs, undefined);
    assert.match(ll.reason, /swapped/);
  });

  it('nonsense gives no CRS and says why', () => {
    const r = inferCrs([[1, 2], [5e6, 3e7], [-1e9, 5], [40_357_547, 2_756_823], [13_201_378, 2_864_694]]);
    assert.equal(r.crs, undefined);
    assert.deepEqual(r.candidates, []);
    assert.match(r.reason, /fit no supported CRS/);
    assert.match(inferCrs([]).reason, /No coordinates/);
    assert.match(inferCrs([[0, 0], [Number.NaN, 1]]).reason, /No coordinates/);
    // Mixed zone prefixes are not one CRS.
    assert.equal(inferCrs([...project('EPSG:4528', QUANZHOU_AREA), ...project('EPSG:4527', QUANZHOU_AREA)]).crs, undefined);
  });

  it('tolerates a stray point or two in a large sample', () => {
    const pts = project('EPSG:4528');
    pts.push([0, 0], [123, 456]);
    assert.equal(inferCrs(pts).crs?.code, 'EPSG:4528');
  });

  it('the China outline holds Chinese cities and excludes the neighbours readings could land in', () => {
    for (const [lon, lat] of [[118.59, 24.91], [116.4, 39.9], [76.0, 39.47], [91.1, 29.65], [122.5, 52.97], [109.5, 18.25],
      [121.5, 25.0], [80.1, 32.5], [134.3, 48.36], [112.33, 16.83]] as Array<[number, number]>) {
      assert.ok(inChinaOutline(lon, lat), `${lon},${lat} should be inside`);
    }
    for (const [lon, lat] of [[77.2, 28.6], [85.3, 27.7], [73.0, 33.7], [106.9, 47.9], [76.9, 43.2], [127.0, 37.5],
      [105.8, 21.0], [96.1, 21.97], [72.0, 25.8], [139.7, 35.7]] as Array<[number, number]>) {
      assert.ok(!inChinaOutline(lon, lat), `${lon},${lat} should be outside`);
    }
  });
});

describe('GCJ-02 and BD-09', () => {
  // Reference values from the README of wandergis/coordtransform, the implementation most
  // Chinese web code copies (its inverses are the one-step approximations).
  it('match the published forward values exactly', () => {
    const close = (a: [number, number], b: [number, number]): void => {
      assert.ok(Math.abs(a[0] - b[0]) < 1e-12 && Math.abs(a[1] - b[1]) < 1e-12, `${a} vs ${b}`);
    };
    close(wgs84ToGcj02(116.404, 39.915), [116.41024449916938, 39.91640428150164]);
    close(gcj02ToBd09(116.404, 39.915), [116.41036949371029, 39.92133699351021]);
    close(wgs84ToBd09(116.404, 39.915), [116.41662724378733, 39.922699552216216]);
  });

  it('inverses are exact where the published one-step inverses are a few centimetres off', () => {
    const g = gcj02ToWgs84(116.404, 39.915);
    const b = bd09ToGcj02(116.404, 39.915);
    // Published one-step values: within 10 cm of ours, but not equal.
    assert.ok(degToMetres(...g, 116.39775550083061, 39.91359571849836) < 0.1);
    assert.ok(degToMetres(...b, 116.39762729119315, 39.90865673957631) < 0.1);
    assert.ok(degToMetres(...wgs84ToGcj02(...g), 116.404, 39.915) < 1e-4);
    assert.ok(degToMetres(...gcj02ToBd09(...b), 116.404, 39.915) < 1e-4);
  });

  it('round trips within 1 mm over all of China', () => {
    let worstGcj = 0;
    let worstBd = 0;
    for (const [lon, lat] of grid(73.7, 134.9, 18.2, 53.4, 60, 40)) {
      worstGcj = Math.max(worstGcj, degToMetres(...gcj02ToWgs84(...wgs84ToGcj02(lon, lat)), lon, lat));
      worstBd = Math.max(worstBd, degToMetres(...bd09ToWgs84(...wgs84ToBd09(lon, lat)), lon, lat));
      const [gLon, gLat] = wgs84ToGcj02(lon, lat);
      worstBd = Math.max(worstBd, degToMetres(...bd09ToGcj02(...gcj02ToBd09(gLon, gLat)), gLon, gLat));
    }
    assert.ok(worstGcj < 0.001, `GCJ-02 round trip ${worstGcj} m`);
    assert.ok(worstBd < 0.001, `BD-09 round trip ${worstBd} m`);
  });

  it('the offset is real in China (hundreds of metres) and absent outside it', () => {
    const d = degToMetres(...wgs84ToGcj02(...QUANZHOU), ...QUANZHOU);
    assert.ok(d > 100 && d < 1000, `${d} m`);
    for (const p of [[-123.37, 48.43], [139.7, 35.7], [2.35, 48.85], [71.9, 30], [100, 0.5], [100, 56]] as Array<[number, number]>) {
      assert.deepEqual(wgs84ToGcj02(...p), p);
      assert.deepEqual(gcj02ToWgs84(...p), p);
      assert.deepEqual(wgs84ToBd09(...p), p);
      assert.deepEqual(bd09ToWgs84(...p), p);
    }
  });
});
