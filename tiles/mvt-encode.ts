import type { PbfWriter } from 'pbf';
import type { FeatureIndex } from './feature-index.ts';
import { TILE_EXTENT } from './tile-math.ts';

/**
 * MVT 2.1 protobuf writing (https://github.com/mapbox/vector-tile-spec/tree/master/2.1).
 *
 * Feature messages are written with their lengths computed first, straight into the pbf buffer,
 * so nothing is shifted and nothing allocated per feature; keys and values were encoded once when
 * the index was built and are copied as bytes. Each feature carries:
 *   - id (field 1): the feature id when it is a decimal integer, else absent (MVT ids are uint64);
 *   - tags: the id property (FeatureIndexOptions.idProperty, default `feature_id`, always, so a
 *     client can fetch the feature whatever its id looks like) and the selected attributes.
 */

/** A layer's features for one tile, ready to write. */
export interface PreparedLayer {
  readonly name: string;
  readonly index: FeatureIndex;
  /** Keys to write, by the index's key number; null writes all. */
  readonly allowedKeys: Uint8Array | null;
  readonly count: number;
  /** Feature k is index item items[k], of MVT type types[k], with commands cmds[cmdEnds[k - 1] … cmdEnds[k]). */
  readonly items: Uint32Array;
  readonly types: Uint8Array;
  readonly cmdEnds: Uint32Array;
  readonly cmds: Uint32Array;
}

const vsize = (v: number) => (v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5);

function vsize53(v: number): number {
  let n = 1;
  while (v >= 128) { v = Math.floor(v / 128); n++; }
  return n;
}

function put(buf: Uint8Array, pos: number, v: number): number {
  while (v > 0x7f) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

function put53(buf: Uint8Array, pos: number, v: number): number {
  while (v >= 128) {
    buf[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

let tags = new Uint32Array(256);

// The layer being written, read by writeLayerBody (pbf.writeMessage takes a function and one object).
interface LayerJob {
  layer: PreparedLayer;
  include: Uint8Array | null;
  featureBytes: Uint32Array | null;
  written: number;
}

function writeLayerBody(job: LayerJob, pbf: PbfWriter) {
  const { layer, include, featureBytes } = job;
  const { index, allowedKeys, items, types, cmdEnds, cmds } = layer;
  const { itemProps, props, keyScratch, valueScratch, numericIds } = index;
  const usedKeys: number[] = [];
  const usedValues: number[] = [];
  pbf.writeVarintField(15, 2);
  pbf.writeStringField(1, layer.name);
  pbf.writeVarintField(5, TILE_EXTENT);
  try {
    let written = 0;
    for (let k = 0; k < layer.count; k++) {
      if (include !== null && include[k] === 0) continue;
      const item = items[k]!;
      const p0 = itemProps[item]!, p1 = itemProps[item + 1]!;
      if (tags.length < 2 * (p1 - p0)) tags = new Uint32Array(2 * (p1 - p0));
      let t = 0;
      let tagsLen = 0;
      for (let p = p0; p < p1; p++) {
        const key = props[2 * p]!;
        if (allowedKeys !== null && allowedKeys[key] === 0) continue;
        const value = props[2 * p + 1]!;
        let lk = keyScratch[key]!;
        if (lk < 0) { lk = keyScratch[key] = usedKeys.length; usedKeys.push(key); }
        let lv = valueScratch[value]!;
        if (lv < 0) { lv = valueScratch[value] = usedValues.length; usedValues.push(value); }
        tags[t++] = lk;
        tags[t++] = lv;
        tagsLen += vsize(lk) + vsize(lv);
      }
      const c0 = k === 0 ? 0 : cmdEnds[k - 1]!, c1 = cmdEnds[k]!;
      let geomLen = 0;
      for (let c = c0; c < c1; c++) geomLen += vsize(cmds[c]!);
      const id = numericIds[item]!;
      const body = (id >= 0 ? 1 + vsize53(id) : 0) + (t > 0 ? 1 + vsize(tagsLen) + tagsLen : 0) + 2 + 1 + vsize(geomLen) + geomLen;
      const total = 1 + vsize(body) + body;
      pbf.realloc(total);
      const buf = pbf.buf;
      let pos = pbf.pos;
      buf[pos++] = 0x12; // Layer.features (2, length-delimited)
      pos = put(buf, pos, body);
      if (id >= 0) { buf[pos++] = 0x08; pos = put53(buf, pos, id); } // Feature.id (1)
      if (t > 0) {
        buf[pos++] = 0x12; // Feature.tags (2, packed)
        pos = put(buf, pos, tagsLen);
        for (let i = 0; i < t; i++) pos = put(buf, pos, tags[i]!);
      }
      buf[pos++] = 0x18; // Feature.type (3)
      buf[pos++] = types[k]!;
      buf[pos++] = 0x22; // Feature.geometry (4, packed)
      pos = put(buf, pos, geomLen);
      for (let c = c0; c < c1; c++) pos = put(buf, pos, cmds[c]!);
      pbf.pos = pos;
      if (featureBytes !== null) featureBytes[k] = total;
      written++;
    }
    job.written = written;
    for (const key of usedKeys) pbf.writeBytesField(3, index.keyBytes[key]!);
    const vb = index.valueBytes, vs = index.valueStarts;
    for (const value of usedValues) {
      const s = vs[value]!, e = vs[value + 1]!;
      pbf.realloc(e - s + 6);
      const buf = pbf.buf;
      let pos = pbf.pos;
      buf[pos++] = 0x22; // Layer.values (4)
      pos = put(buf, pos, e - s);
      if (e - s <= 16) {
        for (let i = s; i < e; i++) buf[pos++] = vb[i]!;
      } else {
        buf.set(vb.subarray(s, e), pos);
        pos += e - s;
      }
      pbf.pos = pos;
    }
  } finally {
    // The scratch maps belong to the index and must be clean for the next layer, even after a throw.
    for (const key of usedKeys) keyScratch[key] = -1;
    for (const value of usedValues) valueScratch[value] = -1;
  }
}

/**
 * Appends the layer (Tile.layers, field 3) with its features — those with include[k] ≠ 0 when
 * `include` is given — and, when `featureBytes` is given, records each feature's encoded size.
 * Returns the number of features written; writes nothing when that is 0 (an empty layer is left
 * out of the tile rather than sent with no features).
 */
export function writeLayer(pbf: PbfWriter, layer: PreparedLayer, include: Uint8Array | null = null, featureBytes: Uint32Array | null = null): number {
  if (layer.count === 0) return 0;
  if (include !== null && !include.subarray(0, layer.count).some((v) => v !== 0)) return 0;
  const job: LayerJob = { layer, include, featureBytes, written: 0 };
  pbf.writeMessage(3, writeLayerBody, job);
  return job.written;
}
