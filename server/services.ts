import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { Store } from '../store/db.ts';
import { ChangeFeed } from '../store/changes.ts';
import { LayerCatalog } from '../store/layer-catalog.ts';
import { TileService } from '../tiles/tile-service.ts';
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
  return {
    config, store, log, changes, catalog, tiles,
    async close() {
      catalog.close();
      await changes.close();
    },
  };
}
