import { z } from 'zod';
import path from 'node:path';

const boolean = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const schema = z.object({
  PORT: z.coerce.number({ message: 'must be a number' }).int('must be a whole number').min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  ONEMAP_DATA_DIR: z.string().min(1).default('./data'),
  /** Base of every link the API writes; defaults to the request's own scheme and host. */
  ONEMAP_PUBLIC_URL: z.string().url('must be an absolute URL such as https://onemap.example.cn').optional(),
  ONEMAP_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ONEMAP_STATEMENT_TIMEOUT_MS: z.coerce.number({ message: 'must be a number' }).int().min(100).max(600_000).default(30_000),
  /** Load the generated demo city when the store has no layers (the zero-setup default). */
  ONEMAP_LOAD_DEMO: boolean.default(true),
  ONEMAP_DEMO_SCALE: z.coerce.number({ message: 'must be a number' }).positive().max(100).default(1),
  /** Largest accepted upload at POST /imports. */
  ONEMAP_UPLOAD_LIMIT_MB: z.coerce.number({ message: 'must be a number' }).positive().max(1_000_000).default(512),
  ONEMAP_TILE_WARMUP: boolean.default(true),
  ONEMAP_TILE_CACHE_MB: z.coerce.number({ message: 'must be a number' }).min(0).max(1_000_000).default(256),
  ONEMAP_TRACK_RETENTION_DAYS: z.coerce.number({ message: 'must be a number' }).positive().max(36_500).default(30),
  ONEMAP_DEMO_SEED: z.coerce.number({ message: 'must be a number' }).int().default(20260101),
});

export interface Config {
  port: number;
  host: string;
  databaseUrl?: string;
  dataDir: string;
  publicUrl?: string;
  logLevel: z.infer<typeof schema>['ONEMAP_LOG_LEVEL'];
  statementTimeoutMs: number;
  loadDemo: boolean;
  demoScale: number;
  demoSeed: number;
  uploadLimitBytes: number;
  /** Device tracks older than this are deleted (personal data is kept no longer than needed). */
  trackRetentionDays: number;
  /** Build every layer's tile index once the server listens (else on each layer's first tile). */
  tileWarmup: boolean;
  /** Memory for encoded vector tiles (LRU). */
  tileCacheBytes: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads the environment once, at start-up; nothing else in the service looks at process.env. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  // Empty values are treated as unset, as shells and .env files often leave them.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}=${JSON.stringify(env[String(i.path[0])] ?? '')}: ${i.message}`));
  }
  const e = parsed.data;
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: path.resolve(e.ONEMAP_DATA_DIR),
    publicUrl: e.ONEMAP_PUBLIC_URL?.replace(/\/+$/, ''),
    logLevel: e.ONEMAP_LOG_LEVEL,
    statementTimeoutMs: e.ONEMAP_STATEMENT_TIMEOUT_MS,
    loadDemo: e.ONEMAP_LOAD_DEMO,
    demoScale: e.ONEMAP_DEMO_SCALE,
    demoSeed: e.ONEMAP_DEMO_SEED,
    uploadLimitBytes: Math.round(e.ONEMAP_UPLOAD_LIMIT_MB * 1024 * 1024),
    trackRetentionDays: e.ONEMAP_TRACK_RETENTION_DAYS,
    tileWarmup: e.ONEMAP_TILE_WARMUP,
    tileCacheBytes: Math.round(e.ONEMAP_TILE_CACHE_MB * 1024 * 1024),
  });
}
