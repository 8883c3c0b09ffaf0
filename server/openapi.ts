import type { ParamSpec } from './params.ts';
import { COMMON_PARAMS, ITEM_PARAMS, ITEMS_PARAMS } from './routes/collections.ts';
import { TILE_PARAMS, TILEJSON_PARAMS } from './routes/tiles.ts';
import { NEAREST_PARAMS } from './routes/assets.ts';
import { COORDS_PARAMS, COORDS_POST_PARAMS } from './routes/coords.ts';
import { CHANGES_PARAMS } from './routes/changes.ts';
import { OVERLAY_BODY_SCHEMA, OVERLAY_QUERY_PARAMS } from './routes/analysis-overlay.ts';
import { STATS_PARAMS } from './routes/analysis-stats.ts';
import { BURST_PARAMS, CROSS_SECTION_PARAMS, DIG_CHECK_PARAMS } from './routes/analysis-field.ts';
import { BATCH_PARAMS, GEOCODE_PARAMS, PARSE_PARAMS, REVERSE_PARAMS, SUGGEST_PARAMS } from './routes/geocode.ts';

function queryParameters(specs: readonly ParamSpec<unknown>[]) {
  return specs.map((s) => ({
    name: s.name,
    in: 'query',
    required: false,
    description: s.description,
    schema: s.schema,
    ...(s.style ? { style: s.style, explode: s.explode ?? true } : {}),
  }));
}

const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const json = (description: string, schema: Record<string, unknown> = { type: 'object' }) => ({
  description,
  content: { 'application/json': { schema } },
});
const geojson = (description: string) => ({ description, content: { 'application/geo+json': { schema: { type: 'object' } } } });

/**
 * The OpenAPI 3.0 document, generated from the same parameter declarations that the routes use
 * to validate requests, so the two cannot drift apart.
 */
export function openApiDocument(base: string) {
  const common = queryParameters(COMMON_PARAMS);
  const collectionId = pathParam('collectionId', 'Layer id, as listed at /collections.');
  const featureId = pathParam('featureId', 'Stable feature id, the same across versions.');
  const layers = pathParam('layers', 'One layer id, or several separated by commas.');
  const standard = { '400': errorResponse('A parameter is invalid; the error names it.'), '401': errorResponse('The API key is unknown or revoked.') };
  return {
    openapi: '3.0.3',
    info: {
      title: 'OneMap 一张图 API',
      version: '0.1.0',
      description:
        'The space-time store of Quanzhou as OGC API - Features (Part 1: Core, GeoJSON, OpenAPI 3.0). Coordinates are CRS84; '
        + 'the store keeps CGCS2000 (EPSG:4490). Every feature keeps all its versions: `datetime` reads the city as of an instant.',
    },
    servers: [{ url: base }],
    components: {
      securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' }, requestId: { type: 'string' } },
            },
          },
        },
      },
    },
    security: [{}, { apiKey: [] }],
    paths: {
      '/': { get: { summary: 'Landing page', operationId: 'getLandingPage', parameters: common, responses: { '200': json('Links to the API'), ...standard } } },
      '/conformance': { get: { summary: 'Conformance classes', operationId: 'getConformance', parameters: common, responses: { '200': json('conformsTo'), ...standard } } },
      '/api': { get: { summary: 'This document', operationId: 'getApi', parameters: common, responses: { '200': { description: 'OpenAPI 3.0', content: { 'application/vnd.oai.openapi+json;version=3.0': {} } } } } },
      '/health': { get: { summary: 'Driver, PostGIS version and layer count', operationId: 'getHealth', responses: { '200': json('Healthy'), '503': errorResponse('The database is not reachable') } } },
      '/collections': { get: { summary: 'Layers the caller may read', operationId: 'getCollections', parameters: common, responses: { '200': json('Collections'), ...standard } } },
      '/collections/{collectionId}': {
        get: { summary: 'One layer', operationId: 'describeCollection', parameters: [collectionId, ...common], responses: { '200': json('Collection'), ...standard, '404': errorResponse('Unknown collection, or not visible to this key') } },
      },
      '/collections/{collectionId}/items': {
        get: {
          summary: 'Features of a layer, as of an instant or over an interval',
          operationId: 'getFeatures',
          parameters: [collectionId, ...queryParameters(ITEMS_PARAMS)],
          responses: { '200': geojson('FeatureCollection with numberMatched, numberReturned and next/prev links'), ...standard, '404': errorResponse('Unknown collection') },
        },
      },
      '/collections/{collectionId}/items/{featureId}': {
        get: {
          summary: 'One feature (the version valid now, or at datetime)',
          operationId: 'getFeature',
          parameters: [collectionId, featureId, ...queryParameters(ITEM_PARAMS)],
          responses: { '200': geojson('Feature'), ...standard, '404': errorResponse('Unknown collection or feature') },
        },
      },
      '/collections/{collectionId}/items/{featureId}/history': {
        get: {
          summary: 'Every version of a feature with its validity',
          operationId: 'getFeatureHistory',
          parameters: [collectionId, featureId, ...common],
          responses: { '200': geojson('FeatureCollection of versions, oldest first'), ...standard, '404': errorResponse('Unknown collection or feature') },
        },
      },
      '/tiles/{layers}/{z}/{x}/{y}.mvt': {
        get: {
          summary: 'A Mapbox Vector Tile of one layer or of several (comma-separated, drawn in that order), as of an instant',
          operationId: 'getTile',
          parameters: [layers, pathParam('z', 'Zoom, 0 to the layers\' maximum'), pathParam('x', 'Column, 0 to 2^z - 1'), pathParam('y', 'Row, 0 to 2^z - 1 (XYZ scheme)'), ...queryParameters(TILE_PARAMS)],
          responses: {
            '200': { description: 'The tile; ETag, Cache-Control: no-cache (revalidate: the ETag changes when a layer changes)', content: { 'application/vnd.mapbox-vector-tile': {} } },
            '204': { description: 'No feature of any layer in this tile (or the zoom is below the layers\' minimum)' },
            '304': { description: 'Not modified (If-None-Match)' },
            ...standard,
            '403': errorResponse('The API key is not cleared for a restricted layer of the request; nothing is sent'),
            '404': errorResponse('Unknown layer'),
          },
        },
      },
      '/tiles/{layers}.json': {
        get: {
          summary: 'TileJSON 3.0.0 for one layer or a composite',
          operationId: 'getTileJson',
          parameters: [layers, ...queryParameters(TILEJSON_PARAMS)],
          responses: { '200': json('TileJSON 3.0.0 with vector_layers'), ...standard, '403': errorResponse('Not cleared for a layer'), '404': errorResponse('Unknown layer') },
        },
      },
      '/imports': {
        post: {
          summary: 'Upload a survey delivery (multipart: file, layer and the import options) and import it as a job; planner and admin keys',
          operationId: 'postImport',
          responses: { '202': json('The job id and a link to it'), ...standard, '403': errorResponse('The key may not import'), '413': errorResponse('The upload is over the size limit') },
        },
      },
      '/imports/{jobId}': {
        get: { summary: 'Status, progress and report of an import job', operationId: 'getImport', parameters: [pathParam('jobId', 'The job id')], responses: { '200': json('The job'), ...standard, '404': errorResponse('Unknown job') } },
      },
      '/assets/nearest': {
        get: {
          summary: 'The k assets (pipe segments, pipe points, buildings …) nearest to a point: exact distance to the geometry in metres, the nearest point, the pipe depth there, the attributes',
          operationId: 'getNearestAssets',
          parameters: queryParameters(NEAREST_PARAMS).map((p) => (p.name === 'lon' || p.name === 'lat' ? { ...p, required: true } : p)),
          responses: {
            '200': json('The assets, nearest first', {
              type: 'object',
              required: ['crs', 'point', 'k', 'layers', 'assets'],
              properties: {
                crs: { type: 'string' },
                point: { type: 'array', items: { type: 'number' }, description: 'The query point as given (lon, lat in crs)' },
                k: { type: 'integer' },
                layers: { type: 'array', items: { type: 'string' }, description: 'The layers searched' },
                assets: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      layer: { type: 'string' },
                      featureId: { type: 'string' },
                      distance: { type: 'number', description: 'Metres to the nearest point of the geometry (0 inside a polygon), on the CGCS2000 ellipsoid' },
                      nearest: { type: 'array', items: { type: 'number' }, description: 'The nearest point of the asset, lon and lat in crs' },
                      fraction: { type: 'number', nullable: true, description: 'Line assets: position of the nearest point along the line, 0 at its start and 1 at its end' },
                      depth: { type: 'number', nullable: true, description: 'Metres: pipes, interpolated between start_depth_m and end_depth_m at fraction; pipe points, depth_m' },
                      attributes: { type: 'object' },
                      href: { type: 'string', description: 'The feature at /collections/{layer}/items/{featureId}' },
                    },
                  },
                },
              },
            }),
            ...standard,
            '403': errorResponse('The API key is not cleared for a named restricted layer; nothing was searched'),
            '404': errorResponse('A named layer does not exist'),
          },
        },
      },
      '/geocode': {
        get: {
          summary: 'Address → standard addresses, best first: the register\'s text and code, coordinates, match level (门牌号 … 省) and a score 0–100 (README, "Geocoding": what the score means)',
          operationId: 'geocode',
          parameters: required(queryParameters(GEOCODE_PARAMS), 'address'),
          responses: { '200': json('The parsed components and the results; ambiguous when the best two score alike'), ...standard },
        },
      },
      '/geocode/parse': {
        get: { summary: 'An address split into province, city, district, devzone, town, community, road, roadNumber, poi, building, unit, floor, room', operationId: 'parseAddress', parameters: required(queryParameters(PARSE_PARAMS), 'address'), responses: { '200': json('The components and the division resolved'), ...standard } },
      },
      '/reverse': {
        get: { summary: 'Point → the nearest standard address, the nearest road and the divisions around it, with distances in metres', operationId: 'reverseGeocode', parameters: required(queryParameters(REVERSE_PARAMS), 'lon', 'lat'), responses: { '200': json('The nearest address, road and divisions'), ...standard } },
      },
      '/suggest': {
        get: { summary: 'Prefix autocomplete over roads, doors, compounds and standard addresses', operationId: 'suggestAddresses', parameters: required(queryParameters(SUGGEST_PARAMS), 'q'), responses: { '200': json('Suggestions, shortest completion first'), ...standard } },
      },
      '/geocode/batch': {
        post: {
          summary: 'Many addresses at once: a JSON array (→ JSON results), or a CSV upload with ?column= naming the address column (→ the same CSV, same encoding, with lon, lat, match_level, match_score, std_address, std_address_code appended, streamed)',
          operationId: 'geocodeBatch',
          parameters: queryParameters(BATCH_PARAMS),
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'array', items: {} } }, 'text/csv': { schema: { type: 'string' } } } },
          responses: { '200': { description: 'The results', content: { 'application/json': { schema: { type: 'object' } }, 'text/csv': { schema: { type: 'string' } } } }, ...standard, '413': errorResponse('The upload is over the size limit'), '415': errorResponse('Neither JSON nor CSV') },
        },
      },
      '/collections/{collectionId}/changes': {
        get: {
          summary: 'Features added, changed and retired between two instants (from, to], each with its new (or last) state and versions',
          operationId: 'getChanges',
          parameters: [collectionId, ...required(queryParameters(CHANGES_PARAMS), 'from')],
          responses: { '200': geojson('A FeatureCollection with properties.change = added | changed | retired, and counts'), ...standard, '404': errorResponse('No such collection') },
        },
      },
      '/coords/transform': {
        get: { summary: 'Convert points between CRS84, EPSG:4326/4490, CGCS2000 Gauss-Krüger zones, UTM, EPSG:3857, GCJ02 and BD09 (easting/longitude first)', operationId: 'getTransform', parameters: required(queryParameters(COORDS_PARAMS), 'from', 'to', 'points'), responses: { '200': json('{from, to, points}'), ...standard } },
        post: {
          summary: 'The same for up to 100,000 points in a JSON body {from, to, points: [[x, y], …]}',
          operationId: 'postTransform',
          parameters: queryParameters(COORDS_POST_PARAMS),
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['from', 'to', 'points'], properties: { from: { type: 'string' }, to: { type: 'string' }, points: { type: 'array', items: { type: 'array', items: { type: 'number' } } } } } } } },
          responses: { '200': json('{from, to, points}'), ...standard },
        },
      },
      '/analysis/overlay': {
        post: {
          summary: 'Features of a layer intersecting, or within a distance of, a geometry or another layer\'s features: counts, lengths and areas',
          operationId: 'overlay',
          parameters: queryParameters(OVERLAY_QUERY_PARAMS),
          requestBody: { required: true, content: { 'application/json': { schema: OVERLAY_BODY_SCHEMA } } },
          responses: { '200': json('Summary and features, nearest first'), ...standard, '404': errorResponse('No such layer') },
        },
      },
      '/analysis/stats': {
        get: { summary: 'Counts, lengths and areas of a layer per district, town, community or square grid cell (metres, EPSG:4549), optionally as of a date', operationId: 'stats', parameters: required(queryParameters(STATS_PARAMS), 'layer', 'by'), responses: { '200': json('One row per area or cell, and the total'), ...standard } },
      },
      '/analysis/dig-check': {
        post: {
          summary: 'Before digging: every utility crossing a polygon, a point with a radius or a line with a width, or within its clearance (GB 50289-2016), with depth at the crossing, distance and risk; GeoJSON or printable HTML',
          operationId: 'digCheck',
          parameters: queryParameters(DIG_CHECK_PARAMS),
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['geometry'], properties: { geometry: { type: 'object' }, radius: { type: 'number' }, width: { type: 'number' }, depth: { type: 'number' }, layers: { type: 'array', items: { type: 'string' } }, crs: { type: 'string' } } } } } },
          responses: { '200': geojson('The utilities, with the searched and withheld layers'), ...standard },
        },
      },
      '/analysis/cross-section': {
        post: {
          summary: 'The pipes a line crosses, ordered along it (offset, depth, diameter, type): the data of a 横断面图, or its SVG drawing',
          operationId: 'crossSection',
          parameters: queryParameters(CROSS_SECTION_PARAMS),
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['geometry'], properties: { geometry: { type: 'object' }, layers: { type: 'array', items: { type: 'string' } }, crs: { type: 'string' } } } } } },
          responses: { '200': { description: 'The crossings (JSON) or the drawing (image/svg+xml)', content: { 'application/json': { schema: { type: 'object' } }, 'image/svg+xml': { schema: { type: 'string' } } } }, ...standard },
        },
      },
      '/analysis/burst-isolation': {
        post: {
          summary: 'A burst water or gas main: the valves to close, the isolated segments and the buildings and addresses that lose supply',
          operationId: 'burstIsolation',
          parameters: queryParameters(BURST_PARAMS),
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { layer: { type: 'string' }, segment: { type: 'string' }, point: { type: 'array', items: { type: 'number' } }, valves: { type: 'array', items: { type: 'string' } }, connectivity: { type: 'string' }, maxDistance: { type: 'number' } } } } } },
          responses: { '200': json('Valves, isolated segments, affected buildings and addresses'), ...standard, '404': errorResponse('Unknown layer or segment') },
        },
      },
    },
  };
}

function required<P extends { name: string; required: boolean }>(params: P[], ...names: string[]): P[] {
  return params.map((p) => (names.includes(p.name) ? { ...p, required: true } : p));
}
