// Reads and checks mappings/inbound/inbound-referral.json (the inbound reverse mapping, described in
// mappings/README.md) and compiles its FHIRPaths once. Any problem is a MappingConfigError naming the
// file and the rule, so a bad rule stops start-up. The file sits in its own folder because the
// native ⇄ FHIR loader (loader.ts) reads every .json file directly under mappings/ as one of its own.
import { existsSync, readFileSync } from 'node:fs';
import fhirpath from 'fhirpath';
import { MappingConfigError } from './errors.js';

export type Severity = 'ignore' | 'information' | 'warning' | 'error';
export type ValueType = 'string' | 'strings' | 'integer' | 'boolean' | 'date' | 'dateTime';
export type Compiled = (scope: object, env: Record<string, unknown>) => unknown[];

/** The package resources a FHIRPath may start from (InboundReferralPackage minus its lists and map). */
export const SCOPE_KEYS = ['serviceRequest', 'patient', 'practitioner', 'practitionerRole', 'requesterOrganization', 'performerOrganization'] as const;
export type ScopeKey = (typeof SCOPE_KEYS)[number];
export const INPUTS = ['referralId', 'defaultRecipientOds'] as const;

/** Every native leaf a rule may write (native-format.md), in the native key order. */
export const NATIVE_LEAVES = [
  'referralId', 'createdAt', 'status', 'kind', 'step', 'urgency', 'primaryCondition', 'symptomDurationMonths', 'clinicalSummary',
  'patient.nhsNumber', 'patient.name.given', 'patient.name.family', 'patient.name.prefix', 'patient.birthDate', 'patient.gender',
  'patient.address.lines', 'patient.address.city', 'patient.address.postcode', 'patient.phone', 'patient.email', 'patient.gpPractice.odsCode',
  'referrer.sdsUserId', 'referrer.name.given', 'referrer.name.family', 'referrer.name.prefix', 'referrer.odsCode', 'referrer.role',
  'recipient.odsCode',
  'preferences.contactMethod', 'preferences.language', 'preferences.interpreterRequired', 'preferences.availability',
] as const;

/** Native leaves the native format requires: each must have a rule. */
const REQUIRED_LEAVES = [
  'referralId', 'createdAt', 'status', 'kind', 'step', 'urgency', 'primaryCondition',
  'patient.nhsNumber', 'patient.name.given', 'patient.name.family', 'patient.birthDate', 'patient.gender',
  'referrer.sdsUserId', 'referrer.name.given', 'referrer.name.family', 'referrer.odsCode', 'recipient.odsCode',
];

/** A location for issues: a scope key and an element path under it, e.g. `serviceRequest.priority`. */
export interface At {
  key: ScopeKey;
  rest: string;
}

export interface LetDef {
  name: string;
  from: Compiled[];
  required: boolean;
  at: At[];
  allowed?: string;
}

export interface RuleDef {
  id: string;
  index: number;
  native: string;
  from: Compiled[];
  /** the %variables of each `from` path (a path reading only an absent required `let` reports nothing) */
  fromVars: string[][];
  at: At[];
  conceptMap?: string;
  map?: Record<string, string>;
  ambiguous?: Record<string, string>;
  type: ValueType;
  join?: string;
  default?: unknown;
  whenAbsent: Severity;
  whenUnmapped: Severity;
  /** the native path dropped (with a warning) when the native format refuses this value */
  optional?: string;
  allowed?: string;
}

export interface AssessmentsDef {
  conceptMap: string;
  /** when set, a QR identifier value matching it is kept as the assessmentId; absent: always the template */
  idPattern?: RegExp;
  idFallback: string;
}

export interface InboundConfig {
  file: string;
  lets: LetDef[];
  rules: RuleDef[];
  assessments: AssessmentsDef;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const TOP = ['name', 'version', 'description', 'native', 'scope', 'inputs', 'let', 'rules', 'assessments', 'notMapped'];
const LET_FIELDS = ['name', 'from', 'required', 'at', 'allowed', 'description'];
const RULE_FIELDS = [
  'id', 'native', 'from', 'at', 'conceptMap', 'map', 'ambiguous', 'type', 'join', 'default',
  'whenAbsent', 'whenUnmapped', 'optional', 'allowed', 'description',
];
const ASSESSMENT_FIELDS = ['conceptMap', 'idPattern', 'idFallback', 'description'];
const SEVERITIES: Severity[] = ['ignore', 'information', 'warning', 'error'];
const TYPES: ValueType[] = ['string', 'strings', 'integer', 'boolean', 'date', 'dateTime'];

/** What a ConceptMap read backwards needs: per group, its target system and target code → source codes. */
export interface ReverseGroup {
  target?: string;
  sources: Map<string, string[]>;
}

export function reverseGroups(conceptMap: unknown): ReverseGroup[] {
  const groups = isObj(conceptMap) && Array.isArray(conceptMap.group) ? conceptMap.group : [];
  return groups.filter(isObj).map((g) => {
    const sources = new Map<string, string[]>();
    for (const el of Array.isArray(g.element) ? g.element.filter(isObj) : []) {
      for (const t of Array.isArray(el.target) ? el.target.filter(isObj) : []) {
        if (typeof t.code !== 'string' || t.equivalence === 'unmatched' || typeof el.code !== 'string') continue;
        sources.set(t.code, [...(sources.get(t.code) ?? []), el.code]);
      }
    }
    return { target: typeof g.target === 'string' ? g.target : undefined, sources };
  });
}

export function loadInboundConfig(file: string, conceptMaps: ReadonlyMap<string, unknown>): InboundConfig {
  const fail = (where: string | undefined, problem: string): never => {
    throw new MappingConfigError(file, where, problem);
  };
  if (!existsSync(file)) fail(undefined, 'missing: the adapter needs this mapping for inbound FHIR referrals');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    fail(undefined, `not valid JSON (${(e as Error).message})`);
  }
  if (!isObj(json)) return fail(undefined, 'a mapping file is a JSON object');
  unknownFields(json, TOP, undefined, fail);
  if (json.name !== 'inbound-referral') fail(undefined, `name must be "inbound-referral", found ${JSON.stringify(json.name)}`);
  if (JSON.stringify(json.scope) !== JSON.stringify(SCOPE_KEYS)) fail(undefined, `scope must be ${JSON.stringify(SCOPE_KEYS)}`);
  if (JSON.stringify(json.inputs) !== JSON.stringify(INPUTS)) fail(undefined, `inputs must be ${JSON.stringify(INPUTS)}`);

  const vars = new Set<string>(INPUTS);
  const compile = (where: string, text: unknown): { fn: Compiled; vars: string[] } => {
    if (typeof text !== 'string' || text.length === 0) return fail(where, 'from: a FHIRPath string (or a list of them)');
    const first = /^%?([A-Za-z][A-Za-z0-9]*)/.exec(text)?.[1] ?? '';
    if (!text.startsWith('%') && !(SCOPE_KEYS as readonly string[]).includes(first)) {
      fail(where, `"${text}" must start with one of ${SCOPE_KEYS.join(', ')} or a %variable`);
    }
    if (/extension(\.where\([^)]*\))?(\.first\(\))?\.value(\.|$)/.test(text)) {
      fail(where, `"${text}": name an extension's value as in JSON (valueDuration, valueCoding, valueBoolean…); paths are evaluated without the R4 model`);
    }
    const used = [...text.matchAll(/%([A-Za-z][A-Za-z0-9]*)/g)].map((m) => m[1] as string);
    for (const v of used) if (!vars.has(v)) fail(where, `unknown variable %${v} (known: ${[...vars].join(', ')}; a let is known after its definition)`);
    try {
      // No R4 model: five times faster per evaluation, and the paths name choice elements as in JSON
      // (valueDuration, valueCoding), which the loader checks below.
      return { fn: fhirpath.compile(text) as unknown as Compiled, vars: used };
    } catch (e) {
      return fail(where, `FHIRPath "${text}" does not compile: ${(e as Error).message}`);
    }
  };
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);
  const parseAt = (where: string, v: unknown): At[] =>
    list(v).map((a) => {
      const m = typeof a === 'string' ? /^([A-Za-z]+)((?:\.[A-Za-z]+)*)$/.exec(a) : null;
      if (!m || !(SCOPE_KEYS as readonly string[]).includes(m[1] as string)) {
        return fail(where, `at: ${JSON.stringify(a)} must be <${SCOPE_KEYS.join('|')}>[.element…]`);
      }
      return { key: m[1] as ScopeKey, rest: m[2] as string };
    });
  const severity = (where: string, v: unknown, dflt: Severity): Severity => {
    if (v === undefined) return dflt;
    if (!SEVERITIES.includes(v as Severity)) fail(where, `${JSON.stringify(v)} is not one of ${SEVERITIES.join(', ')}`);
    return v as Severity;
  };

  const lets: LetDef[] = [];
  (Array.isArray(json.let) ? json.let : fail('let', 'a list')).forEach((l: unknown, i: number) => {
    const where = `let[${i}]`;
    if (!isObj(l)) return fail(where, 'an object');
    unknownFields(l, LET_FIELDS, where, fail);
    if (typeof l.name !== 'string' || !/^[A-Za-z][A-Za-z0-9]*$/.test(l.name) || vars.has(l.name)) fail(where, `name ${JSON.stringify(l.name)} must be a new identifier`);
    if (typeof l.description !== 'string') fail(where, 'a let says what it chooses (description)');
    const from = list(l.from).map((t) => compile(where, t).fn);
    if (l.required !== undefined && typeof l.required !== 'boolean') fail(where, 'required: true or false');
    if (l.required && l.at === undefined) fail(where, 'a required let names where its issue points (at)');
    lets.push({ name: l.name as string, from, required: l.required === true, at: l.at === undefined ? [] : parseAt(where, l.at), allowed: l.allowed as string | undefined });
    vars.add(l.name as string);
  });

  const ids = new Set<string>();
  const natives = new Set<string>();
  const rules: RuleDef[] = [];
  (Array.isArray(json.rules) ? json.rules : fail('rules', 'a list')).forEach((r: unknown, index: number) => {
    let where = `rules[${index}]`;
    if (!isObj(r)) return fail(where, 'a rule is an object');
    if (typeof r.id !== 'string' || r.id.length === 0) fail(where, 'a rule has an id');
    where = `rule "${r.id as string}" (rules[${index}])`;
    if (ids.has(r.id as string)) fail(where, 'id used twice');
    ids.add(r.id as string);
    unknownFields(r, RULE_FIELDS, where, fail);
    if (typeof r.description !== 'string' || r.description.length === 0) fail(where, 'a rule says why (description)');
    if (!(NATIVE_LEAVES as readonly string[]).includes(r.native as string)) fail(where, `native ${JSON.stringify(r.native)} is not a native field (known: ${NATIVE_LEAVES.join(', ')})`);
    if (natives.has(r.native as string)) fail(where, `native ${r.native as string} is written by an earlier rule`);
    natives.add(r.native as string);
    const compiled = list(r.from).map((t) => compile(where, t));
    if (r.at === undefined) fail(where, 'a rule names where its issues point (at)');
    const type = (r.type ?? 'string') as ValueType;
    if (!TYPES.includes(type)) fail(where, `type ${JSON.stringify(r.type)} is not one of ${TYPES.join(', ')}`);
    if (r.join !== undefined && (typeof r.join !== 'string' || type !== 'string')) fail(where, 'join: a separator string, for a string field');
    if (r.map !== undefined && (!isObj(r.map) || Object.values(r.map).some((v) => typeof v !== 'string'))) fail(where, 'map: code → native code');
    if (r.default !== undefined && !fitsType(r.default, type)) fail(where, `default ${JSON.stringify(r.default)} is not a ${type}`);
    let optional: string | undefined;
    if (r.optional === true) optional = r.native as string;
    else if (typeof r.optional === 'string') {
      if (!(r.native as string).startsWith(`${r.optional}.`)) fail(where, `optional: "${r.optional}" must be true or an object path containing ${r.native as string}`);
      optional = r.optional;
    } else if (r.optional !== undefined) fail(where, 'optional: true or the native object path to drop');
    if (optional && REQUIRED_LEAVES.some((l) => l === optional || l.startsWith(`${optional}.`))) fail(where, `optional: ${optional} is required by the native format`);
    if (r.conceptMap !== undefined) checkConceptMapRule(r, conceptMaps, where, fail);
    else if (r.ambiguous !== undefined) fail(where, 'ambiguous needs a conceptMap');
    rules.push({
      id: r.id as string,
      index,
      native: r.native as string,
      from: compiled.map((c) => c.fn),
      fromVars: compiled.map((c) => c.vars),
      at: parseAt(where, r.at),
      conceptMap: r.conceptMap as string | undefined,
      map: r.map as Record<string, string> | undefined,
      ambiguous: r.ambiguous as Record<string, string> | undefined,
      type,
      join: r.join as string | undefined,
      default: r.default,
      whenAbsent: severity(where, r.whenAbsent, 'ignore'),
      whenUnmapped: severity(where, r.whenUnmapped, 'error'),
      optional,
      allowed: r.allowed as string | undefined,
    });
  });
  for (const leaf of REQUIRED_LEAVES) if (!natives.has(leaf)) fail('rules', `no rule writes ${leaf}, which the native format requires`);

  const a = json.assessments;
  if (!isObj(a)) return fail('assessments', 'an object');
  unknownFields(a, ASSESSMENT_FIELDS, 'assessments', fail);
  if (typeof a.conceptMap !== 'string' || !conceptMaps.has(a.conceptMap)) fail('assessments', `unknown conceptMap ${JSON.stringify(a.conceptMap)}`);
  let idPattern: RegExp | undefined;
  if (a.idPattern !== undefined) {
    try {
      idPattern = new RegExp(a.idPattern as string);
    } catch {
      fail('assessments', 'idPattern: a regular expression');
    }
  }
  if (typeof a.idFallback !== 'string' || !a.idFallback.includes('{n}')) fail('assessments', 'idFallback: a template with {n} (and {referralId})');
  return { file, lets, rules, assessments: { conceptMap: a.conceptMap as string, idPattern, idFallback: a.idFallback as string } };
}

function unknownFields(o: Json, known: readonly string[], where: string | undefined, fail: (w: string | undefined, p: string) => never): void {
  const extra = Object.keys(o).filter((k) => !known.includes(k));
  if (extra.length) fail(where, `unknown field(s) ${extra.map((k) => `"${k}"`).join(', ')}`);
}

function fitsType(v: unknown, type: ValueType): boolean {
  if (type === 'integer') return Number.isInteger(v);
  if (type === 'boolean') return typeof v === 'boolean';
  if (type === 'strings') return Array.isArray(v) && v.every((x) => typeof x === 'string');
  return typeof v === 'string';
}

/**
 * The ConceptMap exists; a target code reached from several source codes (not invertible) has its
 * choice in `ambiguous` ("system|code" → one of those sources); `ambiguous` names nothing else.
 */
function checkConceptMapRule(r: Json, conceptMaps: ReadonlyMap<string, unknown>, where: string, fail: (w: string, p: string) => never): void {
  const cm = conceptMaps.get(r.conceptMap as string);
  if (cm === undefined) fail(where, `unknown conceptMap "${String(r.conceptMap)}" (known: ${[...conceptMaps.keys()].join(', ')})`);
  const amb = (r.ambiguous ?? {}) as Record<string, unknown>;
  if (!isObj(amb)) fail(where, 'ambiguous: "system|code" → native code');
  const needed = new Set<string>();
  for (const g of reverseGroups(cm)) {
    for (const [code, sources] of g.sources) {
      if (sources.length < 2) continue;
      const key = `${g.target ?? ''}|${code}`;
      needed.add(key);
      if (!(key in amb)) fail(where, `ConceptMap ${String(r.conceptMap)} maps ${sources.join(' and ')} to ${key}: say which one it is read as (ambiguous)`);
      if (!sources.includes(amb[key] as string)) fail(where, `ambiguous ${key} → ${JSON.stringify(amb[key])} is not one of ${sources.join(', ')}`);
    }
  }
  for (const key of Object.keys(amb)) if (!needed.has(key)) fail(where, `ambiguous ${key} is not a target reached from several codes`);
}
