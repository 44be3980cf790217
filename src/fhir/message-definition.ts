// Checks a message Bundle ($process-message) against one of our MessageDefinitions in profiles/.
// MessageDefinition.focus only covers the focus resources, so how many of every other resource type a
// Bundle may hold is in the GraphDefinition the MessageDefinition names in `graph`: one link per
// resource type, starting at the Bundle, `path` "entry.resource.ofType(T)", with min, max and the
// target profile. A resource type that is neither a focus nor a graph link is refused.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, BundleEntry, GraphDefinition, MessageDefinition, MessageHeader, Reference } from 'fhir/r4.js';
import { issue, type Issue } from './outcomes.js';

/** NHS England's BaRS code systems (https://digital.nhs.uk/developer/api-catalogue/booking-and-referral-fhir). */
export const BARS_EVENT_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/message-events-bars';
export const BARS_REASON_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/message-reason-bars';
/** new referral, update (a change, or a cancellation by the guide's text), delete (a cancellation by its table) */
export const BARS_REASONS = ['new', 'update', 'delete'] as const;
export type BarsReason = (typeof BARS_REASONS)[number];
/** ServiceRequest statuses a delete (cancellation) message may carry */
const CANCELLED = ['revoked', 'entered-in-error'];

export interface ResourceRule {
  type: string;
  profile?: string;
  min: number;
  max: number | '*';
}

export interface MessageRules {
  definitionUrl: string;
  event: { system: string; code: string };
  focus: ResourceRule[];
  /** every other resource type the Bundle may hold (from the GraphDefinition), the MessageHeader included */
  resources: ResourceRule[];
  /** the profile of the message Bundle itself (GraphDefinition.profile), when given */
  bundleProfile?: string;
}

export class MessageDefinitionError extends Error {
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'MessageDefinitionError';
  }
}

type Json = Record<string, unknown>;

const LINK_PATH = /^entry\.resource\.ofType\(([A-Z][A-Za-z]+)\)$/;

function stripVersion(url: string): string {
  const bar = url.indexOf('|');
  return bar < 0 ? url : url.slice(0, bar);
}

function parseMax(max: unknown, file: string, where: string): number | '*' {
  if (max === '*') return '*';
  if (typeof max === 'string' && /^[0-9]+$/.test(max)) return Number(max);
  throw new MessageDefinitionError(file, `${where}: max ${JSON.stringify(max)} is not a number or "*"`);
}

function checkRange(min: unknown, max: number | '*', file: string, where: string): number {
  if (typeof min !== 'number' || !Number.isInteger(min) || min < 0) {
    throw new MessageDefinitionError(file, `${where}: min ${JSON.stringify(min)} is not a non-negative integer`);
  }
  if (max !== '*' && max < min) throw new MessageDefinitionError(file, `${where}: max ${max} is below min ${min}`);
  return min;
}

function readJsonFiles(dir: string, prefix: string): { file: string; json: Json }[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.json'))
    .sort()
    .map((file) => {
      try {
        return { file, json: JSON.parse(readFileSync(join(dir, file), 'utf8')) as Json };
      } catch (e) {
        throw new MessageDefinitionError(file, `not valid JSON (${(e as Error).message})`);
      }
    });
}

/** Every MessageDefinition in `profilesDir`, by url; throws naming the file when one is inconsistent. */
export function loadMessageRules(profilesDir: string): Map<string, MessageRules> {
  const graphs = new Map<string, { file: string; graph: GraphDefinition }>();
  for (const { file, json } of readJsonFiles(profilesDir, 'GraphDefinition-')) {
    if (json.resourceType !== 'GraphDefinition' || typeof json.url !== 'string') {
      throw new MessageDefinitionError(file, 'expected a GraphDefinition with a url');
    }
    graphs.set(json.url, { file, graph: json as unknown as GraphDefinition });
  }
  const out = new Map<string, MessageRules>();
  for (const { file, json } of readJsonFiles(profilesDir, 'MessageDefinition-')) {
    const md = json as unknown as MessageDefinition;
    if (md.resourceType !== 'MessageDefinition' || typeof md.url !== 'string') {
      throw new MessageDefinitionError(file, 'expected a MessageDefinition with a url');
    }
    if (!md.eventCoding?.system || !md.eventCoding.code) {
      throw new MessageDefinitionError(file, 'eventCoding needs a system and a code (eventUri is not supported)');
    }
    const seen = new Set<string>();
    const once = (type: string, where: string): void => {
      if (seen.has(type)) throw new MessageDefinitionError(file, `${where}: ${type} is listed twice`);
      seen.add(type);
    };
    const focus = (md.focus ?? []).map((f, i) => {
      const where = `focus[${i}]`;
      if (!f.code) throw new MessageDefinitionError(file, `${where} has no code`);
      once(f.code, where);
      const max = parseMax(f.max ?? '*', file, where);
      return rule(f.code, f.profile, checkRange(f.min, max, file, where), max);
    });
    const rules: MessageRules = {
      definitionUrl: md.url,
      event: { system: md.eventCoding.system, code: md.eventCoding.code },
      focus,
      resources: [],
    };
    for (const url of md.graph ?? []) {
      const found = graphs.get(stripVersion(url));
      if (!found) throw new MessageDefinitionError(file, `graph ${url} is not a GraphDefinition in ${profilesDir}`);
      const { graph, file: gfile } = found;
      if (graph.start !== 'Bundle') throw new MessageDefinitionError(gfile, `start is ${graph.start}, expected Bundle`);
      if (graph.profile) rules.bundleProfile = graph.profile;
      (graph.link ?? []).forEach((l, i) => {
        const where = `link[${i}]`;
        const m = LINK_PATH.exec(l.path ?? '');
        if (!m) throw new MessageDefinitionError(gfile, `${where}: path ${JSON.stringify(l.path)} is not entry.resource.ofType(<type>)`);
        const target = l.target?.length === 1 ? l.target[0] : undefined;
        if (!target || target.type !== m[1]) {
          throw new MessageDefinitionError(gfile, `${where}: needs exactly one target, of type ${m[1]} (its path's type)`);
        }
        once(m[1], where);
        const max = parseMax(l.max, gfile, where);
        rules.resources.push(rule(m[1], target.profile, checkRange(l.min, max, gfile, where), max));
      });
    }
    out.set(md.url, rules);
  }
  return out;
}

function rule(type: string, profile: string | undefined, min: number, max: number | '*'): ResourceRule {
  return profile ? { type, profile, min, max } : { type, min, max };
}

const showMax = (max: number | '*'): string => (max === '*' ? 'any number' : String(max));
const range = (r: ResourceRule): string =>
  r.max === '*' ? `at least ${r.min}` : r.min === r.max ? `exactly ${r.min}` : `${r.min} to ${showMax(r.max)}`;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The entry a reference points to: by fullUrl, or by `Type/id` against the entries' type and id. */
function resolveEntry(entries: readonly unknown[], ref: Reference | undefined): number {
  const r = ref?.reference;
  if (typeof r !== 'string') return -1;
  return entries.findIndex((e) => {
    if (!isObject(e)) return false;
    if (e.fullUrl === r) return true;
    const res = e.resource;
    return isObject(res) && typeof res.id === 'string' && (r === `${res.resourceType}/${res.id}` || (typeof e.fullUrl === 'string' && e.fullUrl.endsWith(`/${r}`)));
  });
}

/**
 * Issues for a message Bundle against the rules: the first entry is a MessageHeader; its eventCoding is
 * the rules' event; its reason is new, update or delete; its definition (when given) is the rules'
 * MessageDefinition; its focus count, targets and their types; the number of each resource type; and no
 * resource type the rules do not list. Also says which profile each entry is to be validated against
 * (the focus's and the graph's target profiles), by entry index.
 */
export function checkMessage(bundle: Bundle, rules: MessageRules): { issues: Issue[]; profiles: Map<number, string> } {
  const issues: Issue[] = [];
  const profiles = new Map<number, string>();
  if (bundle.type !== 'message') {
    issues.push(issue('error', 'invalid', `Bundle.type is ${JSON.stringify(bundle.type)}; a message for $process-message has type "message"`, 'Bundle.type'));
  }
  const entries: unknown[] = Array.isArray(bundle.entry) ? bundle.entry : [];
  const typeAt = (i: number): string | undefined => {
    const e = entries[i];
    return isObject(e) && isObject(e.resource) && typeof e.resource.resourceType === 'string' ? e.resource.resourceType : undefined;
  };
  const header = typeAt(0) === 'MessageHeader' ? ((entries[0] as BundleEntry).resource as MessageHeader) : undefined;
  if (!header) {
    issues.push(
      issue(
        'error',
        'structure',
        `The first entry of a message is its MessageHeader; found ${typeAt(0) ?? (entries.length ? 'no resource' : 'no entry')}`,
        entries.length ? 'Bundle.entry[0].resource' : 'Bundle.entry',
      ),
    );
  } else {
    checkHeader(header, rules, issues);
  }

  // Focus: each reference resolves to an entry of a focus type; the number of foci per type.
  const focusIndexes = new Set<number>();
  if (header) {
    const foci = Array.isArray(header.focus) ? header.focus : [];
    foci.forEach((ref, k) => {
      const where = `Bundle.entry[0].resource.focus[${k}]`;
      const i = resolveEntry(entries, ref);
      if (i < 0) {
        issues.push(issue('error', 'not-found', `MessageHeader.focus ${JSON.stringify(ref?.reference ?? null)} does not resolve: it must be the fullUrl of an entry of this Bundle`, where));
        return;
      }
      const type = typeAt(i) as string;
      const r = rules.focus.find((f) => f.type === type);
      if (!r) {
        issues.push(issue('error', 'invalid', `MessageHeader.focus points to ${type}; the focus of this message is ${rules.focus.map((f) => f.type).join(' or ')}`, where));
        return;
      }
      focusIndexes.add(i);
      if (r.profile) profiles.set(i, r.profile);
      const status = (entries[i] as BundleEntry).resource?.resourceType === 'ServiceRequest' ? ((entries[i] as BundleEntry).resource as { status?: string }).status : undefined;
      if (messageReason(bundle) === 'delete' && status !== undefined && !CANCELLED.includes(status)) {
        issues.push(
          issue('error', 'business-rule', `MessageHeader.reason delete cancels the referral, so the ServiceRequest's status must be revoked (or entered-in-error), not ${status}; send a change with reason update`, `Bundle.entry[${i}].resource.status`),
        );
      }
    });
    for (const r of rules.focus) {
      const n = [...focusIndexes].filter((i) => typeAt(i) === r.type).length;
      if (n < r.min || (r.max !== '*' && n > r.max)) {
        issues.push(issue('error', n < r.min ? 'required' : 'structure', `MessageHeader.focus names ${n} ${r.type}; this message needs ${range(r)}`, 'Bundle.entry[0].resource.focus'));
      }
    }
  }

  // Every entry: a listed type, and no more of a type than allowed.
  const byType = new Map<string, number[]>();
  entries.forEach((_e, i) => {
    const type = typeAt(i);
    if (!type) {
      if (i > 0 || header) issues.push(issue('error', 'required', 'A message entry holds a resource', `Bundle.entry[${i}]`));
      return;
    }
    byType.set(type, [...(byType.get(type) ?? []), i]);
  });
  const allowed = [...rules.focus, ...rules.resources];
  for (const [type, indexes] of byType) {
    const r = rules.resources.find((x) => x.type === type);
    const f = rules.focus.find((x) => x.type === type);
    if (!r && !f) {
      for (const i of indexes) {
        issues.push(
          issue('error', 'not-supported', `A ${type} is not allowed in this message; allowed: ${allowed.map((a) => a.type).join(', ')}`, `Bundle.entry[${i}].resource`),
        );
      }
      continue;
    }
    if (f && !r) {
      // a resource of a focus type that is not a focus (e.g. a second ServiceRequest)
      for (const i of indexes) {
        if (!focusIndexes.has(i) && header) {
          issues.push(issue('error', 'structure', `This ${type} is not the MessageHeader's focus; a message carries only its focus ${type}`, `Bundle.entry[${i}].resource`));
        }
      }
      continue;
    }
    const rr = r as ResourceRule;
    if (rr.max !== '*' && indexes.length > rr.max) {
      issues.push(
        issue('error', 'structure', `${indexes.length} ${type} entries; this message may hold ${range(rr)}`, indexes.slice(rr.max).map((i) => `Bundle.entry[${i}].resource`)),
      );
    }
    if (rr.profile) for (const i of indexes) if (!profiles.has(i)) profiles.set(i, rr.profile);
  }
  for (const r of rules.resources) {
    if (r.min > 0 && (byType.get(r.type)?.length ?? 0) < r.min && !(r.type === 'MessageHeader' && !header)) {
      issues.push(issue('error', 'required', `This message needs ${range(r)} ${r.type}; found ${byType.get(r.type)?.length ?? 0}`, 'Bundle.entry'));
    }
  }
  return { issues, profiles: new Map([...profiles].sort((a, b) => a[0] - b[0])) };
}

function checkHeader(h: MessageHeader, rules: MessageRules, issues: Issue[]): void {
  const at = 'Bundle.entry[0].resource';
  const ev = h.eventCoding;
  if (!ev || ev.system !== rules.event.system || ev.code !== rules.event.code) {
    const got = ev ? `${ev.system ?? '(no system)'}|${ev.code ?? '(no code)'}` : h.eventUri ? `eventUri ${h.eventUri}` : 'no event';
    issues.push(
      issue('error', 'not-supported', `MessageHeader event is ${got}; this endpoint takes ${rules.event.system}|${rules.event.code}`, `${at}.eventCoding`),
    );
  }
  const codings: unknown[] = Array.isArray(h.reason?.coding) ? h.reason!.coding : [];
  const reasons = codings.filter((c): c is { system?: string; code?: string } => typeof c === 'object' && c !== null && (c as { system?: unknown }).system === BARS_REASON_SYSTEM);
  if (reasons.length !== 1 || !(BARS_REASONS as readonly string[]).includes(reasons[0].code ?? '')) {
    issues.push(
      issue(
        'error',
        reasons.length ? 'code-invalid' : 'required',
        `MessageHeader.reason must carry one coding of ${BARS_REASON_SYSTEM}: new (a referral), update (a change or a cancellation) or delete (a cancellation)` +
          (reasons.length ? `; found ${reasons.map((c) => JSON.stringify(c.code)).join(', ')}` : ''),
        `${at}.reason`,
      ),
    );
  }
  if (h.definition !== undefined && (typeof h.definition !== 'string' || stripVersion(h.definition) !== rules.definitionUrl)) {
    issues.push(issue('error', 'not-supported', `MessageHeader.definition is ${h.definition}; this message is defined by ${rules.definitionUrl}`, `${at}.definition`));
  }
}

/** The BaRS reason of a message (undefined when it has none of ours). */
export function messageReason(bundle: Bundle): BarsReason | undefined {
  const r = bundle.entry?.[0]?.resource;
  if (r?.resourceType !== 'MessageHeader') return undefined;
  const codings: unknown[] = Array.isArray((r as MessageHeader).reason?.coding) ? (r as MessageHeader).reason!.coding! : [];
  const code = (codings.find((c) => typeof c === 'object' && c !== null && (c as { system?: unknown }).system === BARS_REASON_SYSTEM) as { code?: string } | undefined)?.code;
  return (BARS_REASONS as readonly string[]).includes(code ?? '') ? (code as BarsReason) : undefined;
}
