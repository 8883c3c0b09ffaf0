/**
 * Cell towers from OpenCellID CSV and Wi-Fi access points from a headed CSV into a RadioMap:
 * header or none, CRLF, BOM, quoting, duplicates, radios sharing an identity, and every bad row
 * reported with its line number while the good rows load.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RadioMap, normaliseMac, parseOpenCellIdCsv, parseWifiCsv, readOpenCellIdCsv } from '../position/fuse.ts';

const HEADER = 'radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal';
const ROW = (radio: string, cell: number, lon = '118.590000', lat = '24.910000', range = '750', samples = '12') =>
  `${radio},460,0,22547,${cell},101,${lon},${lat},${range},${samples},1,1459813819,1520000000,0`;

describe('parseOpenCellIdCsv', () => {
  it('loads good rows and reports each malformed one with its line number', () => {
    const text = [
      HEADER, //                                                        line 1
      ROW('LTE', 5762561), //                                           line 2
      'LTE,460,0,22547,5762562,101,118.59,24.91', //                    line 3: too few columns
      ROW('GSM', 4011), //                                              line 4
      ROW('WIMAX', 1), //                                               line 5: unknown radio
      ROW('LTE', 77, '118.6', '124.9'), //                              line 6: lat out of range
      ROW('LTE', 78, '0', '0'), //                                      line 7: 0,0
      ROW('UMTS', 79, '118.6', '24.9', '-5'), //                        line 8: negative range
      'LTE,460,0,22547,12abc,101,118.59,24.91,750,12,1,1,1,0', //       line 9: cell not a number
      '', //                                                            line 10: blank, skipped
      ROW('NR', 2 ** 35), //                                            line 11: 36-bit NCI
    ].join('\r\n');
    const { map, report } = parseOpenCellIdCsv(text);
    assert.equal(report.imported, 3);
    assert.equal(report.rejectedCount, 6);
    assert.deepEqual(report.rejected.map((r) => r.line), [3, 5, 6, 7, 8, 9]);
    assert.match(report.rejected[0].message, /expected 14 columns .* found 8/);
    assert.match(report.rejected[1].message, /radio "WIMAX"/);
    assert.match(report.rejected[2].message, /lat must be a number from -90 to 90/);
    assert.match(report.rejected[3].message, /0,0 is a placeholder/);
    assert.match(report.rejected[4].message, /range "-5"/);
    assert.match(report.rejected[5].message, /cell "12abc"/);
    assert.equal(report.rejected[0].text, 'LTE,460,0,22547,5762562,101,118.59,24.91');
    const lte = map.findCell({ mcc: 460, mnc: 0, area: 22547, cell: 5762561 });
    assert.deepEqual(lte, { radio: 'LTE', mcc: 460, mnc: 0, area: 22547, cell: 5762561, lon: 118.59, lat: 24.91, range: 750, samples: 12 });
    assert.equal(map.findCell({ mcc: 460, mnc: 0, area: 22547, cell: 2 ** 35 })?.radio, 'NR');
    assert.equal(map.findCell({ mcc: 460, mnc: 1, area: 22547, cell: 5762561 }), undefined);
  });

  it('accepts the per-country files without a header, a BOM, and quoted fields', () => {
    const { map, report } = parseOpenCellIdCsv(`\ufeff${ROW('LTE', 1)}\n"LTE","460","0","22547","2","","118.6","24.9","500","3","1","1","1","0"\n`);
    assert.equal(report.rejectedCount, 0);
    assert.equal(report.imported, 2);
    assert.equal(map.findCell({ mcc: 460, mnc: 0, area: 22547, cell: 2 })?.range, 500);
  });

  it('a later row for the same cell replaces the earlier; radios sharing an identity are told apart', () => {
    const { map, report } = parseOpenCellIdCsv([
      HEADER,
      ROW('GSM', 9, '118.1', '24.1', '1000', '5'),
      ROW('GSM', 9, '118.2', '24.2', '900', '6'),
      ROW('LTE', 9, '118.3', '24.3', '400', '50'),
    ].join('\n'));
    assert.equal(report.imported, 3);
    assert.equal(report.replaced, 1);
    assert.equal(map.cellCount, 2);
    const key = { mcc: 460, mnc: 0, area: 22547, cell: 9 };
    assert.equal(map.findCell({ ...key, radio: 'GSM' })?.lon, 118.2);
    assert.equal(map.findCell({ ...key, radio: 'LTE' })?.lon, 118.3);
    assert.equal(map.findCell(key)?.radio, 'LTE', 'without a radio, the better-sampled cell');
  });

  it('lists the first maxRejections rows and counts them all', () => {
    const bad = Array.from({ length: 50 }, () => 'garbage');
    const { report } = parseOpenCellIdCsv([HEADER, ...bad].join('\n'), new RadioMap(), { maxRejections: 5 });
    assert.equal(report.rejectedCount, 50);
    assert.deepEqual(report.rejected.map((r) => r.line), [2, 3, 4, 5, 6]);
  });

  it('reads lines as they arrive (readline over a gunzip stream in production)', async () => {
    async function* lines() {
      yield HEADER;
      yield ROW('LTE', 1);
      yield 'oops';
      yield ROW('LTE', 2);
    }
    const { map, report } = await readOpenCellIdCsv(lines());
    assert.equal(map.cellCount, 2);
    assert.deepEqual(report.rejected.map((r) => r.line), [3]);
  });
});

describe('parseWifiCsv', () => {
  it('maps header names, normalises MACs, and reports bad rows by line', () => {
    const text = [
      'BSSID,Latitude,Longitude,accuracy,ssid',
      '0A:1B:2C:3D:4E:5F,24.91,118.59,45,cafe',
      'zz:1b:2c:3d:4e:5f,24.91,118.59,45,bad mac',
      '0a-1b-2c-3d-4e-60,24.92,118.60,,no range',
      '0a1b.2c3d.4e61,95,118.6,30,bad lat',
    ].join('\n');
    const { map, report } = parseWifiCsv(text, new RadioMap(), { defaultRange: 80 });
    assert.equal(report.imported, 2);
    assert.deepEqual(report.rejected.map((r) => r.line), [3, 5]);
    assert.deepEqual(map.findWifi('0a:1b:2c:3d:4e:5f'), { mac: '0a:1b:2c:3d:4e:5f', lon: 118.59, lat: 24.91, range: 45 });
    assert.equal(map.findWifi('0a:1b:2c:3d:4e:60')?.range, 80);
  });

  it('refuses a file whose header does not name the columns', () => {
    assert.throws(() => parseWifiCsv('a,b,c\n1,2,3\n'), /header must name mac, lon and lat/);
  });

  it('normaliseMac', () => {
    assert.equal(normaliseMac('01:23:45:67:89:AB'), '01:23:45:67:89:ab');
    assert.equal(normaliseMac('0123.4567.89ab'), '01:23:45:67:89:ab');
    assert.equal(normaliseMac('0123456789ab'), '01:23:45:67:89:ab');
    assert.equal(normaliseMac('00:00:00:00:00:00'), null);
    assert.equal(normaliseMac('ff-ff-ff-ff-ff-ff'), null);
    assert.equal(normaliseMac('01:23:45:67:89'), null);
    assert.equal(normaliseMac('01:23:45:67:89:ab:cd'), null);
  });
});
