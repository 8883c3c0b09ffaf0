import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { notifyChange } from './changes.ts';
import type { AccessClass } from './layer-meta.ts';

export const ROLES = ['viewer', 'planner', 'field', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who is asking. `anonymous` sees public layers only. */
export interface Principal {
  keyId: number | null;
  name: string;
  role: Role | 'anonymous';
  /** Layer ids of restricted layers this key is cleared for; '*' clears all of them. */
  clearances: readonly string[];
}

export const ANONYMOUS: Principal = Object.freeze({ keyId: null, name: 'anonymous', role: 'anonymous', clearances: [] });

/** The single rule for who sees a layer; every route asks this and nothing else. */
export function canRead(principal: Principal, accessClass: AccessClass, layerId: string): boolean {
  if (accessClass === 'public') return true;
  if (principal.keyId === null) return false;
  if (accessClass === 'internal') return true;
  return principal.role === 'admin' || principal.clearances.includes('*') || principal.clearances.includes(layerId);
}

/**
 * Keys are 32 random bytes; a plain SHA-256 is enough to store them because, unlike passwords,
 * they cannot be guessed from a dictionary. The prefix lets people tell keys apart in lists.
 */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export interface CreatedKey { id: number; key: string; prefix: string }

export async function createApiKey(db: Kysely<Database>, input: { name: string; role: Role; clearances?: string[] }): Promise<CreatedKey> {
  const key = `om_${randomBytes(32).toString('base64url')}`;
  const prefix = key.slice(0, 10);
  const row = await db
    .insertInto('api_key')
    .values({ name: input.name, role: input.role, clearances: input.clearances ?? [], key_prefix: prefix, key_hash: hashKey(key) })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, key, prefix };
}

export async function revokeApiKey(db: Kysely<Database>, idOrPrefix: string): Promise<number> {
  const query = db.updateTable('api_key').set({ revoked_at: new Date() }).where('revoked_at', 'is', null);
  const result = /^\d+$/.test(idOrPrefix)
    ? await query.where('id', '=', Number(idOrPrefix)).executeTakeFirst()
    : await query.where('key_prefix', '=', idOrPrefix).executeTakeFirst();
  await notifyChange(db, { kind: 'keys' });
  return Number(result.numUpdatedRows);
}

export async function listApiKeys(db: Kysely<Database>) {
  return db.selectFrom('api_key').select(['id', 'name', 'key_prefix', 'role', 'clearances', 'created_at', 'revoked_at']).orderBy('id').execute();
}

/** The principal for a presented key, or undefined when the key is unknown or revoked. */
export async function principalForKey(db: Kysely<Database>, key: string): Promise<Principal | undefined> {
  const row = await db
    .selectFrom('api_key')
    .select(['id', 'name', 'role', 'clearances'])
    .where('key_hash', '=', hashKey(key))
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  if (!row) return undefined;
  return Object.freeze({ keyId: row.id, name: row.name, role: row.role as Role, clearances: Object.freeze([...row.clearances]) });
}

export interface AuditEntry {
  keyId: number | null;
  route: string;
  layerId: string;
  bbox?: number[] | null;
  featureIds?: string[] | null;
  query?: Record<string, unknown>;
}

export async function recordAudit(db: Kysely<Database>, entry: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      key_id: entry.keyId,
      route: entry.route,
      layer_id: entry.layerId,
      bbox: entry.bbox ?? null,
      feature_ids: entry.featureIds ?? null,
      query: JSON.stringify(entry.query ?? {}),
    })
    .execute();
}
