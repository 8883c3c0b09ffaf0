import type Router from '@koa/router';
import { recordAudit } from '../../store/access.ts';
import {
  ADMIN_LAYER, cellsSpanned, GRID_SRID, layerTotals, MAX_CELL_M, MAX_CELLS, MIN_CELL_M, STATS_BY, statsByArea, statsByGrid, type StatsBy,
} from '../../analysis/stats.ts';
import { badParameter, notFound } from '../errors.ts';
import type { Ctx, RequestState, Services } from '../context.ts';
import { apiKeyParam, formatParam, readParams, timeParam, type ParamSpec } from '../params.ts';
import { searchedLayers } from './assets.ts';

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export const STATS_PARAMS = [
  { name: 'layer', description: 'The layer to count and measure (required).', schema: { type: 'string' }, parse: (raw: string) => raw } as ParamSpec<string, 'layer'>,
  {
    name: 'by',
    description: 'district, town or community (the demo city\'s districts, towns and communities layers), or grid (square cells of `cell` metres in EPSG:4549, aligned to multiples of the cell). Required.',
    schema: { type: 'string', enum: [...STATS_BY] },
    parse(raw: string) {
      if (!(STATS_BY as readonly string[]).includes(raw)) throw badParameter('by', `must be one of ${STATS_BY.join(', ')}`, raw);
      return raw as StatsBy;
    },
  } as ParamSpec<StatsBy, 'by'>,
  {
    name: 'cell',
    description: `Grid cell size in metres, ${MIN_CELL_M} to ${MAX_CELL_M} (required with by=grid; at most ${MAX_CELLS} cells over the layer's extent).`,
    schema: { type: 'number', minimum: MIN_CELL_M, maximum: MAX_CELL_M },
    parse(raw: string) {
      const n = NUMBER.test(raw.trim()) ? Number(raw) : NaN;
      if (!(n >= MIN_CELL_M && n <= MAX_CELL_M)) throw badParameter('cell', `must be a number of metres in [${MIN_CELL_M}, ${MAX_CELL_M}]`, raw);
      return n;
    },
  } as ParamSpec<number, 'cell'>,
  timeParam('datetime', 'The layer and the areas as of this instant (default: now).', false),
  formatParam, apiKeyParam,
] as const;

export function registerStatsRoutes(router: Router<RequestState>, services: Services): void {
  router.get('/analysis/stats', async (ctx: Ctx) => {
    const p = readParams(ctx.query, STATS_PARAMS);
    if (p.layer === undefined) throw badParameter('layer', 'required: the id of the layer to count');
    if (p.by === undefined) throw badParameter('by', `required: one of ${STATS_BY.join(', ')}`);
    if (!services.catalog.get(p.layer)) throw notFound(`no layer "${p.layer}"`, { parameter: 'layer', value: p.layer });
    const [layer] = searchedLayers(ctx, services, [p.layer]);
    const at = p.datetime?.kind === 'instant' ? p.datetime.at : null;
    const head = { layer: layer!.id, by: p.by, datetime: at?.toISOString() ?? null };

    if (p.by === 'grid') {
      if (p.cell === undefined) throw badParameter('cell', 'required with by=grid: the cell size in metres');
      if (ctx.query.cell !== undefined && layer!.extent && cellsSpanned(layer!.extent, p.cell) > MAX_CELLS) {
        throw badParameter('cell', `the layer's extent spans more than ${MAX_CELLS} cells of ${p.cell} m; choose a larger cell`, ctx.query.cell);
      }
      const [cells, total] = await Promise.all([statsByGrid(services.store.db, layer!, p.cell, at), layerTotals(services.store.db, layer!, at)]);
      await audit(ctx, services, layer!.id, layer!.accessClass);
      ctx.body = { ...head, cell: p.cell, gridCrs: `EPSG:${GRID_SRID}`, total, numberReturned: cells.length, cells };
      return;
    }
    if (p.cell !== undefined) throw badParameter('cell', 'only applies to by=grid');
    const areasId = ADMIN_LAYER[p.by];
    if (!services.catalog.get(areasId)) throw notFound(`this store has no ${areasId} layer to group by`, { parameter: 'by', value: p.by });
    const [areas] = searchedLayers(ctx, services, [areasId]);
    const [groups, total] = await Promise.all([statsByArea(services.store.db, layer!, areas!, at), layerTotals(services.store.db, layer!, at)]);
    await audit(ctx, services, layer!.id, layer!.accessClass);
    ctx.body = { ...head, areas: areas!.id, total, numberReturned: groups.length, groups };
  });
}

async function audit(ctx: Ctx, services: Services, layerId: string, accessClass: string) {
  if (accessClass !== 'restricted') return;
  await recordAudit(services.store.db, { keyId: ctx.state.principal.keyId, route: ctx.path, layerId, query: { ...ctx.query, api_key: undefined } });
}
