import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/**
 * Migrations are code, in order, named by date; they run on every start and are no-ops once applied.
 * Plain SQL because most of it is PostGIS and index DDL that the builder cannot express.
 */
const migrations: Record<string, Migration> = {
  '2026-12-01-001-extensions': {
    async up(db: Kysely<any>) {
      await sql`create extension if not exists postgis`.execute(db);
    },
  },
  '2026-12-01-002-layers-and-versions': {
    async up(db: Kysely<any>) {
      await sql`
        create table layer (
          id text primary key check (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
          -- Names the layer's partition of feature_version; ids are too long to fit in a table name.
          key integer generated always as identity unique,
          title_zh text not null,
          title_en text not null,
          domain text not null check (domain in ('pipeline','building','land','water','road','green','address','business')),
          geometry_type text not null,
          attribute_schema jsonb not null default '{}',
          access_class text not null check (access_class in ('public','internal','restricted')),
          source text not null default '',
          revision bigint not null default 0,
          -- Kept with the revision so that /collections answers without scanning the versions.
          extent float8[],
          time_extent timestamptz[],
          created_at timestamptz not null default now(),
          updated_at timestamptz not null default now()
        )`.execute(db);
      // One partition per layer (created with the layer, see store/layers.ts): each layer gets its
      // own small indexes, a bbox query never walks other layers' entries, and no text layer id
      // sits inside the GiST index (that tripled its build and insert cost, measured on 1M rows).
      await sql`
        create table feature_version (
          version_id bigint generated always as identity,
          layer_id text not null references layer(id),
          feature_id text not null,
          -- Null for records that are kept before they have a place (a business row awaiting geocoding).
          -- Any geometry type, 2D or with Z (pipelines keep their depth), always CGCS2000.
          geom geometry check (st_srid(geom) = 4490),
          attributes jsonb not null default '{}',
          valid_from timestamptz not null,
          valid_to timestamptz,
          -- '[)' so that the version closed at T and the one opened at T never both match T.
          validity tstzrange generated always as (tstzrange(valid_from, valid_to, '[)')) stored,
          recorded_at timestamptz not null default now(),
          primary key (layer_id, version_id),
          check (valid_to is null or valid_to > valid_from)
        ) partition by list (layer_id)`.execute(db);
      // At most one current version per feature: the versioned writes rely on it.
      await sql`create unique index feature_version_current on feature_version (layer_id, feature_id) where valid_to is null`.execute(db);
      await sql`create index feature_version_history on feature_version (layer_id, feature_id, valid_from)`.execute(db);
      // The space-time index: bbox + as-of in one index scan, for any instant, not only now.
      // Each partition inherits it as feature_version_<key>_geom_validity_idx.
      await sql`create index feature_version_space_time on feature_version using gist (geom, validity)`.execute(db);
    },
  },
  '2026-12-01-003-keys-and-audit': {
    async up(db: Kysely<any>) {
      await sql`
        create table api_key (
          id serial primary key,
          name text not null,
          key_prefix text not null,
          key_hash text not null unique,
          role text not null check (role in ('viewer','planner','field','admin')),
          clearances text[] not null default '{}',
          created_at timestamptz not null default now(),
          revoked_at timestamptz
        )`.execute(db);
      await sql`
        create table audit_log (
          id bigserial primary key,
          at timestamptz not null default now(),
          key_id integer references api_key(id),
          route text not null,
          layer_id text not null,
          bbox float8[],
          feature_ids text[],
          query jsonb not null default '{}'
        )`.execute(db);
      await sql`create index audit_log_layer_at on audit_log (layer_id, at)`.execute(db);
    },
  },
  '2026-12-02-004-import-jobs': {
    async up(db: Kysely<any>) {
      await sql`
        create table import_job (
          id uuid primary key,
          status text not null check (status in ('queued','running','succeeded','failed')),
          layer_id text not null,
          file_name text not null,
          options jsonb not null default '{}',
          progress jsonb not null default '{}',
          report jsonb,
          error jsonb,
          key_id integer references api_key(id),
          created_at timestamptz not null default now(),
          started_at timestamptz,
          finished_at timestamptz
        )`.execute(db);
    },
  },
  '2026-12-02-005-device-fixes': {
    async up(db: Kysely<any>) {
      // A device's track: the fixes it reported (NMEA) or OneMap fused for it. Kept for a
      // configured retention period and deleted on request (personal data: the device's owner).
      await sql`
        create table device_fix (
          device_id text not null check (length(device_id) between 1 and 128),
          fix_time timestamptz not null,
          source text not null check (source in ('nmea', 'fused')),
          geom geometry(Point, 4490) not null,
          accuracy_m real,
          confidence real,
          alt_msl real,
          mode smallint,
          status smallint,
          satellites smallint,
          hdop real,
          sources text[],
          received_at timestamptz not null default now(),
          primary key (device_id, source, fix_time)
        )`.execute(db);
      await sql`create index device_fix_time on device_fix (fix_time)`.execute(db);
    },
  },
  '2026-12-02-006-radio-sources': {
    async up(db: Kysely<any>) {
      // Where cell towers and Wi-Fi access points are (OpenCellID's format), for positions
      // without GNSS. A tower is known by mcc/mnc/area/cell; the radio type is a property.
      await sql`
        create table radio_cell (
          mcc integer not null, mnc integer not null, area bigint not null, cell bigint not null,
          radio text not null, lon double precision not null, lat double precision not null,
          range_m real not null, samples integer not null default 0,
          updated_at timestamptz not null default now(),
          primary key (mcc, mnc, area, cell)
        )`.execute(db);
      await sql`
        create table radio_wifi (
          mac text primary key, lon double precision not null, lat double precision not null, range_m real not null,
          updated_at timestamptz not null default now()
        )`.execute(db);
    },
  },
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
