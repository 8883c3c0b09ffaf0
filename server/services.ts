import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { Store } from '../store/db.ts';
import { ChangeFeed } from '../store/changes.ts';
import { LayerCatalog } from '../store/layer-catalog.ts';
import { TileService } from '../tiles/tile-service.ts';
import { AssetService } from '../position/asset-service.ts';
import { purgeTracks } from '../store/tracks.ts';
import { loadRadioRows } from '../store/radio.ts';
import { PositionFuser } from '../position/fuse.ts';
import { RadioMap, type CellKey, type CellTower, type RadioLookup, type WifiAccessPoint } from '../position/radio-map.ts';

/** The fuser keeps its lookup; a reload swaps the table behind it. */
export class SwappableRadioLookup implements RadioLookup {
  #map: RadioMap;
  constructor(map: RadioMap) { this.#map = map; }
  swap(map: RadioMap): void { this.#map = map; }
  get size(): { cells: number; wifi: number } { return { cells: this.#map.cellCount, wifi: this.#map.wifiCount }; }
  findCell(key: CellKey): CellTower | undefined { return this.#map.findCell(key); }
  findWifi(mac: string): WifiAccessPoint | undefined { return this.#map.findWifi(mac); }
}
import type { Services } from './context.ts';
import { GeocoderService } from '../geocoder/geocoder-service.ts';

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
  // Cell towers and Wi-Fi access points in memory for the fuser, re-read when they change.
  const radio = new SwappableRadioLookup(RadioMap.from(await loadRadioRows(store.db)));
  changes.subscribe((change) => {
    if (change.kind === 'radio' || change.kind === 'resync') {
      loadRadioRows(store.db).then((rows) => radio.swap(RadioMap.from(rows)), (err: unknown) => log.warn({ err }, 'reloading the cell tower table failed'));
    }
  });
  const fuser = new PositionFuser(radio);
  // Nearest-asset indexes: built now, in the background, and again when their layer changes.
  const assets = new AssetService(store.db, { log });
  assets.follow(catalog, changes);
  assets.warm(catalog.all());
  // The geocoder: built in the background once the server is listening (the embedded database runs
  // its queries on this thread, so starting now would hold up the start by seconds); the first
  // request waits for it; rebuilt when addresses or roads change.
  const geocoder = new GeocoderService(store.db, log);
  geocoder.follow(changes, catalog);
  setTimeout(() => void geocoder.get().catch((err: unknown) => log.warn({ err }, 'building the geocoder failed; the first geocoding request will try again')), 0).unref();
  return {
    config, store, log, changes, catalog, tiles, radio, fuser, assets, geocoder,
    async close() {
      geocoder.close();
      await assets.close();
      clearInterval(timer);
      catalog.close();
      await changes.close();
    },
  };
}
