// The resources of one FHIR request, each with where it sits in the request (a FHIRPath prefix used
// in every issue), and the finding of what a reference points at: a contained resource, another
// entry of the same Bundle, a resource already stored, or a logical reference by national identifier.
import type { Bundle, Reference, Resource } from 'fhir/r4.js';
import type { Issue } from '../../fhir/outcomes.js';
import { issue } from '../../fhir/outcomes.js';
import type { StoredResource } from '../../store/fhir.repo.js';

export const NHS_NUMBER = 'https://fhir.nhs.uk/Id/nhs-number';
export const SDS_USER_ID = 'https://fhir.nhs.uk/Id/sds-user-id';
export const ODS_CODE = 'https://fhir.nhs.uk/Id/ods-organization-code';

/** Which resource type a logical reference by a national identifier names. */
export const TYPE_BY_IDENTIFIER_SYSTEM: Readonly<Record<string, string>> = {
  [NHS_NUMBER]: 'Patient',
  [SDS_USER_ID]: 'Practitioner',
  [ODS_CODE]: 'Organization',
};

export interface RequestEntry {
  /** position in Bundle.entry, or -1 for a resource that is the whole request body */
  index: number;
  /** FHIRPath of the resource in the request, e.g. `Bundle.entry[2].resource` or `ServiceRequest` */
  location: string;
  fullUrl?: string;
  resource: Resource & Record<string, any>;
  /** Bundle.entry.request.ifNoneExist, or the If-None-Exist header of a single create */
  ifNoneExist?: string;
}

export type Resolved =
  | { kind: 'entry'; entry: RequestEntry; resource: Record<string, any>; location: string }
  | { kind: 'contained'; resource: Record<string, any>; location: string }
  | { kind: 'stored'; stored: StoredResource; resource: Record<string, any>; location: string };

/** Reads stored resources; the front door passes the repository (inside the write transaction when there is one). */
export interface StoredLookup {
  read(type: string, id: string): Promise<StoredResource | undefined>;
  findByIdentifier(type: string, system: string, value: string): Promise<StoredResource | undefined>;
}

/** The entries of a Bundle whose shape may be anything a client sent: entries that are not objects are left out (the shape check names them). */
export function entriesOfBundle(bundle: Bundle): RequestEntry[] {
  const raw: unknown = (bundle as { entry?: unknown }).entry;
  const list = Array.isArray(raw) ? (raw as unknown[]) : [];
  const out: RequestEntry[] = [];
  list.forEach((e, index) => {
    if (typeof e !== 'object' || e === null) return;
    const entry = e as { fullUrl?: unknown; resource?: unknown; request?: { ifNoneExist?: unknown } };
    out.push({
      index,
      location: `Bundle.entry[${index}].resource`,
      fullUrl: typeof entry.fullUrl === 'string' ? entry.fullUrl : undefined,
      resource: (typeof entry.resource === 'object' && entry.resource !== null ? entry.resource : {}) as RequestEntry['resource'],
      ifNoneExist: typeof entry.request?.ifNoneExist === 'string' ? entry.request.ifNoneExist : undefined,
    });
  });
  return out;
}

/**
 * An identifier sent that shows a stored resource is another one: the stored resource has an
 * identifier of the same system with another value, for a system that holds one value per resource (a
 * national identifier, the e-RS UBRN, or any identifier of a referral or an answer set: those name the
 * one thing they are). A Patient may carry two hospital numbers of one system; that is no clash.
 */
export function identifierClash(type: string, sent: readonly { system: string; value: string }[], stored: readonly { system: string; value: string }[]): { system: string; value: string } | undefined {
  const singleValued = (system: string) => system in TYPE_BY_IDENTIFIER_SYSTEM || system === UBRN || type === 'ServiceRequest' || type === 'QuestionnaireResponse';
  return sent.find((i) => singleValued(i.system) && stored.some((t) => t.system === i.system) && !stored.some((t) => t.system === i.system && t.value === i.value));
}

const UBRN = 'https://fhir.nhs.uk/Id/UBRN';

export function identifiersOf(resource: Record<string, any>): { system: string; value: string }[] {
  const raw = resource.identifier;
  const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
  return list.filter((i: any) => typeof i?.system === 'string' && typeof i?.value === 'string').map((i: any) => ({ system: i.system, value: i.value }));
}

export class ReferenceResolver {
  private readonly byFullUrl = new Map<string, RequestEntry>();

  constructor(
    readonly entries: readonly RequestEntry[],
    private readonly store: StoredLookup,
  ) {
    for (const e of entries) if (e.fullUrl) this.byFullUrl.set(e.fullUrl, e);
  }

  /**
   * What `ref` (found at `expression`, inside `from`) points at, or an issue saying what is missing and
   * what to send instead. `types` are the resource types allowed there.
   */
  async resolve(ref: Reference | undefined, from: RequestEntry, expression: string, types: readonly string[]): Promise<Resolved | Issue> {
    if (ref !== undefined && (typeof ref !== 'object' || ref === null || Array.isArray(ref))) {
      return issue('error', 'structure', `A Reference is an object ({"reference": "..."} or {"identifier": {...}}), to a ${types.join(' or ')}`, expression);
    }
    if (!ref || (ref.reference === undefined && ref.identifier === undefined)) {
      return issue('error', 'required', `A reference is required here, to a ${types.join(' or ')}`, expression);
    }
    let found: Resolved | Issue;
    if (typeof ref.reference === 'string') found = await this.literal(ref.reference, from, expression);
    else found = await this.logical(ref, expression, types);
    if ('severity' in found) return found;
    // A reference that names a resource and also an identifier must name the same one.
    const { system, value } = (ref.identifier ?? {}) as { system?: unknown; value?: unknown };
    if (typeof ref.reference === 'string' && typeof system === 'string' && typeof value === 'string') {
      if (!identifiersOf(found.resource).some((i) => i.system === system && i.value === value)) {
        return issue('error', 'business-rule', `reference and identifier must name one resource: ${ref.reference} does not carry the identifier ${system}|${value}; send one of them, or both of the same resource`, `${expression}.identifier`);
      }
    }
    const type = found.resource.resourceType;
    if (!types.includes(type)) {
      return issue('error', 'invalid', `The reference points at a ${type}; allowed here: ${types.join(', ')}`, expression);
    }
    return found;
  }

  private async literal(reference: string, from: RequestEntry, expression: string): Promise<Resolved | Issue> {
    if (reference.startsWith('#')) {
      const id = reference.slice(1);
      const contained: any[] = Array.isArray(from.resource.contained) ? from.resource.contained : [];
      const k = contained.findIndex((c) => c?.id === id);
      if (k < 0) return issue('error', 'not-found', `${reference} names no contained resource; contained ids: ${contained.map((c) => c?.id).join(', ') || 'none'}`, `${expression}.reference`);
      return { kind: 'contained', resource: contained[k], location: `${from.location}.contained[${k}]` };
    }
    const entry = this.byFullUrl.get(reference) ?? this.entryEndingWith(reference);
    if (entry) return { kind: 'entry', entry, resource: entry.resource, location: entry.location };
    if (reference.startsWith('urn:uuid:') || reference.startsWith('urn:oid:')) {
      return issue('error', 'not-found', `${reference} matches no entry's fullUrl in this Bundle; send the resource as an entry with that fullUrl`, `${expression}.reference`);
    }
    const m = /^(?:.*\/)?([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(reference);
    if (!m) return issue('error', 'invalid', `${reference} is not a reference this service can follow; allowed: #<contained id>, urn:uuid:<entry>, <Type>/<id> of a stored resource, or a logical reference by identifier`, `${expression}.reference`);
    const stored = await this.store.read(m[1]!, m[2]!);
    if (!stored) return issue('error', 'not-found', `${m[1]}/${m[2]} is not stored here; send the ${m[1]} in the Bundle or contained, or refer to it by its identifier`, `${expression}.reference`);
    return { kind: 'stored', stored, resource: stored.resource, location: expression };
  }

  private entryEndingWith(reference: string): RequestEntry | undefined {
    if (!/^[A-Z][A-Za-z]+\/[^/]+$/.test(reference)) return undefined;
    return this.entries.find((e) => e.fullUrl?.endsWith(`/${reference}`));
  }

  private async logical(ref: Reference, expression: string, types: readonly string[]): Promise<Resolved | Issue> {
    const { system, value } = ref.identifier ?? {};
    if (!system || !value) return issue('error', 'required', 'A logical reference needs identifier.system and identifier.value', `${expression}.identifier`);
    const type = ref.type ?? TYPE_BY_IDENTIFIER_SYSTEM[system];
    if (type && !types.includes(type)) return issue('error', 'invalid', `The reference names a ${type}; allowed here: ${types.join(', ')}`, `${expression}.type`);
    if (type && TYPE_BY_IDENTIFIER_SYSTEM[system] && TYPE_BY_IDENTIFIER_SYSTEM[system] !== type) {
      return issue('error', 'invalid', `An identifier of system ${system} names a ${TYPE_BY_IDENTIFIER_SYSTEM[system]}, not a ${type}`, `${expression}.type`);
    }
    if (!type) {
      return issue('error', 'not-supported', `A logical reference by ${system} cannot be followed; use ${Object.keys(TYPE_BY_IDENTIFIER_SYSTEM).join(', ')} or send the resource`, `${expression}.identifier.system`);
    }
    // A resource sent in the same request wins over an older stored copy.
    const entry = this.entries.find((e) => e.resource.resourceType === type && identifiersOf(e.resource).some((i) => i.system === system && i.value === value));
    if (entry) return { kind: 'entry', entry, resource: entry.resource, location: entry.location };
    // PractitionerRole has no national identifier; a Practitioner's SDS id is the nearest thing.
    const stored = await this.store.findByIdentifier(type, system, value);
    if (!stored) {
      return issue(
        'error',
        'not-found',
        `No ${type} with identifier ${system}|${value} has been received here; send the ${type} in the Bundle (or contained) with this request`,
        `${expression}.identifier`,
      );
    }
    return { kind: 'stored', stored, resource: stored.resource, location: expression };
  }
}

/** Every literal reference (`reference` string) in a resource, with its FHIRPath. */
export function literalReferences(resource: unknown, base: string): { path: string; reference: string }[] {
  const out: { path: string; reference: string }[] = [];
  const walk = (node: unknown, path: string) => {
    if (Array.isArray(node)) {
      node.forEach((v, i) => walk(v, `${path}[${i}]`));
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    for (const [k, v] of Object.entries(node)) {
      if (k === 'contained') continue; // checked as resources of their own
      if (k === 'reference' && typeof v === 'string') out.push({ path: `${path}.reference`, reference: v });
      else walk(v, `${path}.${k}`);
    }
  };
  walk(resource, base);
  return out;
}

/**
 * The NHS number of a resource's subject. A reference (contained, an entry of the request, or a stored
 * Patient) and a logical NHS-number identifier given together must name the same person: when they
 * differ, or the reference names no NHS number, the answer is undefined (answers must never be filed
 * under one patient and counted for another).
 */
export async function subjectNhsNumber(resource: Record<string, any>, entries: readonly RequestEntry[], store: Pick<StoredLookup, 'read'>): Promise<string | undefined> {
  const subject = resource.subject;
  const logical = subject?.identifier?.system === NHS_NUMBER && typeof subject.identifier.value === 'string' ? (subject.identifier.value as string) : undefined;
  const ref: unknown = subject?.reference;
  if (typeof ref !== 'string') return logical;
  const nhs = (r: Record<string, any> | undefined) => (r?.resourceType === 'Patient' ? identifiersOf(r).find((i) => i.system === NHS_NUMBER)?.value : undefined);
  let literal: string | undefined;
  if (ref.startsWith('#')) literal = nhs((resource.contained ?? []).find((c: any) => c?.id === ref.slice(1)));
  else {
    const entry = entries.find((e) => e.fullUrl !== undefined && e.fullUrl === ref);
    const m = entry ? null : /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(ref);
    literal = entry ? nhs(entry.resource) : m ? nhs((await store.read('Patient', m[1]!))?.resource) : undefined;
  }
  if (logical !== undefined && literal !== logical) return undefined;
  return literal;
}

