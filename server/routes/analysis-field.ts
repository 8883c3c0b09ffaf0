import type Router from '@koa/router';
import type { LineString, Point, Polygon } from 'geojson';
import { canRead, recordAudit } from '../../store/access.ts';
import type { Layer } from '../../store/layers.ts';
import { GeometryInputError, readRequestGeometry, type InputGeometryType } from '../../analysis/geometry-input.ts';
import { digCheck, digCheckGeoJson, digCheckHtml, type DigFootprintInput } from '../../analysis/dig-check.ts';
import { crossSection } from '../../analysis/cross-section.ts';
import { sectionSvg } from '../../analysis/section-svg.ts';
import {
  CONNECTIVITIES, DEFAULT_SNAP_M, isolate, nearestSegment, NetworkCache, servedBy, SERVICE_REACH_M, SNAP_CLASSES, valvesFromPointNumbers,
  VALVE_FEATURES, type Connectivity, type ValvePoint,
} from '../../analysis/burst-isolation.ts';
import { SNAP_TOLERANCE_M } from '../../analysis/pipe-network.ts';
import { AppError, badParameter, notFound } from '../errors.ts';
import type { Ctx, RequestState, Services } from '../context.ts';
import { readJsonObject } from '../body.ts';
import { apiKeyParam, formatsParam, readParams } from '../params.ts';
import { searchedLayers } from './assets.ts';

const BODY_LIMIT = 4 * 1024 * 1024;
/** A dig site, not a district: 2 km across, 1 km², 5,000 vertices. */
const DIG_LIMITS = { maxVertices: 5_000, maxAreaM2: 1e6, maxExtentM: 2_000 };
/** A section line of a street or a site. */
const SECTION_LIMITS = { maxVertices: 1_000, maxAreaM2: 0, maxExtentM: 5_000 };
const MAX_RADIUS_M = 500;
const MAX_WIDTH_M = 100;
const MAX_DIG_DEPTH_M = 50;
const MAX_SNAP_M = 500;
const MAX_VALVES = 200_000;
const MAX_LAYERS = 64;
/** Buildings and addresses listed per answer; the counts cover them all. */
const MAX_SERVED_LISTED = 10_000;

export const DIG_CHECK_PARAMS = [formatsParam(['json', 'html'] as const, 'json (GeoJSON, default) or html (a printable summary); Accept: text/html does the same.'), apiKeyParam] as const;
export const CROSS_SECTION_PARAMS = [formatsParam(['json', 'svg'] as const, 'json (default) or svg (the drawing); Accept: image/svg+xml does the same.'), apiKeyParam] as const;
export const BURST_PARAMS = [apiKeyParam] as const;

function numberMember(b: Record<string, unknown>, name: string, min: number, max: number, exclusiveMin = false): number | undefined {
  const v = b[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || (exclusiveMin ? v <= min : v < min) || v > max) {
    throw badParameter(name, `must be a number of metres in ${exclusiveMin ? '(' : '['}${min}, ${max}]`, v);
  }
  return v;
}

function stringList(b: Record<string, unknown>, name: string, max: number): string[] | undefined {
  const v = b[name];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length === 0 || v.some((s) => typeof s !== 'string' || s === '')) throw badParameter(name, 'must be a non-empty array of non-empty strings');
  if (v.length > max) throw badParameter(name, `at most ${max} entries`, v.length);
  return [...new Set(v as string[])];
}

function geometryMember(value: unknown, crs: unknown, parameter: string, allowedTypes: readonly InputGeometryType[], limits: typeof DIG_LIMITS) {
  if (crs !== undefined && typeof crs !== 'string') throw badParameter('crs', 'must be a CRS name such as CRS84 or EPSG:4549', crs);
  try {
    return readRequestGeometry(value, { crs: crs as string | undefined, parameter, allowedTypes, limits });
  } catch (err) {
    if (err instanceof GeometryInputError) throw new AppError(400, 'InvalidGeometry', err.message, { parameter: err.parameter, reason: err.reason });
    throw err;
  }
}

/** Pipeline layers that hold lines; an import of mixed or undeclared geometry says 'Geometry' (its lines are used). */
const isPipeLayer = (l: Layer) => l.domain === 'pipeline' && ['LineString', 'MultiLineString', 'Geometry'].includes(l.geometryType);

/**
 * The pipe layers to search: those named (unknown 404, not a pipe layer 400, restricted without
 * clearance 401/403), else every pipe layer the caller may read; the others are `withheld`, so
 * that a field worker knows a gas or power network was not checked.
 */
function pipeLayers(ctx: Ctx, services: Services, named: string[] | undefined): { layers: Layer[]; withheld: string[] } {
  if (named) {
    const layers = searchedLayers(ctx, services, named);
    const wrong = layers.filter((l) => !isPipeLayer(l));
    if (wrong.length) throw badParameter('layers', `not a pipe (line) layer of the pipeline domain: ${wrong.map((l) => l.id).join(', ')}`, wrong.map((l) => l.id));
    return { layers, withheld: [] };
  }
  const all = services.catalog.all().filter(isPipeLayer).sort((a, b) => (a.id < b.id ? -1 : 1));
  const readable = (l: Layer) => canRead(ctx.state.principal, l.accessClass, l.id);
  return { layers: all.filter(readable), withheld: all.filter((l) => !readable(l)).map((l) => l.id) };
}

async function auditRestricted(ctx: Ctx, services: Services, layers: readonly Layer[], hits: ReadonlyArray<{ layerId: string; featureId: string }>, query: Record<string, unknown>) {
  for (const layer of layers.filter((l) => l.accessClass === 'restricted')) {
    await recordAudit(services.store.db, {
      keyId: ctx.state.principal.keyId, route: ctx.path, layerId: layer.id,
      featureIds: hits.filter((h) => h.layerId === layer.id).map((h) => h.featureId), query,
    });
  }
}

const round = (x: number, decimals: number) => Math.round(x * 10 ** decimals) / 10 ** decimals;

export function registerAnalysisFieldRoutes(router: Router<RequestState>, services: Services): void {
  const networks = new NetworkCache(services.store.db);

  router.post('/analysis/dig-check', async (ctx: Ctx) => {
    const q = readParams(ctx.query, DIG_CHECK_PARAMS);
    const b = await readJsonObject(ctx, BODY_LIMIT, ['geometry', 'crs', 'radius', 'width', 'depth', 'layers']);
    const geometry = geometryMember(b.geometry, b.crs, 'geometry', ['Polygon', 'Point', 'LineString'], DIG_LIMITS);
    const radius = numberMember(b, 'radius', 0, MAX_RADIUS_M, true);
    const width = numberMember(b, 'width', 0, MAX_WIDTH_M, true);
    const depth = numberMember(b, 'depth', 0, MAX_DIG_DEPTH_M, true) ?? null;
    let input: DigFootprintInput;
    if (geometry.type === 'Point') {
      if (radius === undefined) throw badParameter('radius', 'required with a Point: the pit\'s radius in metres');
      if (width !== undefined) throw badParameter('width', 'only applies to a LineString');
      input = { geometry: geometry as Point, radius };
    } else if (geometry.type === 'LineString') {
      if (width === undefined) throw badParameter('width', 'required with a LineString: the trench\'s width in metres');
      if (radius !== undefined) throw badParameter('radius', 'only applies to a Point');
      input = { geometry: geometry as LineString, width };
    } else {
      if (radius !== undefined || width !== undefined) throw badParameter(radius !== undefined ? 'radius' : 'width', 'a Polygon is the dig itself; radius and width apply to a Point and a LineString');
      input = { geometry: geometry as Polygon };
    }
    const { layers, withheld } = pipeLayers(ctx, services, stringList(b, 'layers', MAX_LAYERS));
    const result = await digCheck(services.store.db, layers.map((l) => l.id), input, depth);
    await auditRestricted(ctx, services, layers, result.hits, { kind: geometry.type, radius, width, depth });

    const report = { layers: layers.map((l) => l.id), withheld, generatedAt: new Date() };
    ctx.set('Cache-Control', 'private, no-store');
    ctx.set('Vary', 'Accept, X-API-Key, Authorization');
    const html = q.f ? q.f === 'html' : ctx.accepts('application/geo+json', 'application/json', 'text/html') === 'text/html';
    if (html) {
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = digCheckHtml(result, report);
    } else {
      ctx.type = 'application/geo+json';
      ctx.body = digCheckGeoJson(result, report);
    }
  });

  router.post('/analysis/cross-section', async (ctx: Ctx) => {
    const q = readParams(ctx.query, CROSS_SECTION_PARAMS);
    const b = await readJsonObject(ctx, BODY_LIMIT, ['geometry', 'crs', 'layers']);
    const line = geometryMember(b.geometry, b.crs, 'geometry', ['LineString'], SECTION_LIMITS) as LineString;
    const { layers, withheld } = pipeLayers(ctx, services, stringList(b, 'layers', MAX_LAYERS));
    const result = await crossSection(services.store.db, layers.map((l) => l.id), line);
    await auditRestricted(ctx, services, layers, result.crossings, { kind: 'cross-section' });

    ctx.set('Cache-Control', 'private, no-store');
    ctx.set('Vary', 'Accept, X-API-Key, Authorization');
    const svg = q.f ? q.f === 'svg' : ctx.accepts('application/json', 'image/svg+xml') === 'image/svg+xml';
    if (svg) {
      ctx.type = 'image/svg+xml; charset=utf-8';
      ctx.body = sectionSvg(result);
      return;
    }
    ctx.body = {
      line: result.line, length: round(result.lengthM, 3), layers: layers.map((l) => l.id), withheld,
      depth: 'to the crown, interpolated linearly along the pipe between its start and end depths',
      crossings: result.crossings.map((c) => ({
        offset: round(c.offsetM, 3), depth: c.depthM === null ? null : round(c.depthM, 3),
        diameterMm: c.diameterMm, sectionSize: c.sectionSize, pipeClass: c.pipeClass, typeName: c.typeName,
        subType: c.subType, subTypeName: c.subTypeName, owner: c.owner, material: c.material, materialName: c.materialName,
        layer: c.layerId, featureId: c.featureId, at: c.at.map((v) => round(v, 8)), fraction: round(c.fraction, 6),
      })),
    };
  });

  router.post('/analysis/burst-isolation', async (ctx: Ctx) => {
    readParams(ctx.query, BURST_PARAMS);
    const b = await readJsonObject(ctx, BODY_LIMIT, ['layer', 'segment', 'point', 'crs', 'maxDistance', 'valves', 'pointsLayer', 'connectivity']);
    if ((b.segment === undefined) === (b.point === undefined)) throw badParameter('segment', 'give either a segment id (with its layer) or a point, not both or neither');
    if (b.layer !== undefined && typeof b.layer !== 'string') throw badParameter('layer', 'must be a layer id', b.layer);
    if (b.segment !== undefined && (typeof b.segment !== 'string' || b.segment === '')) throw badParameter('segment', 'must be a segment (feature) id', b.segment);
    if (b.pointsLayer !== undefined && typeof b.pointsLayer !== 'string') throw badParameter('pointsLayer', 'must be a layer id', b.pointsLayer);
    const named = stringList(b, 'valves', MAX_VALVES);
    if (named && b.pointsLayer !== undefined) throw badParameter('pointsLayer', 'give valves or a points layer to take them from, not both');
    const maxDistance = numberMember(b, 'maxDistance', 0, MAX_SNAP_M) ?? DEFAULT_SNAP_M;
    if (b.connectivity !== undefined && !(CONNECTIVITIES as readonly unknown[]).includes(b.connectivity)) {
      throw badParameter('connectivity', `one of ${CONNECTIVITIES.join(', ')}`, b.connectivity);
    }
    const connectivity = (b.connectivity ?? 'auto') as Connectivity;

    // The burst segment: named, or the nearest water or gas segment to the point.
    let layer: Layer;
    let segmentId: string;
    let snapped: { point: number[]; distance: number } | null = null;
    if (typeof b.segment === 'string') {
      if (typeof b.layer !== 'string') throw badParameter('layer', 'required with a segment: the id of its pipe layer');
      [layer] = pipeLayers(ctx, services, [b.layer]).layers as [Layer];
      segmentId = b.segment;
    } else {
      if (b.maxDistance !== undefined && b.point === undefined) throw badParameter('maxDistance', 'only applies to a point');
      const raw = Array.isArray(b.point) ? { type: 'Point', coordinates: b.point } : b.point;
      const point = geometryMember(raw, b.crs, 'point', ['Point'], DIG_LIMITS) as Point;
      const [lon, lat] = point.coordinates as [number, number];
      const candidates = typeof b.layer === 'string' ? pipeLayers(ctx, services, [b.layer]).layers : pipeLayers(ctx, services, undefined).layers;
      const hit = await nearestSegment(services.store.db, candidates.map((l) => l.id), lon, lat, maxDistance, typeof b.layer === 'string' ? null : SNAP_CLASSES);
      if (!hit) {
        throw notFound(`no ${typeof b.layer === 'string' ? `segment of ${b.layer}` : 'water supply (JS) or gas (RQ) segment you may read'} within ${maxDistance} m of the point`, { parameter: 'point', maxDistance });
      }
      layer = services.catalog.get(hit.layerId)!;
      segmentId = hit.featureId;
      snapped = { point: [lon, lat], distance: round(hit.distanceM, 3) };
    }
    if (b.crs !== undefined && b.point === undefined) throw badParameter('crs', 'only applies to a point');

    const network = await networks.get(layer.id, layer.revision, connectivity);
    if (!network.edgeOf.has(segmentId)) throw notFound(`no current segment "${segmentId}" in ${layer.id}`, { parameter: 'segment', value: segmentId });

    // The valves: named by the caller, or the valve points of the layer's points layer.
    let valves: ValvePoint[] = [];
    let valveSource: Record<string, unknown>;
    if (named) {
      if (!network.nodeOf) throw badParameter('valves', `the segments of ${layer.id} carry no point numbers, so valves cannot be named; they are taken from its points layer by position`);
      const found = valvesFromPointNumbers(network, named);
      if (found.unknown.length) throw badParameter('valves', `${found.unknown.length} point number(s) are on no segment end of ${layer.id}: ${found.unknown.slice(0, 10).join(', ')}`, found.unknown.slice(0, 100));
      valves = found.valves;
      valveSource = { kind: 'request', count: valves.length };
    } else {
      const pointsId = (b.pointsLayer as string | undefined) ?? layer.id.replace(/-(pipes|cables|lines)$/, '-points');
      const points = pointsId !== layer.id ? services.catalog.get(pointsId) : undefined;
      if (b.pointsLayer !== undefined && !points) throw notFound(`no layer "${pointsId}"`, { parameter: 'pointsLayer', value: pointsId });
      if (points && points.domain === 'pipeline') {
        if (!canRead(ctx.state.principal, points.accessClass, points.id)) {
          if (ctx.state.principal.keyId === null) throw new AppError(401, 'ApiKeyRequired', `the valves are in ${points.id}, which needs an API key with clearance`);
          throw new AppError(403, 'NotCleared', `the valves are in ${points.id}; the API key is not cleared for it, and without them no isolation can be given`);
        }
        valves = await networks.valves(network, points.id, points.revision);
        await auditRestricted(ctx, services, [points], valves.flatMap((v) => (v.featureId ? [{ layerId: points.id, featureId: v.featureId }] : [])), { kind: 'burst-isolation', segment: segmentId });
        valveSource = { kind: 'points-layer', layer: points.id, features: VALVE_FEATURES, count: valves.length };
      } else {
        valveSource = { kind: 'none', message: `no points layer (${pointsId}) holds this network's valves; give them as "valves" (point numbers)` };
      }
    }

    const isolation = isolate(network, segmentId, valves);

    // Who loses supply: buildings and address points served by an isolated segment.
    const servedLayers = services.catalog.all()
      .filter((l) => l.domain === 'building' || (l.domain === 'address' && (l.geometryType === 'Point' || l.geometryType === 'MultiPoint')))
      .sort((x, y) => (x.id < y.id ? -1 : 1));
    const readable = servedLayers.filter((l) => canRead(ctx.state.principal, l.accessClass, l.id));
    const served = await Promise.all(readable.map((l) => servedBy(services.store.db, network, isolation.segments, l.id)));
    const list = (l: Layer, i: number) => {
      const rows = served[i]!;
      return {
        layer: l.id, count: rows.length, truncated: rows.length > MAX_SERVED_LISTED,
        features: rows.slice(0, MAX_SERVED_LISTED).map((r) => ({
          featureId: r.featureId, segment: r.segment, distance: round(r.distanceM, 2),
          ...(typeof r.attributes.address === 'string' ? { address: r.attributes.address } : {}),
          ...(typeof r.attributes.name === 'string' ? { name: r.attributes.name } : {}),
        })),
      };
    };
    await auditRestricted(ctx, services, [layer], isolation.segments.map((featureId) => ({ layerId: layer.id, featureId })), { kind: 'burst-isolation', segment: segmentId });

    ctx.set('Cache-Control', 'private, no-store');
    ctx.body = {
      layer: layer.id,
      burst: { segment: segmentId, snapped },
      network: {
        connectivity, nodesFrom: network.nodesFrom, ...(network.nodesFrom !== 'point-numbers' ? { snapTolerance: SNAP_TOLERANCE_M } : {}),
        segments: network.graph.edgeCount, nodes: network.graph.nodeCount,
        unnumberedEnds: network.unnumberedEnds, joinedByPosition: network.joinedByPosition,
      },
      valveSource,
      valves: isolation.valves.map((v) => ({ pointNo: v.pointNo, featureId: v.featureId, feature: v.feature, coordinates: [round(v.lon, 8), round(v.lat, 8)], segments: v.degree })),
      wholeComponent: isolation.wholeComponent,
      ...(isolation.wholeComponent ? { message: `no valve can be reached from ${segmentId}: the isolated segments are its whole connected network (${isolation.segments.length} segments), which can only be shut off at its source` } : {}),
      isolated: { count: isolation.segments.length, length: round(isolation.lengthM, 2), segments: isolation.segments },
      lossOfSupply: {
        rule: `a building or address is served by the nearest segment of ${layer.id} within ${SERVICE_REACH_M} m (service connections are not surveyed); it loses supply when that segment is isolated`,
        reach: SERVICE_REACH_M,
        layers: readable.map(list),
        withheld: servedLayers.filter((l) => !readable.includes(l)).map((l) => l.id),
      },
    };
  });
}
