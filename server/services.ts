import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { Store } from '../store/db.ts';
import { ChangeFeed } from '../store/changes.ts';
import { LayerCatalog } from '../store/layer-catalog.ts';
import { TileService } from '../tiles/tile-service.ts';
import { purgeTracks } from '../store/tracks.ts';
import type { Services } from './context.ts';

/** Opens what the routes share, wired to the change feed; `close` releases it (not the store). */
export async function openServices(config: Readonly<Config>, store: Store, log: Logger): Promise<Services & { close(): Promise<void> }> {
  const changes = await ChangeFeed.open(store);
  const catalog = await LayerCatalog.open(store.db, changes);
  const tiles = new TileService(store.db, { cacheBytes: config.tileCacheBytes });
  // A layer's index follows its revision on the next request; one that is gone is forgotten now.
  changes.subscribe((change) => {
    if (change.kind === 'layer') void catalog.refresh(change.layerId).then(() => { if (!catalog.get(change.layerId)) tiles.drop(change.layerId); }, () => undefined);
  });
  // Retention of device tracks: at start and every hour after.
  const purge = () => {
    const cutoff = new Date(Date.now() - config.trackRetentionDays * 86_400_000);
    purgeTracks(store.db, cutoff).then((n) => { if (n > 0) log.info({ deleted: n, before: cutoff.toISOString() }, 'device fixes past retention deleted'); },
      (err: unknown) => log.warn({ err }, 'device track retention purge failed'));
  };
  purge();
  const timer = setInterval(purge, 3_600_000);
  timer.unref();
  return {
    config, store, log, changes, catalog, tiles,
    async close() {
      clearInterval(timer);
      catalog.close();
      await changes.close();
    },
  };
}
