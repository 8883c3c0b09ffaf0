import type { ParameterizedContext } from 'koa';
import { AppError, badParameter } from './errors.ts';

/**
 * The request body as bytes, refused with a 413 as soon as it passes `limit` (the rest is not
 * read) and with a 415 when its media type is not one the route takes.
 */
export async function readBody(ctx: ParameterizedContext, options: { limit: number; types: readonly string[] }): Promise<Buffer> {
  const type = (ctx.get('Content-Type').split(';')[0] ?? '').trim().toLowerCase();
  if (!options.types.includes(type)) {
    throw new AppError(415, 'UnsupportedMediaType', `send the body as ${options.types.join(' or ')}${type ? `, not ${type}` : ' (Content-Type is missing)'}`);
  }
  const declared = Number(ctx.get('Content-Length'));
  if (Number.isFinite(declared) && declared > options.limit) throw tooLarge(options.limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > options.limit) {
      ctx.req.destroy();
      throw tooLarge(options.limit);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

function tooLarge(limit: number): AppError {
  return new AppError(413, 'PayloadTooLarge', `the body is over the limit of ${limit} bytes`, { limit });
}

/** A JSON body, with the parse error's position when it is not JSON. */
export async function readJson(ctx: ParameterizedContext, limit: number): Promise<unknown> {
  const raw = await readBody(ctx, { limit, types: ['application/json'] });
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new AppError(400, 'InvalidJson', `the body is not JSON: ${(err as Error).message}`);
  }
}

/**
 * A JSON body that must be an object of `known` members: anything else, or a member it does not
 * know, is a 400 naming it (a misspelt "radus" must not be ignored silently).
 */
export async function readJsonObject(ctx: ParameterizedContext, limit: number, known: readonly string[]): Promise<Record<string, unknown>> {
  const raw = await readJson(ctx, limit);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new AppError(400, 'InvalidParameterValue', `the body must be a JSON object with ${known.join(', ')}`, { parameter: 'body' });
  }
  const unknown = Object.keys(raw).filter((k) => !known.includes(k));
  if (unknown.length) throw badParameter(unknown[0]!, `unknown member; the body takes ${known.join(', ')}`);
  return raw as Record<string, unknown>;
}
