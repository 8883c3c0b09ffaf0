/**
 * Finds NMEA sentences in a byte stream that is not only NMEA.
 *
 * Receivers interleave binary protocols with NMEA on the same port (u-blox UBX, CASIC on the
 * Quectel L76K, RTCM3 corrections passed through), loggers add '#' header lines, line ends are
 * CRLF or LF, and chunks from a serial port or socket end anywhere. Binary frames of the known
 * protocols are recognised by their sync bytes, length and checksum and skipped whole, so that a
 * newline or a '$' inside their payload cannot cut or fake a sentence; other bytes around a
 * sentence are ignored. A sentence runs from '$' or '!' to its '*hh' checksum, wherever it is on a
 * line. A line that looked like text but yielded no valid sentence is reported as rejected with
 * the reason, so that bad checksums and truncated sentences are counted, not lost.
 */

import { parseNmeaLine, type NmeaReject, type NmeaSentence } from './nmea-sentence.ts';

/** Binary protocols recognised (and skipped) between sentences. */
export type BinaryProtocol = 'ubx' | 'casic' | 'rtcm3';

export type NmeaStreamItem =
  | { line: number; sentence: NmeaSentence }
  | { line: number; rejected: NmeaReject }
  | { line: number; binary: BinaryProtocol };

const START = /[$!]/g;
const CHECKSUM_END = /\*[0-9A-Fa-f]{2}/g;

/** Latin-1 keeps every byte as one character, so binary frames cannot break the text around them. */
const LATIN1 = new TextDecoder('latin1');

/** Longest frame we wait for; a "length" beyond it is random bytes, not a frame. */
const MAX_UBX_PAYLOAD = 8192;
const MAX_CASIC_PAYLOAD = 2048;

export class NmeaStreamReader {
  private buffer = '';
  private lineText = '';
  private lineNumber = 1;

  /** Feeds a chunk (bytes or text); returns what the complete lines and frames in it held. */
  push(chunk: string | Uint8Array): NmeaStreamItem[] {
    this.buffer += typeof chunk === 'string' ? chunk : LATIN1.decode(chunk);
    const out: NmeaStreamItem[] = [];
    this.scan(false, out);
    return out;
  }

  /** Ends the stream: a last line without a line end, or a cut-off frame, is read as text. */
  end(): NmeaStreamItem[] {
    const out: NmeaStreamItem[] = [];
    this.scan(true, out);
    if (this.lineText.length > 0) this.readLine(out);
    return out;
  }

  private scan(final: boolean, out: NmeaStreamItem[]): void {
    const buf = this.buffer;
    let i = 0;
    let segment = 0;
    while (i < buf.length) {
      const c = buf.charCodeAt(i);
      if (c === 0x0a) {
        this.lineText += buf.slice(segment, i);
        this.readLine(out);
        this.lineNumber++;
        i++;
        segment = i;
        continue;
      }
      if (c === 0xb5 || c === 0xba || c === 0xd3) {
        const frame = binaryFrameAt(buf, i);
        if (frame === 'incomplete' && !final) break;
        if (frame !== null && frame !== 'incomplete') {
          this.lineText += buf.slice(segment, i);
          out.push({ line: this.lineNumber, binary: frame.protocol });
          for (let k = i; k < i + frame.length; k++) if (buf.charCodeAt(k) === 0x0a) this.lineNumber++;
          i += frame.length;
          segment = i;
          continue;
        }
      }
      i++;
    }
    this.lineText += buf.slice(segment, i);
    this.buffer = buf.slice(i);
  }

  private readLine(out: NmeaStreamItem[]): void {
    const text = this.lineText;
    this.lineText = '';
    const trimmed = text.trim();
    if (trimmed.length === 0 || trimmed[0] === '#') return;
    const line = this.lineNumber;
    const found = findSentences(text);
    if (found.sentences.length > 0) {
      for (const sentence of found.sentences) out.push({ line, sentence });
    } else if (found.rejected !== null) {
      out.push({ line, rejected: found.rejected });
    }
  }
}

/**
 * All sentences on one line of text. A candidate runs from a start character to the first '*hh'
 * after it (or to the end of the line, where parseNmeaLine then reports it as truncated). When
 * none is valid, the rejection of the last candidate is returned, or 'non-printable' for binary
 * without any start character.
 */
export function findSentences(text: string): { sentences: NmeaSentence[]; rejected: NmeaReject | null } {
  const sentences: NmeaSentence[] = [];
  let rejected: NmeaReject | null = null;
  let from = 0;
  for (;;) {
    START.lastIndex = from;
    const start = START.exec(text);
    if (start === null) break;
    CHECKSUM_END.lastIndex = start.index;
    const end = CHECKSUM_END.exec(text);
    const stop = end === null ? text.length : end.index + 3;
    const result = parseNmeaLine(text.slice(start.index, stop));
    if (result.ok) {
      sentences.push(result.sentence);
      from = stop;
    } else {
      rejected = result;
      // A '$$' prefix is one sentence start, not two candidates.
      from = start.index + 1;
      while (from < text.length && text[from] === text[start.index]) from++;
    }
  }
  if (sentences.length === 0 && rejected === null && text.trim().length > 0) {
    rejected = /[^\t\r\n\x20-\x7e]/.test(text)
      ? { ok: false, reason: 'non-printable', message: 'binary data without an NMEA sentence' }
      : { ok: false, reason: 'no-start', message: "text without a '$' or '!' sentence start" };
  }
  return { sentences, rejected };
}

/** A verified binary frame starting at i, 'incomplete' if more bytes could make one, else null. */
function binaryFrameAt(buf: string, i: number): { protocol: BinaryProtocol; length: number } | 'incomplete' | null {
  const b = (k: number): number => buf.charCodeAt(i + k);
  const have = buf.length - i;
  const c0 = b(0);
  if (have < 2) return 'incomplete';
  if (c0 === 0xb5 && b(1) === 0x62) {
    // UBX: B5 62 class id len(LE16) payload ck_a ck_b, Fletcher-8 over class..payload
    if (have < 6) return 'incomplete';
    const len = b(4) | (b(5) << 8);
    if (len > MAX_UBX_PAYLOAD) return null;
    if (have < 8 + len) return 'incomplete';
    let a = 0;
    let c = 0;
    for (let k = 2; k < 6 + len; k++) {
      a = (a + b(k)) & 0xff;
      c = (c + a) & 0xff;
    }
    return a === b(6 + len) && c === b(7 + len) ? { protocol: 'ubx', length: 8 + len } : null;
  }
  if (c0 === 0xba && b(1) === 0xce) {
    // CASIC: BA CE len(LE16) class id payload cksum(LE32); the sum is over 32-bit words
    if (have < 6) return 'incomplete';
    const len = b(2) | (b(3) << 8);
    if (len > MAX_CASIC_PAYLOAD || len % 4 !== 0) return null;
    if (have < 10 + len) return 'incomplete';
    let sum = ((b(5) << 24) + (b(4) << 16) + len) >>> 0;
    for (let k = 6; k < 6 + len; k += 4) sum = (sum + (b(k) | (b(k + 1) << 8) | (b(k + 2) << 16) | (b(k + 3) << 24))) >>> 0;
    const sent = (b(6 + len) | (b(7 + len) << 8) | (b(8 + len) << 16) | (b(9 + len) << 24)) >>> 0;
    return sum === sent ? { protocol: 'casic', length: 10 + len } : null;
  }
  if (c0 === 0xd3) {
    // RTCM3: D3, 6 zero bits + 10-bit length, payload, CRC-24Q over all before it
    if (have < 3) return 'incomplete';
    if ((b(1) & 0xfc) !== 0) return null;
    const len = ((b(1) & 0x03) << 8) | b(2);
    if (have < 6 + len) return 'incomplete';
    let crc = 0;
    for (let k = 0; k < 3 + len; k++) crc = crc24q(crc, b(k));
    const sent = (b(3 + len) << 16) | (b(4 + len) << 8) | b(5 + len);
    return crc === sent ? { protocol: 'rtcm3', length: 6 + len } : null;
  }
  return null;
}

function crc24q(crc: number, byte: number): number {
  let c = crc ^ (byte << 16);
  for (let bit = 0; bit < 8; bit++) {
    c <<= 1;
    if (c & 0x1000000) c ^= 0x1864cfb;
  }
  return c & 0xffffff;
}
