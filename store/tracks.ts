import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';

/** One point of a device's track, in CGCS2000 lon/lat (= WGS84 to centimetres). */
export interface TrackFix {
  time: Date;
  source: 'nmea' | 'fused';
  lon: number;
  lat: number;
  accuracyM?: number | null;
  /** The probability the accuracy radius is given at (0.68 or 0.95). */
  confidence?: number | null;
  altMSL?: number | null;
  mode?: number | null;
  status?: number | null;
  satellites?: number | null;
  hdop?: number | null;
  sources?: string[] | null;
}

const BATCH = 2000;

/**
 * Appends fixes to a device's track; a fix already stored (same device, source and time, as when
 * a receiver log is posted twice) is kept as it was. Returns how many were new.
 */
export async function appendTrack(db: Kysely<Database>, deviceId: string, fixes: readonly TrackFix[]): Promise<number> {
  let added = 0;
  for (let i = 0; i < fixes.length; i += BATCH) {
    const doc = JSON.stringify(fixes.slice(i, i + BATCH).map((f) => ({ ...f, time: f.time.toISOString() })));
    const r = await sql`
      insert into device_fix (device_id, fix_time, source, geom, accuracy_m, confidence, alt_msl, mode, status, satellites, hdop, sources)
      select ${deviceId}, (e->>'time')::timestamptz, e->>'source', st_setsrid(st_makepoint((e->>'lon')::float8, (e->>'lat')::float8), 4490),
             (e->>'accuracyM')::real, (e->>'confidence')::real, (e->>'altMSL')::real, (e->>'mode')::smallint, (e->>'status')::smallint,
             (e->>'satellites')::smallint, (e->>'hdop')::real,
             case when jsonb_typeof(e->'sources') = 'array' then array(select jsonb_array_elements_text(e->'sources')) end
      from jsonb_array_elements(${doc}::jsonb) e
      on conflict do nothing`.execute(db);
    added += Number(r.numAffectedRows ?? 0);
  }
  return added;
}

export async function readTrack(db: Kysely<Database>, deviceId: string, range: { from?: Date; to?: Date; limit: number }): Promise<TrackFix[]> {
  const { rows } = await sql<{ t: Date; source: 'nmea' | 'fused'; lon: number; lat: number; accuracy_m: number | null; confidence: number | null; alt_msl: number | null; mode: number | null; status: number | null; satellites: number | null; hdop: number | null; sources: string[] | null }>`
    select fix_time as t, source, st_x(geom) as lon, st_y(geom) as lat, accuracy_m, confidence, alt_msl, mode, status, satellites, hdop, sources
    from device_fix
    where device_id = ${deviceId}
      and fix_time >= ${range.from ?? new Date(0)}::timestamptz and fix_time < ${range.to ?? new Date('9999-01-01T00:00:00Z')}::timestamptz
    order by fix_time, source
    limit ${range.limit}`.execute(db);
  return rows.map((r) => ({
    time: r.t, source: r.source, lon: r.lon, lat: r.lat, accuracyM: r.accuracy_m, confidence: r.confidence, altMSL: r.alt_msl,
    mode: r.mode, status: r.status, satellites: r.satellites, hdop: r.hdop, sources: r.sources,
  }));
}

/** Deletes a device's track, or the part of it in [from, to); returns how many fixes went. */
export async function deleteTrack(db: Kysely<Database>, deviceId: string, range: { from?: Date; to?: Date } = {}): Promise<number> {
  const r = await db.deleteFrom('device_fix')
    .where('device_id', '=', deviceId)
    .where('fix_time', '>=', range.from ?? new Date(0))
    .where('fix_time', '<', range.to ?? new Date('9999-01-01T00:00:00Z'))
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** The retention rule: fixes older than the cut-off are deleted, whoever's they are. */
export async function purgeTracks(db: Kysely<Database>, olderThan: Date): Promise<number> {
  const r = await db.deleteFrom('device_fix').where('fix_time', '<', olderThan).executeTakeFirst();
  return Number(r.numDeletedRows);
}
