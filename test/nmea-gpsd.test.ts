/**
 * Conformance: for every receiver log in shared/conformance/gpsd-nmea, our NMEA parser gives the
 * fixes that gpsd gave (the .chk files are gpsd's own regression output). Method, from the
 * data set's README: per TPV time, the last TPV with mode >= 2; compare time (ms), lat/lon (1e-8°),
 * altMSL, altHAE, mode, status where gpsd prints it (2 and up), and the satellites used.
 *
 * Two readings of the .chk that the README leaves open are made explicit here:
 *
 * - Satellites used: gpsd prints two kinds of SKY report. Those that list satellites count the
 *   ones marked used in a sky view that GSV sets rebuild across epochs (and, with u-blox binary,
 *   NAV-SAT); those without a list carry gpsd's per-fix count, the receiver's GGA figure. We
 *   compare with the latter: the last list-less SKY at the epoch's TPV.
 * - Reports from binary frames: gpsd decodes some binary protocols too and reports fixes from
 *   them, echoing its own NMEA translation of the frame instead of an input line. Their data is in
 *   no NMEA sentence, so they cannot be expected from an NMEA parser; they are set aside, only in
 *   the logs named in BINARY_DECODED, and checked to agree with our fix of the same epoch to the
 *   resolution of the receiver's NMEA sentences.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseNmeaLog, type NmeaFix } from '../position/nmea.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DATA = path.resolve(REPO, '../shared/conformance/gpsd-nmea');

/** Logs where gpsd also reports fixes from binary frames, and what they are. */
const BINARY_DECODED: Readonly<Record<string, string>> = {
  'quectel-l76k-dual.log': 'CASIC NAV-PV/NAV-TIMEUTC frames (binary lat/lon to 1e-9°, altitude to 1 mm)',
  'ublox-zed-f9r.log': 'UBX NAV-* frames (same position as the NMEA sentences, other error estimates)',
};

/** gpsd prints lat/lon with 9 decimals and altitudes with 4. */
const LATLON_TOLERANCE = 1e-8;
const ALT_TOLERANCE = 1e-4 + 1e-9;
/** Binary reports against our NMEA fix: half the last digit of the L76K's NMEA (1e-5 minutes, 0.1 m). */
const BINARY_LATLON_TOLERANCE = 1e-7;
const BINARY_ALT_TOLERANCE = 0.1;

interface Tpv {
  time: string;
  mode: number;
  status?: number;
  lat?: number;
  lon?: number;
  altMSL?: number;
  altHAE?: number;
}

interface Expected extends Tpv {
  satellitesUsed?: number;
  chkLine: number;
}

/** gpsd's GST report; it leaves out the fields the sentence left empty. */
interface GstReport {
  rms?: number; major?: number; minor?: number; orient?: number; lat?: number; lon?: number; alt?: number;
}

interface Reading {
  epochs: Map<string, Expected>;
  binaryReports: Map<string, Tpv>;
  gst: Map<string, GstReport>;
  echoed: Set<string>;
}

/** The sentences a log holds, wherever they are on its lines (binary frames may precede them). */
function sentencesIn(log: string): Set<string> {
  return new Set(log.match(/[$!][^$!\r\n]*?\*[0-9A-Fa-f]{2}/g) ?? []);
}

function readChk(chk: string, logSentences: Set<string>): Reading {
  const epochs = new Map<string, Expected>();
  const binaryReports = new Map<string, Tpv>();
  const gst = new Map<string, GstReport>();
  const echoed = new Set<string>();
  let usedCount: number | undefined;
  let afterInput = true;
  const lines = chk.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (line.length === 0) continue;
    if (!line.startsWith('{')) {
      // gpsd's NMEA output: an echo of an input sentence, or its translation of a binary frame
      afterInput = logSentences.has(line);
      if (afterInput) echoed.add(line);
      continue;
    }
    const report = JSON.parse(line) as Record<string, unknown>;
    if (report.class === 'SKY' && report.satellites === undefined && report.nSat === undefined && typeof report.uSat === 'number') {
      usedCount = report.uSat;
    }
    if (report.class === 'GST' && typeof report.time === 'string') gst.set(report.time, report as unknown as GstReport);
    if (report.class !== 'TPV' || typeof report.time !== 'string' || (report.mode as number) < 2) continue;
    const tpv: Tpv = {
      time: report.time, mode: report.mode as number, status: report.status as number | undefined,
      lat: report.lat as number | undefined, lon: report.lon as number | undefined,
      altMSL: report.altMSL as number | undefined, altHAE: report.altHAE as number | undefined,
    };
    if (afterInput) epochs.set(tpv.time, { ...tpv, satellitesUsed: usedCount, chkLine: i + 1 });
    else binaryReports.set(tpv.time, tpv);
  }
  return { epochs, binaryReports, gst, echoed };
}

function near(a: number | undefined, b: number | undefined, tolerance: number): boolean {
  if (a === undefined || b === undefined) return a === b;
  return Math.abs(a - b) <= tolerance;
}

/** Differences between gpsd's epoch and our fix, as readable strings (empty when they agree). */
function compareEpoch(e: Tpv, f: NmeaFix, latLonTolerance: number, altTolerance: number): string[] {
  const d: string[] = [];
  if (!near(e.lat, f.lat, latLonTolerance) || !near(e.lon, f.lon, latLonTolerance)) d.push(`lat/lon ${e.lat},${e.lon} ≠ ${f.lat},${f.lon}`);
  if (!near(e.altMSL, f.altMSL, altTolerance)) d.push(`altMSL ${e.altMSL} ≠ ${f.altMSL}`);
  if (!near(e.altHAE, f.altHAE, altTolerance)) d.push(`altHAE ${e.altHAE} ≠ ${f.altHAE}`);
  if (e.mode !== f.mode) d.push(`mode ${e.mode} ≠ ${f.mode}`);
  // gpsd prints status from DGPS (2) up; absent means unknown (0) or plain GPS (1)
  if (e.status !== undefined ? e.status !== f.status : f.status > 1) d.push(`status ${e.status ?? '0/1'} ≠ ${f.status}`);
  return d;
}

describe('NMEA parser against gpsd (shared/conformance/gpsd-nmea)', () => {
  it('has the conformance data', () => {
    assert.ok(existsSync(DATA), `conformance data missing: expected the gpsd logs in ${DATA} (../shared/conformance/gpsd-nmea from the repository)`);
    assert.ok(readdirSync(DATA).some((f) => f.endsWith('.log')), `no .log files in ${DATA}`);
  });
  if (!existsSync(DATA)) return;

  const logs = readdirSync(DATA).filter((f) => f.endsWith('.log')).sort();
  let totalEpochs = 0;

  for (const name of logs) {
    it(`${name}: the same fix as gpsd for every epoch`, () => {
      const bytes = readFileSync(path.join(DATA, name));
      const logText = bytes.toString('latin1');
      const chkPath = path.join(DATA, `${name}.chk`);
      assert.ok(existsSync(chkPath), `${name} has no .chk file with gpsd's output`);
      const reading = readChk(readFileSync(chkPath, 'latin1'), sentencesIn(logText));
      const result = parseNmeaLog(bytes);
      const ours = new Map(result.fixes.map((f) => [f.time, f]));

      assert.deepEqual([...ours.keys()].sort(), [...reading.epochs.keys()].sort(), `${name}: the set of epochs differs from gpsd's`);

      const mismatches: string[] = [];
      for (const [time, expected] of reading.epochs) {
        const fix = ours.get(time)!;
        const d = compareEpoch(expected, fix, LATLON_TOLERANCE, ALT_TOLERANCE);
        if (expected.satellitesUsed !== fix.satellitesUsed) d.push(`satellites used ${expected.satellitesUsed} ≠ ${fix.satellitesUsed}`);
        const gst = reading.gst.get(time);
        if (gst) {
          const e = fix.errors;
          const pairs: Array<[number | undefined, number | null | undefined]> = [
            [gst.rms, e?.rmsRange], [gst.major, e?.semiMajor], [gst.minor, e?.semiMinor], [gst.orient, e?.orientation],
            [gst.lat, e?.lat], [gst.lon, e?.lon], [gst.alt, e?.alt],
          ];
          // gpsd prints 3 decimals
          if (e === undefined || pairs.some(([a, b]) => !near(a, b ?? undefined, 5e-4 + 1e-9))) d.push(`GST ${JSON.stringify(gst)} ≠ ${JSON.stringify(e)}`);
        }
        if (d.length > 0) mismatches.push(`${time} (.chk line ${expected.chkLine}): ${d.join('; ')}`);
      }
      assert.deepEqual(mismatches, [], `${name}: fixes differ from gpsd's`);
      totalEpochs += reading.epochs.size;

      // Lines we reject are lines gpsd did not accept either (it echoes every sentence it takes).
      const logLines = logText.split('\n');
      const acceptedByGpsd = result.rejected.filter((r) => reading.echoed.has(logLines[r.line - 1].trim()));
      assert.deepEqual(acceptedByGpsd, [], `${name}: we rejected lines that gpsd accepted`);
    });
  }

  it('sets aside reports from binary frames only where declared, and they agree with the NMEA fix', () => {
    const withBinary: string[] = [];
    for (const name of logs) {
      const bytes = readFileSync(path.join(DATA, name));
      const reading = readChk(readFileSync(path.join(DATA, `${name}.chk`), 'latin1'), sentencesIn(bytes.toString('latin1')));
      if (reading.binaryReports.size === 0) continue;
      withBinary.push(name);
      const ours = new Map(parseNmeaLog(bytes).fixes.map((f) => [f.time, f]));
      const mismatches: string[] = [];
      for (const [time, report] of reading.binaryReports) {
        const fix = ours.get(time);
        if (!fix) {
          mismatches.push(`${time}: gpsd reported a fix from binary data for an epoch with no NMEA fix`);
          continue;
        }
        const d = compareEpoch(report, fix, BINARY_LATLON_TOLERANCE, BINARY_ALT_TOLERANCE);
        if (d.length > 0) mismatches.push(`${time}: ${d.join('; ')}`);
      }
      assert.deepEqual(mismatches, [], `${name} (${BINARY_DECODED[name] ?? 'undeclared'}): binary reports disagree with the NMEA fix`);
    }
    assert.deepEqual(withBinary, Object.keys(BINARY_DECODED).sort(), 'logs with fixes gpsd took from binary frames');
  });

  it('compares a meaningful number of epochs', () => {
    // 666 epochs in the 16 logs as shipped; a parse that silently produced nothing would pass the
    // per-log set comparison only if gpsd also reported nothing.
    assert.ok(totalEpochs >= 600, `only ${totalEpochs} epochs compared`);
  });
});
