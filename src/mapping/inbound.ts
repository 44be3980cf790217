// The inbound reverse mapping: a referral received as FHIR (an InboundReferralPackage: the resolved
// ServiceRequest, Patient, requester, performer and QuestionnaireResponses) → the native referral.
// The rules are data (mappings/inbound/inbound-referral.json, checked and compiled at boot by
// inbound-config.ts); this module runs them: FHIRPath over the package, ConceptMaps read backwards,
// defaults, then the native format's own rules (validateReferral), whose refusals become issues at the
// FHIRPath of the element they came from. Errors refuse the referral (422); warnings and information
// travel with the accepted referral.
import { join } from 'node:path';
import type { Coding, QuestionnaireResponse } from 'fhir/r4.js';
import type { InboundReferralPackage } from '../fhir/inbound-package.js';
import { issue, type Issue } from '../fhir/outcomes.js';
import { parseDateTime, isRealDate } from '../native/formats.js';
import { validateReferral } from '../native/schema.js';
import type { NativeAssessment, NativeReferral } from '../native/types.js';
import { checkTotals } from '../questionnaires/scoring.js';
import { loadMappings, MappingError, type CompiledMappings } from './index.js';
import {
  loadInboundConfig,
  reverseGroups,
  type At,
  type InboundConfig,
  type ReverseGroup,
  type RuleDef,
  type ScopeKey,
  type Severity,
} from './inbound-config.js';

export interface InboundMappingResult {
  referral: NativeReferral;
  senderIdentifiers: { resourceType: string; system: string; value: string }[];
  /** errors → refuse (422); warnings and information → kept in the OperationOutcome of the 201 */
  issues: Issue[];
}

export interface InboundMapOptions {
  referralId: string;
  defaultRecipientOds: string;
  /** "now" for the native rules that look at the clock (createdAt not in the future); default: the real now */
  now?: Date;
}

export interface InboundMapper {
  toNative(pkg: InboundReferralPackage, opts: InboundMapOptions): InboundMappingResult;
}

/** Where the inbound mapping file sits under the mappings folder. */
export const INBOUND_MAPPING_FILE = join('inbound', 'inbound-referral.json');

/**
 * Reads and checks the inbound mapping (and the native ⇄ FHIR mappings it reuses: pass them when already
 * loaded from the same folder); throws MappingConfigError naming the file and the rule.
 */
export function loadInboundMapping(mappingsDir: string, loaded?: CompiledMappings): InboundMapper {
  const mappings = loaded ?? loadMappings(mappingsDir);
  const config = loadInboundConfig(join(mappingsDir, INBOUND_MAPPING_FILE), mappings.conceptMaps);
  const groups = new Map<string, ReverseGroup[]>([...mappings.conceptMaps].map(([name, cm]) => [name, reverseGroups(cm)]));
  return { toNative: (pkg, opts) => new Run(config, groups, mappings, pkg, opts).map() };
}

const PLATFORM_CODE_SYSTEMS = 'https://fhir.painplatform.uk/CodeSystem/';
const NO_VARS: Record<string, unknown> = Object.freeze({});

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What one path gave: mapped values, and the codes it held that the ConceptMap does not know. */
interface Found {
  values: unknown[];
  unmapped: string[];
}

class Run {
  private readonly issues: Issue[] = [];
  private readonly scope: Record<ScopeKey, unknown>;
  private readonly env: Record<string, unknown>;
  /** required lets that came out empty: rules reading only them stay silent (the let reported it) */
  private readonly failedLets = new Set<string>();
  private readonly native: Json = {};
  /** native path → the FHIRPath of what it was read from (for the native format's refusals) */
  private readonly origin = new Map<string, string>();
  /** native paths whose rule already reported an error: the native format's refusal of them would repeat it */
  private readonly failed = new Set<string>();

  constructor(
    private readonly config: InboundConfig,
    private readonly groups: ReadonlyMap<string, ReverseGroup[]>,
    private readonly mappings: CompiledMappings,
    private readonly pkg: InboundReferralPackage,
    private readonly opts: InboundMapOptions,
  ) {
    this.scope = {
      serviceRequest: pkg.serviceRequest,
      patient: pkg.patient,
      practitioner: pkg.practitioner,
      practitionerRole: pkg.practitionerRole,
      requesterOrganization: pkg.requesterOrganization,
      performerOrganization: pkg.performerOrganization,
    };
    this.env = { referralId: opts.referralId, defaultRecipientOds: opts.defaultRecipientOds };
  }

  map(): InboundMappingResult {
    for (const l of this.config.lets) {
      let value: unknown[] | undefined;
      for (const f of l.from) {
        const v = f(this.scope, this.env);
        if (v.length > 0) {
          value = v;
          break;
        }
      }
      this.env[l.name] = value?.[0];
      if (value === undefined && l.required) {
        this.failedLets.add(l.name);
        this.report('error', 'required', `${this.where(l.at)} has no usable value; needed: ${l.allowed ?? l.name}`, l.at);
      }
    }
    for (const rule of this.config.rules) this.apply(rule);
    this.assessments();
    this.checkNative();
    return { referral: this.native as unknown as NativeReferral, senderIdentifiers: this.senderIdentifiers(), issues: this.issues };
  }

  // ---- one rule ------------------------------------------------------------------------------

  private apply(rule: RuleDef): void {
    const unmapped: string[] = [];
    let values: unknown[] | undefined;
    for (const [i, path] of rule.from.entries()) {
      // fhirpath prepares every variable it is given on each call: give them only to paths that use them
      const found = this.read(rule, path(this.scope, rule.fromVars[i]?.length ? this.env : NO_VARS));
      unmapped.push(...found.unmapped);
      if (found.values.length > 0) {
        values = found.values;
        break;
      }
    }
    if (values === undefined) {
      let severity: Severity;
      if (unmapped.length > 0) {
        severity = rule.whenUnmapped;
        this.report(severity, 'code-invalid', this.unmappedText(rule, unmapped), rule.at);
      } else if (!rule.fromVars.every((vs) => vs.some((v) => this.failedLets.has(v)))) {
        severity = rule.whenAbsent;
        this.report(severity, 'required', this.absentText(rule), rule.at);
      } else severity = 'error'; // its let reported it
      if (severity === 'error') this.failed.add(rule.native);
      if (rule.default !== undefined) this.set(rule, structuredClone(rule.default));
      return;
    }
    const distinct = [...new Set(values.map((v) => JSON.stringify(v)))];
    if (rule.conceptMap && distinct.length > 1) {
      this.report('warning', 'conflict', `${this.where(rule.at)} carries codes for different ${rule.native} values (${distinct.join(', ')}); the first, ${distinct[0]}, is used`, rule.at);
    }
    const value = this.convert(rule, values);
    if (value !== undefined) this.set(rule, value);
  }

  /** The values of one path; through the ConceptMap (and `map`) when the rule has one. */
  private read(rule: RuleDef, raw: unknown[]): Found {
    if (!rule.conceptMap) return { values: raw.filter((v) => v !== null && v !== undefined && v !== ''), unmapped: [] };
    const found: Found = { values: [], unmapped: [] };
    const groups = this.groups.get(rule.conceptMap) ?? [];
    for (const v of raw) {
      const coding = isObj(v) ? (v as Coding) : undefined;
      const code = coding ? coding.code : typeof v === 'string' ? v : undefined;
      if (typeof code !== 'string') continue;
      const system = coding?.system;
      const inline = coding ? undefined : rule.map?.[code];
      if (inline !== undefined) {
        found.values.push(inline);
        continue;
      }
      const sources = new Set<string>();
      for (const g of groups) {
        // a Coding is read in the group whose target is its system; a bare code in every group
        if (coding && g.target !== system) continue;
        for (const s of g.sources.get(code) ?? []) sources.add(s);
      }
      if (sources.size === 1) found.values.push([...sources][0]);
      else if (sources.size > 1) {
        const chosen = rule.ambiguous?.[`${system ?? ''}|${code}`];
        if (chosen !== undefined) found.values.push(chosen);
        else found.unmapped.push(system ? `${system}|${code}` : code);
      } else found.unmapped.push(system ? `${system}|${code}` : code);
    }
    return found;
  }

  private convert(rule: RuleDef, values: unknown[]): unknown {
    const bad = (what: string): undefined => {
      if (!rule.optional) this.failed.add(rule.native);
      this.report(rule.optional ? 'warning' : 'error', 'value', `${this.where(rule.at)}: ${what}${rule.optional ? '; left out' : ''}`, rule.at);
      return undefined;
    };
    switch (rule.type) {
      case 'strings':
        return values.map(String);
      case 'integer': {
        const n = typeof values[0] === 'string' && /^-?[0-9]+$/.test(values[0]) ? Number(values[0]) : values[0];
        return Number.isInteger(n) ? n : bad(`${JSON.stringify(values[0])} is not a whole number, as native ${rule.native} must be`);
      }
      case 'boolean':
        return typeof values[0] === 'boolean' ? values[0] : bad(`${JSON.stringify(values[0])} is not true or false`);
      case 'date': {
        const s = String(values[0]);
        return isRealDate(s) ? s : bad(`${s} is not a full date (YYYY-MM-DD); native ${rule.native} needs year, month and day`);
      }
      case 'dateTime': {
        const s = String(values[0]);
        const p = parseDateTime(s);
        if (p.ok) return s;
        return bad(
          p.reason === 'no-offset' || /^\d{4}(-\d{2}(-\d{2})?)?$/.test(s)
            ? `${s} has no time or no timezone offset; native ${rule.native} needs a date-time with seconds and an offset, e.g. 2026-11-20T09:30:00+00:00`
            : `${s} is not a real date-time with seconds and a timezone offset, e.g. 2026-11-20T09:30:00+00:00`,
        );
      }
      default:
        return rule.join !== undefined ? values.map(String).join(rule.join) : String(values[0]);
    }
  }

  private set(rule: RuleDef, value: unknown): void {
    const parts = rule.native.split('.');
    let o = this.native;
    for (const p of parts.slice(0, -1)) {
      if (!isObj(o[p])) o[p] = {};
      o = o[p] as Json;
    }
    o[parts[parts.length - 1] as string] = value;
    this.origin.set(rule.native, this.where(rule.at));
  }

  // ---- assessments ---------------------------------------------------------------------------

  private assessments(): void {
    const { conceptMap, idPattern, idFallback } = this.config.assessments;
    const canonicals = this.groups.get(conceptMap)?.flatMap((g) => [...g.sources.keys()]) ?? [];
    const out: NativeAssessment[] = [];
    this.pkg.questionnaireResponses.forEach((qr) => {
      const at = this.locate(qr, 'QuestionnaireResponse');
      const q = typeof qr.questionnaire === 'string' ? qr.questionnaire : '';
      const canonical = canonicals.find((c) => c === q || c.split('|')[0] === q);
      if (!canonical) {
        this.issues.push(
          issue('warning', 'not-supported', `${q || 'This QuestionnaireResponse'} is not a platform Questionnaire; the native referral carries PHQ-9, GAD-7 and PEG only (${canonicals.join(', ')}), so these answers are not passed on`, `${at}.questionnaire`),
        );
        return;
      }
      const n = out.length + 1;
      const own = qr.identifier?.value;
      const assessmentId = own && idPattern?.test(own) ? own : idFallback.replace('{referralId}', this.opts.referralId).replace('{n}', String(n));
      const copy: QuestionnaireResponse = {
        ...structuredClone(qr),
        questionnaire: canonical,
        identifier: { system: 'https://fhir.painplatform.uk/Id/assessment-id', value: assessmentId },
      };
      delete copy.basedOn; // the platform's basedOn identifier would become a referralId; an inline one is left out
      try {
        const a = this.mappings.questionnaireResponseToAssessment(copy);
        out.push(a);
        this.origin.set(`assessments[${out.length - 1}]`, at);
        const total = this.totalItem(qr, canonical);
        if (total >= 0) this.origin.set(`assessments[${out.length - 1}].totalScore`, `${at}.item[${total}].answer[0]`);
      } catch (e) {
        if (!(e instanceof MappingError)) throw e;
        this.issues.push(issue('error', 'code-invalid', `${at}: ${e.problem}`, at));
      }
    });
    if (out.length > 0) this.native.assessments = out;
    for (const p of checkTotals(out)) {
      const i = Number(/^assessments\[(\d+)\]/.exec(p.path)?.[1]);
      const where = this.origin.get(`assessments[${i}].totalScore`) ?? this.origin.get(`assessments[${i}]`) ?? 'QuestionnaireResponse';
      this.issues.push(issue('error', 'business-rule', `${p.message}; ${p.allowed}`, where));
    }
  }

  /** The index in `qr.item` of the Questionnaire's read-only (calculated total) item, or -1. */
  private totalItem(qr: QuestionnaireResponse, canonical: string): number {
    const q = this.mappings.questionnaires.get(canonical) as { item?: { linkId: string; readOnly?: boolean }[] } | undefined;
    const totals = new Set((q?.item ?? []).filter((it) => it.readOnly).map((it) => it.linkId));
    return (qr.item ?? []).findIndex((it) => totals.has(it.linkId));
  }

  // ---- the native format's rules -------------------------------------------------------------

  /** validateReferral; a refused value of an optional field is dropped (warning) and the check run again. */
  private checkNative(): void {
    for (let round = 0; round < 10; round++) {
      const { problems } = validateReferral(this.native, this.opts.now ?? new Date());
      if (problems.length === 0) break;
      let dropped = false;
      const fatal: typeof problems = [];
      for (const p of problems) {
        const rule = this.ruleFor(p.path);
        if (rule && this.failed.has(rule.native)) continue;
        if (rule?.optional && this.drop(rule.optional)) {
          dropped = true;
          this.issues.push(issue('warning', 'value', `${this.originOf(p.path)}: ${p.message}; allowed: ${p.allowed}. Left out of the native referral (${rule.optional} is optional)`, this.originOf(p.path)));
        } else fatal.push(p);
      }
      if (!dropped) {
        for (const p of fatal) this.issues.push(issue('error', 'invariant', `${this.originOf(p.path)}: ${p.message}; allowed: ${p.allowed}`, this.originOf(p.path)));
        break;
      }
    }
    prune(this.native, 'preferences');
  }

  /** The rule writing `nativePath` (or the object holding it, or a field inside it). */
  private ruleFor(nativePath: string): RuleDef | undefined {
    const clean = nativePath.replace(/\[\d+\]/g, '');
    return this.config.rules.find((r) => r.native === clean || clean.startsWith(`${r.native}.`) || r.native.startsWith(`${clean}.`));
  }

  /** The FHIRPath a native path was read from, else where its rule points, else the ServiceRequest. */
  private originOf(nativePath: string): string {
    const a = /^assessments\[(\d+)\]/.exec(nativePath);
    if (a) return this.origin.get(`assessments[${a[1]}]`) ?? 'QuestionnaireResponse';
    for (let p = nativePath.replace(/\[\d+\]/g, ''); p !== ''; p = p.split('.').slice(0, -1).join('.')) {
      const o = this.origin.get(p);
      if (o) return o;
    }
    const rule = this.ruleFor(nativePath);
    return rule ? this.where(rule.at) : this.locate(this.pkg.serviceRequest, 'ServiceRequest');
  }

  private drop(path: string): boolean {
    const parts = path.split('.');
    let o: unknown = this.native;
    for (const p of parts.slice(0, -1)) o = isObj(o) ? o[p] : undefined;
    const last = parts[parts.length - 1] as string;
    if (!isObj(o) || !(last in o)) return false;
    delete o[last];
    return true;
  }

  // ---- issues and locations ------------------------------------------------------------------

  private report(severity: Severity, code: Issue['code'], text: string, at: At[]): void {
    if (severity === 'ignore') return;
    this.issues.push(issue(severity, code, text, this.where(at)));
  }

  /** The FHIRPath of the first `at` whose resource is in the package. */
  private where(at: At[]): string {
    const a = at.find((x) => this.scope[x.key] !== undefined) ?? at[at.length - 1];
    if (!a) return this.locate(this.pkg.serviceRequest, 'ServiceRequest');
    const r = this.scope[a.key];
    if (r === undefined) return `${this.locate(this.pkg.serviceRequest, 'ServiceRequest')}.requester`;
    return this.locate(r as object, String((r as Json).resourceType)) + a.rest;
  }

  private locate(resource: object, fallback: string): string {
    return this.pkg.locations.get(resource) ?? fallback;
  }

  private absentText(rule: RuleDef): string {
    const dflt = rule.default !== undefined ? `; received as ${JSON.stringify(rule.default)}` : '';
    return `${this.where(rule.at)} gives no value for native ${rule.native}${rule.allowed ? `; needed: ${rule.allowed}` : ''}${dflt}`;
  }

  private unmappedText(rule: RuleDef, codes: string[]): string {
    const known = this.knownCodes(rule);
    const dflt = rule.default !== undefined ? `; received as ${JSON.stringify(rule.default)}` : rule.whenUnmapped === 'error' ? '' : '; left out';
    return `${this.where(rule.at)}: ${[...new Set(codes)].join(', ')} has no native ${rule.native} counterpart (ConceptMap ${rule.conceptMap}); known: ${known}${dflt}`;
  }

  private knownCodes(rule: RuleDef): string {
    const out: string[] = [];
    for (const g of this.groups.get(rule.conceptMap ?? '') ?? []) {
      const label = g.target === 'http://snomed.info/sct' ? 'SNOMED CT ' : g.target?.startsWith(PLATFORM_CODE_SYSTEMS) ? `${g.target.slice(PLATFORM_CODE_SYSTEMS.length)} ` : '';
      for (const code of g.sources.keys()) out.push(`${label}${code}`);
    }
    out.push(...Object.keys(rule.map ?? {}));
    return [...new Set(out)].join(', ');
  }

  /** Every identifier the sender gave its ServiceRequest and QuestionnaireResponses. */
  private senderIdentifiers(): InboundMappingResult['senderIdentifiers'] {
    const out: InboundMappingResult['senderIdentifiers'] = [];
    const add = (resourceType: string, ids: { system?: string; value?: string }[]): void => {
      for (const id of ids) if (id.system && id.value) out.push({ resourceType, system: id.system, value: id.value });
    };
    add('ServiceRequest', this.pkg.serviceRequest.identifier ?? []);
    for (const qr of this.pkg.questionnaireResponses) add('QuestionnaireResponse', qr.identifier ? [qr.identifier] : []);
    return out;
  }
}

/** Removes `key` from `o` when it is an empty object (preferences with nothing in it). */
function prune(o: Json, key: string): void {
  if (isObj(o[key]) && Object.keys(o[key] as Json).length === 0) delete o[key];
}
