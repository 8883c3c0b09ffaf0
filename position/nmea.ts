/**
 * NMEA 0183 positions: from receiver output (text or bytes, whole or in chunks) to one fix per
 * epoch, with gpsd's semantics. Pure library: no I/O, no Koa, no database.
 *
 *   parseNmeaLine(line)        one sentence, typed, or a rejection with its reason
 *   NmeaEpochAssembler         sentences → fixes, one per epoch (gpsd's policy)
 *   NmeaLogParser              bytes/text chunks → fixes, rejections counted
 *   parseNmeaLog(text)         a whole log at once
 */

import { NmeaEpochAssembler, type NmeaEpochOptions, type NmeaFix } from './nmea-epoch.ts';
import type { NmeaRejectReason } from './nmea-sentence.ts';
import type { SkySatellite } from './nmea-sky.ts';
import { NmeaStreamReader } from './nmea-stream.ts';

export {
  parseNmeaLine, NMEA_MAX_SENTENCE_LENGTH,
  type NmeaSentence, type NmeaParseResult, type NmeaReject, type NmeaRejectReason, type NmeaTimeOfDay,
  type NmeaDate, type LatLon, type GgaSentence, type RmcSentence, type GnsSentence, type GllSentence,
  type GsaSentence, type GsvSentence, type GsvSatellite, type GstSentence, type VtgSentence,
  type ZdaSentence, type Psti030Sentence, type OtherSentence,
} from './nmea-sentence.ts';
export { NmeaEpochAssembler, FixStatus, type NmeaFix, type FixMode, type NmeaErrorEstimates, type NmeaEpochOptions } from './nmea-epoch.ts';
export { resolveSatellite, talkerSystem, nmeaSystem, GNSS_ID, type GnssSystem, type SatelliteId } from './nmea-satellites.ts';
export type { SkySatellite } from './nmea-sky.ts';
export { NmeaStreamReader, findSentences, type NmeaStreamItem, type BinaryProtocol } from './nmea-stream.ts';
export { geoidSeparation } from './geoid.ts';

export interface NmeaRejectedLine {
  /** 1-based line number in the input. */
  line: number;
  reason: NmeaRejectReason;
  message: string;
}

/** Streaming parser: feed chunks as they arrive, collect fixes as epochs complete. */
export class NmeaLogParser {
  private readonly reader = new NmeaStreamReader();
  private readonly assembler: NmeaEpochAssembler;
  private readonly rejectedLines: NmeaRejectedLine[] = [];
  private sentenceCount = 0;

  constructor(options: NmeaEpochOptions = {}) {
    this.assembler = new NmeaEpochAssembler(options);
  }

  /** Returns the fixes of the epochs this chunk completed. */
  push(chunk: string | Uint8Array): NmeaFix[] {
    return this.consume(this.reader.push(chunk));
  }

  /** Ends the stream and returns the remaining fixes (the last epoch's). */
  end(): NmeaFix[] {
    return [...this.consume(this.reader.end()), ...this.assembler.flush()];
  }

  /** Lines that held no valid sentence, in input order. */
  get rejected(): readonly NmeaRejectedLine[] {
    return this.rejectedLines;
  }

  /** Sentences accepted so far. */
  get sentences(): number {
    return this.sentenceCount;
  }

  /** Satellites in view as of the last complete GSV set. */
  satellites(): SkySatellite[] {
    return this.assembler.satellites();
  }

  private consume(items: ReturnType<NmeaStreamReader['push']>): NmeaFix[] {
    const fixes: NmeaFix[] = [];
    for (const item of items) {
      if ('rejected' in item) {
        this.rejectedLines.push({ line: item.line, reason: item.rejected.reason, message: item.rejected.message });
      } else if ('binary' in item) {
        this.assembler.noteBinaryFrame(item.binary);
      } else {
        this.sentenceCount++;
        fixes.push(...this.assembler.push(item.sentence));
      }
    }
    return fixes;
  }
}

export interface NmeaLogResult {
  /** One fix per epoch with a 2D or 3D fix, in time order of their epochs' reports. */
  fixes: NmeaFix[];
  rejected: NmeaRejectedLine[];
  /** Satellites in view at the end of the log. */
  satellites: SkySatellite[];
  sentences: number;
}

/**
 * Parses a whole log. An epoch reported twice (a receiver that repeats a time) keeps its last
 * fix, as the streaming parser's later output supersedes its earlier one.
 */
export function parseNmeaLog(input: string | Uint8Array, options: NmeaEpochOptions = {}): NmeaLogResult {
  const parser = new NmeaLogParser(options);
  const all = [...parser.push(input), ...parser.end()];
  const byTime = new Map<string, NmeaFix>();
  for (const fix of all) {
    byTime.delete(fix.time);
    byTime.set(fix.time, fix);
  }
  return { fixes: [...byTime.values()], rejected: [...parser.rejected], satellites: parser.satellites(), sentences: parser.sentences };
}
