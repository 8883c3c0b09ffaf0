import type { AdminNode } from './divisions.ts';

/**
 * The short forms people write for administrative names: 福建 for 福建省, 泉州 for 泉州市, 鲤城 for
 * 鲤城区, 恭城 for 恭城瑶族自治县, 浦东区 for 浦东新区, 梅里斯区 for 梅里斯达斡尔族区. Towns and
 * communities are written in full; their bare stems (开元, 金山) are too common in other names.
 */

// The 55 minority nationalities, as they appear in the names of autonomous areas.
const NATIONALITIES = '蒙古|回|藏|维吾尔|苗|彝|壮|布依|朝鲜|满|侗|瑶|白|土家|哈尼|哈萨克|傣|黎|傈僳|佤|畲|高山|拉祜|水|东乡|纳西|景颇|柯尔克孜|土|达斡尔|仫佬|羌|布朗|撒拉|毛南|仡佬|锡伯|阿昌|普米|塔吉克|怒|乌孜别克|俄罗斯|鄂温克|德昂|保安|裕固|京|塔塔尔|独龙|鄂伦春|赫哲|门巴|珞巴|基诺|各';
const ETHNIC = new RegExp(`(?:(?:${NATIONALITIES})族?)+(?=自治|区$|县$|旗$)`);
const AUTONOMOUS = /自治(区|州|县|旗)$/;

function stem(name: string, suffixes: RegExp): string | null {
  const s = name.replace(suffixes, '');
  return s !== name && [...s].length >= 2 ? s : null;
}

export function adminAliases(node: AdminNode): string[] {
  if (node.placeholder) return [];
  const name = node.name;
  const out = new Set<string>();
  switch (node.level) {
    case 'province': {
      const s = stem(name, /(壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区|省|市)$/);
      if (s) out.add(s);
      break;
    }
    case 'city':
    case 'district': {
      // 恭城瑶族自治县 → 恭城县, 恭城; 梅里斯达斡尔族区 → 梅里斯区; 黔南布依族苗族自治州 → 黔南州, 黔南.
      const plain = name.replace(ETHNIC, '').replace(AUTONOMOUS, '$1');
      if (plain !== name && [...plain].length >= 3) out.add(plain);
      // 浦东新区 → 浦东区; 神农架林区 → 神农架.
      if (plain.endsWith('新区')) out.add(plain.replace(/新区$/, '区'));
      const s = stem(plain, /(新区|林区|地区|特区|矿区|区|县|市|州|盟|旗)$/);
      if (s && !node.devzone) out.add(s);
      break;
    }
    default:
      break;
  }
  out.delete(name);
  return [...out];
}
