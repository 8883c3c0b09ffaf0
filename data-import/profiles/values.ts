import { BURIAL_METHODS, MATERIALS, PIPE_STATUS } from './cjj61.ts';

/** A value the profile could not read; the row is rejected naming the field and this reason. */
export class InvalidValue {
  constructor(readonly reason: string) {}
}

export type Normaliser = (value: unknown) => unknown;

const FULLWIDTH = /[\uFF10-\uFF19\uFF0E\uFF0D]/g;
const halfWidth = (s: string) => s.replace(FULLWIDTH, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0));

const blank = (v: unknown) => v === null || v === undefined || (typeof v === 'string' && v.trim() === '');

/** Numbers as surveys write them: "1.20", "1.2m", "DN300", "Φ300", "３００". */
export function toNumber(v: unknown): number | null | InvalidValue {
  // DBF numeric fields arrive as numbers: the common case first.
  if (typeof v === 'number') return Number.isFinite(v) ? v : new InvalidValue(`${v} is not a finite number`);
  if (blank(v)) return null;
  const s = halfWidth(String(v).trim()).replace(/^(DN|De|Φ|φ|Ø)\s*/i, '').replace(/\s*(mm|m|米|毫米|kV|KV|kv)$/u, '');
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return new InvalidValue(`"${String(v)}" is not a number`);
  return Number(s);
}

export function toInteger(v: unknown): number | null | InvalidValue {
  const n = toNumber(v);
  if (n === null || n instanceof InvalidValue) return n;
  return Number.isInteger(n) ? n : Math.round(n);
}

export function toText(v: unknown): string | null {
  if (typeof v === 'string') {
    const s = v.trim();
    return s === '' ? null : s;
  }
  if (v === null || v === undefined) return null;
  return String(v).trim();
}

/** A year from 2005, "2005", "2005-06-01", "2005/6", "2005年", "20050601". */
export function toYear(v: unknown): number | null | InvalidValue {
  if (blank(v)) return null;
  const s = halfWidth(String(v).trim());
  const m = /^(\d{4})(?:$|[-/.年]|\d{4}$)/.exec(s);
  if (!m) return new InvalidValue(`"${String(v)}" is not a year or date`);
  const y = Number(m[1]);
  return y >= 1850 && y <= 2100 ? y : new InvalidValue(`year ${y} is out of range`);
}

/** A code from its code or its Chinese name, e.g. 球墨铸铁 → QM; unknown values are kept as given. */
export function codeFrom(table: Readonly<Record<string, string>>): Normaliser {
  const byName = new Map(Object.entries(table).map(([code, name]) => [name, code]));
  return (v) => {
    const s = toText(v);
    if (s === null) return null;
    const upper = s.toUpperCase();
    if (upper in table) return upper;
    return byName.get(s) ?? s;
  };
}

export const materialCode = codeFrom(MATERIALS);
export const burialCode = codeFrom(BURIAL_METHODS);

/** 在用/废弃/空管 or 0/1/2. */
const STATUS_BY_TEXT = new Map(Object.entries(PIPE_STATUS).flatMap(([code, name]) => [[code, Number(code)], [name, Number(code)]]));

export function pipeStatus(v: unknown): number | null | InvalidValue {
  if (typeof v === 'number' && v in PIPE_STATUS) return v;
  if (blank(v)) return null;
  const s = String(v).trim();
  return STATUS_BY_TEXT.get(s) ?? new InvalidValue(`"${s}" is not a pipe status (0 在用, 1 废弃, 2 空管)`);
}
