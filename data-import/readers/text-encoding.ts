import iconv from 'iconv-lite';

/** Encoding names as users and .cpg files write them → the name iconv-lite knows. */
export function normaliseEncoding(name: string): string | undefined {
  const n = name.trim().toLowerCase().replace(/^ansi\s*/, '').replace(/[\s_]/g, '');
  const aliases: Record<string, string> = {
    'utf8': 'utf8', 'utf-8': 'utf8', '65001': 'utf8',
    'gbk': 'gbk', 'cp936': 'gbk', '936': 'gbk', 'gb2312': 'gbk', 'euc-cn': 'gbk', 'gb18030': 'gb18030', '54936': 'gb18030',
    'big5': 'big5', '950': 'big5', 'latin1': 'latin1', 'iso-8859-1': 'latin1', '1252': 'win1252', 'cp1252': 'win1252',
  };
  const found = aliases[n];
  if (found) return found;
  return iconv.encodingExists(n) ? n : undefined;
}

/**
 * UTF-8 if the bytes decode strictly as UTF-8 (a few GBK byte pairs happen to be valid UTF-8, but
 * whole Chinese texts essentially never are), otherwise GBK, the encoding of Chinese Windows.
 * `sample` may end inside a character; the last incomplete sequence is ignored.
 */
export function detectChineseEncoding(sample: Buffer): 'utf8' | 'gbk' {
  if (sample.length >= 3 && sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf) return 'utf8';
  let end = sample.length;
  // Back off a trailing partial UTF-8 sequence.
  for (let k = 1; k <= 3 && end - k >= 0; k++) {
    const b = sample[end - k]!;
    if ((b & 0xc0) === 0xc0) { end -= k; break; }
    if ((b & 0x80) === 0) break;
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample.subarray(0, end));
    return 'utf8';
  } catch {
    return 'gbk';
  }
}

/** True when the text decoded with the named encoding contains replacement characters (the bytes were not in it). */
export function decodesCleanly(bytes: Buffer, encoding: string): boolean {
  if (encoding === 'utf8') {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      return true;
    } catch {
      return false;
    }
  }
  return !iconv.decode(bytes, encoding).includes('\uFFFD');
}
