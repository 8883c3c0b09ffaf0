import type { ColumnType, Generated } from 'kysely';

/** Kysely's view of the store. Geometry columns are written and read through PostGIS functions only. */
export interface Database {
  layer: LayerTable;
  feature_version: FeatureVersionTable;
  api_key: ApiKeyTable;
  audit_log: AuditLogTable;
  import_job: ImportJobTable;
  device_fix: DeviceFixTable;
  radio_cell: RadioCellTable;
  radio_wifi: RadioWifiTable;
}

export interface RadioCellTable {
  mcc: number; mnc: number; area: number; cell: number; radio: string;
  lon: number; lat: number; range_m: number; samples: number;
  updated_at: ColumnType<Date, never, never>;
}

export interface RadioWifiTable {
  mac: string; lon: number; lat: number; range_m: number;
  updated_at: ColumnType<Date, never, never>;
}

export interface DeviceFixTable {
  device_id: string;
  fix_time: Date;
  source: 'nmea' | 'fused';
  geom: string;
  accuracy_m: number | null;
  confidence: number | null;
  alt_msl: number | null;
  mode: number | null;
  status: number | null;
  satellites: number | null;
  hdop: number | null;
  sources: string[] | null;
  received_at: ColumnType<Date, never, never>;
}

export interface ImportJobTable {
  id: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  layer_id: string;
  file_name: string;
  options: ColumnType<Record<string, unknown>, string, string>;
  progress: ColumnType<Record<string, unknown>, string | undefined, string>;
  report: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  error: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  key_id: number | null;
  created_at: ColumnType<Date, never, never>;
  started_at: ColumnType<Date | null, never, Date | string | null>;
  finished_at: ColumnType<Date | null, never, Date | string | null>;
}

export interface LayerTable {
  id: string;
  key: Generated<number>;
  title_zh: string;
  title_en: string;
  domain: string;
  geometry_type: string;
  attribute_schema: ColumnType<Record<string, unknown>, string, string>;
  access_class: string;
  source: string;
  /** Bumped on every change so that caches (tiles, indexes) know to rebuild. */
  revision: ColumnType<string | number, number | undefined, never>;
  extent: ColumnType<number[] | null, never, never>;
  time_extent: ColumnType<Date[] | null, never, never>;
  created_at: ColumnType<Date, never, never>;
  updated_at: ColumnType<Date, never, never>;
}

export interface FeatureVersionTable {
  version_id: Generated<string>;
  layer_id: string;
  feature_id: string;
  geom: ColumnType<unknown, never, never>;
  attributes: ColumnType<Record<string, unknown>, string, string>;
  valid_from: ColumnType<Date, string | Date, string | Date>;
  valid_to: ColumnType<Date | null, string | Date | null, string | Date | null>;
  recorded_at: ColumnType<Date, never, never>;
}

export interface ApiKeyTable {
  id: Generated<number>;
  name: string;
  key_prefix: string;
  key_hash: string;
  role: string;
  clearances: ColumnType<string[], string[], string[]>;
  created_at: ColumnType<Date, never, never>;
  revoked_at: ColumnType<Date | null, never, Date | string | null>;
}

export interface AuditLogTable {
  id: Generated<string>;
  at: ColumnType<Date, never, never>;
  key_id: number | null;
  route: string;
  layer_id: string;
  bbox: ColumnType<number[] | null, number[] | null, never>;
  feature_ids: ColumnType<string[] | null, string[] | null, never>;
  query: ColumnType<Record<string, unknown>, string, never>;
}
