import * as OpenCC from 'opencc-js';

/**
 * Address text as people type it → one canonical spelling, before parsing: full-width forms,
 * traditional characters, Chinese numerals inside door, building, unit and room numbers, spaces
 * and punctuation, the words people add around an address (附近, 对面 …), and the ways a range or
 * a sub-number is written (8至10号, 32之1号). Names themselves are left alone: 五四路 stays 五四路,
 * 三元里 stays 三元里; aliases (泉州 → 泉州市) are the gazetteer's business, not this one's.
 */

// Taiwan and Hong Kong forms both appear in what people type; OpenCC's 't' covers both.
const toSimplified = OpenCC.Converter({ from: 't', to: 'cn' });

const DIGIT: Readonly<Record<string, number>> = { 零: 0, 〇: 0, 一: 1, 二: 2, 两: 2, 三: 3, 四: 4, 五: 5, 六: 6, 七: 7, 八: 8, 九: 9 };
const UNIT: Readonly<Record<string, number>> = { 十: 10, 百: 100, 千: 1000 };

/** 三十二 → 32, 十一 → 11, 一百零五 → 105, 二〇一 → 201 (read digit by digit when no 十/百/千); null if not a numeral. */
export function chineseNumeral(text: string): number | null {
  if (text === '' || ![...text].every((c) => c in DIGIT || c in UNIT)) return null;
  if (![...text].some((c) => c in UNIT)) return Number([...text].map((c) => DIGIT[c]).join(''));
  let total = 0;
  let digit: number | null = null;
  for (const c of text) {
    if (c in DIGIT) {
      digit = DIGIT[c]!;
    } else {
      // 十二 = 12: a unit with no digit before it counts once.
      total += (digit ?? 1) * UNIT[c]!;
      digit = null;
    }
  }
  return total + (digit ?? 0);
}

// A numeral counts as a number only before what numbers name in an address.
const NUMBERED = '(号楼|号院|号|栋|幢|座|楼|层|单元|室|户|弄|巷|组|期|街坊|村民小组)';
const NUMERAL_BEFORE_UNIT = new RegExp(`(第)?([零〇一二两三四五六七八九十百千]+)${NUMBERED}`, 'g');

const NOISE_SUFFIX = /(附近|旁边|旁|对面|门口|周边|一带|左右|这边|那边|里面|对过)+$/u;
const NOISE_PREFIX = /^(我在|在|位于|地址是|地址为|地址)/u;
const PUNCTUATION = /[\s,.;:!?'"`(){}[\]<>，。、；：！？“”‘’（）【】《》〈〉「」『』·•]+/gu;

/** The canonical spelling of an address string (see the module comment). */
export function normaliseAddress(raw: string): string {
  // NFKC folds full-width letters, digits and signs (３２号 → 32号, （ → (, ～ → ~).
  let s = toSimplified(raw.normalize('NFKC'));
  s = s.replace(PUNCTUATION, '');
  s = s.replace(NUMERAL_BEFORE_UNIT, (whole: string, _di: string | undefined, numeral: string, unit: string) => {
    const n = chineseNumeral(numeral);
    return n === null ? whole : `${n}${unit}`;
  });
  // Sub-numbers and ranges: 32之1号, 32号之1 → 32-1号; 8至10号, 8到10号, 8~10号 → 8-10号.
  s = s.replace(/(\d+)号?之(\d+)号?/g, '$1-$2号');
  s = s.replace(/(\d+)(?:号)?(?:至|到|~|—|–)(\d+)号/g, '$1-$2号');
  // "3#楼" and "3#" are how forms write 3号楼 and 3号.
  s = s.replace(/(\d+)#/g, '$1号');
  s = s.replace(NOISE_PREFIX, '').replace(NOISE_SUFFIX, '');
  return s;
}
