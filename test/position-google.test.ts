/**
 * The Google Geolocation API request and response: request → our observations, answer → response
 * (accuracy at 68 %), and Google's documented error bodies, byte for byte.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  K68, K95, LocalFrame, PositionFuser, RadioMap, fromGoogleRequest, googleNotFound, googleParseError, toGoogleResponse,
} from '../position/fuse.ts';
import { wgs84ToGcj02 } from '../data-import/crs/china-offsets.ts';

const frame = new LocalFrame(24.91, 118.59);
const NOW = Date.UTC(2025, 4, 1, 8, 0, 0);

function radioMap(): RadioMap {
  const map = new RadioMap();
  map.addCell({ radio: 'LTE', mcc: 460, mnc: 0, area: 22547, cell: 5762561, lon: frame.lon(0), lat: frame.lat(0), range: 500, samples: 40 });
  map.addCell({ radio: 'LTE', mcc: 460, mnc: 0, area: 22547, cell: 5762562, lon: frame.lon(400), lat: frame.lat(0), range: 1000, samples: 40 });
  map.addCell({ radio: 'NR', mcc: 460, mnc: 1, area: 7012345, cell: 2 ** 34 + 5, lon: frame.lon(0), lat: frame.lat(100), range: 300, samples: 4 });
  map.addWifi({ mac: '0a:1b:2c:3d:4e:5f', lon: frame.lon(20), lat: frame.lat(10), range: 40 });
  map.addWifi({ mac: '0a:1b:2c:3d:4e:60', lon: frame.lon(-10), lat: frame.lat(30), range: 60 });
  return map;
}

describe('fromGoogleRequest', () => {
  it('maps cell towers (home network by default, age as time) and access points, in order', () => {
    const r = fromGoogleRequest({
      homeMobileCountryCode: 460, homeMobileNetworkCode: 0, radioType: 'lte', carrier: 'China Mobile', considerIp: false,
      cellTowers: [
        { cellId: 5762561, locationAreaCode: 22547, mobileCountryCode: 460, mobileNetworkCode: 0, age: 0, signalStrength: -65, timingAdvance: 15 },
        { cellId: 5762562, locationAreaCode: 22547, age: 1500 },
      ],
      wifiAccessPoints: [{ macAddress: '0A:1B:2C:3D:4E:5F', signalStrength: -43, age: 0, channel: 11, signalToNoiseRatio: 0 }],
    }, NOW);
    assert.ok(r.ok);
    assert.deepEqual(r.observations, [
      { type: 'cell', radio: 'LTE', mcc: 460, mnc: 0, lac: 22547, cellId: 5762561, signal: -65, time: NOW },
      { type: 'cell', radio: 'LTE', mcc: 460, mnc: 0, lac: 22547, cellId: 5762562, time: NOW - 1500 },
      { type: 'wifi', macAddress: '0A:1B:2C:3D:4E:5F', signal: -43, time: NOW },
    ]);
  });

  it('takes an NR cell by newRadioCellId; defaults radioType to gsm as Google does', () => {
    const nr = fromGoogleRequest({ radioType: 'nr', cellTowers: [{ newRadioCellId: 2 ** 34 + 5, locationAreaCode: 7012345, mobileCountryCode: 460, mobileNetworkCode: 1 }] }, NOW);
    assert.ok(nr.ok);
    assert.equal((nr.observations[0] as { cellId: number }).cellId, 2 ** 34 + 5);
    const gsm = fromGoogleRequest({ cellTowers: [{ cellId: 1, locationAreaCode: 2, mobileCountryCode: 460, mobileNetworkCode: 0 }] }, NOW);
    assert.ok(gsm.ok);
    assert.equal((gsm.observations[0] as { radio: string }).radio, 'GSM');
  });

  it('an empty body is a request with nothing in it; a non-object is Google\'s parse error', () => {
    assert.deepEqual(fromGoogleRequest(undefined, NOW), { ok: true, observations: [] });
    assert.deepEqual(fromGoogleRequest({}, NOW), { ok: true, observations: [] });
    for (const body of ['text', [1], { cellTowers: 'x' }, { wifiAccessPoints: {} }, { radioType: 'tdma' }]) {
      const r = fromGoogleRequest(body, NOW);
      assert.ok(!r.ok);
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, googleParseError());
    }
  });
});

describe('toGoogleResponse', () => {
  const fuser = new PositionFuser(radioMap());

  it('answers {location: {lat, lng}, accuracy} with the accuracy at 68 %', () => {
    const req = fromGoogleRequest({
      radioType: 'lte', considerIp: false,
      cellTowers: [{ cellId: 5762561, locationAreaCode: 22547, mobileCountryCode: 460, mobileNetworkCode: 0 }],
    }, NOW);
    assert.ok(req.ok);
    const answer = fuser.locate(req.observations, NOW);
    const res = toGoogleResponse(answer);
    assert.equal(res.status, 200);
    assert.ok(res.status === 200);
    assert.deepEqual(Object.keys(res.body), ['location', 'accuracy']);
    assert.deepEqual(Object.keys(res.body.location), ['lat', 'lng']);
    assert.ok(Math.abs(res.body.location.lat - 24.91) < 1e-9 && Math.abs(res.body.location.lng - 118.59) < 1e-9);
    // Range 500 m is the tower's 95 % radius; at 68 % that is 500 × 1.510 / 2.448.
    assert.ok(Math.abs(res.body.accuracy - (500 * K68) / K95) < 1e-9, `${res.body.accuracy}`);
    assert.equal(answer.deviceId, null);
    assert.equal(fuser.deviceCount, 0, 'the Google endpoint keeps no device state');
  });

  it('two towers and two access points combine; one access point alone is not used', () => {
    const both = fromGoogleRequest({
      radioType: 'lte',
      cellTowers: [{ cellId: 5762561, locationAreaCode: 22547, mobileCountryCode: 460, mobileNetworkCode: 0 }],
      wifiAccessPoints: [{ macAddress: '0a:1b:2c:3d:4e:5f' }, { macAddress: '0a:1b:2c:3d:4e:60' }],
    }, NOW);
    assert.ok(both.ok);
    const a = fuser.locate(both.observations, NOW);
    assert.deepEqual(a.sources.map((s) => s.type), ['cell', 'wifi', 'wifi']);
    assert.ok(a.fix!.accuracy < 60, 'Wi-Fi dominates');
    const one = fromGoogleRequest({ wifiAccessPoints: [{ macAddress: '0a:1b:2c:3d:4e:5f' }] }, NOW);
    assert.ok(one.ok);
    const b = fuser.locate(one.observations, NOW);
    assert.equal(b.rejected[0].reason, 'too_few_wifi');
    assert.equal(toGoogleResponse(b).status, 404);
  });

  it('converts to GCJ-02 on request', () => {
    const req = fromGoogleRequest({ radioType: 'lte', cellTowers: [{ cellId: 5762561, locationAreaCode: 22547, mobileCountryCode: 460, mobileNetworkCode: 0 }] }, NOW);
    assert.ok(req.ok);
    const res = toGoogleResponse(fuser.locate(req.observations, NOW), 'GCJ02');
    assert.ok(res.status === 200);
    const [lng, lat] = wgs84ToGcj02(118.59, 24.91);
    assert.ok(Math.abs(res.body.location.lng - lng) < 1e-9 && Math.abs(res.body.location.lat - lat) < 1e-9);
  });

  it('nothing located (unknown tower, or nothing sent even with considerIp) is Google\'s 404 body, exactly', () => {
    const unknown = fromGoogleRequest({ considerIp: true, cellTowers: [{ cellId: 1, locationAreaCode: 1, mobileCountryCode: 460, mobileNetworkCode: 0 }] }, NOW);
    assert.ok(unknown.ok);
    for (const observations of [unknown.observations, []]) {
      const res = toGoogleResponse(fuser.locate(observations, NOW));
      assert.equal(res.status, 404);
      assert.equal(
        JSON.stringify(res.body),
        '{"error":{"errors":[{"domain":"geolocation","reason":"notFound","message":"Not Found"}],"code":404,"message":"Not Found"}}',
      );
    }
    assert.deepEqual(googleNotFound(), { error: { code: 404, message: 'Not Found', errors: [{ domain: 'geolocation', reason: 'notFound', message: 'Not Found' }] } });
    assert.equal(
      JSON.stringify(googleParseError()),
      '{"error":{"errors":[{"domain":"global","reason":"parseError","message":"Parse Error"}],"code":400,"message":"Parse Error"}}',
    );
  });
});
