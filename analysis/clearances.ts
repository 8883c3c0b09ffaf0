/**
 * How far from a dig each kind of utility must be before it stops being the dig's concern.
 *
 * Source: GB 50289-2016《城市工程管线综合规划规范》, Table 4.1.9 工程管线之间及其与建(构)筑物之间的
 * 最小水平净距 (m), the column for 建(构)筑物 (buildings and structures). A trench or pit is treated
 * like a structure's foundation: the standard keeps a utility that far from one so that digging
 * it out, or building it, does not undermine the line. The values, as used here:
 *
 * | utility                              | m    |
 * |--------------------------------------|------|
 * | 给水 water, d ≤ 200 mm               | 1.0  |
 * | 给水 water, d > 200 mm               | 3.0  |
 * | 排水 drainage (污水, 雨水)           | 2.5  |
 * | 燃气 gas, 低压 low pressure          | 0.7  |
 * | 燃气 gas, 中压 B                     | 1.0  |
 * | 燃气 gas, 中压 A                     | 1.5  |
 * | 燃气 gas, 次高压 B                   | 5.0  |
 * | 燃气 gas, 次高压 A                   | 13.5 |
 * | 热力 heat, 直埋 direct-buried        | 3.0  |
 * | 电力 power (直埋 and in conduit)     | 0.6  |
 * | 通信 telecom, 直埋 direct-buried     | 1.0  |
 * | 通信 telecom, 管道/通道 duct bank    | 1.5  |
 *
 * This project's choices where the table has no row or the record lacks the attribute the row
 * depends on (each takes the larger value, since an unknown must not shrink the warning):
 * water of unknown diameter 3.0; gas of unknown pressure class 1.5 (the demo city's and most
 * urban distribution networks are 中压 A at most; 次高压 lines are recorded with their class);
 * heat in a trench (管沟) is still 3.0; telecom of unknown burial 1.5; industrial (GY), utility
 * tunnels (ZH) and unknown lines (BM) 3.0, the largest ordinary value of the table.
 *
 * The table fixes horizontal distances only. Vertically this project asks for VERTICAL_MARGIN_M
 * between the dig's floor and the top of a pipe crossed; that is a field-safety policy (hand
 * digging near a located line), not a value of GB 50289.
 */

export const CLEARANCE_SOURCE = 'GB 50289-2016 城市工程管线综合规划规范, 表 4.1.9 (与建(构)筑物的最小水平净距)';

/** Metres below the dig's floor within which a crossed pipe is still at risk (policy, see above). */
export const VERTICAL_MARGIN_M = 0.5;

/** What the clearance of one utility depends on; attributes as the pipeline profile names them. */
export interface ClearanceInput {
  pipeClass: string | null;
  diameterMm: number | null;
  /** 压力级制, e.g. 低压, 中压A, 中压B, 次高压A. */
  pressureClass: string | null;
  /** CJJ 61 burial method code: ZM 直埋, GK 管块, GM 管埋, GG 管沟 … */
  burialMethod: string | null;
}

export interface Clearance {
  metres: number;
  /** The table row or project rule the value comes from, for the report. */
  rule: string;
}

const UNKNOWN_CLASS: Clearance = { metres: 3.0, rule: '其他/不明管线 (无对应条目, 取 3.0)' };

function gasClearance(pressure: string | null): Clearance {
  const p = (pressure ?? '').replace(/\s/g, '').toUpperCase();
  if (p.startsWith('次高压A')) return { metres: 13.5, rule: '燃气 次高压A' };
  if (p.startsWith('次高压B')) return { metres: 5.0, rule: '燃气 次高压B' };
  if (p.startsWith('中压A')) return { metres: 1.5, rule: '燃气 中压A' };
  if (p.startsWith('中压B')) return { metres: 1.0, rule: '燃气 中压B' };
  if (p.startsWith('低压')) return { metres: 0.7, rule: '燃气 低压' };
  return { metres: 1.5, rule: '燃气 压力级制不明 (按中压A)' };
}

/** The horizontal clearance of a utility from a dig (GB 50289-2016 Table 4.1.9; see above). */
export function clearanceFor(input: ClearanceInput): Clearance {
  switch (input.pipeClass) {
    case 'JS':
      if (input.diameterMm === null) return { metres: 3.0, rule: '给水 管径不明 (按 d>200mm)' };
      return input.diameterMm <= 200 ? { metres: 1.0, rule: '给水 d≤200mm' } : { metres: 3.0, rule: '给水 d>200mm' };
    case 'PS':
      return { metres: 2.5, rule: '污水、雨水' };
    case 'RQ':
      return gasClearance(input.pressureClass);
    case 'RL':
      return { metres: 3.0, rule: '热力 直埋' };
    case 'DL':
      return { metres: 0.6, rule: '电力 直埋/保护管' };
    case 'TX':
      return input.burialMethod === 'ZM' ? { metres: 1.0, rule: '通信 直埋' } : { metres: 1.5, rule: '通信 管道/通道' };
    default:
      return UNKNOWN_CLASS;
  }
}

/** The largest clearance any utility can have: how far around a dig the store is searched. */
export const MAX_CLEARANCE_M = 13.5;
