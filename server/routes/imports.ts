import type Router from '@koa/router';
import Busboy from 'busboy';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { canRead, type Principal } from '../../store/access.ts';
import { getJob } from '../../store/import-jobs.ts';
import { getLayer } from '../../store/layers.ts';
import { ACCESS_CLASSES, DOMAINS } from '../../store/layer-meta.ts';
import { rejectedRowsCsv, type ImportReport } from '../../data-import/import-file.ts';
import type { ImportQueue } from '../../data-import/import-queue.ts';
import { AppError, badParameter, notFound } from '../errors.ts';
import { baseUrl, type Ctx, type RequestState, type Services } from '../context.ts';
import { readParams } from '../params.ts';
import { COMMON_PARAMS } from './collections.ts';

const UPLOADABLE = /\.(zip|geojson|json|geojsons|geojsonl|ndjson|jsonl|csv|tsv|txt)$/i;

const dateField = z.string().refine((s) => !Number.isNaN(new Date(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : s).getTime()), 'must be a date such as 2026-01-01')
  .transform((s) => new Date(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : s));

/** The form fields POST /imports accepts, beside the file; anything else is refused. */
const importForm = z.object({
  layer: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and hyphens, e.g. enterprises-2026'),
  domain: z.enum(DOMAINS).optional(),
  crs: z.string().min(1).optional(),
  encoding: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  mode: z.enum(['upsert', 'snapshot']).optional(),
  validFrom: dateField.optional(),
  validFromField: z.string().min(1).optional(),
  onError: z.enum(['skip', 'abort']).optional(),
  dryRun: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  title: z.string().min(1).max(200).optional(),
  titleEn: z.string().min(1).max(200).optional(),
  access: z.enum(ACCESS_CLASSES).optional(),
  x: z.string().min(1).optional(),
  y: z.string().min(1).optional(),
  wkt: z.string().min(1).optional(),
}).strict();

function requireImporter(principal: Principal): void {
  if (principal.keyId === null) throw new AppError(401, 'ApiKeyRequired', 'imports need an API key of a planner or an admin (X-API-Key)');
  if (principal.role !== 'planner' && principal.role !== 'admin') {
    throw new AppError(403, 'Forbidden', `role ${principal.role} cannot import; planner or admin keys can`);
  }
}

interface Upload { file: string; originalName: string; fields: Record<string, string> }

/**
 * Streams the multipart body to a temporary file, stopping at the size limit (413) without
 * reading the rest into memory. Exactly one file part, named "file".
 */
async function receiveUpload(ctx: Ctx, limitBytes: number): Promise<Upload> {
  const type = ctx.get('Content-Type');
  if (!/^multipart\/form-data/i.test(type)) throw new AppError(415, 'UnsupportedMediaType', 'send the file as multipart/form-data with a part named "file"');
  const declared = Number(ctx.get('Content-Length'));
  if (Number.isFinite(declared) && declared > limitBytes + 64 * 1024) {
    throw new AppError(413, 'PayloadTooLarge', `the upload is ${declared} bytes; the limit is ${limitBytes} bytes (ONEMAP_UPLOAD_LIMIT_MB)`, { limitBytes });
  }
  const dir = path.join(os.tmpdir(), 'onemap-uploads');
  await mkdir(dir, { recursive: true });
  const fields: Record<string, string> = {};
  let saved: { file: string; originalName: string } | undefined;
  let problem: AppError | undefined;
  const writes: Promise<void>[] = [];

  await new Promise<void>((resolve, reject) => {
    let bb: Busboy.Busboy;
    try {
      bb = Busboy({ headers: ctx.req.headers, limits: { fileSize: limitBytes, files: 1, fields: 30, fieldSize: 64 * 1024 }, defParamCharset: 'utf8' });
    } catch (err) {
      reject(new AppError(400, 'InvalidMultipart', `unreadable multipart body: ${(err as Error).message}`));
      return;
    }
    bb.on('field', (name, value) => { fields[name] = value; });
    bb.on('file', (name, stream, info) => {
      if (name !== 'file' || saved) {
        problem ??= badParameter(name, 'send exactly one file, in the part named "file"');
        stream.resume();
        return;
      }
      const originalName = path.basename(info.filename || 'upload');
      if (!UPLOADABLE.test(originalName)) {
        problem ??= badParameter('file', `${originalName}: upload a .zip (Shapefile with its .dbf/.prj), .geojson, .geojsons/.ndjson or .csv`);
        stream.resume();
        return;
      }
      const target = path.join(dir, `${randomUUID()}${path.extname(originalName).toLowerCase()}`);
      saved = { file: target, originalName };
      const out = createWriteStream(target);
      writes.push(new Promise((res, rej) => { out.on('finish', () => res()); out.on('error', rej); }));
      stream.on('limit', () => {
        problem ??= new AppError(413, 'PayloadTooLarge', `${originalName} is larger than the limit of ${limitBytes} bytes (ONEMAP_UPLOAD_LIMIT_MB)`, { limitBytes });
      });
      stream.pipe(out);
    });
    bb.on('filesLimit', () => { problem ??= badParameter('file', 'send exactly one file'); });
    bb.on('error', (err) => reject(new AppError(400, 'InvalidMultipart', `unreadable multipart body: ${(err as Error).message}`)));
    bb.on('close', () => resolve());
    ctx.req.pipe(bb);
  });
  await Promise.all(writes);
  if (problem || !saved) {
    if (saved) await rm(saved.file, { force: true });
    throw problem ?? badParameter('file', 'no file part named "file" in the upload');
  }
  return { ...saved, fields };
}

export function registerImportRoutes(router: Router<RequestState>, services: Services, queue: ImportQueue): void {
  router.post('/imports', async (ctx: Ctx) => {
    readParams(ctx.query, COMMON_PARAMS);
    requireImporter(ctx.state.principal);
    const upload = await receiveUpload(ctx, services.config.uploadLimitBytes);
    try {
      const parsed = importForm.safeParse(upload.fields);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const field = issue.code === 'unrecognized_keys' ? issue.keys[0]! : String(issue.path[0] ?? 'form');
        throw badParameter(field, issue.code === 'unrecognized_keys' ? 'unknown form field' : issue.message, upload.fields[field]);
      }
      const form = parsed.data;
      const existing = await getLayer(services.store.db, form.layer);
      if (existing && !canRead(ctx.state.principal, existing.accessClass, existing.id)) {
        throw new AppError(403, 'Forbidden', `this key is not cleared for layer ${form.layer}`);
      }
      const id = await queue.submit({
        file: upload.file, displayName: upload.originalName, layer: form.layer, domain: form.domain, crs: form.crs,
        encoding: form.encoding, key: form.key, mode: form.mode, validFrom: form.validFrom, validFromField: form.validFromField, onError: form.onError,
        dryRun: form.dryRun, titleZh: form.title, titleEn: form.titleEn, accessClass: form.access,
        csv: { x: form.x, y: form.y, wkt: form.wkt }, keyId: ctx.state.principal.keyId,
      }, { deleteFileAfter: true });
      const href = `${baseUrl(ctx, services)}/imports/${id}`;
      ctx.status = 202;
      ctx.set('Location', href);
      ctx.body = { id, status: 'queued', layer: form.layer, file: upload.originalName, links: [{ rel: 'status', type: 'application/json', href }] };
    } catch (err) {
      await rm(upload.file, { force: true });
      throw err;
    }
  });

  router.get('/imports/:id', async (ctx: Ctx) => {
    readParams(ctx.query, COMMON_PARAMS);
    requireImporter(ctx.state.principal);
    const job = await visibleJob(ctx, services);
    const base = baseUrl(ctx, services);
    const report = job.report as ImportReport | null;
    ctx.body = {
      id: job.id, status: job.status, layer: job.layerId, file: job.fileName, options: job.options,
      progress: queue.liveProgress(job.id) ?? job.progress,
      report: report ? { ...report, rejected: report.rejected.slice(0, 1000) } : null,
      error: job.error, createdAt: job.createdAt, startedAt: job.startedAt, finishedAt: job.finishedAt,
      links: [
        { rel: 'self', type: 'application/json', href: `${base}/imports/${job.id}` },
        ...(report ? [{ rel: 'rejected-rows', type: 'text/csv', href: `${base}/imports/${job.id}/rejected.csv` }] : []),
        ...(job.status === 'succeeded' && !report?.dryRun ? [{ rel: 'collection', type: 'application/json', href: `${base}/collections/${job.layerId}` }] : []),
      ],
    };
  });

  router.get('/imports/:id/rejected.csv', async (ctx: Ctx) => {
    readParams(ctx.query, COMMON_PARAMS);
    requireImporter(ctx.state.principal);
    const job = await visibleJob(ctx, services);
    if (!job.report) throw new AppError(409, 'NotFinished', `import ${job.id} is ${job.status}; the rejected rows are known when it has finished`);
    ctx.type = 'text/csv; charset=utf-8';
    ctx.set('Content-Disposition', `attachment; filename="rejected-${job.id}.csv"`);
    ctx.body = rejectedRowsCsv(job.report as unknown as ImportReport);
  });
}

async function visibleJob(ctx: Ctx, services: Services) {
  const id = ctx.params.id!;
  const job = /^[0-9a-f-]{36}$/i.test(id) ? await getJob(services.store.db, id) : undefined;
  // A planner sees their own imports; an admin sees all.
  if (!job || (ctx.state.principal.role !== 'admin' && job.keyId !== ctx.state.principal.keyId)) {
    throw notFound(`import "${id}" not found`, { parameter: 'id', value: id });
  }
  return job;
}
