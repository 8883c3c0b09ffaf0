/**
 * The NMEA parser on hostile and edge-case input: checksums, truncation, empty fields, '$$',
 * binary frames in the stream, hemispheres, high-precision coordinates, talkers and system ids,
 * and epoch assembly across midnight. The gpsd conformance suite is test/nmea-gpsd.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  NmeaEpochAssembler, NmeaLogParser, NmeaStreamReader, geoidSeparation, parseNmeaLine, parseNmeaLog, resolveSatellite,
  type GgaSentence, type GsaSentence, type GsvSentence, type NmeaSentence, type RmcSentence,
} from '../position/nmea.ts';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'nmea');

/** "$" + body + "*hh" with the correct checksum. */
function nmea(body: string): string {
  let sum = 0;
  for (const c of body) sum ^= c.charCodeAt(0);
  return `$${body}*${sum.toString(16).toUpperCase().padStart(2, '0')}`;
}

function parsed<T extends NmeaSentence>(line: string): T {
  const r = parseNmeaLine(line);
  assert.ok(r.ok, `expected ${line} to parse, got ${r.ok ? '' : `${r.reason}: ${r.message}`}`);
  return r.sentence as T;
}

/** A UBX frame with a correct Fletcher checksum (class 0x01 NAV, id 0x07 PVT here). */
function ubxFrame(payload: number[]): Uint8Array {
  const body = [0x01, 0x07, payload.length & 0xff, payload.length >> 8, ...payload];
  let a = 0;
  let b = 0;
  for (const x of body) {
    a = (a + x) & 0xff;
    b = (b + a) & 0xff;
  }
  return Uint8Array.from([0xb5, 0x62, ...body, a, b]);
}

const GGA = nmea('GPGGA,123519.00,4807.038,N,01131.324,E,1,08,0.9,545.4,M,46.9,M,,');
const RMC = nmea('GPRMC,123519.00,A,4807.038,N,01131.324,E,022.4,084.4,230394,003.1,W,A');

describe('parseNmeaLine', () => {
  it('decodes GGA fields with units and hemispheres', () => {
    const s = parsed<GgaSentence>(GGA);
    assert.equal(s.type, 'GGA');
    assert.equal(s.talker, 'GP');
    assert.deepEqual(s.time, { hour: 12, minute: 35, second: 19, nanos: 0 });
    assert.ok(Math.abs(s.position!.lat - (48 + 7.038 / 60)) < 1e-12);
    assert.ok(Math.abs(s.position!.lon - (11 + 31.324 / 60)) < 1e-12);
    assert.equal(s.quality, 1);
    assert.equal(s.satellitesUsed, 8);
    assert.equal(s.altitudeMsl, 545.4);
    assert.equal(s.geoidSeparation, 46.9);
    assert.equal(s.dgpsAge, null);
  });

  it('rejects a bad checksum with its reason, and accepts lower-case hex', () => {
    const bad = GGA.slice(0, -2) + (GGA.slice(-2) === '00' ? '01' : '00');
    const r = parseNmeaLine(bad);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, 'bad-checksum');
    assert.ok(parseNmeaLine(GGA.slice(0, -2) + GGA.slice(-2).toLowerCase()).ok);
    // one changed digit in a field is caught
    const tampered = GGA.replace('545.4', '545.5');
    assert.equal(!parseNmeaLine(tampered).ok && (parseNmeaLine(tampered) as { reason: string }).reason, 'bad-checksum');
  });

  it('rejects truncated sentences as missing their checksum', () => {
    for (const cut of [GGA.slice(0, 30), GGA.slice(0, -1), GGA.slice(0, -3), '$', '$GPGGA']) {
      const r = parseNmeaLine(cut);
      assert.equal(r.ok, false, cut);
      assert.equal(!r.ok && r.reason, 'missing-checksum', cut);
    }
  });

  it('keeps empty fields as null, never 0', () => {
    const s = parsed<GgaSentence>(nmea('GNGGA,,,,,,0,,,,,,,,'));
    assert.equal(s.time, null);
    assert.equal(s.position, null);
    assert.equal(s.quality, 0);
    assert.equal(s.satellitesUsed, null);
    assert.equal(s.hdop, null);
    assert.equal(s.altitudeMsl, null);
    const r = parsed<RmcSentence>(nmea('GPRMC,,V,,,,,,,,,,N'));
    assert.equal(r.status, 'V');
    assert.equal(r.date, null);
    assert.equal(r.speedKnots, null);
    assert.equal(r.faaMode, 'N');
  });

  it("accepts a '$$' start as one sentence", () => {
    const s = parsed<GgaSentence>('$' + GGA);
    assert.equal(s.type, 'GGA');
    assert.equal(s.raw, GGA);
  });

  it('rejects binary bytes and a missing start character', () => {
    const r = parseNmeaLine('$GPGGA,1\u0000\u00b5b,2*00');
    assert.equal(!r.ok && r.reason, 'non-printable');
    assert.equal((parseNmeaLine('GPGGA,1,2*00') as { reason: string }).reason, 'no-start');
    assert.equal((parseNmeaLine('   ') as { reason: string }).reason, 'empty');
    assert.equal((parseNmeaLine(nmea('GP-GA,1')) as { reason: string }).reason, 'bad-address');
    assert.equal((parseNmeaLine(nmea('GPTXT,' + 'x'.repeat(300))) as { reason: string }).reason, 'too-long');
  });

  it('applies hemispheres and refuses impossible coordinates', () => {
    const at = (lat: string, ns: string, lon: string, ew: string) =>
      parsed<GgaSentence>(nmea(`GPGGA,000000,${lat},${ns},${lon},${ew},1,08,0.9,1.0,M,0.0,M,,`)).position;
    assert.deepEqual(at('3000.000', 'S', '04500.000', 'W'), { lat: -30, lon: -45 });
    assert.deepEqual(at('3000.000', 'N', '04500.000', 'E'), { lat: 30, lon: 45 });
    assert.equal(at('3000.000', 'X', '04500.000', 'E'), null, 'unknown hemisphere');
    assert.equal(at('3000.000', '', '04500.000', 'E'), null, 'missing hemisphere');
    assert.equal(at('9100.000', 'N', '04500.000', 'E'), null, 'latitude beyond 90°');
    assert.equal(at('3060.000', 'N', '04500.000', 'E'), null, '60 minutes');
    assert.equal(at('3000', 'N', '04500.000', 'E'), null, 'no decimal point, as gpsd requires');
    assert.equal(at('30x0.000', 'N', '04500.000', 'E'), null, 'not a number');
  });

  it('keeps the precision of high-precision positions (u-blox HPNMEA, 7 and 9 decimals)', () => {
    const hp = parsed<GgaSentence>(nmea('GNGGA,014500.00,4404.1306024,N,12118.8446777,W,2,12,0.49,1129.913,M,-21.350,M,,0278'));
    assert.ok(Math.abs(hp.position!.lat - 44.068843373) < 5e-10);
    assert.ok(Math.abs(hp.position!.lon - -121.314077962) < 5e-10);
    const nine = parsed<GgaSentence>(nmea('GNGGA,014500.00,2454.123456789,N,11835.987654321,E,4,20,0.5,10.0,M,5.0,M,,'));
    assert.ok(Math.abs(nine.position!.lat - (24 + 54.123456789 / 60)) < 1e-12);
    assert.ok(Math.abs(nine.position!.lon - (118 + 35.987654321 / 60)) < 1e-12);
    assert.equal(parsed<GgaSentence>(nmea('GPGGA,235959.123456,4807.038,N,01131.324,E,1,08,0.9,545.4,M,46.9,M,,')).time!.nanos, 123_456_000);
  });

  it('reads NMEA 4.10 system and signal ids, and the Quectel PQ talker', () => {
    const gsa = parsed<GsaSentence>(nmea('GNGSA,A,3,13,12,22,19,08,21,,,,,,,1.05,0.64,0.83,4'));
    assert.equal(gsa.systemId, 4);
    assert.deepEqual(gsa.satelliteIds, [13, 12, 22, 19, 8, 21]);
    assert.deepEqual([gsa.pdop, gsa.hdop, gsa.vdop], [1.05, 0.64, 0.83]);
    const old = parsed<GsaSentence>(nmea('GPGSA,A,3,,,,,,16,18,,22,24,,,3.6,2.1,2.2'));
    assert.equal(old.systemId, null);
    assert.deepEqual(old.satelliteIds, [16, 18, 22, 24]);
    const gsv = parsed<GsvSentence>(nmea('GAGSV,3,1,09,02,00,179,,04,09,321,,07,11,134,11,11,10,227,,7'));
    assert.equal(gsv.signalId, 7);
    assert.equal(gsv.satellites.length, 4);
    assert.deepEqual(gsv.satellites[0], { id: 2, elevation: 0, azimuth: 179, snr: null });
    const pq = parsed<GsvSentence>(nmea('PQGSV,4,1,15,02,20,116,,03,,,,05,34,137,,07,06,045,,0,4'));
    assert.equal(pq.talker, 'PQ');
    assert.equal(pq.systemId, 4);
    assert.deepEqual(pq.satellites[1], { id: 3, elevation: null, azimuth: null, snr: null });
  });

  it('names proprietary sentences by their whole address', () => {
    const s = parsed(nmea('PSRFEPE,074150.799,V,,,,,'));
    assert.equal(s.type, 'PSRFEPE');
    assert.equal(s.talker, 'P');
  });
});

describe('satellite numbering', () => {
  it('maps BeiDou to 401+, Galileo to 301+, QZSS to 193+, GLONASS to 65+ like gpsd', () => {
    assert.deepEqual(resolveSatellite(13, 'BeiDou'), { system: 'BeiDou', svid: 13, prn: 413 });
    assert.deepEqual(resolveSatellite(214, null), { system: 'BeiDou', svid: 14, prn: 414 });
    assert.deepEqual(resolveSatellite(3, 'Galileo'), { system: 'Galileo', svid: 3, prn: 303 });
    assert.deepEqual(resolveSatellite(2, 'QZSS'), { system: 'QZSS', svid: 2, prn: 194 });
    assert.deepEqual(resolveSatellite(82, null), { system: 'GLONASS', svid: 18, prn: 82 });
    assert.deepEqual(resolveSatellite(82, 'GLONASS'), { system: 'GLONASS', svid: 18, prn: 82 });
    assert.deepEqual(resolveSatellite(44, null), { system: 'SBAS', svid: 131, prn: 44 });
    assert.equal(resolveSatellite(0, null), null);
    assert.equal(resolveSatellite(999, null), null);
  });
});

describe('NmeaStreamReader', () => {
  it('finds sentences between binary frames, across CRLF/LF, headers and arbitrary chunking', () => {
    // A UBX frame whose payload holds a newline, a '$' and something that looks like a sentence.
    const trap = [...Buffer.from(`\n$GPGGA,000000,0000.000,N,00000.000,E,1,08,0.9,1,M,0,M,,*00\n`, 'latin1')];
    const frame = ubxFrame(trap);
    const text = (s: string) => Buffer.from(s, 'latin1');
    const bytes = Buffer.concat([
      text('# receiver: test\r\n# Date: 1994-03-23\n'),
      text(RMC + '\r\n'),
      frame,
      text(GGA + '\n'),
      text('\n'),
      Buffer.from([0x00, 0xff, 0x13]),
      text(nmea('GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1') + '\r\n'),
    ]);
    const whole = new NmeaStreamReader();
    const all = [...whole.push(bytes), ...whole.end()];
    const kinds = all.map((i) => ('sentence' in i ? i.sentence.type : 'binary' in i ? i.binary : `rejected:${i.rejected.reason}`));
    assert.deepEqual(kinds, ['RMC', 'ubx', 'GGA', 'GSA']);

    const bytewise = new NmeaStreamReader();
    const pieces = [];
    for (const b of bytes) pieces.push(...bytewise.push(Uint8Array.of(b)));
    pieces.push(...bytewise.end());
    assert.deepEqual(pieces, all);
  });

  it('reports rejected lines with their line number and reason, and reads a last line without newline', () => {
    const bad = GGA.slice(0, -2) + '00';
    const reader = new NmeaStreamReader();
    const items = [...reader.push(`${RMC}\n${bad}\n$GPGGA,12351\ngarbage\n${GGA}`), ...reader.end()];
    const rejected = items.flatMap((i) => ('rejected' in i ? [[i.line, i.rejected.reason]] : []));
    assert.deepEqual(rejected, [[2, 'bad-checksum'], [3, 'missing-checksum'], [4, 'no-start']]);
    assert.equal(items.filter((i) => 'sentence' in i).length, 2);
  });

  it('splits two sentences run together on one line, and skips junk around a sentence', () => {
    const reader = new NmeaStreamReader();
    const items = [...reader.push(`\u00b5\u0001xx${RMC}${GGA}yy\n`), ...reader.end()];
    assert.deepEqual(items.map((i) => ('sentence' in i ? i.sentence.type : '?')), ['RMC', 'GGA']);
  });
});

describe('NmeaEpochAssembler', () => {
  function fixesOf(lines: string[]) {
    return parseNmeaLog(lines.join('\r\n') + '\r\n');
  }

  it('assembles GGA (position, altitude) and RMC (date) into one fix', () => {
    const { fixes } = fixesOf([RMC, GGA]);
    assert.equal(fixes.length, 1);
    const f = fixes[0];
    assert.equal(f.time, '1994-03-23T12:35:19.000Z');
    assert.equal(f.timeMs, Date.UTC(1994, 2, 23, 12, 35, 19));
    assert.equal(f.mode, 3);
    assert.equal(f.status, 1);
    assert.equal(f.altMSL, 545.4);
    assert.ok(Math.abs(f.altHAE! - (545.4 + 46.9)) < 1e-9);
    assert.equal(f.geoidSeparation, 46.9);
    assert.equal(f.satellitesUsed, 8);
    assert.equal(f.hdop, 0.9);
    assert.ok(Math.abs(f.speed! - 22.4 * 1852 / 3600) < 1e-9);
    assert.equal(f.course, 84.4);
  });

  it('gives no fix before a date is known (GGA alone has only the time of day)', () => {
    assert.deepEqual(fixesOf([GGA]).fixes, []);
  });

  it('takes the date from ZDA when there is no RMC', () => {
    const { fixes } = fixesOf([nmea('GPZDA,123518.00,23,03,1994,00,00'), GGA]);
    assert.equal(fixes[0]?.time, '1994-03-23T12:35:19.000Z');
  });

  it('rolls the date over at midnight for GGA-only epochs', () => {
    const gga = (t: string) => nmea(`GPGGA,${t},2454.000,N,11835.000,E,1,08,0.9,10.0,M,11.0,M,,`);
    const { fixes } = fixesOf([
      nmea('GPRMC,235958.50,A,2454.000,N,11835.000,E,0.0,0.0,311224,,,A'), gga('235958.50'),
      gga('235959.50'), gga('000000.50'), gga('000001.50'),
    ]);
    assert.deepEqual(fixes.map((f) => f.time), [
      '2024-12-31T23:59:58.500Z', '2024-12-31T23:59:59.500Z', '2025-01-01T00:00:00.500Z', '2025-01-01T00:00:01.500Z',
    ]);
  });

  it('rounds sub-milliseconds as gpsd does', () => {
    const rmc = nmea('GPRMC,101010.9996,A,2454.000,N,11835.000,E,0.0,0.0,010125,,,A');
    assert.equal(fixesOf([rmc]).fixes[0].time, '2025-01-01T10:10:11.000Z');
  });

  it('reports DGPS and RTK status from GGA quality, and no fix for quality 0', () => {
    const at = (q: number) => fixesOf([nmea(`GNRMC,010203.00,A,2454.000,N,11835.000,E,0.0,0.0,010125,,,A`),
      nmea(`GNGGA,010203.00,2454.000,N,11835.000,E,${q},12,0.6,10.0,M,11.0,M,,`)]).fixes;
    assert.equal(at(2)[0].status, 2);
    assert.equal(at(4)[0].status, 3);
    assert.equal(at(5)[0].status, 4);
    const none = fixesOf([nmea('GNGGA,010203.00,,,,,0,00,99.9,,,,,,'), nmea('GNRMC,010203.00,V,,,,,,,010125,,,N')]);
    assert.deepEqual(none.fixes, []);
  });

  it("computes altHAE from gpsd's geoid grid when GGA leaves the separation empty", () => {
    const { fixes } = fixesOf([nmea('GNRMC,080400.00,A,5002.453527,N,01958.831794,E,0.0,16.6,301120,,,A'),
      nmea('GNGGA,080400.00,5002.453527,N,01958.831794,E,1,14,0.9,202.1,M,,M,,')]);
    assert.ok(Math.abs(fixes[0].altHAE! - 241.7328) < 1e-4, String(fixes[0].altHAE));
    // gpsd reports geoidSep 39.633 for this point (quectelLC79D-1.log.chk)
    assert.ok(Math.abs(geoidSeparation(50.040892117, 19.9805299) - 39.633) < 5e-4);
    assert.equal(geoidSeparation(NaN, 0), 0);
  });

  it('attaches the GST of the same epoch as error estimates', () => {
    const { fixes } = fixesOf([RMC, GGA, nmea('GPGST,123519.00,3.1,2.5,2.4,126,0.98,1.0,3.1')]);
    assert.deepEqual(fixes[0].errors, { rmsRange: 3.1, semiMajor: 2.5, semiMinor: 2.4, orientation: 126, lat: 0.98, lon: 1, alt: 3.1 });
  });

  it('numbers BeiDou satellites 401+ and marks those GSA lists as used', () => {
    const parser = new NmeaLogParser();
    parser.push([
      nmea('GNRMC,010203.00,A,2454.000,N,11835.000,E,0.0,0.0,010125,,,A'),
      nmea('GNGGA,010203.00,2454.000,N,11835.000,E,1,05,0.6,10.0,M,11.0,M,,'),
      nmea('GNGSA,A,3,10,12,,,,,,,,,,,1.2,0.6,1.0,1'),
      nmea('GNGSA,A,3,07,12,13,,,,,,,,,,1.2,0.6,1.0,4'),
      nmea('GPGSV,1,1,03,10,45,100,40,12,30,200,35,15,10,300,,1'),
      nmea('GBGSV,1,1,04,07,60,050,44,12,20,150,30,13,05,250,,14,50,010,41,1'),
      '',
    ].join('\n'));
    const sats = parser.satellites().map((s) => `${s.system}:${s.svid}/${s.prn}${s.used ? '*' : ''}`);
    // BeiDou 13 is listed in GSA but has no signal: gpsd does not count it as used
    assert.deepEqual(sats, ['GPS:10/10*', 'GPS:12/12*', 'GPS:15/15', 'BeiDou:7/407*', 'BeiDou:12/412*', 'BeiDou:13/413', 'BeiDou:14/414']);
  });

  it('streams: feeding a log in chunks gives the same fixes as parsing it whole', () => {
    const text = [RMC, GGA, nmea('GPRMC,123520.00,A,4807.040,N,01131.330,E,022.4,084.4,230394,003.1,W,A'),
      nmea('GPGGA,123520.00,4807.040,N,01131.330,E,1,08,0.9,545.5,M,46.9,M,,')].join('\n') + '\n';
    const parser = new NmeaLogParser();
    const streamed = [];
    for (let i = 0; i < text.length; i += 7) streamed.push(...parser.push(text.slice(i, i + 7)));
    streamed.push(...parser.end());
    assert.deepEqual(streamed, parseNmeaLog(text).fixes);
    assert.equal(streamed.length, 2);
  });

  it('survives every hostile fixture line without throwing, and counts the bad ones', () => {
    const bytes = readFileSync(path.join(FIXTURES, 'hostile.nmea'));
    const result = parseNmeaLog(bytes);
    assert.deepEqual(result.rejected.map((r) => [r.line, r.reason]), [
      [8, 'bad-checksum'], [10, 'missing-checksum'], [12, 'non-printable'], [13, 'non-printable'], [15, 'no-start'],
    ]);
    // the valid epochs among the garbage still give fixes, the last one across midnight and New Year;
    // the final GGA (latitude 99°, hemisphere 'X') gives none
    assert.deepEqual(result.fixes.map((f) => f.time), [
      '2025-12-31T23:59:58.000Z', '2025-12-31T23:59:59.000Z', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:01.000Z',
    ]);
    assert.ok(Math.abs(result.fixes[0].lat! - (24 + 54.1234567 / 60)) < 1e-12);
    assert.equal(result.fixes[0].status, 2);
    assert.deepEqual(result.satellites.map((s) => `${s.system}:${s.prn}`), ['QZSS:194', 'BeiDou:405', 'BeiDou:407']);
  });

  it('ignores sentences that are too short to use instead of misreading them', () => {
    const assembler = new NmeaEpochAssembler();
    for (const line of [nmea('GPGGA,123519'), nmea('GPRMC,123519,A'), nmea('GPGSA,A,3'), nmea('GPGSV,3'), nmea('GPZDA,1')]) {
      const r = parseNmeaLine(line);
      assert.ok(r.ok);
      assert.deepEqual(assembler.push(r.sentence), []);
    }
    assert.deepEqual(assembler.flush(), []);
  });
});
