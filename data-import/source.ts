import type { Geometry } from 'geojson';

/** The formats the importer reads. */
export type SourceFormat = 'shapefile' | 'geojson' | 'geojsonseq' | 'csv';

export interface SourceField {
  /** The field name as the source spells it (decoded, e.g. 起点埋深 or QDMS). */
  name: string;
  type: 'string' | 'number' | 'integer' | 'date' | 'boolean';
}

export interface SourceInfo {
  format: SourceFormat;
  /** The file the user named (for messages), e.g. pipes.zip or pipes.shp. */
  fileName: string;
  /** The CRS as the source declares it: WKT from a .prj, or a name such as "EPSG:4549" from a GeoJSON crs member. */
  crsDeclared?: string;
  /** The attribute encoding used, and how it was chosen. */
  encoding?: { name: string; from: 'cpg' | 'detected' | 'option' | 'utf8-format' };
  fields: SourceField[];
  /** Every column in file order, when the file has more than `fields` (a CSV's coordinate columns). */
  columns?: string[];
  /** Number of rows when the format says it up front (DBF header), for progress bars. */
  rowCount?: number;
  /** Shape type name for Shapefiles, e.g. "PolyLineZ". */
  shapeType?: string;
}

/**
 * One record of the source, in the source's own CRS. `row` is 1-based: the record number for
 * Shapefiles and GeoJSON features, the data line (after the header) for CSV.
 * A record the reader could not make sense of carries `problem` instead of failing the file.
 */
export interface SourceRow {
  row: number;
  geometry: Geometry | null;
  properties: Record<string, unknown>;
  problem?: { field?: string; reason: string };
  /**
   * The row as the file has it, when that differs from `properties` (a CSV's coordinate columns
   * become the geometry); the rejected-rows report gives the user back what they sent.
   */
  source?: Record<string, unknown>;
}

export interface SourceReader {
  info: SourceInfo;
  rows(): AsyncIterable<SourceRow>;
  /** Releases files and temporary directories; safe to call twice. */
  close(): Promise<void>;
}

/**
 * A file the importer cannot read at all (truncated, inconsistent, unsafe). Carries where:
 * which file, and the row or field when known, for the 4xx body and the CLI message.
 */
export class SourceError extends Error {
  constructor(
    message: string,
    readonly where: { file: string; row?: number; field?: string },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SourceError';
  }
}
