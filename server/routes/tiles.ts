import type Router from '@koa/router';
import { canRead, recordAudit } from '../../store/access.ts';
import type { Layer } from '../../store/layers.ts';
import { TileCoordinateError, validateTile } from '../../tiles/tile-math.ts';
import { tileJson } from '../../tiles/tile-service.ts';
import { AppError, badParameter, notFound } from '../errors.ts';
import { baseUrl, type Ctx, type RequestState, type Services } from '../context.ts';
import { apiKeyParam, propertiesParam, readParams, timeParam } from '../params.ts';

const MVT = 'application/vnd.mapbox-vector-tile';
const MAX_COMPOSITE = 32;

export const TILE_PARAMS = [
  timeParam('datetime', 'The city as of this instant (default: now). Tiles of the same instant, or of instants between the same changes, are the same tile.', false),
  { ...propertiesParam, description: 'Comma-separated attributes to include in every layer (feature_id is always included); names no requested layer has are refused.' },
  apiKeyParam,
] as const;
export const TILEJSON_PARAMS = TILE_PARAMS;

/**
 * The layers named in the path, in the order named. Unknown names are a 404 naming them; a layer
 * the caller is not cleared for makes the whole request a 401 (no key) or 403 (a key without the
 * clearance), before anything of any layer is read.
 */
function requestedLayers(ctx: Ctx, services: Services, names: string): Layer[] {
  const ids = names.split(',');
  if (ids.length > MAX_COMPOSITE) throw badParameter('layers', `at most ${MAX_COMPOSITE} layers in one tile`, names);
  if (new Set(ids).size !== ids.length) throw badParameter('layers', 'a layer is named twice', names);
  const layers = ids.map((id) => services.catalog.get(id));
  const unknown = ids.filter((_, i) => !layers[i]);
  if (unknown.length) throw notFound(`no layer ${unknown.map((u) => `"${u}"`).join(', ')}`, { parameter: 'layers', value: unknown });
  const refused = (layers as Layer[]).filter((l) => !canRead(ctx.state.principal, l.accessClass, l.id));
  if (refused.length) {
    if (ctx.state.principal.keyId === null) throw new AppError(401, 'ApiKeyRequired', 'a layer of this request needs an API key with clearance; send X-API-Key or api_key=');
    throw new AppError(403, 'NotCleared', 'the API key is not cleared for a layer of this request; nothing was sent');
  }
  return layers as Layer[];
}

function checkProperties(layers: readonly Layer[], properties: readonly string[] | undefined): void {
  if (!properties) return;
  const known = new Set(['feature_id', ...layers.flatMap((l) => Object.keys(l.attributeSchema))]);
  const unknown = properties.filter((p) => !known.has(p));
  if (unknown.length) throw badParameter('properties', `no requested layer has ${unknown.join(', ')}`, properties.join(','));
}

export function registerTileRoutes(router: Router<RequestState>, services: Services): void {
  router.get('/tiles/:layers/:z/:x/:y.mvt', async (ctx: Ctx) => {
    const q = readParams(ctx.query, TILE_PARAMS);
    const layers = requestedLayers(ctx, services, ctx.params.layers!);
    checkProperties(layers, q.properties);
    let tile;
    try {
      tile = validateTile(ctx.params.z!, ctx.params.x!, ctx.params.y!);
    } catch (err) {
      if (err instanceof TileCoordinateError) throw badParameter('z/x/y', err.message, `${ctx.params.z}/${ctx.params.x}/${ctx.params.y}`);
      throw err;
    }
    const maxZoom = Math.max(...layers.map((l) => services.tiles.config(l).maxZoom));
    if (tile.z > maxZoom) throw badParameter('z', `beyond the maximum zoom ${maxZoom} of ${layers.map((l) => l.id).join(',')}; clients overzoom from z${maxZoom}`, tile.z);
    const at = q.datetime?.kind === 'instant' ? q.datetime.at : new Date();
    const encoded = await services.tiles.tile(layers, tile.z, tile.x, tile.y, { at, properties: q.properties });

    const restricted = layers.filter((l) => l.accessClass === 'restricted');
    for (const layer of restricted) {
      await recordAudit(services.store.db, {
        keyId: ctx.state.principal.keyId, route: '/tiles', layerId: layer.id, bbox: null, featureIds: null,
        query: { z: tile.z, x: tile.x, y: tile.y, datetime: q.datetime ? at.toISOString() : undefined },
      });
    }
    // One ETag per representation (RFC 9110 8.8.3): the gzipped tile is other bytes.
    const gzip = encoded.bytes.byteLength > 0 && ctx.acceptsEncodings('gzip', 'identity') === 'gzip';
    const etag = gzip ? `${encoded.etag.slice(0, -1)}-gz"` : encoded.etag;
    ctx.set('ETag', etag);
    // Revalidated on every use: the ETag changes the moment a layer changes, and a 304 is cheap.
    ctx.set('Cache-Control', layers.every((l) => l.accessClass === 'public') ? 'public, no-cache' : 'private, no-cache');
    ctx.set('Vary', 'Accept-Encoding, X-API-Key, Authorization');
    ctx.set('X-Tile-Features', Object.values(encoded.featureCounts).reduce((a, b) => a + b, 0).toString());
    if (encoded.degraded) ctx.set('X-Tile-Degraded', 'simplified or thinned to stay within the size budget');
    if (ctx.get('If-None-Match').split(',').map((s) => s.trim()).includes(etag)) {
      ctx.status = 304;
      return;
    }
    if (encoded.bytes.byteLength === 0) {
      // No feature of any layer here: 204, as Martin and pg_tileserv answer, so clients draw nothing.
      ctx.status = 204;
      return;
    }
    ctx.type = MVT;
    const body = gzip ? encoded.gzip : encoded.bytes;
    if (gzip) ctx.set('Content-Encoding', 'gzip');
    ctx.body = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  });

  router.get('/tiles/:layers.json', async (ctx: Ctx) => {
    const q = readParams(ctx.query, TILEJSON_PARAMS);
    const layers = requestedLayers(ctx, services, ctx.params.layers!);
    checkProperties(layers, q.properties);
    const indexes = await Promise.all(layers.map((l) => services.tiles.index(l)));
    const query = new URLSearchParams();
    if (q.datetime?.kind === 'instant') query.set('datetime', q.datetime.at.toISOString());
    if (q.properties) query.set('properties', q.properties.join(','));
    const qs = query.toString();
    const url = `${baseUrl(ctx, services)}/tiles/${layers.map((l) => encodeURIComponent(l.id)).join(',')}/{z}/{x}/{y}.mvt${qs ? `?${qs}` : ''}`;
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = tileJson(layers, layers.map((l) => services.tiles.config(l)), indexes, url);
  });
}
