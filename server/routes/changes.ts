import type Router from '@koa/router';
import { canRead, recordAudit } from '../../store/access.ts';
import { featureChanges } from '../../store/feature-changes.ts';
import type { Layer } from '../../store/layers.ts';
import { badParameter, notFound } from '../errors.ts';
import type { Ctx, RequestState, Services } from '../context.ts';
import { apiKeyParam, formatParam, integerParam, readParams, timeParam } from '../params.ts';

const MAX_CHANGES = 10_000;

export const CHANGES_PARAMS = [
  timeParam('from', 'The earlier instant (required): the layer as it was then is compared with the layer at `to`.', false),
  timeParam('to', 'The later instant (default: now). Changes in (from, to] are reported.', false),
  integerParam('limit', `Changed features per page, 1 to ${MAX_CHANGES} (larger values are served as ${MAX_CHANGES}); default 1000.`, 1, MAX_CHANGES, true),
  integerParam('offset', 'Changed features to skip (in feature id order).', 0, Number.MAX_SAFE_INTEGER, false),
  formatParam, apiKeyParam,
] as const;

/** As for the collection routes: a layer the caller may not read is not there for them. */
export function readableLayer(ctx: Ctx, services: Services, id: string, parameter = 'collectionId'): Layer {
  const layer = services.catalog.get(id);
  if (!layer || !canRead(ctx.state.principal, layer.accessClass, layer.id)) {
    throw notFound(`collection "${id}" not found`, { parameter, value: id });
  }
  return layer;
}

export function registerChangeRoutes(router: Router<RequestState>, services: Services): void {
  router.get('/collections/:collectionId/changes', async (ctx: Ctx) => {
    const p = readParams(ctx.query, CHANGES_PARAMS);
    const layer = readableLayer(ctx, services, ctx.params.collectionId!);
    if (p.from?.kind !== 'instant') throw badParameter('from', 'required: the earlier instant, e.g. 2020-01-01T00:00:00Z');
    const from = p.from.at;
    const to = p.to?.kind === 'instant' ? p.to.at : new Date();
    if (!(from < to)) throw badParameter('from', `must be before to (${to.toISOString()})`, ctx.query.from);
    const limit = p.limit ?? 1000;
    const offset = p.offset ?? 0;
    const page = await featureChanges(services.store.db, layer.id, { from, to, limit, offset });
    if (layer.accessClass === 'restricted') {
      await recordAudit(services.store.db, {
        keyId: ctx.state.principal.keyId, route: ctx.routerPath ?? ctx.path, layerId: layer.id,
        featureIds: page.featureIds, query: { ...ctx.query, api_key: undefined },
      });
    }
    ctx.set('Cache-Control', layer.accessClass === 'public' ? 'public, no-cache' : 'private, no-cache');
    ctx.type = 'application/geo+json';
    ctx.body = `{"type":"FeatureCollection","collection":${JSON.stringify(layer.id)},"from":${JSON.stringify(from.toISOString())},`
      + `"to":${JSON.stringify(to.toISOString())},"counts":${JSON.stringify(page.counts)},"numberMatched":${page.numberMatched},`
      + `"numberReturned":${page.numberReturned},"features":${page.featuresJson}}`;
  });
}
