import type { Next, ParameterizedContext } from 'koa';
import { ANONYMOUS, principalForKey } from '../store/access.ts';
import { AppError } from './errors.ts';
import type { RequestState, Services } from './context.ts';

/**
 * Resolves the caller from X-API-Key, `Authorization: Bearer`, or the api_key query parameter.
 * A key that is presented but unknown or revoked is refused outright rather than downgraded to
 * anonymous, so that a client with a broken key learns it at once.
 */
export function authMiddleware(services: Services) {
  return async (ctx: ParameterizedContext<RequestState>, next: Next) => {
    const bearer = /^Bearer\s+(\S+)$/i.exec(ctx.get('Authorization'))?.[1];
    const fromQuery = typeof ctx.query.api_key === 'string' ? ctx.query.api_key : undefined;
    const key = ctx.get('X-API-Key') || bearer || fromQuery;
    if (!key) {
      ctx.state.principal = ANONYMOUS;
    } else {
      const principal = await principalForKey(services.store.db, key);
      if (!principal) throw new AppError(401, 'InvalidApiKey', 'the API key is unknown or has been revoked');
      ctx.state.principal = principal;
    }
    await next();
  };
}
