// Everything the front door checks before it writes anything: resource types, each resource against
// its inbound profile, each QuestionnaireResponse against its Questionnaire (totals recomputed), every
// literal reference, and each ServiceRequest's referral as a whole (subject, requester, performer,
// supporting answers, one patient throughout, and the reverse mapping to the native shape). All the
// problems are collected, so one answer names every one of them.
import type { Patient, QuestionnaireResponse, Reference } from 'fhir/r4.js';
import type { InboundReferralPackage } from '../../fhir/inbound-package.js';
import { issue, type Issue } from '../../fhir/outcomes.js';
import type { InboundMapper, InboundMappingResult } from '../../mapping/inbound.js';
import { validateResponse, type QuestionnaireRegistry } from '../../questionnaires/response-validator.js';
import { inboundProfileOf, WRITABLE_TYPES } from './inbound-profiles.js';
import { stripAdapterIdentifiers } from './adapter-identifiers.js';
import { identifiersOf, literalReferences, NHS_NUMBER, ReferenceResolver, type RequestEntry, type Resolved, type StoredLookup } from './request-entries.js';

export interface CheckDeps {
  validator: { validate(resource: unknown, profileUrl?: string): Issue[]; hasProfile(url: string): boolean };
  questionnaires: QuestionnaireRegistry;
  inbound: InboundMapper;
  defaultRecipientOds: string;
}

/** One ServiceRequest of the request with everything it refers to, resolved. */
/** The referralId the checks map with; the writer gives the mapped referral its real id (see withReferralId). */
export const PLACEHOLDER_REFERRAL_ID = 'PP-IN-pending';

export interface ReferralUnit {
  entry: RequestEntry;
  pkg: InboundReferralPackage;
  /** the native referral as mapped by the checks, under PLACEHOLDER_REFERRAL_ID */
  mapped: InboundMappingResult;
  /** the entries (or contained/stored resources) the package was built from, by role */
  patient: Resolved;
}

export interface CheckResult {
  issues: Issue[];
  referrals: ReferralUnit[];
}

/** Rewrites a validator expression rooted at the resource type onto the resource's place in the request. */
export function relocate(issues: Issue[], type: string, location: string): Issue[] {
  if (location === type) return issues;
  return issues.map((i) => (i.expression ? { ...i, expression: i.expression.map((e) => (e === type || e.startsWith(`${type}.`) ? location + e.slice(type.length) : e)) } : i));
}

export async function checkEntries(deps: CheckDeps, entries: RequestEntry[], store: StoredLookup, profileOverrides = new Map<number, string>()): Promise<CheckResult> {
  const issues: Issue[] = [];
  for (const entry of entries) if (entry.resource && typeof entry.resource === 'object') stripAdapterIdentifiers(entry.resource);
  issues.push(...identifiersOnce(entries));
  const resolver = new ReferenceResolver(entries, store);

  for (const entry of entries) {
    const type = entry.resource?.resourceType;
    if (typeof type !== 'string' || !WRITABLE_TYPES.includes(type)) {
      issues.push(issue('error', 'not-supported', `resourceType ${JSON.stringify(type)} is not taken here; allowed: ${WRITABLE_TYPES.join(', ')}`, entry.location === 'Bundle' ? 'Bundle' : `${entry.location}.resourceType`));
      continue;
    }
    const profile = profileOverrides.get(entry.index) ?? inboundProfileOf(type, (u) => deps.validator.hasProfile(u));
    issues.push(...relocate(deps.validator.validate(entry.resource, profile), type, entry.location));
    if (type === 'QuestionnaireResponse') issues.push(...checkAnswers(deps, entry.resource as QuestionnaireResponse, entry.location));
    for (const ref of literalReferences(entry.resource, entry.location)) {
      const found = await resolver.resolve({ reference: ref.reference }, entry, ref.path.replace(/\.reference$/, ''), ANY_TYPE);
      if ('severity' in found) issues.push(found);
    }
  }
  if (issues.some(isError)) return { issues, referrals: [] };

  const referrals: ReferralUnit[] = [];
  for (const entry of entries.filter((e) => e.resource.resourceType === 'ServiceRequest')) {
    const unit = await buildReferral(deps, entry, entries, resolver, issues);
    if (unit) referrals.push(unit);
  }
  issues.push(...oneSubjectPerRequest(entries, referrals));
  return { issues, referrals };
}

/** One identifier names one resource: two entries of a type with the same system|value are refused. */
function identifiersOnce(entries: RequestEntry[]): Issue[] {
  const first = new Map<string, RequestEntry>();
  const out: Issue[] = [];
  for (const entry of entries) {
    for (const id of identifiersOf(entry.resource ?? {})) {
      const key = `${entry.resource.resourceType}|${id.system}|${id.value}`;
      const earlier = first.get(key);
      if (earlier && earlier !== entry) {
        out.push(issue('error', 'duplicate', `${entry.resource.resourceType} identifier ${id.system}|${id.value} is also on ${earlier.location}; each identifier may name one resource`, `${entry.location}.identifier`));
      } else first.set(key, entry);
    }
  }
  return out;
}

const ANY_TYPE = [...WRITABLE_TYPES, 'MessageHeader', 'OperationOutcome'];

export function isError(i: Issue): boolean {
  return i.severity === 'error' || i.severity === 'fatal';
}

/** A QuestionnaireResponse against the Questionnaire it names (any Questionnaire in profiles/). */
function checkAnswers(deps: CheckDeps, qr: QuestionnaireResponse, location: string): Issue[] {
  const canonical: unknown = qr.questionnaire;
  if (typeof canonical !== 'string' || canonical === '') return []; // the profile already says questionnaire is a required canonical
  const questionnaire = deps.questionnaires.resolve(canonical);
  if (!questionnaire) {
    const known = deps.questionnaires.list().map((q) => `${q.url}|${q.version}`);
    return [issue('error', 'not-found', `Questionnaire ${canonical} is not one this service knows; allowed: ${known.join(', ')}`, `${location}.questionnaire`)];
  }
  return validateResponse(qr, questionnaire, { base: location });
}

async function buildReferral(deps: CheckDeps, entry: RequestEntry, entries: RequestEntry[], resolver: ReferenceResolver, issues: Issue[]): Promise<ReferralUnit | undefined> {
  const sr = entry.resource as any;
  const at = entry.location;
  const before = issues.length;
  const locations = new Map<object, string>();
  locations.set(sr, at);

  if (identifiersOf(sr).length === 0) {
    issues.push(
      issue('error', 'required', 'ServiceRequest.identifier (system and value) is required: it is how a resent referral is told from a new one; send the sending system\'s referral id (or the e-RS UBRN)', `${at}.identifier`),
    );
  }

  const patient = await resolver.resolve(sr.subject, entry, `${at}.subject`, ['Patient']);
  if ('severity' in patient) issues.push(patient);
  else {
    locations.set(patient.resource, patient.location);
    if (patient.kind === 'contained') issues.push(...relocate(deps.validator.validate(patient.resource, inboundProfileOf('Patient', (u) => deps.validator.hasProfile(u))), 'Patient', patient.location));
  }

  const requester = await resolver.resolve(sr.requester, entry, `${at}.requester`, ['PractitionerRole', 'Practitioner', 'Organization']);
  const pkgParts: Partial<InboundReferralPackage> = {};
  if ('severity' in requester) issues.push(requester);
  else {
    locations.set(requester.resource, requester.location);
    const type = requester.resource.resourceType;
    if (type === 'Organization') pkgParts.requesterOrganization = requester.resource as any;
    if (type === 'Practitioner') pkgParts.practitioner = requester.resource as any;
    if (type === 'PractitionerRole') {
      pkgParts.practitionerRole = requester.resource as any;
      const roleEntry = requester.kind === 'entry' ? requester.entry : entry;
      const role = requester.resource as any;
      if (role.practitioner) {
        const p = await resolver.resolve(role.practitioner, roleEntry, `${requester.location}.practitioner`, ['Practitioner']);
        if ('severity' in p) issues.push(p);
        else {
          pkgParts.practitioner = p.resource as any;
          locations.set(p.resource, p.location);
        }
      }
      if (role.organization) {
        const o = await resolver.resolve(role.organization, roleEntry, `${requester.location}.organization`, ['Organization']);
        if ('severity' in o) issues.push(o);
        else {
          pkgParts.requesterOrganization = o.resource as any;
          locations.set(o.resource, o.location);
        }
      }
    }
  }

  const performers: Reference[] = Array.isArray(sr.performer) ? sr.performer : [];
  if (performers.length > 0) {
    const perf = await resolver.resolve(performers[0], entry, `${at}.performer[0]`, ['Organization', 'PractitionerRole', 'Practitioner', 'HealthcareService']);
    if ('severity' in perf) {
      // A performer named only by ODS code that we have never seen is still a usable recipient.
      if (!(performers[0]!.identifier?.value && perf.code === 'not-found')) issues.push(perf);
    } else if (perf.resource.resourceType === 'Organization') {
      pkgParts.performerOrganization = perf.resource as any;
      locations.set(perf.resource, perf.location);
    }
  }

  const qrs: QuestionnaireResponse[] = [];
  const supporting: Reference[] = Array.isArray(sr.supportingInfo) ? sr.supportingInfo : [];
  for (const [k, ref] of supporting.entries()) {
    const found = await resolver.resolve(ref, entry, `${at}.supportingInfo[${k}]`, ANY_TYPE);
    if (!('severity' in found) && found.resource.resourceType === 'QuestionnaireResponse' && !qrs.includes(found.resource as any)) {
      qrs.push(found.resource as QuestionnaireResponse);
      locations.set(found.resource, found.location);
    }
  }
  // Answers sent beside the referral that point at it through basedOn belong to it too.
  for (const e of entries) {
    if (e.resource.resourceType !== 'QuestionnaireResponse' || qrs.includes(e.resource as any)) continue;
    const basedOn: Reference[] = Array.isArray(e.resource.basedOn) ? e.resource.basedOn : [];
    const srIdentifiers = identifiersOf(sr);
    const names = (b: Reference) =>
      (b.reference !== undefined && (b.reference === entry.fullUrl || (!!entry.fullUrl && b.reference.endsWith(entry.fullUrl)))) ||
      (b.identifier !== undefined && srIdentifiers.some((i) => i.system === b.identifier!.system && i.value === b.identifier!.value));
    if (basedOn.some(names)) {
      qrs.push(e.resource as QuestionnaireResponse);
      locations.set(e.resource, e.location);
    }
  }

  if ('severity' in patient || issues.length > before) return undefined;

  // Every answer set must be about the referral's patient.
  for (const qr of qrs) {
    const qrEntry = entries.find((e) => e.resource === (qr as any));
    const where = locations.get(qr)!;
    const subject = await resolver.resolve((qr as any).subject, qrEntry ?? entry, `${where}.subject`, ['Patient']);
    if ('severity' in subject) issues.push(subject);
    else if (!samePatient(subject.resource as Patient, patient.resource as Patient)) {
      issues.push(issue('error', 'business-rule', `This QuestionnaireResponse is about another patient than its ServiceRequest (${at}.subject); both must name the same Patient`, `${where}.subject`));
    }
  }

  const pkg: InboundReferralPackage = {
    serviceRequest: sr,
    patient: patient.resource as Patient,
    ...pkgParts,
    questionnaireResponses: qrs,
    locations,
  };
  // The mapping is tried here, with a placeholder id, so that what it cannot read is refused before any write.
  // Mapped once, here, so that what the mapping cannot read is refused before any write.
  const mapped = deps.inbound.toNative(pkg, { referralId: PLACEHOLDER_REFERRAL_ID, defaultRecipientOds: deps.defaultRecipientOds });
  issues.push(...mapped.issues.filter(isError));
  if (issues.slice(before).some(isError)) return undefined;
  return { entry, pkg, mapped, patient };
}

function nhsNumberOf(p: Patient): string | undefined {
  return identifiersOf(p as any).find((i) => i.system === NHS_NUMBER)?.value;
}

function samePatient(a: Patient, b: Patient): boolean {
  if (a === b) return true;
  const na = nhsNumberOf(a);
  return na !== undefined && na === nhsNumberOf(b);
}

/** A Bundle carries one patient: a ServiceRequest about someone else than the Bundle's Patient is refused. */
function oneSubjectPerRequest(entries: RequestEntry[], referrals: ReferralUnit[]): Issue[] {
  const patients = entries.filter((e) => e.resource.resourceType === 'Patient');
  const out: Issue[] = [];
  for (const unit of referrals) {
    const subject = unit.patient.resource as Patient;
    for (const p of patients) {
      if (!samePatient(p.resource as Patient, subject)) {
        out.push(
          issue('error', 'business-rule', `The ServiceRequest is for another patient (NHS number differs) than the Patient at ${p.location}; a Bundle carries one patient's referral`, `${unit.entry.location}.subject`),
        );
      }
    }
  }
  return out;
}
