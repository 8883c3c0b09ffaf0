import type { Next, ParameterizedContext } from 'koa';
import { ANONYMOUS, principalForKey, type Principal } from '../store/access.ts';

const KEY_CACHE_MS = 60_000;
const KEY_CACHE_ENTRIES = 10_000;
import { AppError } from './errors.ts';
import type { RequestState, Services } from './context.ts';

/**
 * Resolves the caller from X-API-Key, `Authorization: Bearer`, or the api_key query parameter.
 * A key that is presented but unknown or revoked is refused outright rather than downgraded to
 * anonymous, so that a client with a broken key learns it at once.
 */
export function authMiddleware(services: Services) {
  // Keys are looked up once a minute, not once a request (a map's tiles come by the hundred);
  // a revocation anywhere reaches every process at once through the change feed.
  const known = new Map<string, { principal: Principal | undefined; at: number }>();
  services.changes.subscribe((change) => { if (change.kind !== 'layer') known.clear(); });
  const lookup = async (key: string): Promise<Principal | undefined> => {
    const hit = known.get(key);
    if (hit && performance.now() - hit.at < KEY_CACHE_MS) return hit.principal;
    const principal = await principalForKey(services.store.db, key);
    if (known.size >= KEY_CACHE_ENTRIES) known.clear();
    known.set(key, { principal, at: performance.now() });
    return principal;
  };
  return async (ctx: ParameterizedContext<RequestState>, next: Next) => {
    const bearer = /^Bearer\s+(\S+)$/i.exec(ctx.get('Authorization'))?.[1];
    const fromQuery = typeof ctx.query.api_key === 'string' ? ctx.query.api_key : undefined;
    const key = ctx.get('X-API-Key') || bearer || fromQuery;
    if (!key) {
      ctx.state.principal = ANONYMOUS;
    } else {
      const principal = await lookup(key);
      if (!principal) throw new AppError(401, 'InvalidApiKey', 'the API key is unknown or has been revoked');
      ctx.state.principal = principal;
    }
    await next();
  };
}
