import type { AttributeDef, AttributeType, Domain } from '../../store/layer-meta.ts';
import { MATERIALS, SURVEY_FIELD_ALIASES } from './cjj61.ts';
import { burialCode, materialCode, pipeStatus, toInteger, toNumber, toText, toYear, type Normaliser } from './values.ts';

/**
 * A standard attribute of a domain and every name survey tables use for it. Profiles are data:
 * adding an alias or an attribute is one line here.
 */
export interface FieldRule {
  target: string;
  type: AttributeType;
  title: string;
  unit?: string;
  aliases: readonly string[];
  normalise: Normaliser;
}

export interface DomainProfile {
  domain: Domain;
  rules: readonly FieldRule[];
  /**
   * Standard attributes that follow from others (a material's name from its CJJ 61 code), filled
   * in when the source has the one but not the other, with their schema entries.
   */
  derived?: ReadonlyArray<{ target: string; def: AttributeDef; from: string; value: (source: unknown) => unknown }>;
}

const byType: Record<AttributeType, Normaliser> = {
  string: toText, integer: toInteger, number: toNumber, boolean: (v) => v, date: toText,
};

function rule(target: string, type: AttributeType, title: string, aliases: string[], extra: Partial<FieldRule> = {}): FieldRule {
  // The pinyin abbreviations of CJJ 61 survey tables are added from the shared table.
  const pinyin = Object.entries(SURVEY_FIELD_ALIASES).filter(([, t]) => t === target).map(([a]) => a);
  return { target, type, title, aliases: [target, title, ...aliases, ...pinyin], normalise: byType[type], ...extra };
}

const PIPELINE: DomainProfile = {
  domain: 'pipeline',
  rules: [
    rule('pipe_class', 'string', '管线类别', ['管线类型', '管类', '管线大类', 'GXLX', 'GXDL']),
    rule('sub_type', 'string', '管线子类', ['管线小类', '子类', 'GXXL', 'XL']),
    rule('feature_code', 'string', '要素代码', ['要素编码', '特征代码', 'CODE']),
    rule('start_point', 'string', '起点点号', ['起点号', '起点编号', 'STARTID', 'FROM_ID', 'QDBH']),
    rule('end_point', 'string', '终点点号', ['终点号', '终点编号', 'ENDID', 'TO_ID', 'ZDBH']),
    rule('start_depth_m', 'number', '起点埋深', ['起埋深', 'QMS', 'START_DEPTH'], { unit: 'm' }),
    rule('end_depth_m', 'number', '终点埋深', ['终埋深', 'ZMS', 'END_DEPTH'], { unit: 'm' }),
    rule('material', 'string', '材质', ['材料', '管材', '材质代码', 'MATERIAL'], { normalise: materialCode }),
    rule('diameter_mm', 'integer', '管径', ['管径(mm)', '口径', '直径', 'DIAMETER', 'DIA'], { unit: 'mm' }),
    rule('section_size', 'string', '断面尺寸', ['断面', '规格', 'DMGG']),
    rule('burial_method', 'string', '埋设方式', ['埋设类型', '敷设方式', 'MSLX'], { normalise: burialCode }),
    rule('owner', 'string', '权属单位', ['权属', '产权单位', '管理单位', 'OWNER']),
    rule('buried_year', 'integer', '埋设年份', ['埋设日期', '埋设年代', '建设年代', '敷设日期', 'MSNF', 'YEAR', 'INSTALLED', 'INSTALL_YR'], { normalise: toYear }),
    rule('status', 'integer', '使用状态', ['状态', '运行状态', 'SYZT'], { normalise: pipeStatus }),
    rule('voltage_kv', 'number', '电压', ['电压等级', '电压(kV)'], { unit: 'kV' }),
    rule('total_ducts', 'integer', '总孔数', ['孔数']),
    rule('used_ducts', 'integer', '已用孔数', ['占用孔数']),
    rule('point_no', 'string', '点号', ['物探点号', '管线点号', '测点号', 'DH']),
    rule('feature', 'string', '特征/附属物', ['特征', '附属物', '特征点', 'TZ', 'FSW']),
    rule('ground_elev_m', 'number', '地面高程', ['高程', 'GC'], { unit: 'm' }),
    rule('depth_m', 'number', '埋深', ['MS', 'DEPTH'], { unit: 'm' }),
    rule('road_id', 'string', '所在道路', ['道路名称', '所在路段', 'SZDL']),
    rule('length_m', 'number', '长度', ['管线长度', 'LENGTH', 'SHAPE_LENG', 'CD'], { unit: 'm' }),
    rule('pressure_class', 'string', '压力级制', ['压力等级', '压力', 'YLJZ', 'YL']),
    rule('material_name', 'string', '材质名称', ['材料名称', 'CZMC']),
  ],
  derived: [{
    target: 'material_name', def: { type: 'string', title: '材质名称', description: 'from the CJJ 61 material code' }, from: 'material',
    value: (code) => (typeof code === 'string' ? MATERIALS[code] ?? null : null),
  }],
};

const BUILDING: DomainProfile = {
  domain: 'building',
  rules: [
    rule('name', 'string', '名称', ['建筑名称', '建筑物名称', 'JZMC', 'NAME', 'MC']),
    rule('use', 'string', '用途', ['建筑用途', '房屋用途', 'YT', 'FWYT']),
    rule('floors', 'integer', '层数', ['楼层数', '地上层数', 'CS', 'DSCS', 'FLOORS']),
    rule('height_m', 'number', '高度', ['建筑高度', 'GD', 'JZGD', 'HEIGHT'], { unit: 'm' }),
    rule('structure', 'string', '结构', ['建筑结构', '房屋结构', 'JG', 'FWJG']),
    rule('built_year', 'integer', '建成年份', ['建成年代', '竣工日期', '建成日期', 'JCNF', 'JGRQ'], { normalise: toYear }),
    rule('address', 'string', '地址', ['门牌地址', '标准地址', 'DZ', 'ADDRESS']),
    rule('units', 'integer', '单元数', ['DYS']),
    rule('community_code', 'string', '所在社区代码', ['社区代码', '社区编码', 'SQDM']),
    rule('parcel_no', 'string', '宗地号', ['宗地代码', 'ZDDM', 'ZDH']),
  ],
};

const LAND: DomainProfile = {
  domain: 'land',
  rules: [
    rule('parcel_no', 'string', '宗地号', ['宗地代码', '宗地编号', 'ZDDM', 'ZDH']),
    rule('land_use_code', 'string', '地类编码', ['用地分类代码', 'DLBM', 'DLDM']),
    rule('land_use_name', 'string', '地类名称', ['用地性质', '地类', 'DLMC']),
    rule('land_use_class', 'string', '一级地类', ['一级类', 'YJDL']),
    rule('area_m2', 'number', '面积', ['宗地面积', '用地面积', 'MJ', 'ZDMJ', 'SHAPE_AREA'], { unit: 'm²' }),
    rule('owner', 'string', '权利人', ['土地使用者', 'QLR']),
    rule('community_code', 'string', '所在社区代码', ['社区代码', '社区编码', 'SQDM']),
    rule('block_id', 'string', '街坊编号', ['街坊号', 'JFBH']),
  ],
};

const ROAD: DomainProfile = {
  domain: 'road',
  rules: [
    rule('name', 'string', '道路名称', ['路名', '名称', 'DLMC', 'NAME']),
    rule('class', 'string', '道路等级', ['等级', 'DLDJ', 'CLASS']),
    rule('width_m', 'number', '路宽', ['道路宽度', '宽度', 'KD', 'WIDTH'], { unit: 'm' }),
    rule('lanes', 'integer', '车道数', ['CDS', 'LANES']),
    rule('surface', 'string', '路面材质', ['路面', 'LMCZ']),
  ],
};

const WATER: DomainProfile = {
  domain: 'water',
  rules: [
    rule('name', 'string', '名称', ['水系名称', '河流名称', 'MC', 'NAME']),
    rule('kind', 'string', '类型', ['水系类型', 'LX']),
    rule('area_m2', 'number', '面积', ['MJ'], { unit: 'm²' }),
  ],
};

const GREEN: DomainProfile = {
  domain: 'green',
  rules: [
    rule('name', 'string', '名称', ['绿地名称', 'MC', 'NAME']),
    rule('kind', 'string', '绿地类型', ['类型', 'LDLX']),
    rule('area_m2', 'number', '面积', ['绿地面积', 'MJ'], { unit: 'm²' }),
  ],
};

const BUSINESS: DomainProfile = {
  domain: 'business',
  rules: [
    rule('name', 'string', '名称', ['企业名称', '单位名称', '商户名称', 'NAME']),
    rule('category', 'string', '类别', ['行业', '行业类别', '分类', 'CATEGORY']),
    rule('address', 'string', '地址', ['详细地址', '企业地址', '注册地址', '经营地址', '住址', 'ADDRESS', 'ADDR']),
  ],
};

/**
 * Standard addresses as public-security and civil-affairs address systems export them (README,
 * "Standard address CSV"): the full text, its components, the entrance point. The geocoder reads
 * these attribute names.
 */
const ADDRESS: DomainProfile = {
  domain: 'address',
  rules: [
    rule('address', 'string', '标准地址', ['地址', '地址全称', '标准地址全称', '地址名称', 'DZQC', 'BZDZ', 'ADDRESS']),
    rule('province', 'string', '省', ['省份', '省名称', 'SHENG']),
    rule('city', 'string', '市', ['地市', '市名称', 'SHI']),
    rule('district', 'string', '区县', ['县区', '区/县', '县（市、区）', 'QX', 'QXMC']),
    rule('town', 'string', '乡镇街道', ['街道', '乡镇', '街道/乡镇', '乡镇（街道）', 'JD', 'XZJD']),
    rule('community', 'string', '社区村', ['社区', '村居', '社区/村', '居委会', '村（社区）', 'SQ', 'SQMC']),
    rule('road', 'string', '街路巷', ['道路', '路名', '街路巷名称', 'JLX', 'JLXMC']),
    rule('road_number', 'string', '门牌号', ['门牌', '门（楼）牌号', 'MPH', 'MPHM']),
    rule('poi', 'string', '小区', ['小区名称', '建筑物名称', '院落名称', '兴趣点', 'XQ', 'XQMC', 'JZWMC']),
    rule('building', 'string', '楼栋号', ['楼栋', '幢号', '栋号', 'LDH', 'LZH']),
    rule('unit', 'string', '单元号', ['单元', 'DYH']),
    rule('room', 'string', '户室号', ['户号', '室号', '房号', 'HSH', 'FH']),
    rule('units', 'integer', '单元数', ['DYS']),
    rule('district_code', 'string', '区县代码', ['区县编码', 'QXDM']),
    rule('town_code', 'string', '乡镇街道代码', ['街道代码', '街道编码', 'JDDM']),
    rule('community_code', 'string', '社区村代码', ['社区代码', '社区编码', 'SQDM']),
  ],
};

export const PROFILES: Readonly<Record<Domain, DomainProfile>> = {
  pipeline: PIPELINE, building: BUILDING, land: LAND, road: ROAD, water: WATER, green: GREEN, business: BUSINESS, address: ADDRESS,
};

const key = (name: string) => name.trim().toLowerCase().replace(/[\s_()（）]/g, '');

export interface FieldMapping {
  /** Source field → standard attribute, or null when the field is kept under its own name. */
  targets: Map<string, FieldRule | null>;
  schema: Record<string, AttributeDef>;
  /** The profile's derived attributes that this source lacks but can be computed from its fields. */
  derived: NonNullable<DomainProfile['derived']>;
}

/**
 * Maps a source's fields onto a domain's standard attributes. A standard attribute takes the
 * first source field that names it; every other field is kept as it is (unknown fields are data
 * too), typed as the source typed it.
 */
export function mapFields(profile: DomainProfile, fields: ReadonlyArray<{ name: string; type: AttributeType }>): FieldMapping {
  const index = new Map<string, FieldRule>();
  for (const r of profile.rules) for (const a of r.aliases) if (!index.has(key(a))) index.set(key(a), r);
  const targets = new Map<string, FieldRule | null>();
  const schema: Record<string, AttributeDef> = {};
  const taken = new Set<string>();
  for (const f of fields) {
    const r = index.get(key(f.name)) ?? truncatedMatch(profile, f.name);
    if (r && !taken.has(r.target)) {
      taken.add(r.target);
      targets.set(f.name, r);
      schema[r.target] = { type: r.type, title: r.title, ...(r.unit ? { unit: r.unit } : {}), description: `from ${f.name}` };
    } else {
      targets.set(f.name, null);
      schema[f.name] = { type: f.type, title: f.name };
    }
  }
  const derived = (profile.derived ?? []).filter((d) => taken.has(d.from) && !taken.has(d.target));
  for (const d of derived) schema[d.target] = d.def;
  return { targets, schema, derived };
}

/**
 * DBF field names are at most 10 bytes: a UTF-8 Chinese name keeps only its first three
 * characters (起点埋深 → 起点埋). Such a stub matches the one attribute whose Chinese aliases
 * start with it, and nothing when several do.
 */
function truncatedMatch(profile: DomainProfile, name: string): FieldRule | undefined {
  const stub = key(name);
  if (!/[^\x00-\x7f]/.test(stub) || Buffer.byteLength(name, 'utf8') > 10 || [...stub].length < 2) return undefined;
  const hits = new Set(profile.rules.filter((r) => r.aliases.some((a) => key(a).startsWith(stub))));
  return hits.size === 1 ? [...hits][0] : undefined;
}

/** The domain whose profile claims most of the fields, for when the user names none. */
export function guessDomain(fields: ReadonlyArray<{ name: string }>): Domain | undefined {
  let best: Domain | undefined;
  let bestScore = 1;
  for (const profile of Object.values(PROFILES)) {
    const aliases = new Set(profile.rules.flatMap((r) => r.aliases.map(key)));
    const score = fields.filter((f) => aliases.has(key(f.name))).length;
    if (score > bestScore) { best = profile.domain; bestScore = score; }
  }
  return best;
}
