import type { Logger } from 'pino';
import type { ParameterizedContext } from 'koa';
import type { RouterContext } from '@koa/router';
import type { Config } from './config.ts';
import type { Store } from '../store/db.ts';
import type { Principal } from '../store/access.ts';

/** What every route gets: passed in once, never read from globals. */
export interface Services {
  config: Readonly<Config>;
  store: Store;
  log: Logger;
}

export interface RequestState {
  requestId: string;
  principal: Principal;
}

export type Ctx = ParameterizedContext<RequestState> & RouterContext<RequestState>;

/** Absolute base URL for links: the configured public URL, else the request's own origin. */
export function baseUrl(ctx: ParameterizedContext<RequestState>, services: Services): string {
  return services.config.publicUrl ?? `${ctx.protocol}://${ctx.host}`;
}
