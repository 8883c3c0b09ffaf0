import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { VersionConflictError } from '../store/features.ts';

/** An error meant for the user: it carries its HTTP status and a stable code clients can test. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppError';
  }
}

export const badParameter = (parameter: string, message: string, value?: unknown) =>
  new AppError(400, 'InvalidParameterValue', `${parameter}: ${message}`, { parameter, ...(value === undefined ? {} : { value }) });

export const notFound = (what: string, details?: Record<string, unknown>) => new AppError(404, 'NotFound', what, details);

/** PostgreSQL errors are told apart by SQLSTATE, never by their message text. */
function fromDatabase(err: unknown): AppError | undefined {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return undefined;
  if (code === '57014') return new AppError(503, 'QueryTimeout', 'the query took too long and was cancelled; narrow the bbox or lower the limit', undefined, { cause: err });
  if (code.startsWith('22')) return new AppError(400, 'InvalidValue', 'a value could not be used by the database', { sqlstate: code }, { cause: err });
  if (code === '23505') return new AppError(409, 'Conflict', 'the change conflicts with what is stored', { sqlstate: code }, { cause: err });
  if (code.startsWith('08') || code === '57P01' || code === '53300') return new AppError(503, 'DatabaseUnavailable', 'the database is not reachable right now', undefined, { cause: err });
  return undefined;
}

export function errorMiddleware(log: Logger) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw notFound(`no resource at ${ctx.path}`);
      }
      if (ctx.status === 405 && (ctx.body === undefined || ctx.body === 'Method Not Allowed')) {
        throw new AppError(405, 'MethodNotAllowed', `${ctx.method} is not allowed on ${ctx.path}`, { allow: ctx.response.get('Allow') });
      }
    } catch (err) {
      const appError =
        err instanceof AppError ? err
        : err instanceof VersionConflictError ? new AppError(409, 'VersionConflict', err.message)
        : fromDatabase(err);
      const requestId = String(ctx.state.requestId ?? '');
      if (appError) {
        if (appError.status >= 500) log.error({ err, requestId }, appError.message);
        ctx.status = appError.status;
        ctx.body = { error: { code: appError.code, message: appError.message, details: appError.details ?? {}, requestId } };
      } else {
        log.error({ err, requestId, path: ctx.path }, 'unhandled error');
        ctx.status = 500;
        ctx.body = { error: { code: 'InternalError', message: 'an internal error occurred; quote the request id when reporting it', details: {}, requestId } };
      }
      ctx.type = 'application/json';
    }
  };
}
