// The search parameters /fhir serves, as data: what each one indexes (indexResource, at write time)
// and how a query string becomes criteria (parseSearchQuery, at read time). The CapabilityStatement
// lists the same table, so what it advertises is what the store can answer.
// Pure functions only: no store imports.
import { badRequest, issue, operationOutcome, OutcomeError } from './outcomes.js';

export type SearchParamType = 'token' | 'reference' | 'date' | 'uri' | 'string';

type Json = Record<string, unknown>;

/** A value extracted from a resource for one parameter (before it becomes an IndexEntry). */
interface Extracted {
  system?: string | null;
  value: string;
  low?: string | null;
  high?: string | null;
}

export interface SearchParamDef {
  name: string;
  type: SearchParamType;
  documentation: string;
  /** FHIRPath of the element searched (for the CapabilityStatement and SearchParameter definitions) */
  expression: string;
  /** reference parameters: the resource types a reference may point at */
  targets?: readonly string[];
  /** reference parameters: `<name>:identifier` / `<name>.identifier` find the Patient by identifier */
  chainIdentifier?: boolean;
  /** canonical references (Questionnaire URL, optionally `|version`): matched as written, not as Type/id */
  canonical?: boolean;
  /** the values indexed for this parameter; absent for `_id` (matched on the id itself) */
  extract?: (resource: Json) => Extracted[];
}

export interface IndexEntry {
  param: string;
  system: string | null;
  value: string;
  low: string | null;
  high: string | null;
}

/** Index rows for a logical reference (Reference.identifier) or a contained Patient's identifiers. */
const IDENTIFIER_SUFFIX = ':identifier';

const REQUEST_STATUS = 'http://hl7.org/fhir/request-status';
const QR_STATUS = 'http://hl7.org/fhir/questionnaire-answers-status';

// ---- extraction helpers ---------------------------------------------------------------------------

function asArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function identifiersOf(value: unknown): Extracted[] {
  const out: Extracted[] = [];
  for (const id of asArray(value)) {
    if (isObject(id) && typeof id.value === 'string' && id.value !== '') {
      out.push({ system: typeof id.system === 'string' ? id.system : null, value: id.value });
    }
  }
  return out;
}

function code(value: unknown, system: string): Extracted[] {
  return typeof value === 'string' && value !== '' ? [{ system, value }] : [];
}

function dateOf(value: unknown): Extracted[] {
  if (typeof value !== 'string') return [];
  const range = dateRange(value);
  return range ? [{ value, low: range.low, high: range.high }] : [];
}

/** `Type/id` of a literal reference (relative, absolute, or with `/_history/n`), else undefined. */
export function referenceKey(reference: string): string | undefined {
  const m = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/.exec(reference);
  return m ? `${m[1]}/${m[2]}` : undefined;
}

function referencesOf(value: unknown, targets: readonly string[]): Extracted[] {
  const out: Extracted[] = [];
  for (const ref of asArray(value)) {
    if (!isObject(ref) || typeof ref.reference !== 'string') continue;
    const key = referenceKey(ref.reference);
    if (key && targets.includes(key.split('/')[0])) out.push({ system: null, value: key });
  }
  return out;
}

/**
 * The identifiers a reference carries without a stored target: Reference.identifier (a logical
 * reference by NHS number) or the identifiers of the contained resource it points at (`#p1`).
 */
function referencedIdentifiers(resource: Json, value: unknown, targets: readonly string[]): Extracted[] {
  const out: Extracted[] = [];
  for (const ref of asArray(value)) {
    if (!isObject(ref)) continue;
    const typeOk = typeof ref.type !== 'string' || targets.includes(ref.type);
    if (typeOk) out.push(...identifiersOf(ref.identifier));
    if (typeof ref.reference === 'string' && ref.reference.startsWith('#')) {
      const localId = ref.reference.slice(1);
      const contained = asArray(resource.contained).find((c) => isObject(c) && c.id === localId) as Json | undefined;
      if (contained && targets.includes(String(contained.resourceType))) out.push(...identifiersOf(contained.identifier));
    }
  }
  return out;
}

/** The subject, when it is (or may be) a Patient: the `patient` parameter. */
function patientSubject(resource: Json): unknown[] {
  return asArray(resource.subject).filter((ref) => {
    if (!isObject(ref)) return false;
    if (typeof ref.reference === 'string' && ref.reference.startsWith('#')) return true;
    if (typeof ref.reference === 'string') return referenceKey(ref.reference)?.startsWith('Patient/') ?? false;
    return ref.type === undefined || ref.type === 'Patient';
  });
}

function canonicalsOf(value: unknown): Extracted[] {
  if (typeof value !== 'string' || value === '') return [];
  const bar = value.indexOf('|');
  // Both the URL as written and the URL without its version, so that a search matches with or without `|version`.
  return bar > 0 ? [{ value }, { value: value.slice(0, bar) }] : [{ value }];
}

// ---- the parameters -------------------------------------------------------------------------------

const idParam: SearchParamDef = { name: '_id', type: 'token', documentation: 'Logical id of the resource', expression: 'Resource.id' };

const lastUpdatedParam: SearchParamDef = {
  name: '_lastUpdated',
  type: 'date',
  documentation: 'When the resource version was stored (meta.lastUpdated); prefixes eq ne gt lt ge le sa eb ap',
  expression: 'Resource.meta.lastUpdated',
  // Searched on the resource row's own last_updated column: no index rows.
};

function identifierParam(type: string): SearchParamDef {
  return {
    name: 'identifier',
    type: 'token',
    documentation: `A ${type} identifier, as system|value (e.g. https://fhir.nhs.uk/Id/nhs-number|9990000018), |value or value`,
    expression: `${type}.identifier`,
    // An identifier with both system and value is in the store's identifier key table (fhir_identifiers),
    // which the search reads too; only the others need index rows.
    extract: (r) => identifiersOf(r.identifier).filter((i) => !(i.system && i.value)),
  };
}

function subjectParams(type: string): SearchParamDef[] {
  return [
    {
      name: 'subject',
      type: 'reference',
      documentation: 'The subject, as Patient/{id}; subject:identifier=system|value finds it by the Patient identifier (NHS number)',
      expression: `${type}.subject`,
      targets: ['Patient'],
      chainIdentifier: true,
      extract: (r) => referencesOf(r.subject, ['Patient']),
    },
    {
      name: 'patient',
      type: 'reference',
      documentation:
        'The subject when it is a Patient, as Patient/{id} or {id}; patient:identifier (or patient.identifier) = https://fhir.nhs.uk/Id/nhs-number|{NHS number}',
      expression: `${type}.subject.where(resolve() is Patient)`,
      targets: ['Patient'],
      chainIdentifier: true,
      extract: (r) => referencesOf(patientSubject(r), ['Patient']),
    },
  ];
}

export const SEARCH_PARAMS: Readonly<Record<string, readonly SearchParamDef[]>> = {
  ServiceRequest: [
    idParam,
    lastUpdatedParam,
    identifierParam('ServiceRequest'),
    ...subjectParams('ServiceRequest'),
    {
      name: 'status',
      type: 'token',
      documentation: 'draft | active | on-hold | revoked | completed | entered-in-error | unknown',
      expression: 'ServiceRequest.status',
      extract: (r) => code(r.status, REQUEST_STATUS),
    },
    {
      name: 'authored',
      type: 'date',
      documentation: 'ServiceRequest.authoredOn; prefixes eq ne gt lt ge le sa eb ap; precision year, month, day or instant',
      expression: 'ServiceRequest.authoredOn',
      extract: (r) => dateOf(r.authoredOn),
    },
  ],
  QuestionnaireResponse: [
    idParam,
    lastUpdatedParam,
    identifierParam('QuestionnaireResponse'),
    ...subjectParams('QuestionnaireResponse'),
    {
      name: 'questionnaire',
      type: 'reference',
      documentation: 'The Questionnaire canonical URL, with or without |version (e.g. https://fhir.painplatform.uk/Questionnaire/phq-9)',
      expression: 'QuestionnaireResponse.questionnaire',
      targets: ['Questionnaire'],
      canonical: true,
      extract: (r) => canonicalsOf(r.questionnaire),
    },
    {
      name: 'authored',
      type: 'date',
      documentation: 'QuestionnaireResponse.authored; prefixes eq ne gt lt ge le sa eb ap; precision year, month, day or instant',
      expression: 'QuestionnaireResponse.authored',
      extract: (r) => dateOf(r.authored),
    },
    {
      name: 'status',
      type: 'token',
      documentation: 'in-progress | completed | amended | entered-in-error | stopped',
      expression: 'QuestionnaireResponse.status',
      extract: (r) => code(r.status, QR_STATUS),
    },
  ],
  Patient: [idParam, lastUpdatedParam, identifierParam('Patient')],
  Practitioner: [idParam, lastUpdatedParam, identifierParam('Practitioner')],
  Organization: [idParam, lastUpdatedParam, identifierParam('Organization')],
  PractitionerRole: [idParam, lastUpdatedParam, identifierParam('PractitionerRole')],
};

/** The index rows for a resource (meta.lastUpdated must already be set for `_lastUpdated`). */
export function indexResource(resource: Record<string, unknown>): IndexEntry[] {
  const defs = SEARCH_PARAMS[String(resource.resourceType)] ?? [];
  const out: IndexEntry[] = [];
  const seen = new Set<string>();
  const add = (param: string, e: Extracted) => {
    const entry: IndexEntry = { param, system: e.system ?? null, value: e.value, low: e.low ?? null, high: e.high ?? null };
    const key = JSON.stringify(entry);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(entry);
    }
  };
  for (const def of defs) {
    for (const e of def.extract?.(resource) ?? []) add(def.name, e);
    if (def.chainIdentifier) {
      const refs = def.name === 'patient' ? patientSubject(resource) : asArray(resource.subject);
      for (const e of referencedIdentifiers(resource, refs, def.targets ?? [])) add(def.name + IDENTIFIER_SUFFIX, e);
    }
  }
  return out;
}

/** The index param under which a reference parameter's logical identifiers are stored. */
export function identifierIndexParam(param: string): string {
  return param + IDENTIFIER_SUFFIX;
}

// ---- dates ----------------------------------------------------------------------------------------

const DATE_PATTERN = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * The UTC instant range a FHIR date, dateTime or instant covers: `2026` is the whole year,
 * `2026-11-21T10:00:00+01:00` one second. Values without a time zone are taken as UTC. Both bounds
 * are ISO-8601 with milliseconds, so they compare correctly as text in either database.
 */
export function dateRange(text: string): { low: string; high: string } | undefined {
  const m = DATE_PATTERN.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const year = Number(y);
  const month = mo ? Number(mo) : 1;
  const day = d ? Number(d) : 1;
  const hour = h ? Number(h) : 0;
  const minute = mi ? Number(mi) : 0;
  const second = s ? Number(s) : 0;
  const ms = frac ? Number(frac.padEnd(3, '0').slice(0, 3)) : 0;
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  const start = new Date(0);
  start.setUTCFullYear(year, month - 1, day);
  start.setUTCHours(hour, minute, second, ms);
  if (start.getUTCDate() !== day) return undefined; // e.g. 2026-02-30
  let offsetMs = 0;
  if (tz && tz !== 'Z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    const [oh, om] = tz.slice(1).split(':').map(Number);
    if (oh > 14 || om > 59) return undefined;
    offsetMs = sign * (oh * 60 + om) * 60_000;
  }
  const end = new Date(start.getTime());
  if (!mo) end.setUTCFullYear(year + 1, 0, 1);
  else if (!d) end.setUTCFullYear(year, month, 1);
  else if (!h) end.setUTCDate(day + 1);
  else if (!s) end.setUTCMinutes(minute + 1);
  else if (!frac) end.setUTCSeconds(second + 1);
  else end.setUTCMilliseconds(ms + 1);
  return {
    low: new Date(start.getTime() - offsetMs).toISOString(),
    high: new Date(end.getTime() - 1 - offsetMs).toISOString(),
  };
}

// ---- criteria -------------------------------------------------------------------------------------

/** A token: `system|code`, `system|` (any code in system), `|code` (code without system), `code` (any system). */
export interface TokenValue {
  /** undefined: any system; null: no system */
  system?: string | null;
  /** undefined: any code */
  code?: string;
}

export const DATE_PREFIXES = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'] as const;
export type DatePrefix = (typeof DATE_PREFIXES)[number];

export interface DateValue {
  prefix: DatePrefix;
  low: string;
  high: string;
}

/**
 * One search parameter occurrence. The values of one criterion are alternatives (comma: OR);
 * separate criteria must all hold (a repeated parameter: AND).
 */
export type SearchCriterion =
  | { kind: 'id'; param: '_id'; ids: string[] }
  | { kind: 'token'; param: string; values: TokenValue[] }
  /** values are `Type/id` keys, or canonical URLs (with or without `|version`) */
  | { kind: 'reference'; param: string; values: string[] }
  /** `patient:identifier` / `patient.identifier`: a reference whose Patient has this identifier */
  | { kind: 'identifier-of-reference'; param: string; target: string; values: TokenValue[] }
  | { kind: 'date'; param: string; values: DateValue[] };

export interface ParsedSearch {
  criteria: SearchCriterion[];
  count: number;
  offset: number;
}

export const DEFAULT_COUNT = 20;
export const MAX_COUNT = 100;

/** Parameters that shape the result, not the selection (`_format` is the route's business). */
const RESULT_PARAMS = ['_count', '_offset'];
const IGNORED_PARAMS = new Set(['_format', '_pretty']);

/**
 * 400 for a bad query parameter. The text names the parameter and says what is accepted; no
 * `expression`, as a query parameter is not a FHIRPath location in a resource.
 */
function refuse(text: string): never {
  throw new OutcomeError(badRequest(text), 400);
}

/** Splits on an unescaped separator; `\,` `\|` `\$` `\\` are FHIR search escapes. */
function splitEscaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length) {
      current += text[i + 1];
      i++;
    } else if (c === separator) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

/** Comma-separated alternatives, keeping `\|` escapes for the token split that follows. */
function splitAlternatives(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length) {
      current += text[i + 1] === ',' ? ',' : c + text[i + 1];
      i++;
    } else if (c === ',') {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

function parseToken(raw: string, param: string): TokenValue {
  const parts = splitEscaped(raw, '|');
  if (parts.length === 1) {
    if (parts[0] === '') refuse(`Search parameter ${param} has an empty value; give code, system|code, |code or system|`);
    return { code: parts[0] };
  }
  if (parts.length !== 2 || (parts[0] === '' && parts[1] === '')) {
    refuse(`Search parameter ${param} value "${raw}" is not a token; give code, system|code, |code or system| (escape a literal | as \\|)`);
  }
  const [system, codePart] = parts;
  const token: TokenValue = { system: system === '' ? null : system };
  if (codePart !== '') token.code = codePart;
  return token;
}

function parseDate(raw: string, param: string): DateValue {
  const prefixed = /^[a-z]{2}/.test(raw) ? raw.slice(0, 2) : undefined;
  const prefix = (prefixed ?? 'eq') as DatePrefix;
  if (prefixed && !DATE_PREFIXES.includes(prefix)) {
    refuse(`Search parameter ${param} has unknown date prefix "${prefixed}"; allowed prefixes: ${DATE_PREFIXES.join(', ')}`);
  }
  const range = dateRange(prefixed ? raw.slice(2) : raw);
  if (!range) {
    refuse(
      `Search parameter ${param} value "${raw}" is not a date; give [prefix]YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss[.sss]][Z|±hh:mm], prefix one of ${DATE_PREFIXES.join(', ')}`,
    );
  }
  return { prefix, ...range };
}

function parseReference(raw: string, def: SearchParamDef): string {
  if (raw === '') refuse(`Search parameter ${def.name} has an empty value; give ${def.canonical ? 'a canonical URL' : 'Type/id or id'}`);
  if (def.canonical) return raw;
  const targets = def.targets ?? [];
  if (/^[A-Za-z0-9\-.]{1,64}$/.test(raw) && targets.length === 1) return `${targets[0]}/${raw}`;
  const key = referenceKey(raw);
  if (!key || !targets.includes(key.split('/')[0])) {
    refuse(`Search parameter ${def.name} value "${raw}" is not a reference to ${targets.join(' or ')}; give ${targets[0]}/{id} or {id}`);
  }
  return key;
}

function paging(query: Record<string, string | string[]>): { count: number; offset: number } {
  const single = (name: string): string | undefined => {
    const v = query[name];
    if (Array.isArray(v)) refuse(`Search parameter ${name} is given more than once; give it once`);
    return v;
  };
  const integer = (name: string, fallback: number): number => {
    const v = single(name);
    if (v === undefined) return fallback;
    if (!/^\d{1,9}$/.test(v)) refuse(`Search parameter ${name} value "${v}" is not a whole number; give an integer ≥ 0`);
    return Number(v);
  };
  // _count above the maximum is clamped rather than refused, as FHIR servers commonly do.
  return { count: Math.min(integer('_count', DEFAULT_COUNT), MAX_COUNT), offset: integer('_offset', 0) };
}

/**
 * hapi's request.query → criteria and page. Unknown parameters and malformed values are refused
 * (OperationOutcomeError 400 naming the parameter and what is accepted). Paging: `_count` (default
 * 20, at most 100) and `_offset` (the next link carries it).
 */
export function parseSearchQuery(resourceType: string, query: Record<string, string | string[]>): ParsedSearch {
  const defs = SEARCH_PARAMS[resourceType];
  if (!defs) {
    throw new OutcomeError(
      badRequest(`Search is not supported on ${resourceType}; searchable types: ${Object.keys(SEARCH_PARAMS).join(', ')}`),
      400,
    );
  }
  const criteria: SearchCriterion[] = [];
  for (const [key, rawValue] of Object.entries(query)) {
    // No identifier, code or date holds a control character; PostgreSQL text cannot hold a NUL at all.
    if ([key, ...(Array.isArray(rawValue) ? rawValue : [rawValue])].some((v) => /[\u0000-\u001f\u007f]/.test(String(v)))) {
      throw new OutcomeError(badRequest(`Search parameter ${JSON.stringify(key.replace(/[\u0000-\u001f\u007f]/g, '?'))} holds a control character; search values are printable text`), 400);
    }
    if (IGNORED_PARAMS.has(key) || RESULT_PARAMS.includes(key)) continue;
    const [name, modifier, chainedWrong] = key.split(/[:.]/);
    const def = defs.find((d) => d.name === name);
    if (!def) {
      const text = `Unknown search parameter "${key}" for ${resourceType}; supported: ${supportedNames(defs).join(', ')}, _count, _offset`;
      throw new OutcomeError(operationOutcome([issue('error', 'not-supported', text)], 'bad-request'), 400);
    }
    if (chainedWrong !== undefined || (modifier !== undefined && !(modifier === 'identifier' && def.chainIdentifier))) {
      refuse(`Search parameter "${key}" has an unsupported modifier or chain; supported: ${supportedNames(defs).join(', ')}`);
    }
    for (const raw of Array.isArray(rawValue) ? rawValue : [rawValue]) {
      const alternatives = splitAlternatives(raw);
      if (raw === '' || alternatives.some((a) => a === '')) refuse(`Search parameter ${key} has an empty value; give a value (comma separates alternatives)`);
      if (modifier === 'identifier') {
        criteria.push({ kind: 'identifier-of-reference', param: def.name, target: def.targets?.[0] ?? 'Patient', values: alternatives.map((a) => parseToken(a, key)) });
      } else if (def.name === '_id') {
        criteria.push({ kind: 'id', param: '_id', ids: alternatives });
      } else if (def.type === 'token') {
        criteria.push({ kind: 'token', param: def.name, values: alternatives.map((a) => parseToken(a, key)) });
      } else if (def.type === 'date') {
        criteria.push({ kind: 'date', param: def.name, values: alternatives.map((a) => parseDate(a, key)) });
      } else if (def.type === 'reference') {
        criteria.push({ kind: 'reference', param: def.name, values: alternatives.map((a) => parseReference(a, def)) });
      } else {
        refuse(`Search parameter ${key} cannot be searched here`);
      }
    }
  }
  return { criteria, ...paging(query) };
}

/** Every name a client may use, chains included (for error texts). */
function supportedNames(defs: readonly SearchParamDef[]): string[] {
  return defs.flatMap((d) => (d.chainIdentifier ? [d.name, `${d.name}:identifier`, `${d.name}.identifier`] : [d.name]));
}
