import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chineseNumeral, normaliseAddress } from '../geocoder/normalise.ts';

describe('address normalisation', () => {
  it('reads Chinese numerals, positional or digit by digit', () => {
    assert.equal(chineseNumeral('三十二'), 32);
    assert.equal(chineseNumeral('十一'), 11);
    assert.equal(chineseNumeral('十'), 10);
    assert.equal(chineseNumeral('一百零五'), 105);
    assert.equal(chineseNumeral('两千零二十'), 2020);
    assert.equal(chineseNumeral('二〇一'), 201);
    assert.equal(chineseNumeral('五'), 5);
    assert.equal(chineseNumeral('中山'), null);
    assert.equal(chineseNumeral(''), null);
  });

  const cases: Array<[string, string, string]> = [
    ['full-width digits and letters', '泉州市丰泽区田安路３２号Ａ座', '泉州市丰泽区田安路32号A座'],
    ['traditional characters', '泉州市豐澤區東海街道', '泉州市丰泽区东海街道'],
    ['numerals before a door, building, unit and room number', '中山中路三十二号十一栋一单元二〇一室', '中山中路32号11栋1单元201室'],
    ['第 before a numbered part', '东海花园第三期五号楼', '东海花园3期5号楼'],
    ['names with numerals are left alone', '五四路七十号', '五四路70号'],
    ['spaces and punctuation', '泉州市， 鲤城区 (开元街道) 中山中路 1 号', '泉州市鲤城区开元街道中山中路1号'],
    ['noise around the address', '在泉州市丰泽区田安路8号附近', '泉州市丰泽区田安路8号'],
    ['noise words piled up', '田安路8号对面门口', '田安路8号'],
    ['sub-numbers', '中山中路32之1号', '中山中路32-1号'],
    ['a sub-number after 号', '中山中路32号之1', '中山中路32-1号'],
    ['ranges', '温陵路8至10号', '温陵路8-10号'],
    ['ranges with a tilde', '温陵路８～１０号', '温陵路8-10号'],
    ['# for 号', '刺桐花园3#楼', '刺桐花园3号楼'],
    ['already canonical', '福建省泉州市鲤城区开元街道中山中路32号', '福建省泉州市鲤城区开元街道中山中路32号'],
  ];
  for (const [what, input, expected] of cases) {
    it(what, () => assert.equal(normaliseAddress(input), expected));
  }
});
