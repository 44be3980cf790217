// Reads mappings/ at boot, checks every rule and compiles it once into closures.
// Any problem throws MappingConfigError naming the file and the rule (id and index).

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { compileCondition, ConditionError, type PathCompiler } from './conditions.js';
import { compileConceptMap, type CompiledConceptMap, type ConceptMapGroup } from './conceptmaps.js';
import { MappingConfigError, MappingError } from './errors.js';
import { isResourceType, jsonKindOf } from './fhir-schema.js';
import type { CompiledBlock, CompiledMapping, CompiledRule, ForwardCtx, ForwardRule, Locator, Obj, ReverseCtx, ReverseRule } from './model.js';
import {
  cloneJson,
  compileNativeGetter,
  compileNativeSetter,
  compileReader,
  compileWriter,
  parseFhirPath,
  parseNativePath,
  PathError,
  WriteConflict,
  type FhirPath,
  type MutableScope,
  type NativeGetter,
  type NativeScope,
  type Reader,
} from './paths.js';

export interface LoadedQuestionnaire {
  id: string;
  file: string;
  /** `url|version` */
  canonical: string;
  resource: Obj;
  items: Map<string, Obj>;
}

export interface LoadedMappings {
  dir: string;
  mappings: Map<string, CompiledMapping>;
  conceptMaps: Map<string, CompiledConceptMap>;
  /** ConceptMap resources as read, by name */
  conceptMapResources: Map<string, Obj>;
  /** Questionnaires named by the mapping files, by canonical `url|version` */
  questionnaires: Map<string, LoadedQuestionnaire>;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const ALIAS = /^[A-Za-z][A-Za-z0-9]*$/;
const RULE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const TYPES = new Set(['string', 'integer', 'decimal', 'boolean']);
const FILE_KEYS = new Set(['name', 'version', 'description', 'native', 'nativeKeyOrder', 'inputs', 'questionnaires', 'resources', 'rules']);
const BLOCK_KEYS = new Set(['alias', 'resourceType', 'profile', 'identity', 'when', 'each', 'mapping', 'inputs', 'locate', 'container', 'description']);
const RULE_KEYS = new Set([
  'id', 'description', 'direction', 'native', 'fhir', 'constant', 'fallback', 'template', 'reference', 'where', 'conceptMap', 'type', 'when', 'whenFhir', 'questionnaire',
]);
const ANSWER_ELEMENT: Record<string, string> = {
  choice: 'valueCoding', 'open-choice': 'valueCoding', integer: 'valueInteger', decimal: 'valueDecimal', boolean: 'valueBoolean',
  string: 'valueString', text: 'valueString', date: 'valueDate', dateTime: 'valueDateTime', time: 'valueTime', url: 'valueUri',
};

function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new MappingConfigError(file, undefined, `cannot be read: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new MappingConfigError(file, undefined, `is not valid JSON: ${(e as Error).message}`);
  }
}

function unknownKeys(o: Obj, allowed: Set<string>): string[] {
  return Object.keys(o).filter((k) => !allowed.has(k));
}

function coerce(code: string, type: string, mapping: string, ruleId: string): unknown {
  switch (type) {
    case 'integer': {
      const n = Number(code);
      if (!Number.isInteger(n)) throw new MappingError(mapping, ruleId, `"${code}" is not an integer`);
      return n;
    }
    case 'decimal': {
      const n = Number(code);
      if (!Number.isFinite(n)) throw new MappingError(mapping, ruleId, `"${code}" is not a number`);
      return n;
    }
    case 'boolean':
      if (code === 'true' || code === 'false') return code === 'true';
      throw new MappingError(mapping, ruleId, `"${code}" is not a boolean`);
    default:
      return code;
  }
}

function itemsOf(q: Obj, into = new Map<string, Obj>()): Map<string, Obj> {
  for (const it of Array.isArray(q.item) ? q.item : []) {
    if (!isObj(it) || typeof it.linkId !== 'string') continue;
    into.set(it.linkId, it);
    itemsOf(it, into);
  }
  return into;
}

/** Loads, checks and compiles every mapping file, ConceptMap and named Questionnaire under `dir`. */
export function loadMappingDir(dir: string): LoadedMappings {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new MappingConfigError(dir, undefined, 'is not a directory');

  // ConceptMaps ----------------------------------------------------------------------------
  const conceptMaps = new Map<string, CompiledConceptMap>();
  const conceptMapResources = new Map<string, Obj>();
  const cmDir = join(dir, 'conceptmaps');
  if (existsSync(cmDir)) {
    for (const f of readdirSync(cmDir).sort()) {
      const file = join(cmDir, f);
      const m = /^ConceptMap-([a-z0-9][a-z0-9-]*)\.json$/.exec(f);
      if (!m) throw new MappingConfigError(file, undefined, 'unexpected file: ConceptMaps are named ConceptMap-<name>.json');
      const json = readJsonFile(file);
      conceptMaps.set(m[1]!, compileConceptMap(json, m[1]!, file));
      conceptMapResources.set(m[1]!, json as Obj);
    }
  }

  // Mapping files ----------------------------------------------------------------------------
  const raw = new Map<string, { file: string; json: Obj }>();
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.json')) continue;
    const file = join(dir, f);
    const json = readJsonFile(file);
    if (!isObj(json)) throw new MappingConfigError(file, undefined, 'a mapping file is a JSON object');
    raw.set(f.slice(0, -5), { file, json });
  }

  const questionnaires = new Map<string, LoadedQuestionnaire>();
  const compiled = new Map<string, CompiledMapping>();
  const compiling = new Set<string>();

  const compileFile = (name: string, from?: { file: string; where: string }): CompiledMapping => {
    const done = compiled.get(name);
    if (done) return done;
    const entry = raw.get(name);
    if (!entry) {
      if (from) throw new MappingConfigError(from.file, from.where, `unknown mapping "${name}" (no ${join(dir, `${name}.json`)})`);
      throw new MappingConfigError(join(dir, `${name}.json`), undefined, 'missing');
    }
    if (compiling.has(name)) throw new MappingConfigError(entry.file, undefined, `mapping "${name}" includes itself`);
    compiling.add(name);
    const m = compileMapping(name, entry.file, entry.json, {
      conceptMaps,
      questionnaires,
      sub: (n, where) => compileFile(n, { file: entry.file, where }),
    });
    compiling.delete(name);
    compiled.set(name, m);
    return m;
  };
  for (const name of raw.keys()) compileFile(name);
  return { dir, mappings: compiled, conceptMaps, conceptMapResources, questionnaires };
}

interface Env {
  conceptMaps: Map<string, CompiledConceptMap>;
  questionnaires: Map<string, LoadedQuestionnaire>;
  sub: (name: string, where: string) => CompiledMapping;
}

interface RuleInfo {
  id: string;
  index: number;
  where: string;
  alias: string;
  forwardSource?: NativeGetter;
  fhir: FhirPath[];
  questionnaire?: string;
  linkIds: string[];
}

function compileMapping(name: string, file: string, json: Obj, env: Env): CompiledMapping {
  const fail = (where: string | undefined, problem: string): never => {
    throw new MappingConfigError(file, where, problem);
  };
  const bad = unknownKeys(json, FILE_KEYS);
  if (bad.length) fail(undefined, `unknown field(s) ${bad.map((k) => `"${k}"`).join(', ')}`);
  if (json.name !== name) fail('name', `is ${JSON.stringify(json.name)}, expected "${name}" (the file name)`);
  for (const k of ['version', 'description', 'native'] as const) if (json[k] !== undefined && typeof json[k] !== 'string') fail(k, 'must be a string');

  // inputs
  const inputs: string[] = [];
  if (json.inputs !== undefined) {
    if (!Array.isArray(json.inputs)) fail('inputs', 'must be an array of names');
    for (const n of json.inputs as unknown[]) {
      if (typeof n !== 'string' || !ALIAS.test(n) || n === 'item' || inputs.includes(n)) fail('inputs', `bad or repeated input name ${JSON.stringify(n)}`);
      inputs.push(n as string);
    }
  }

  // questionnaires
  const qs = new Map<string, LoadedQuestionnaire>();
  if (json.questionnaires !== undefined) {
    if (!isObj(json.questionnaires)) fail('questionnaires', 'must map a Questionnaire id to a file path');
    for (const [qid, rel] of Object.entries(json.questionnaires as Obj)) {
      if (typeof rel !== 'string') fail(`questionnaires.${qid}`, 'must be a file path (relative to the mapping file)');
      const qfile = join(dirname(file), rel as string);
      if (!existsSync(qfile)) fail(`questionnaires.${qid}`, `no such file ${qfile}`);
      const q = readJsonFile(qfile);
      if (!isObj(q) || q.resourceType !== 'Questionnaire') throw new MappingConfigError(qfile, undefined, 'not a Questionnaire');
      if (q.id !== qid) throw new MappingConfigError(qfile, 'id', `is ${JSON.stringify(q.id)}, expected "${qid}"`);
      if (typeof q.url !== 'string' || typeof q.version !== 'string') throw new MappingConfigError(qfile, undefined, 'needs url and version');
      const loaded: LoadedQuestionnaire = { id: qid, file: qfile, canonical: `${q.url}|${q.version}`, resource: q, items: itemsOf(q) };
      qs.set(qid, loaded);
      env.questionnaires.set(loaded.canonical, loaded);
    }
  }

  // blocks, first pass ------------------------------------------------------------------------
  if (!Array.isArray(json.resources) || json.resources.length === 0) fail('resources', 'must be a non-empty array of resources');
  interface RawBlock {
    raw: Obj;
    where: string;
    block: CompiledBlock;
  }
  const rawBlocks: RawBlock[] = [];
  const byAlias = new Map<string, CompiledBlock>();
  let container: CompiledBlock | undefined;
  (json.resources as unknown[]).forEach((b, i) => {
    let where = `resources[${i}]`;
    if (!isObj(b)) return fail(where, 'must be an object');
    if (typeof b.alias === 'string') where = `resource "${b.alias}" (resources[${i}])`;
    const badKeys = unknownKeys(b, BLOCK_KEYS);
    if (badKeys.length) fail(where, `unknown field(s) ${badKeys.map((k) => `"${k}"`).join(', ')}`);
    if (typeof b.alias !== 'string' || !ALIAS.test(b.alias)) fail(where, 'needs an alias (letters and digits)');
    const alias = b.alias as string;
    if (byAlias.has(alias)) fail(where, `alias "${alias}" is used twice`);
    let sub: CompiledMapping | undefined;
    let resourceType: string;
    if (b.mapping !== undefined) {
      if (typeof b.mapping !== 'string') fail(`${where}.mapping`, 'must be a mapping name');
      sub = env.sub(b.mapping as string, `${where}.mapping`);
      if (sub.container || sub.blocks.length !== 1) fail(`${where}.mapping`, `"${String(b.mapping)}" must map a single resource`);
      for (const k of ['resourceType', 'profile', 'identity', 'container'] as const) {
        if (b[k] !== undefined) fail(where, `"${k}" comes from mapping "${String(b.mapping)}"; do not repeat it`);
      }
      if (b.each === undefined) fail(where, 'a resource mapped by another mapping file needs "each"');
      resourceType = sub.blocks[0]!.resourceType;
    } else {
      if (typeof b.resourceType !== 'string' || !isResourceType(b.resourceType)) fail(where, `resourceType ${JSON.stringify(b.resourceType)} is not an R4 resource type`);
      resourceType = b.resourceType as string;
      if (typeof b.profile !== 'string' || !/^https?:\/\/\S+$/.test(b.profile)) fail(where, 'needs a profile (canonical URL)');
      if (b.inputs !== undefined) fail(where, '"inputs" is only for a resource mapped by another mapping file');
    }
    if (b.container !== undefined && b.container !== true) fail(where, '"container" takes true');
    const block: CompiledBlock = {
      alias,
      resourceType,
      ...(typeof b.profile === 'string' ? { profile: b.profile } : {}),
      container: b.container === true,
      rules: [],
      ...(sub ? { sub } : {}),
    };
    if (block.container) {
      if (container) fail(where, 'only one container');
      if (resourceType !== 'Bundle') fail(where, 'the container is a Bundle');
      for (const k of ['each', 'identity', 'locate', 'when'] as const) if (b[k] !== undefined) fail(where, `the container takes no "${k}"`);
      container = block;
    }
    byAlias.set(alias, block);
    rawBlocks.push({ raw: b, where, block });
  });
  const typeOfAlias = (a: string) => byAlias.get(a)?.resourceType;
  const blocks = rawBlocks.filter((rb) => !rb.block.container).map((rb) => rb.block);
  if (!container && blocks.length !== 1) fail('resources', 'without a container Bundle, a mapping maps exactly one resource');

  // path compilers -----------------------------------------------------------------------------
  const nativePaths = (allowItem: boolean, allowInputs: boolean): PathCompiler<NativeScope> => (p) => {
    const np = parseNativePath(p);
    if (np.base === 'item' && !allowItem) throw new PathError(`"${p}": $item is only for a resource with "each"`);
    if (np.base === 'input') {
      if (!allowInputs) throw new PathError(`"${p}": inputs cannot be used here (they do not exist on the way back)`);
      if (!inputs.includes(np.input!)) throw new PathError(`"${p}": unknown input "$${np.input}" (declared: ${inputs.join(', ') || 'none'})`);
    }
    return compileNativeGetter(np);
  };
  type FhirScope = { res: Obj; ctx: ReverseCtx };
  const locatable = (alias: string, own: string) => {
    const b = byAlias.get(alias);
    if (alias !== own && b && !b.container && blocks.length > 1 && !rawBlocks.find((rb) => rb.block === b)!.raw.locate) {
      throw new PathError(`resource "${alias}" has no "locate", so it cannot be looked at on the way back`);
    }
  };
  const fhirPaths = (own: string): PathCompiler<FhirScope> => (p) => {
    const fp = parseFhirPath(p, typeOfAlias);
    if (fp.hasAppend) throw new PathError(`"${p}": [+] cannot be read`);
    locatable(fp.alias, own);
    const read = compileReader(fp);
    if (fp.alias === own) return (s) => read(s.res);
    const alias = fp.alias;
    return (s) => {
      for (const r of s.ctx.locate(alias)) {
        const v = read(r);
        if (v !== undefined) return v;
      }
      return undefined;
    };
  };
  const condition = <S>(c: unknown, compiler: PathCompiler<S>, where: string, paths?: string[]) => {
    try {
      return compileCondition(c, compiler, paths);
    } catch (e) {
      if (e instanceof PathError || e instanceof ConditionError) return fail(where, e.message);
      throw e;
    }
  };
  const fhirPath = (p: unknown, where: string): FhirPath => {
    try {
      return parseFhirPath(p as string, typeOfAlias);
    } catch (e) {
      if (e instanceof PathError) return fail(where, `bad FHIR path: ${e.message}`);
      throw e;
    }
  };

  // rules ----------------------------------------------------------------------------------------
  if (!Array.isArray(json.rules)) fail('rules', 'must be an array of rules');
  const infos = new Map<string, RuleInfo>();
  (json.rules as unknown[]).forEach((r, index) => {
    let where = `rules[${index}]`;
    if (!isObj(r)) return fail(where, 'a rule is an object');
    if (typeof r.id === 'string') where = `rule "${r.id}" (rules[${index}])`;
    const badKeys = unknownKeys(r, RULE_KEYS);
    if (badKeys.length) fail(where, `unknown field(s) ${badKeys.map((k) => `"${k}"`).join(', ')}`);
    if (typeof r.id !== 'string' || !RULE_ID.test(r.id)) fail(where, 'needs an id (letters, digits, ".", "_", "-")');
    const id = r.id as string;
    if (infos.has(id)) fail(where, `duplicate rule id "${id}" (also rules[${infos.get(id)!.index}])`);
    const direction = r.direction ?? 'both';
    if (!['both', 'forward', 'reverse'].includes(direction as string)) fail(where, `direction ${JSON.stringify(r.direction)} is not both, forward or reverse`);
    const fwd = direction !== 'reverse';
    const rev = direction !== 'forward';

    // target(s)
    if (r.fhir === undefined) fail(where, 'missing target: "fhir" (a FHIR path) is required');
    const fhirTexts = Array.isArray(r.fhir) ? (r.fhir as unknown[]) : [r.fhir];
    if (fhirTexts.length === 0) fail(where, '"fhir" is empty');
    if (Array.isArray(r.fhir) && direction !== 'reverse') fail(where, 'several "fhir" paths (first present wins) are only for a reverse rule');
    const paths = fhirTexts.map((p) => fhirPath(p, where));
    const alias = paths[0]!.alias;
    if (paths.some((p) => p.alias !== alias)) fail(where, 'all "fhir" paths must start with the same resource alias');
    const block = byAlias.get(alias)!;
    if (block.sub) fail(where, `resource "${alias}" is mapped by "${block.sub.name}": put the rule there`);
    const isEach = rawBlocks.find((rb) => rb.block === block)!.raw.each !== undefined;
    const path = paths[0]!;
    const finalKind = path.wholeArray ? 'array' : jsonKindOf(path.finalType);

    // sources
    const sources = (['native', 'constant', 'template', 'reference'] as const).filter((k) => r[k] !== undefined);
    if (fwd && direction === 'both' && (sources.length !== 1 || sources[0] !== 'native')) {
      fail(where, 'a two-way rule has exactly one source: "native" (constants, templates and references are forward only; set "direction")');
    }
    if (fwd && sources.length !== 1) fail(where, `a forward rule has exactly one of "native", "constant", "template", "reference" (has ${sources.length})`);
    if (rev && r.native === undefined) fail(where, 'missing target: a reverse rule needs "native" (the native path it writes)');
    if (direction === 'reverse' && (r.template !== undefined || r.reference !== undefined)) fail(where, 'templates and references are forward only');
    if (!rev && r.whenFhir !== undefined) fail(where, '"whenFhir" is only for the way back (direction both or reverse)');
    if (r.fallback !== undefined && (!fwd || r.native === undefined)) fail(where, '"fallback" is for a forward rule with "native"');
    if (r.where !== undefined && r.reference === undefined) fail(where, '"where" is only for a "reference" rule');
    if (rev && paths.some((p) => p.hasAppend)) fail(where, '[+] cannot be read back: make the rule forward only');
    if (r.type !== undefined && !TYPES.has(r.type as string)) fail(where, `type ${JSON.stringify(r.type)} is not string, integer, decimal or boolean`);
    if (r.description !== undefined && typeof r.description !== 'string') fail(where, '"description" must be a string');

    // native path
    let nativeGet: NativeGetter | undefined;
    let nativeSet: ReturnType<typeof compileNativeSetter> | undefined;
    if (r.native !== undefined) {
      try {
        const np = parseNativePath(r.native as string);
        if (np.base === 'item' && !isEach) throw new PathError(`"${np.text}": $item is only for a resource with "each"`);
        if (np.base === 'input') {
          if (rev) throw new PathError(`"${np.text}": an input cannot be written on the way back: make the rule forward only`);
          if (!inputs.includes(np.input!)) throw new PathError(`"${np.text}": unknown input "$${np.input}"`);
        }
        nativeGet = compileNativeGetter(np);
        if (rev) nativeSet = compileNativeSetter(np);
      } catch (e) {
        if (e instanceof PathError) fail(where, `bad native path: ${e.message}`);
        throw e;
      }
    }

    // conceptMap
    let cm: CompiledConceptMap | undefined;
    let group: ConceptMapGroup | undefined;
    const coding = path.finalType === 'Coding';
    if (r.conceptMap !== undefined) {
      if (typeof r.conceptMap !== 'string' || !env.conceptMaps.has(r.conceptMap)) {
        fail(where, `unknown conceptMap ${JSON.stringify(r.conceptMap)} (known: ${[...env.conceptMaps.keys()].join(', ')})`);
      }
      cm = env.conceptMaps.get(r.conceptMap as string)!;
      if (path.wholeArray) fail(where, 'a conceptMap maps one code, not an array');
      for (const p of paths) {
        if (p.finalType !== path.finalType) fail(where, 'all "fhir" paths of a conceptMap rule have the same type');
      }
      if (coding) {
        const last = path.segments[path.segments.length - 1]!;
        const sys = last.selectors.find((s) => s.kind === 'filter' && s.key === 'system') as { value: string } | undefined;
        if (sys) group = cm.groups.find((g) => g.target === sys.value);
        else if (cm.groups.length === 1) group = cm.groups[0];
        else fail(where, `conceptMap "${cm.name}" has ${cm.groups.length} groups: say which with [system=…] on the Coding`);
        if (!group) fail(where, `conceptMap "${cm.name}" has no group with target ${sys!.value}`);
        if (!group!.target) fail(where, `conceptMap "${cm.name}": the group has no target system, so it cannot make a Coding`);
      } else if (finalKind === 'string') {
        if (cm.groups.length !== 1) fail(where, `conceptMap "${cm.name}" has ${cm.groups.length} groups; a code target needs exactly one`);
        group = cm.groups[0];
      } else fail(where, `a conceptMap rule writes a Coding or a code, not ${path.finalType}`);
      if (rev && !group!.inverse) {
        fail(where, `conceptMap "${cm.name}" is not invertible (${group!.notInvertible}) but the rule is read back: make it forward only`);
      }
    }

    // value kind checks (forward)
    const kindOk = (v: unknown) =>
      finalKind === 'array' ? Array.isArray(v) : finalKind === 'object' ? isObj(v) : typeof v === finalKind;
    if (fwd) {
      if (r.constant !== undefined) {
        if (cm ? !['string', 'number', 'boolean'].includes(typeof r.constant) : !kindOk(r.constant)) {
          fail(where, `constant ${JSON.stringify(r.constant)} does not fit ${path.text} (${path.finalType})`);
        }
      }
      if (r.template !== undefined && (typeof r.template !== 'string' || finalKind !== 'string')) fail(where, 'a template is a string written to a string element');
      if (r.reference !== undefined) {
        if (typeof r.reference !== 'string' || !byAlias.has(r.reference) || byAlias.get(r.reference)!.container) {
          fail(where, `unknown reference ${JSON.stringify(r.reference)} (a resource alias)`);
        }
        if (path.finalType !== 'Reference' && !(finalKind === 'string' && path.segments[path.segments.length - 1]?.name === 'reference')) {
          fail(where, `a reference is written to a Reference (or its .reference), not ${path.finalType}`);
        }
      }
      if (r.type !== undefined && !cm && r.native !== undefined) {
        const want = r.type === 'integer' || r.type === 'decimal' ? 'number' : r.type;
        if (finalKind !== want) fail(where, `type ${String(r.type)} does not fit ${path.text} (${path.finalType})`);
      }
    }
    if (rev && r.constant !== undefined && r.conceptMap !== undefined) fail(where, 'a reverse constant does not go through a conceptMap');

    // questionnaire items
    const linkIds: string[] = [];
    const extras = new Map<number, Obj>();
    if (r.questionnaire !== undefined) {
      const q = qs.get(r.questionnaire as string);
      if (!q) fail(where, `unknown questionnaire ${JSON.stringify(r.questionnaire)} (declare it under "questionnaires")`);
      const k = path.segments.findIndex((s) => s.name === 'item');
      const link = path.segments[k]?.selectors.find((s) => s.kind === 'filter' && s.key === 'linkId') as { value: string } | undefined;
      if (k < 0 || !link) fail(where, 'a questionnaire rule writes an item[linkId=…]');
      const item = q!.items.get(link!.value);
      if (!item || item.type === 'display' || item.type === 'group') fail(where, `Questionnaire "${q!.id}" has no answerable item with linkId "${link!.value}"`);
      linkIds.push(link!.value);
      if (typeof item!.text === 'string') extras.set(k, { text: item!.text });
      const valueSeg = path.segments[path.segments.length - 1]!;
      const expected = ANSWER_ELEMENT[item!.type as string];
      if (path.segments[path.segments.length - 2]?.name !== 'answer' || valueSeg.name !== expected) {
        fail(where, `item "${link!.value}" of Questionnaire "${q!.id}" is ${String(item!.type)}: its answer is item[…].answer[0].${expected}`);
      }
      const options = Array.isArray(item!.answerOption) ? (item!.answerOption as Obj[]) : [];
      if (options.length > 0 && !group) fail(where, `item "${link!.value}" has answer options: map the answer with a conceptMap`);
      if (group) {
        for (const [src, tgt] of group.forward) {
          if (!tgt) continue;
          const opt = options.find((o) => isObj(o.valueCoding) && o.valueCoding.system === group!.target && o.valueCoding.code === tgt.code);
          if (!opt) fail(where, `conceptMap "${cm!.name}" maps "${src}" to ${group.target}#${tgt.code}, which is not an answer option of item "${link!.value}"`);
          const d = (opt!.valueCoding as Obj).display;
          if (d !== undefined && tgt.display !== undefined && d !== tgt.display) {
            fail(where, `display of ${tgt.code} differs: conceptMap "${cm!.name}" says "${tgt.display}", Questionnaire "${q!.id}" says "${String(d)}"`);
          }
        }
      }
    }
    if (group && qs.size > 0 && path.finalType === 'canonical') {
      const known = new Set([...qs.values()].map((q) => q.canonical));
      for (const [src, tgt] of group.forward) {
        if (tgt && !known.has(tgt.code)) fail(where, `conceptMap "${cm!.name}" maps "${src}" to ${tgt.code}, which is none of the declared Questionnaires (${[...known].join(', ')})`);
      }
    }

    // conditions
    const when = r.when === undefined ? undefined : condition(r.when, nativePaths(isEach, !rev), `${where}.when`);
    const whenFhir = r.whenFhir === undefined ? undefined : condition(r.whenFhir, fhirPaths(alias), `${where}.whenFhir`);

    // ---- compile forward
    let forward: ForwardRule | undefined;
    let forwardSource: NativeGetter | undefined;
    if (fwd) {
      const writer = (() => {
        try {
          return compileWriter(path, extras);
        } catch (e) {
          if (e instanceof PathError) return fail(where, e.message);
          throw e;
        }
      })();
      const write = (res: Obj, v: unknown) => {
        try {
          writer(res, v);
        } catch (e) {
          if (e instanceof WriteConflict) throw new MappingError(name, id, e.message);
          throw e;
        }
      };
      let map: ((v: unknown) => unknown) | undefined;
      if (group) {
        const out = new Map<string, unknown>();
        for (const [src, tgt] of group.forward) {
          out.set(src, tgt === null ? null : coding ? { system: group.target, code: tgt.code, ...(tgt.display ? { display: tgt.display } : {}) } : tgt.code);
        }
        const cmName = cm!.name;
        map = (v) => {
          const key = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
          const hit = key === undefined ? undefined : out.get(key);
          if (hit === undefined) throw new MappingError(name, id, `${JSON.stringify(v)} is not a source code of ConceptMap ${cmName}`);
          return hit === null ? undefined : hit;
        };
      }
      if (r.reference !== undefined) {
        const target = r.reference as string;
        const targetEach = rawBlocks.find((rb) => rb.block.alias === target)!.raw.each !== undefined;
        if (targetEach && !path.hasAppend) fail(where, `"${target}" has one resource per array element: write its references with [+]`);
        const asString = finalKind === 'string';
        const whereCond = r.where === undefined ? undefined : (() => {
          if (!targetEach) fail(where, '"where" filters the resources of a block with "each"');
          // $item in "where" is the element of the referenced block
          return condition(r.where, nativePaths(true, true), `${where}.where`);
        })();
        forward = (scope, res, ctx: ForwardCtx) => {
          if (when && !when(scope)) return;
          for (const inst of ctx.instancesOf(target)) {
            if (whereCond && !whereCond({ root: scope.root, item: inst.item, inputs: scope.inputs })) continue;
            write(res, asString ? inst.fullUrl : { reference: inst.fullUrl });
            if (!targetEach) return;
          }
        };
      } else {
        let get: NativeGetter;
        if (r.native !== undefined) get = nativeGet!;
        else if (r.template !== undefined) {
          const parts: Array<string | NativeGetter> = [];
          const re = /\{([^{}]+)\}/g;
          const t = r.template as string;
          let last = 0;
          for (let mm = re.exec(t); mm; mm = re.exec(t)) {
            if (mm.index > last) parts.push(t.slice(last, mm.index));
            parts.push(nativePaths(isEach, true)(mm[1]!));
            last = mm.index + mm[0].length;
          }
          if (last < t.length) parts.push(t.slice(last));
          get = (scope) => {
            let s = '';
            for (const p of parts) {
              if (typeof p === 'string') s += p;
              else {
                const v = p(scope);
                if (typeof v !== 'string' && typeof v !== 'number') return undefined;
                s += String(v);
              }
            }
            return s;
          };
        } else {
          const c = r.constant;
          get = () => c;
        }
        forwardSource = get;
        const fallback = r.fallback;
        forward = (scope, res) => {
          if (when && !when(scope)) return;
          let v = get(scope);
          if (v === undefined) v = fallback;
          if (v === undefined) return;
          if (Array.isArray(v) && v.length === 0) return;
          if (map) {
            v = map(v);
            if (v === undefined) return;
          }
          write(res, v);
        };
      }
    }

    // ---- compile reverse
    let reverse: ReverseRule | undefined;
    if (rev) {
      const readers: Reader[] = paths.map((p) => compileReader(p));
      const set = nativeSet!;
      const type = (r.type as string | undefined) ?? 'string';
      let unmap: ((v: unknown) => unknown) | undefined;
      if (group && r.constant === undefined) {
        const inv = group.inverse!;
        const system = group.target;
        const cmName = cm!.name;
        unmap = (v) => {
          let code: unknown = v;
          if (coding) {
            if (!isObj(v) || v.system !== system) throw new MappingError(name, id, `expected a Coding of ${system}`);
            code = v.code;
          }
          const src = typeof code === 'string' ? inv.get(code) : undefined;
          if (src === undefined) throw new MappingError(name, id, `${JSON.stringify(code)} has no native counterpart in ConceptMap ${cmName}`);
          return coerce(src, type, name, id);
        };
      }
      const constant = r.constant;
      const hasConstant = constant !== undefined;
      const nativeWhen = when;
      const noInputs = Object.freeze({});
      reverse = (scope: MutableScope, res: Obj, ctx: ReverseCtx) => {
        if (whenFhir && !whenFhir({ res, ctx })) return;
        if (nativeWhen && !nativeWhen({ root: scope.root, item: scope.item, inputs: noInputs })) return;
        let v: unknown;
        for (const read of readers) {
          v = read(res);
          if (v !== undefined) break;
        }
        if (v === undefined) return;
        if (hasConstant) v = cloneJson(constant);
        else if (unmap) v = unmap(v);
        else if (Array.isArray(v) || isObj(v)) v = cloneJson(v);
        set(scope, v);
      };
    }

    infos.set(id, { id, index, where, alias, fhir: paths, linkIds, ...(r.questionnaire ? { questionnaire: r.questionnaire as string } : {}), ...(forwardSource ? { forwardSource } : {}) });
    const rule: CompiledRule = { id, index, alias, ...(forward ? { forward } : {}), ...(reverse ? { reverse } : {}) };
    block.rules.push(rule);
  });

  // every answerable item of every declared Questionnaire has a rule
  for (const q of qs.values()) {
    const covered = new Set([...infos.values()].filter((i) => i.questionnaire === q.id).flatMap((i) => i.linkIds));
    for (const [linkId, item] of q.items) {
      if (item.type !== 'display' && item.type !== 'group' && !covered.has(linkId)) {
        fail(`questionnaires.${q.id}`, `item "${linkId}" of ${q.file} has no rule`);
      }
    }
  }

  // blocks, second pass: identity, each, when, inputs, locate -----------------------------------
  const locateDeps = new Map<string, string[]>();
  for (const { raw: b, where, block } of rawBlocks) {
    if (block.container) continue;
    const isEach = b.each !== undefined;
    if (b.identity !== undefined) {
      const info = typeof b.identity === 'string' ? infos.get(b.identity) : undefined;
      if (!info || info.alias !== block.alias) fail(`${where}.identity`, `names no rule of "${block.alias}" (${JSON.stringify(b.identity)})`);
      const segs = info!.fhir[0]!.segments;
      const sys = segs[0]?.selectors.find((s) => s.kind === 'filter' && s.key === 'system') as { value: string } | undefined;
      if (segs.length !== 2 || segs[0]!.name !== 'identifier' || !sys || segs[1]!.name !== 'value' || !info!.forwardSource) {
        fail(`${where}.identity`, `rule "${info!.id}" must write ${block.alias}.identifier[system=…].value from "native" or "template"`);
      }
      block.identity = { ruleId: info!.id, system: sys!.value, value: info!.forwardSource! };
    } else if (!block.sub) fail(where, 'needs "identity": the id of the rule writing its business identifier');
    if (isEach) {
      try {
        const np = parseNativePath(b.each as string);
        if (np.base !== 'root') throw new PathError(`"${np.text}": "each" is a path in the native document`);
        block.each = { get: compileNativeGetter(np), set: compileNativeSetter(np) };
      } catch (e) {
        if (e instanceof PathError) fail(`${where}.each`, e.message);
        throw e;
      }
    }
    if (b.when !== undefined) block.when = condition(b.when, nativePaths(isEach, true), `${where}.when`);
    if (block.sub) {
      const given = isObj(b.inputs) ? b.inputs : {};
      const want = block.sub.inputs;
      const extra = Object.keys(given).filter((k) => !want.includes(k));
      const missing = want.filter((k) => !(k in given));
      if (extra.length || missing.length) {
        fail(`${where}.inputs`, `mapping "${block.sub.name}" takes inputs ${want.join(', ')}${extra.length ? `; unknown: ${extra.join(', ')}` : ''}${missing.length ? `; missing: ${missing.join(', ')}` : ''}`);
      }
      const subInputs: NonNullable<CompiledBlock['subInputs']> = {};
      for (const [k, spec] of Object.entries(given)) {
        const at = `${where}.inputs.${k}`;
        if (isObj(spec) && Object.keys(spec).join() === 'reference' && typeof spec.reference === 'string') {
          const target = byAlias.get(spec.reference);
          if (!target || target.container) fail(at, `unknown resource alias "${spec.reference}"`);
          const ta = spec.reference;
          subInputs[k] = (_s, ctx) => {
            const inst = ctx.instancesOf(ta)[0];
            return inst ? { reference: inst.fullUrl } : undefined;
          };
        } else if (isObj(spec) && Object.keys(spec).join() === 'native' && typeof spec.native === 'string') {
          let g: NativeGetter;
          try {
            g = nativePaths(true, true)(spec.native);
          } catch (e) {
            if (e instanceof PathError) fail(at, e.message);
            throw e;
          }
          subInputs[k] = (s) => g(s);
        } else if (isObj(spec) && Object.keys(spec).join() === 'constant') {
          const c = spec.constant;
          subInputs[k] = () => cloneJson(c);
        } else fail(at, 'an input is { "reference": alias }, { "native": path } or { "constant": value }');
      }
      block.subInputs = subInputs;
    }
    // locate (the way back)
    const hasReverse = (block.sub ? block.sub.blocks[0]!.rules : block.rules).some((x) => x.reverse);
    if (b.locate === undefined) {
      if (hasReverse && container) fail(where, 'has rules for the way back, so it needs "locate"');
      continue;
    }
    if (!container) fail(where, '"locate" is only for the resources of a container Bundle');
    const l = b.locate;
    const at = `${where}.locate`;
    if (!isObj(l)) return fail(at, 'must be an object');
    const keys = Object.keys(l).sort().join(',');
    const rt = block.resourceType;
    let locate: Locator;
    const deps: string[] = [];
    if (keys === 'resourceType' || keys === 'resourceType,single' || keys === 'resourceType,where') {
      if (l.resourceType !== rt) fail(at, `resourceType must be ${rt}`);
      if (l.single !== undefined && l.single !== true) fail(at, '"single" takes true');
      const single = l.single === true;
      const cond = l.where === undefined ? undefined : condition(l.where, fhirPaths(block.alias), `${at}.where`, deps);
      const alias = block.alias;
      locate = (ctx) => {
        const found: Obj[] = [];
        for (const res of ctx.resources) {
          if (res.resourceType === rt && (!cond || cond({ res, ctx }))) found.push(res);
        }
        if (single && found.length !== 1) throw new MappingError(name, undefined, `expected exactly one ${rt} for "${alias}", found ${found.length}`);
        return found;
      };
    } else if (keys === 'reference' || keys === 'references,resourceType') {
      const many = keys !== 'reference';
      const p = fhirPath(many ? l.references : l.reference, at);
      if (p.hasAppend) fail(at, '[+] cannot be read');
      if (p.finalType !== 'Reference' || p.wholeArray !== many) {
        fail(at, many ? '"references" is a path to an array of References' : '"reference" is a path to one Reference');
      }
      if (many && l.resourceType !== rt) fail(at, `resourceType must be ${rt}`);
      if (p.alias === block.alias) fail(at, 'a resource cannot be located from itself');
      try {
        locatable(p.alias, block.alias);
      } catch (e) {
        fail(at, (e as Error).message);
      }
      deps.push(p.text);
      const read = compileReader(p);
      const from = p.alias;
      locate = (ctx) => {
        const src = ctx.locate(from)[0];
        if (!src) return [];
        const v = read(src);
        const refs = many ? (Array.isArray(v) ? v : []) : [v];
        const found: Obj[] = [];
        for (const ref of refs) {
          const res = ctx.resolve(ref);
          if (res && res.resourceType === rt) found.push(res);
        }
        return found;
      };
    } else {
      return fail(at, 'is { "resourceType", "single"? }, { "resourceType", "where" }, { "reference": path } or { "references": path, "resourceType" }');
    }
    locateDeps.set(block.alias, deps.map((d) => d.split(/[.[]/)[0]!).filter((a) => a !== block.alias));
    block.locate = locate;
  }
  // locate must not go round in circles
  const state = new Map<string, 1 | 2>();
  const visit = (a: string, trail: string[]) => {
    if (state.get(a) === 2) return;
    if (state.get(a) === 1) fail('resources', `"locate" goes round in a circle: ${[...trail, a].join(' → ')}`);
    state.set(a, 1);
    for (const d of locateDeps.get(a) ?? []) visit(d, [...trail, a]);
    state.set(a, 2);
  };
  for (const a of locateDeps.keys()) visit(a, []);

  const order = json.nativeKeyOrder === undefined ? undefined : compileKeyOrder(json.nativeKeyOrder, 'nativeKeyOrder', fail);
  return { name, file, inputs, ...(container ? { container } : {}), blocks, byAlias, ...(order ? { order } : {}) };
}

/**
 * `nativeKeyOrder`: the order of the keys of a document read back, e.g. ["referralId", …, { "patient": ["nhsNumber", …] }].
 * A nested list orders the object under that key (or each object of that array). Keys not listed keep their place after the listed ones.
 */
function compileKeyOrder(spec: unknown, where: string, fail: (where: string, problem: string) => never): (v: unknown) => unknown {
  if (!Array.isArray(spec) || spec.length === 0) return fail(where, 'is a non-empty array of keys and { key: [...] } objects');
  const keys: string[] = [];
  const nested = new Map<string, (v: unknown) => unknown>();
  spec.forEach((k, i) => {
    if (typeof k === 'string') keys.push(k);
    else if (isObj(k) && Object.keys(k).length === 1) {
      const key = Object.keys(k)[0]!;
      keys.push(key);
      nested.set(key, compileKeyOrder(k[key], `${where}[${i}].${key}`, fail));
    } else fail(`${where}[${i}]`, 'is a key or { key: [...] }');
  });
  if (new Set(keys).size !== keys.length) fail(where, 'lists a key twice');
  const reorder = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(reorder);
    if (!isObj(v)) return v;
    const out: Obj = {};
    for (const k of keys) {
      if (!(k in v)) continue;
      const f = nested.get(k);
      out[k] = f ? f(v[k]) : v[k];
    }
    for (const k in v) if (!(k in out)) out[k] = v[k];
    return out;
  };
  return reorder;
}
