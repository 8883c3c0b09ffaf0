import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { notifyChange } from './changes.ts';

/** A cell tower as OpenCellID lists it (position/radio-map.ts's CellTower has this shape). */
export interface CellRow { radio: string; mcc: number; mnc: number; area: number; cell: number; lon: number; lat: number; range: number; samples: number }
/** A Wi-Fi access point; `mac` lower-case and colon-separated. */
export interface WifiRow { mac: string; lon: number; lat: number; range: number }

const BATCH = 5000;

/** Adds or replaces cell towers (the latest import of a tower wins); returns how many rows were written. */
export async function saveCells(db: Kysely<Database>, cells: Iterable<CellRow>): Promise<number> {
  let n = 0;
  let batch: CellRow[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await sql`
      insert into radio_cell (mcc, mnc, area, cell, radio, lon, lat, range_m, samples)
      select (e->>'mcc')::int, (e->>'mnc')::int, (e->>'area')::bigint, (e->>'cell')::bigint, e->>'radio',
             (e->>'lon')::float8, (e->>'lat')::float8, (e->>'range')::real, coalesce((e->>'samples')::int, 0)
      from jsonb_array_elements(${JSON.stringify(batch)}::jsonb) e
      on conflict (mcc, mnc, area, cell) do update set radio = excluded.radio, lon = excluded.lon, lat = excluded.lat,
        range_m = excluded.range_m, samples = excluded.samples, updated_at = now()`.execute(db);
    n += batch.length;
    batch = [];
  };
  for (const c of cells) {
    batch.push(c);
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  await notifyChange(db, { kind: 'radio' });
  return n;
}

export async function saveWifi(db: Kysely<Database>, aps: Iterable<WifiRow>): Promise<number> {
  const all = [...aps];
  for (let i = 0; i < all.length; i += BATCH) {
    await sql`
      insert into radio_wifi (mac, lon, lat, range_m)
      select e->>'mac', (e->>'lon')::float8, (e->>'lat')::float8, (e->>'range')::real
      from jsonb_array_elements(${JSON.stringify(all.slice(i, i + BATCH))}::jsonb) e
      on conflict (mac) do update set lon = excluded.lon, lat = excluded.lat, range_m = excluded.range_m, updated_at = now()`.execute(db);
  }
  await notifyChange(db, { kind: 'radio' });
  return all.length;
}

/** Every stored tower and access point (a few million fit in a few hundred MB, for the fuser's lookup). */
export async function loadRadioRows(db: Kysely<Database>): Promise<{ cells: CellRow[]; wifi: WifiRow[] }> {
  const cells = (await db.selectFrom('radio_cell').selectAll().execute()).map((c) => ({
    radio: c.radio, mcc: c.mcc, mnc: c.mnc, area: Number(c.area), cell: Number(c.cell), lon: c.lon, lat: c.lat, range: c.range_m, samples: c.samples,
  }));
  const wifi = (await db.selectFrom('radio_wifi').selectAll().execute()).map((a) => ({ mac: a.mac, lon: a.lon, lat: a.lat, range: a.range_m }));
  return { cells, wifi };
}
