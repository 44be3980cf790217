// The write half of the front door: one database transaction per request (all or nothing). Ids are
// assigned, Bundle-local references rewritten to stored ones, each resource created, kept (an
// identical resend) or versioned, and each new or changed ServiceRequest becomes a native referral
// (reverse-mapped) in the same transaction. The store's unique key on (type, identifier) is the only
// guard against duplicates: a request that loses a race rolls back and runs again, then finds the winner.
import { randomUUID } from 'node:crypto';
import type { QuestionnaireResponse } from 'fhir/r4.js';
import type { NativeAssessment, NativeReferral } from '../../native/types.js';
import type { QuestionnaireRegistry } from '../../questionnaires/response-validator.js';
import { scoreAssessment } from '../../questionnaires/scoring.js';
import type { AssessmentRecord } from '../../store/referrals.repo.js';
import { conflict, invalid, issue, type Issue, OutcomeError } from '../../fhir/outcomes.js';
import type { InboundMapper } from '../../mapping/inbound.js';
import { DuplicateIdentifierError, type FhirRepository, type FhirTx, type StoredResource } from '../../store/fhir.repo.js';
import { IdConflictError, type ReferralRecord, type ReferralRepository, VersionConflictError } from '../../store/referrals.repo.js';
import { canonicalJson, contentHash } from '../../util/canonical-json.js';
import { NativeApiError } from '../errors.js';
import type { ReferralMapper, ResourceValidator } from '../ports.js';
import { deriveReferral, type ReferralViewExtras } from '../referral-state.js';
import { inlineAssessmentRecords } from '../referrals.service.js';
import type { ReferralUnit } from './inbound-checks.js';
import { identifiersOf, type RequestEntry } from './request-entries.js';

export const REFERRAL_ID_SYSTEM = 'https://fhir.painplatform.uk/Id/referral-id';
/** The identifier the adapter gives a resource received without one: the SHA-256 of its content. */
export const CONTENT_KEY_SYSTEM = 'https://fhir.painplatform.uk/Id/received-content-sha256';

const NHS_NUMBER_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';

const TYPE_BY_SYSTEM: Readonly<Record<string, string>> = {
  'https://fhir.nhs.uk/Id/nhs-number': 'Patient',
  'https://fhir.nhs.uk/Id/sds-user-id': 'Practitioner',
  'https://fhir.nhs.uk/Id/ods-organization-code': 'Organization',
};

/** Resources whose changed content is a new version (demographics move on); for the others it is a conflict unless the request is an update. */
const VERSIONED_ON_RESEND = new Set(['Patient', 'Practitioner', 'PractitionerRole', 'Organization']);

export interface WriterDeps {
  repo: FhirRepository;
  referrals: ReferralRepository;
  mapper: ReferralMapper;
  validator: ResourceValidator;
  inbound: InboundMapper;
  /** QuestionnaireResponse → native assessment (the assessment mapping read back) */
  assessments: { questionnaireResponseToAssessment(qr: QuestionnaireResponse): NativeAssessment };
  questionnaires: QuestionnaireRegistry;
  defaultRecipientOds: string;
  now: () => Date;
}

export interface EntryResult {
  entry: RequestEntry;
  status: 200 | 201;
  stored: StoredResource;
  warnings: Issue[];
  /** the native referral made or changed by this entry (ServiceRequests only) */
  referralId?: string;
}

export interface WriteOptions {
  /** what the native version records as its cause, e.g. `POST /fhir` or `$process-message new` */
  cause: string;
  rawBody: string;
  /** a changed ServiceRequest or QuestionnaireResponse is a new version (a BaRS update) rather than a 409 */
  allowUpdate: boolean;
  /** entries whose If-None-Exist matched one stored resource: answered with it, not written */
  matched?: Map<RequestEntry, StoredResource>;
  /** extra facts shown in the native view of each referral (e.g. the message id) */
  inboundFacts?: Record<string, unknown>;
}

export async function writeUnit(deps: WriterDeps, entries: RequestEntry[], referrals: ReferralUnit[], opts: WriteOptions): Promise<EntryResult[]> {
  // The native versions a ServiceRequest update will replace are read first, outside the transaction;
  // the version check in updateIn catches anything written in between, and the whole unit is retried.
  for (let attempt = 1; ; attempt++) {
    const current = await currentReferrals(deps, referrals);
    const targets = await answerTargets(deps, entries, referrals);
    try {
      return await deps.repo.transaction((tx) => writeInTransaction(deps, tx, entries, referrals, opts, current, targets));
    } catch (err) {
      if (err instanceof IdConflictError) {
        throw new OutcomeError(conflict(`Assessment id ${err.id} is already used by another assessment; send the QuestionnaireResponse with another identifier`));
      }
      // PostgreSQL may also end one of two crossing transactions as a deadlock or serialization failure.
      const code = (err as { code?: string }).code;
      const retryable = err instanceof DuplicateIdentifierError || err instanceof VersionConflictError || code === '40P01' || code === '40001';
      if (!retryable || attempt >= 10) {
        if (retryable) throw new OutcomeError(invalid([issue('error', 'transient', 'The same resources are being written by other requests; nothing of this request was stored, send it again')]), 503);
        throw err;
      }
      await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
    }
  }
}

async function currentReferrals(deps: WriterDeps, referrals: ReferralUnit[]): Promise<Map<ReferralUnit, ReferralRecord>> {
  const out = new Map<ReferralUnit, ReferralRecord>();
  for (const unit of referrals) {
    for (const id of identifiersOf(unit.entry.resource)) {
      const stored = await deps.repo.findByIdentifier('ServiceRequest', id.system, id.value);
      const referralId = stored && identifiersOf(stored.resource).find((i) => i.system === REFERRAL_ID_SYSTEM)?.value;
      const record = referralId ? await deps.referrals.get(referralId) : undefined;
      if (record) {
        out.set(unit, record);
        break;
      }
    }
  }
  return out;
}

async function writeInTransaction(
  deps: WriterDeps,
  tx: FhirTx,
  entries: RequestEntry[],
  referrals: ReferralUnit[],
  opts: WriteOptions,
  current: Map<ReferralUnit, ReferralRecord>,
  targets: Map<RequestEntry, AnswerTarget>,
): Promise<EntryResult[]> {
  const now = deps.now().toISOString();
  // 1. Which stored resource each entry is (by its identifiers), and the id each will have.
  const existing = new Map<RequestEntry, StoredResource>();
  const ids = new Map<RequestEntry, string>();
  const refByFullUrl = new Map<string, string>();
  const assign = (entry: RequestEntry, matched: StoredResource | undefined) => {
    if (matched) existing.set(entry, matched);
    ids.set(entry, matched?.id ?? randomUUID());
    if (entry.fullUrl) refByFullUrl.set(entry.fullUrl, `${entry.resource.resourceType}/${ids.get(entry)}`);
  };
  const keyless: RequestEntry[] = [];
  for (const entry of entries) {
    if (identifiersOf(entry.resource).length === 0 && !opts.matched?.has(entry)) keyless.push(entry);
    else assign(entry, opts.matched?.get(entry) ?? (await findExisting(tx, entry)));
  }
  // A resource sent without any identifier is keyed by its content (references resolved), so that a
  // resend finds it instead of storing it twice.
  const contentKeys = new Map<RequestEntry, { system: string; value: string }>();
  for (const entry of keyless) {
    const resolved = await rewriteReferences(tx, structuredClone(entry.resource), refByFullUrl, entries, ids);
    const key = { system: CONTENT_KEY_SYSTEM, value: contentHash(stripServerFields(resolved)) };
    contentKeys.set(entry, key);
    assign(entry, await tx.findByIdentifier(entry.resource.resourceType, key.system, key.value));
  }

  const results: EntryResult[] = [];
  const resultOf = new Map<object, EntryResult>();
  // 2. ServiceRequests last, so that their native referral can name the stored QuestionnaireResponses.
  const ordered = [...entries.filter((e) => e.resource.resourceType !== 'ServiceRequest'), ...entries.filter((e) => e.resource.resourceType === 'ServiceRequest')];
  for (const entry of ordered) {
    const type = entry.resource.resourceType;
    const resource = await rewriteReferences(tx, structuredClone(entry.resource), refByFullUrl, entries, ids);
    const contentKey = contentKeys.get(entry);
    if (contentKey) resource.identifier = type === 'QuestionnaireResponse' ? contentKey : [contentKey];
    resource.id = ids.get(entry);
    delete resource.meta?.versionId;
    delete resource.meta?.lastUpdated;
    const before = existing.get(entry);
    const unit = referrals.find((r) => r.entry === entry);
    let result: EntryResult;
    if (before) {
      // Our own referral-id identifier is kept on every version of a ServiceRequest.
      const ours = identifiersOf(before.resource).filter((i) => i.system === REFERRAL_ID_SYSTEM);
      if (ours.length > 0) resource.identifier = [...(resource.identifier ?? []).filter((i: any) => i.system !== REFERRAL_ID_SYSTEM), ...ours];
      if (sameContent(before.resource, resource) || opts.matched?.has(entry)) {
        result = { entry, status: 200, stored: before, warnings: [] };
      } else if (VERSIONED_ON_RESEND.has(type) || opts.allowUpdate) {
        const stored = await tx.update({ resourceType: type, id: before.id, resource }, now, before.versionId);
        result = { entry, status: 200, stored, warnings: [] };
        if (unit) Object.assign(result, await writeNativeVersion(deps, tx, unit, stored, opts, current.get(unit), resultOf, now));
      } else {
        const id = identifiersOf(entry.resource)[0];
        throw new OutcomeError(
          conflict(
            `A ${type} with identifier ${id?.system}|${id?.value} is already stored (${type}/${before.id}) with different content; to change a referral send a message with reason "update" to $process-message`,
          ),
        );
      }
    } else {
      let referralId: string | undefined;
      if (unit) {
        referralId = `PP-IN-${ids.get(entry)}`;
        resource.identifier = [...(resource.identifier ?? []), { system: REFERRAL_ID_SYSTEM, value: referralId }];
      }
      const stored = await tx.create({ resourceType: type, id: ids.get(entry)!, resource }, now);
      result = { entry, status: 201, stored, warnings: [] };
      if (unit) Object.assign(result, await writeNativeVersion(deps, tx, unit, stored, opts, undefined, resultOf, now));
      const target = targets.get(entry);
      if (target) Object.assign(result, await joinReferral(deps, tx, target, stored, opts, now));
    }
    results.push(result);
    resultOf.set(entry.resource, result);
  }
  // Answer in the order of the request.
  return entries.map((e) => resultOf.get(e.resource)!);
}

async function findExisting(tx: FhirTx, entry: RequestEntry): Promise<StoredResource | undefined> {
  for (const id of identifiersOf(entry.resource)) {
    if (id.system === REFERRAL_ID_SYSTEM && entry.resource.resourceType !== 'ServiceRequest') continue;
    const found = await tx.findByIdentifier(entry.resource.resourceType, id.system, id.value);
    if (found) return found;
  }
  return undefined;
}

/** Bundle-local references become `Type/id`; a logical reference by national identifier gains the stored resource's `Type/id`. */
async function rewriteReferences(tx: FhirTx, resource: any, refByFullUrl: Map<string, string>, entries: RequestEntry[], ids: Map<RequestEntry, string>): Promise<any> {
  const visit = async (node: any): Promise<void> => {
    if (Array.isArray(node)) {
      for (const v of node) await visit(v);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    if (typeof node.reference === 'string') {
      const target = refByFullUrl.get(node.reference);
      if (target) node.reference = target;
    } else if (node.identifier && !Array.isArray(node.identifier) && typeof node.identifier.system === 'string' && TYPE_BY_SYSTEM[node.identifier.system]) {
      const type = node.type ?? TYPE_BY_SYSTEM[node.identifier.system];
      const entry = entries.find((e) => e.resource.resourceType === type && identifiersOf(e.resource).some((i) => i.system === node.identifier.system && i.value === node.identifier.value));
      const stored = entry ? undefined : await tx.findByIdentifier(type, node.identifier.system, node.identifier.value);
      const id = entry ? ids.get(entry) : stored?.id;
      if (id) node.reference = `${type}/${id}`;
    }
    for (const [k, v] of Object.entries(node)) if (k !== 'identifier' && typeof v === 'object') await visit(v);
  };
  await visit(resource);
  return resource;
}

/** Content equality that ignores what the server sets: id, meta, and our referral-id identifier. */
function sameContent(a: Record<string, any>, b: Record<string, any>): boolean {
  return canonicalJson(stripServerFields(a)) === canonicalJson(stripServerFields(b));
}

function stripServerFields(r: Record<string, any>): Record<string, any> {
  const { id: _id, meta: _meta, ...rest } = r;
  const ours = (i: any) => i?.system === REFERRAL_ID_SYSTEM || i?.system === CONTENT_KEY_SYSTEM;
  if (Array.isArray(rest.identifier)) {
    rest.identifier = rest.identifier.filter((i: any) => !ours(i));
    if (rest.identifier.length === 0) delete rest.identifier;
  } else if (ours(rest.identifier)) delete rest.identifier;
  return rest;
}

/** The native referral (version 1, or the next version) for a stored inbound ServiceRequest. */
async function writeNativeVersion(
  deps: WriterDeps,
  tx: FhirTx,
  unit: ReferralUnit,
  stored: StoredResource,
  opts: WriteOptions,
  current: ReferralRecord | undefined,
  resultOf: Map<object, EntryResult>,
  now: string,
): Promise<{ referralId: string; warnings: Issue[] }> {
  const referralId = identifiersOf(stored.resource).find((i) => i.system === REFERRAL_ID_SYSTEM)!.value;
  const mapped = deps.inbound.toNative(unit.pkg, { referralId, defaultRecipientOds: deps.defaultRecipientOds });
  if (mapped.issues.some((i) => i.severity === 'error' || i.severity === 'fatal')) throw new OutcomeError(invalid(mapped.issues));
  const referral: NativeReferral = mapped.referral;
  let derived;
  try {
    derived = deriveReferral({ mapper: deps.mapper, validator: deps.validator }, { referral, earlierRiskSources: current ? (current.view as ReferralViewExtras).risk.source : [] });
  } catch (err) {
    if (err instanceof NativeApiError) {
      throw new OutcomeError(invalid(err.problems.map((p) => issue('error', 'processing', `The referral as the Pain Platform would hold it breaks a rule at ${p.path}: ${p.message}`, unit.entry.location))));
    }
    throw err;
  }
  const patientResult = resultOf.get(unit.patient.resource);
  const fhir = {
    bundle: `/referrals/${encodeURIComponent(referralId)}/fhir`,
    serviceRequest: `ServiceRequest/${stored.id}`,
    patient: patientResult ? `Patient/${patientResult.stored.id}` : unit.patient.kind === 'stored' ? `Patient/${unit.patient.stored.id}` : `ServiceRequest/${stored.id}#${unit.patient.resource.id}`,
    questionnaireResponses: unit.pkg.questionnaireResponses.map((qr) => resultOf.get(qr)).filter((r): r is EntryResult => !!r).map((r) => `QuestionnaireResponse/${r.stored.id}`),
    flags: [] as string[],
  };
  const view = { ...derived.extras, fhir, inbound: { senderIdentifiers: mapped.senderIdentifiers, ...opts.inboundFacts } };
  const record: ReferralRecord = {
    referralId,
    version: current ? current.version + 1 : 1,
    direction: 'inbound',
    status: referral.status,
    kind: referral.kind,
    nhsNumber: referral.patient.nhsNumber,
    contentHash: contentHash(referral),
    receivedAt: current?.receivedAt ?? now,
    updatedAt: now,
    native: referral,
    view,
    fhir: derived.bundle,
  };
  const input = { rawBody: opts.rawBody, cause: opts.cause };
  const assessments = inlineAssessmentRecords(referral, derived, now);
  if (current) await deps.referrals.updateIn(tx.trx, record, input, assessments);
  else await deps.referrals.createIn(tx.trx, record, input, assessments);
  const warnings = mapped.issues.filter((i) => i.severity === 'warning' || i.severity === 'information');
  if (derived.extras.risk.selfHarm) warnings.push(riskWarning(derived.extras.risk.source, derived.extras.risk.escalated));
  return { referralId, warnings };
}

function riskWarning(sources: string[], escalated: boolean): Issue {
  return issue(
    'warning',
    'business-rule',
    `Self-harm risk found (${sources.join('; ')}): the Pain Platform flags this referral${escalated ? ' and has raised its urgency from routine to urgent' : ''}`,
  );
}

// ---- answers sent on their own for a referral already here ---------------------------------------

/** The referral a QuestionnaireResponse sent on its own belongs to (through basedOn), read before the transaction. */
interface AnswerTarget {
  referral: ReferralRecord;
  /** the assessments already posted on their own for it */
  standalone: NativeAssessment[];
  rawBody: string;
}

/**
 * A QuestionnaireResponse that is not part of a referral in this request, but whose basedOn names a
 * ServiceRequest stored here or one of the platform's referrals (identifier referral-id), joins that
 * referral: a new native version carrying its score and, when it fires the risk rule, the raised
 * urgency. So a hospital's PHQ-9 with a self-harm answer never sits unseen beside a routine referral.
 */
async function answerTargets(deps: WriterDeps, entries: RequestEntry[], referrals: ReferralUnit[]): Promise<Map<RequestEntry, AnswerTarget>> {
  const out = new Map<RequestEntry, AnswerTarget>();
  const inUnits = new Set(referrals.flatMap((r) => r.pkg.questionnaireResponses as object[]));
  for (const entry of entries) {
    if (entry.resource.resourceType !== 'QuestionnaireResponse' || inUnits.has(entry.resource)) continue;
    const referralId = await referralIdOfBasedOn(deps, entry.resource.basedOn);
    const referral = referralId ? await deps.referrals.get(referralId) : undefined;
    if (!referral) continue;
    // Answers about someone else must never join this patient's referral.
    const subjectNhs = await subjectNhsNumber(deps, entry.resource);
    const referralNhs = (referral.native as NativeReferral).patient.nhsNumber;
    if (subjectNhs !== referralNhs) {
      throw new OutcomeError(
        invalid([
          issue(
            'error',
            'business-rule',
            subjectNhs
              ? 'QuestionnaireResponse.subject is another patient than the patient of the referral its basedOn names; both must be the same person'
              : 'QuestionnaireResponse.subject must identify the patient (NHS number, or a Patient stored here) when basedOn names a referral',
            `${entry.location}.subject`,
          ),
        ]),
      );
    }
    const stored = await deps.referrals.listAssessments(referral.referralId);
    const previous = await deps.referrals.getVersion(referral.referralId, referral.version);
    out.set(entry, {
      referral,
      standalone: stored.filter((a) => a.source === 'standalone').map((a) => a.native as NativeAssessment),
      rawBody: previous?.raw_body ?? '',
    });
  }
  return out;
}

/** The NHS number of a QuestionnaireResponse's subject: logical, contained, or a stored Patient. */
async function subjectNhsNumber(deps: WriterDeps, qr: Record<string, any>): Promise<string | undefined> {
  const subject = qr.subject;
  const nhs = (r: Record<string, any> | undefined) => (r ? identifiersOf(r).find((i) => i.system === NHS_NUMBER_SYSTEM)?.value : undefined);
  if (subject?.identifier?.system === NHS_NUMBER_SYSTEM) return subject.identifier.value;
  const ref: string | undefined = subject?.reference;
  if (!ref) return undefined;
  if (ref.startsWith('#')) return nhs((qr.contained ?? []).find((c: any) => c?.id === ref.slice(1)));
  const m = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(ref);
  return m ? nhs((await deps.repo.read('Patient', m[1]!))?.resource) : undefined;
}

async function referralIdOfBasedOn(deps: WriterDeps, basedOn: unknown): Promise<string | undefined> {
  for (const ref of Array.isArray(basedOn) ? basedOn : []) {
    if (ref?.identifier?.system === REFERRAL_ID_SYSTEM && typeof ref.identifier.value === 'string') return ref.identifier.value;
    const m = typeof ref?.reference === 'string' ? /(?:^|\/)ServiceRequest\/([A-Za-z0-9\-.]{1,64})$/.exec(ref.reference) : null;
    const sr = m ? await deps.repo.read('ServiceRequest', m[1]!) : undefined;
    const id = sr && identifiersOf(sr.resource).find((i) => i.system === REFERRAL_ID_SYSTEM)?.value;
    if (id) return id;
  }
  return undefined;
}

async function joinReferral(deps: WriterDeps, tx: FhirTx, target: AnswerTarget, stored: StoredResource, opts: WriteOptions, now: string): Promise<{ referralId: string; warnings: Issue[] }> {
  const qr = stored.resource as unknown as QuestionnaireResponse;
  const questionnaire = qr.questionnaire ? deps.questionnaires.resolve(qr.questionnaire) : undefined;
  const referralId = target.referral.referralId;
  if (!questionnaire?.url) return { referralId, warnings: [] };
  const assessmentId = `QR-${stored.id}`;
  let assessment: NativeAssessment;
  try {
    const copy: QuestionnaireResponse = {
      ...structuredClone(qr),
      questionnaire: `${questionnaire.url}|${questionnaire.version}`,
      identifier: { system: 'https://fhir.painplatform.uk/Id/assessment-id', value: assessmentId },
    };
    delete copy.basedOn;
    assessment = { ...deps.assessments.questionnaireResponseToAssessment(copy), referralId };
  } catch {
    // Not one of the platform's instruments in a shape it reads: stored as FHIR only.
    return { referralId, warnings: [issue('information', 'informational', `These answers are stored but not passed to the Pain Platform: ${questionnaire.url} is not read into the native referral`)] };
  }
  const derived = deriveReferral(
    { mapper: deps.mapper, validator: deps.validator },
    { referral: target.referral.native as NativeReferral, standalone: [...target.standalone, assessment], earlierRiskSources: (target.referral.view as ReferralViewExtras).risk.source },
  );
  const previousView = target.referral.view as ReferralViewExtras & { fhir: { questionnaireResponses?: string[] } };
  const view = { ...previousView, ...derived.extras, fhir: { ...previousView.fhir, questionnaireResponses: [...(previousView.fhir?.questionnaireResponses ?? []), `QuestionnaireResponse/${stored.id}`] } };
  if ((target.referral.view as { inbound?: unknown }).inbound) (view as Record<string, unknown>).inbound = (target.referral.view as { inbound?: unknown }).inbound;
  const record: AssessmentRecord = {
    assessmentId,
    referralId,
    source: 'standalone',
    contentHash: contentHash(assessment),
    rawBody: opts.rawBody,
    native: assessment,
    score: scoreAssessment(assessment),
    fhir: qr,
    receivedAt: now,
    updatedAt: now,
  };
  const version: ReferralRecord = { ...target.referral, version: target.referral.version + 1, updatedAt: now, view, fhir: derived.bundle };
  await deps.referrals.createAssessmentIn(tx.trx, record, { record: version, input: { rawBody: target.rawBody, cause: `${opts.cause} QuestionnaireResponse/${stored.id}` } });
  const warnings: Issue[] = [];
  if (derived.extras.risk.selfHarm) warnings.push(riskWarning(derived.extras.risk.source, derived.extras.risk.escalated));
  return { referralId, warnings };
}
