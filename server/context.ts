import type { Logger } from 'pino';
import type { ParameterizedContext } from 'koa';
import type { RouterContext } from '@koa/router';
import type { Config } from './config.ts';
import type { Store } from '../store/db.ts';
import type { Principal } from '../store/access.ts';
import type { ChangeFeed } from '../store/changes.ts';
import type { LayerCatalog } from '../store/layer-catalog.ts';
import type { TileService } from '../tiles/tile-service.ts';
import type { AssetService } from '../position/asset-service.ts';
import type { PositionFuser } from '../position/fuse.ts';
import type { SwappableRadioLookup } from './services.ts';
import type { GeocoderService } from '../geocoder/geocoder-service.ts';

/** What every route gets: passed in once, never read from globals. */
export interface Services {
  config: Readonly<Config>;
  store: Store;
  log: Logger;
  /** Commits announced by the database (NOTIFY), for everything below that caches. */
  changes: ChangeFeed;
  /** The layer catalog in memory, for paths that cannot afford a query per request. */
  catalog: LayerCatalog;
  tiles: TileService;
  /** Nearest-asset indexes of the pipeline and building layers (position/asset-service.ts). */
  assets: AssetService;
  /** Cell towers and Wi-Fi access points, for positions without GNSS. */
  radio: SwappableRadioLookup;
  /** Per-device position filters (in memory, with a TTL). */
  fuser: PositionFuser;
  /** The standard address geocoder, rebuilt when the address register changes. */
  geocoder: GeocoderService;
}

export interface RequestState {
  requestId: string;
  principal: Principal;
}

export type Ctx = ParameterizedContext<RequestState> & RouterContext<RequestState>;

/** Absolute base URL for links: the configured public URL, else the request's own origin. */
export function baseUrl(ctx: ParameterizedContext<RequestState>, services: Services): string {
  return services.config.publicUrl ?? `${ctx.protocol}://${ctx.host}`;
}
