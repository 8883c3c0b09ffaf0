import iconv from 'iconv-lite';

/**
 * Canonical encoding name for a label from a .cpg, an option or a language driver, or undefined
 * when we cannot decode it. Accepts the spellings found in the wild: "GBK", "CP936", "936",
 * "ANSI 936", "UTF8", "65001", "GB2312", "GB18030", "1252", "ISO-8859-1", ...
 */
export function normaliseEncoding(label: string): string | undefined {
  const raw = label.replace(/^\uFEFF/, '').trim();
  const key = raw.toUpperCase().replace(/^ANSI[\s_]*/, '').replace(/[\s_-]/g, '');
  if (key === '') return undefined;
  if (key === 'UTF8' || key === '65001' || key === 'CP65001') return 'UTF-8';
  // GB2312 and GBK text is decoded with the GB18030 decoder (a superset), reported as GBK.
  if (['GBK', 'CP936', '936', 'GB2312', 'EUCCN', 'WINDOWS936', 'MS936', 'X936'].includes(key)) return 'GBK';
  if (key === 'GB18030' || key === '54936') return 'GB18030';
  if (['BIG5', 'CP950', '950'].includes(key)) return 'Big5';
  if (['SHIFTJIS', 'SJIS', 'CP932', '932'].includes(key)) return 'Shift_JIS';
  if (['EUCKR', 'CP949', '949'].includes(key)) return 'EUC-KR';
  const cp = /^(?:CP|WINDOWS)?(\d{3,5})$/.exec(key);
  if (cp) {
    const n = Number(cp[1]);
    if (n >= 1250 && n <= 1258) return `windows-${n}`;
    if (n === 874) return 'windows-874';
    if (n >= 28591 && n <= 28606) return `ISO-8859-${n - 28590}`;
    if (iconv.encodingExists(`cp${n}`)) return `cp${n}`;
    return undefined;
  }
  const iso = /^ISO8859(\d{1,2})$/.exec(key);
  if (iso) return `ISO-8859-${iso[1]}`;
  if (key === 'LATIN1') return 'ISO-8859-1';
  if (iconv.encodingExists(raw)) return raw;
  return undefined;
}

/**
 * UTF-8 if the bytes decode strictly as UTF-8 (a few GBK byte pairs happen to be valid UTF-8, but
 * whole Chinese texts essentially never are), otherwise GBK, the encoding of Chinese Windows.
 * `sample` may end inside a character; the last incomplete sequence is ignored.
 */
export function detectChineseEncoding(sample: Buffer): 'UTF-8' | 'GBK' {
  if (sample.length >= 3 && sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf) return 'UTF-8';
  let end = sample.length;
  // Back off a trailing partial UTF-8 sequence.
  for (let k = 1; k <= 3 && end - k >= 0; k++) {
    const b = sample[end - k]!;
    if ((b & 0xc0) === 0xc0) { end -= k; break; }
    if ((b & 0x80) === 0) break;
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample.subarray(0, end));
    return 'UTF-8';
  } catch {
    return 'GBK';
  }
}

/** False when the bytes are not text in the named encoding (a canonical name from normaliseEncoding). */
export function decodesCleanly(bytes: Buffer, encoding: string): boolean {
  if (encoding === 'UTF-8') {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      return true;
    } catch {
      return false;
    }
  }
  return !iconv.decode(bytes, encoding).includes('\uFFFD');
}
