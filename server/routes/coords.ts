import type Router from '@koa/router';
import { CoordsInputError, MAX_POINTS, parsePointList, readPoints, transformCrs, transformPoints } from '../../analysis/coords.ts';
import { SUPPORTED_CRS_SUMMARY } from '../../data-import/crs/index.ts';
import { AppError, badParameter } from '../errors.ts';
import type { Ctx, RequestState, Services } from '../context.ts';
import { readJsonObject } from '../body.ts';
import { apiKeyParam, readParams, type ParamSpec } from '../params.ts';

/** 100,000 points with full double precision are about 4 MB of JSON. */
const BODY_LIMIT = 8 * 1024 * 1024;

const crsName = <N extends string>(name: N, description: string): ParamSpec<string, N> => ({
  name, description: `${description} One of ${SUPPORTED_CRS_SUMMARY}.`, schema: { type: 'string' }, parse: (raw) => raw,
});

export const COORDS_PARAMS = [
  crsName('from', 'CRS of the points given (required).'),
  crsName('to', 'CRS to convert them to (required).'),
  {
    name: 'points',
    description: `Points as x,y (or x,y,z) separated by ";", easting or longitude first (required). The request line and headers may be 64 KiB at most (server/app.ts); POST longer lists (up to ${MAX_POINTS}).`,
    schema: { type: 'string' },
    parse: (raw: string) => raw,
  } as ParamSpec<string, 'points'>,
  apiKeyParam,
] as const;

export const COORDS_POST_PARAMS = [apiKeyParam] as const;

function convert(from: unknown, to: unknown, points: () => unknown) {
  try {
    const fromCrs = transformCrs(from, 'from');
    const toCrs = transformCrs(to, 'to');
    return { from: fromCrs.code, to: toCrs.code, points: transformPoints(fromCrs, toCrs, readPoints(points(), fromCrs)) };
  } catch (err) {
    if (err instanceof CoordsInputError) throw new AppError(400, 'InvalidParameterValue', err.message, { parameter: err.parameter, ...(err.value === undefined ? {} : { value: err.value }) });
    throw err;
  }
}

export function registerCoordsRoutes(router: Router<RequestState>, _services: Services): void {
  router.get('/coords/transform', async (ctx: Ctx) => {
    const q = readParams(ctx.query, COORDS_PARAMS);
    for (const name of ['from', 'to', 'points'] as const) if (q[name] === undefined) throw badParameter(name, 'required');
    ctx.body = convert(q.from, q.to, () => parsePointList(q.points!));
  });

  router.post('/coords/transform', async (ctx: Ctx) => {
    readParams(ctx.query, COORDS_POST_PARAMS);
    const { from, to, points } = await readJsonObject(ctx, BODY_LIMIT, ['from', 'to', 'points']);
    ctx.body = convert(from, to, () => points);
  });
}
