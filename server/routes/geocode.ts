import type Router from '@koa/router';
import { PassThrough } from 'node:stream';
import { parse as parseCsv } from 'csv-parse';
import iconv from 'iconv-lite';
import type { Geocoder, GeocodeAnswer } from '../../geocoder/geocoder.ts';
import { lonLatFrom, lonLatIn, type Datum } from '../../position/datum.ts';
import { AppError, badParameter } from '../errors.ts';
import type { Ctx, RequestState, Services } from '../context.ts';
import { apiKeyParam, crsParam, integerParam, numberParam, readParams, type ParamSpec } from '../params.ts';
import { readBody, readJson } from '../body.ts';

/** An address is a line of text; anything longer is not an address and is refused before it is parsed. */
export const MAX_ADDRESS_CHARS = 200;
export const MAX_BATCH_JSON = 10_000;

function textParam<N extends string>(name: N, description: string, max = MAX_ADDRESS_CHARS): ParamSpec<string, N> {
  return {
    name,
    description,
    schema: { type: 'string', maxLength: max },
    parse(raw) {
      const s = raw.trim();
      if (s === '') throw badParameter(name, 'is empty', raw);
      if ([...s].length > max) throw badParameter(name, `is longer than ${max} characters; send one address, not a document`, `${s.slice(0, 40)}…`);
      return s;
    },
  };
}

export const GEOCODE_PARAMS = [
  textParam('address', 'The address to find (required), as people write it: 泉州市鲤城区中山路32号, 中山路三十二号附近, 鯉城區中山路32號 …'),
  textParam('city', 'A city or district (name or 6-digit division code) to read an address in when it names none, e.g. 泉州 or 350502.', 40),
  integerParam('limit', 'How many results at most, best first: 1 to 20; default 5.', 1, 20, false),
  crsParam,
  apiKeyParam,
] as const;
export const PARSE_PARAMS = [textParam('address', 'The address to split into components (required).'), apiKeyParam] as const;
export const REVERSE_PARAMS = [
  numberParam('lon', 'Longitude (required), in crs.', -180, 180),
  numberParam('lat', 'Latitude (required), in crs.', -90, 90),
  numberParam('radius', 'Metres to look for addresses and roads within (1 to 5,000; default 1,000).', 1, 5_000, ' metres'),
  crsParam,
  apiKeyParam,
] as const;
export const SUGGEST_PARAMS = [
  textParam('q', 'What has been typed so far (required): 中山路3, 笋浯, 鲤城区江南 …', 60),
  integerParam('limit', 'How many suggestions: 1 to 50; default 10.', 1, 50, false),
  crsParam,
  apiKeyParam,
] as const;
export const BATCH_PARAMS = [
  textParam('column', 'CSV upload: the column holding the address (required for CSV; e.g. 经营地址).', 100),
  textParam('city', 'As for GET /geocode: the city to read addresses in when they name none.', 40),
  crsParam,
  apiKeyParam,
] as const;

const round = (x: number) => Math.round(x * 1e8) / 1e8;

/** A result's point in `crs` (an area without an outline has none). */
function inCrs<R extends { lon: number | null; lat: number | null }>(r: R, crs: Datum): R {
  if (r.lon === null || r.lat === null) return r;
  const [lon, lat] = lonLatIn(crs, r.lon, r.lat).map(round) as [number, number];
  return { ...r, lon, lat };
}

function answerJson(answer: GeocodeAnswer, crs: Datum) {
  return { ...answer, crs, results: answer.results.map((r) => inCrs(r, crs)) };
}

/** The columns a CSV row gets: where the address was placed and how sure the match is. */
const CSV_COLUMNS = ['lon', 'lat', 'match_level', 'match_score', 'std_address', 'std_address_code'] as const;

function csvCells(answer: GeocodeAnswer | null, crs: Datum): string[] {
  const best = answer?.results[0];
  if (!best) return ['', '', '', '', '', ''];
  const r = inCrs(best, crs);
  return [r.lon === null ? '' : String(r.lon), r.lat === null ? '' : String(r.lat), r.level, String(r.score), r.address, r.code ?? ''];
}

/** RFC 4180: quote a field holding a comma, quote or line break, doubling its quotes. */
function csvLine(cells: readonly string[]): string {
  return `${cells.map((c) => (/[",\r\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(',')}\r\n`;
}

function geocodeOne(geocoder: Geocoder, text: unknown, city: string | undefined): GeocodeAnswer | { error: string } {
  if (typeof text !== 'string' || text.trim() === '') return { error: 'empty address' };
  if ([...text].length > MAX_ADDRESS_CHARS) return { error: `longer than ${MAX_ADDRESS_CHARS} characters` };
  return geocoder.geocode(text, { city, limit: 1 });
}

export function registerGeocodeRoutes(router: Router<RequestState>, services: Services): void {
  router.get('/geocode', async (ctx: Ctx) => {
    const q = readParams(ctx.query, GEOCODE_PARAMS);
    if (q.address === undefined) throw badParameter('address', 'required: the address to find');
    const geocoder = await services.geocoder.get();
    const answer = geocoder.geocode(q.address, { city: q.city, limit: q.limit ?? 5 });
    ctx.set('Cache-Control', 'public, max-age=60');
    ctx.body = answerJson(answer, q.crs ?? 'CRS84');
  });

  router.get('/geocode/parse', async (ctx: Ctx) => {
    const q = readParams(ctx.query, PARSE_PARAMS);
    if (q.address === undefined) throw badParameter('address', 'required: the address to parse');
    const geocoder = await services.geocoder.get();
    const p = geocoder.parse(q.address);
    ctx.body = {
      input: p.input,
      normalised: p.normalised,
      components: p.components,
      division: p.admin ? { code: p.admin.code, name: p.admin.name, level: p.admin.level } : null,
      divisionAlternatives: p.adminAlternatives.map((n) => ({ code: n.code, name: n.name, level: n.level })),
      written: [...p.written],
      fuzzy: [p.road, p.crossRoad, p.poi].filter((x) => x?.fuzzy).map((x) => x!.name),
      unparsed: p.unparsed,
    };
  });

  router.get('/reverse', async (ctx: Ctx) => {
    const q = readParams(ctx.query, REVERSE_PARAMS);
    if (q.lon === undefined) throw badParameter('lon', 'required: the longitude of the point');
    if (q.lat === undefined) throw badParameter('lat', 'required: the latitude of the point');
    const crs = q.crs ?? 'CRS84';
    const [lon, lat] = lonLatFrom(crs, q.lon, q.lat);
    const answer = (await services.geocoder.get()).reverse(lon, lat, { radius: q.radius });
    ctx.body = {
      crs, point: [q.lon, q.lat],
      ...answer,
      address: answer.address ? inCrs(answer.address, crs) : null,
      road: answer.road ? inCrs(answer.road, crs) : null,
    };
  });

  router.get('/suggest', async (ctx: Ctx) => {
    const q = readParams(ctx.query, SUGGEST_PARAMS);
    if (q.q === undefined) throw badParameter('q', 'required: what has been typed');
    const crs = q.crs ?? 'CRS84';
    const suggestions = (await services.geocoder.get()).suggest(q.q, q.limit ?? 10);
    ctx.set('Cache-Control', 'public, max-age=60');
    ctx.body = { q: q.q, crs, suggestions: suggestions.map((s) => inCrs(s, crs)) };
  });

  router.post('/geocode/batch', async (ctx: Ctx) => {
    const q = readParams(ctx.query, BATCH_PARAMS);
    const crs = q.crs ?? 'CRS84';
    const type = (ctx.get('Content-Type').split(';')[0] ?? '').trim().toLowerCase();
    const geocoder = await services.geocoder.get();
    if (type === 'application/json') {
      const body = await readJson(ctx, services.config.uploadLimitBytes);
      if (!Array.isArray(body)) throw new AppError(400, 'InvalidBody', 'send a JSON array of addresses (strings, or objects with "address" and an optional "id")');
      if (body.length > MAX_BATCH_JSON) throw new AppError(400, 'InvalidBody', `at most ${MAX_BATCH_JSON} addresses per JSON batch; upload a CSV for more`, { count: body.length });
      ctx.body = {
        crs,
        results: body.map((item: unknown, i) => {
          const isObject = item !== null && typeof item === 'object';
          const text = isObject ? (item as Record<string, unknown>).address : item;
          const id = isObject ? (item as Record<string, unknown>).id ?? i : i;
          const answer = geocodeOne(geocoder, text, q.city);
          if ('error' in answer) return { id, address: text ?? null, error: answer.error, result: null };
          return { id, address: text, result: answer.results[0] ? inCrs(answer.results[0], crs) : null, alternatives: answer.results.length };
        }),
      };
      return;
    }
    if (type !== 'text/csv') throw new AppError(415, 'UnsupportedMediaType', 'send application/json (an array of addresses) or text/csv (with ?column= naming the address column)');
    if (q.column === undefined) throw badParameter('column', 'required for a CSV upload: the name of the column holding the address');
    const raw = await readBody(ctx, { limit: services.config.uploadLimitBytes, types: ['text/csv'] });
    await streamCsv(ctx, services, geocoder, raw, q.column, q.city, crs);
  });
}

/**
 * The uploaded CSV back, row by row, with the match columns appended, in the upload's encoding
 * (a GBK export stays GBK for Excel). The response streams as rows are matched; the
 * `X-Total-Rows` header and a progress line in the log every 10,000 rows say how far it is.
 */
async function streamCsv(ctx: Ctx, services: Services, geocoder: Geocoder, raw: Buffer, column: string, city: string | undefined, crs: Datum): Promise<void> {
  const utf8 = raw.toString('utf8');
  const encoding = utf8.includes('\uFFFD') ? 'gbk' : 'utf8';
  const text = encoding === 'utf8' ? utf8.replace(/^\uFEFF/, '') : iconv.decode(raw, 'gbk');
  const records = await new Promise<string[][]>((resolve, reject) => {
    parseCsv(text, { relax_column_count: true, skip_empty_lines: true, bom: true }, (err, rows: string[][]) => (err ? reject(err) : resolve(rows)));
  }).catch((err: unknown): never => { throw new AppError(400, 'InvalidCsv', `the CSV cannot be read: ${(err as Error).message}`); });
  if (records.length === 0) throw new AppError(400, 'InvalidCsv', 'the CSV is empty');
  const header = records[0]!;
  const at = header.findIndex((h) => h.trim() === column);
  if (at < 0) throw badParameter('column', `no column "${column}"; the columns are ${header.join(', ')}`, column);
  const out = new PassThrough();
  ctx.status = 200;
  ctx.type = `text/csv; charset=${encoding === 'gbk' ? 'gbk' : 'utf-8'}`;
  ctx.set('X-Total-Rows', String(records.length - 1));
  ctx.body = out;
  const write = (cells: string[]) => out.write(encoding === 'gbk' ? iconv.encode(csvLine(cells), 'gbk') : csvLine(cells));
  write([...header, ...CSV_COLUMNS]);
  // Rows are matched in slices so that a large upload streams out and does not hold the event loop.
  const SLICE = 500;
  const next = (from: number) => {
    for (let i = from; i < Math.min(records.length, from + SLICE); i++) {
      const row = records[i]!;
      const answer = geocodeOne(geocoder, row[at], city);
      const cells = 'error' in answer ? csvCells(null, crs) : csvCells(answer, crs);
      write([...row, ...cells]);
      if (i % 10_000 === 0) services.log.info({ requestId: ctx.state.requestId, rows: i, of: records.length - 1 }, 'geocoding a CSV');
    }
    if (from + SLICE < records.length) setImmediate(() => next(from + SLICE));
    else out.end();
  };
  next(1);
}
