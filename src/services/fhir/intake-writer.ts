// The write half of the front door: one database transaction per request (all or nothing). Ids are
// assigned, Bundle-local references rewritten to stored ones, each resource created, kept (an
// identical resend) or versioned, and each new or changed ServiceRequest becomes a native referral
// (reverse-mapped) in the same transaction. The store's unique key on (type, identifier) is the only
// guard against duplicates: a request that loses a race rolls back and runs again, then finds the winner.
import { randomUUID } from 'node:crypto';
import type { QuestionnaireResponse } from 'fhir/r4.js';
import type { NativeAssessment, NativeReferral } from '../../native/types.js';
import type { QuestionnaireRegistry } from '../../questionnaires/response-validator.js';
import { conflict, invalid, issue, type Issue, operationOutcome, OutcomeError } from '../../fhir/outcomes.js';
import { DuplicateIdentifierError, type FhirRepository, type FhirTx, type StoredResource } from '../../store/fhir.repo.js';
import { IdConflictError, type ReferralRecord, type ReferralRepository, VersionConflictError } from '../../store/referrals.repo.js';
import { canonicalJson, contentHash } from '../../util/canonical-json.js';
import { NativeApiError } from '../errors.js';
import type { ReferralMapper, ResourceValidator } from '../ports.js';
import { type DerivedReferral, deriveReferral, type ReferralViewExtras } from '../referral-state.js';
import { inlineAssessmentRecords } from '../referrals.service.js';
import { PLACEHOLDER_REFERRAL_ID, type ReferralUnit } from './inbound-checks.js';
import { identifierClash, identifiersOf, type RequestEntry, subjectNhsNumber, TYPE_BY_IDENTIFIER_SYSTEM } from './request-entries.js';
import { joinReferral, type JoinPlan, newSelfHarmInChange, planJoins, riskWarning, sameAnswers, selfHarmAnswer, untiedSelfHarm } from './answer-joins.js';
import { REFERRAL_ID_SYSTEM } from './adapter-identifiers.js';

import { CONTENT_KEY_SYSTEM } from './adapter-identifiers.js';

export { REFERRAL_ID_SYSTEM };

/** Resources whose changed content is a new version (demographics move on); for the others it is a conflict unless the request is an update. */
const VERSIONED_ON_RESEND = new Set(['Patient', 'Practitioner', 'PractitionerRole', 'Organization']);

export interface WriterDeps {
  repo: FhirRepository;
  referrals: ReferralRepository;
  mapper: ReferralMapper;
  validator: ResourceValidator;
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
  /**
   * entries whose If-None-Exist names one of their own identifiers (that identifier): its lookup inside
   * the transaction, under the unique key, answers the condition, with no search before it
   */
  conditional?: Map<RequestEntry, { system: string; value: string }>;
  /** extra facts shown in the native view of each referral (e.g. the message id) */
  inboundFacts?: Record<string, unknown>;
  /** the request cancels its referral (status revoked or entered-in-error) */
  cancelling?: boolean;
}

export async function writeUnit(deps: WriterDeps, entries: RequestEntry[], referrals: ReferralUnit[], opts: WriteOptions): Promise<EntryResult[]> {
  // The native versions a ServiceRequest update will replace are read first, outside the transaction;
  // the version check in updateIn catches anything written in between, and the whole unit is retried.
  for (let attempt = 1; ; attempt++) {
    const current = await currentReferrals(deps, referrals);
    const plan = await planJoins(deps, entries, referrals, current);
    // The CPU work (native referral, its FHIR and its validation) is done before the transaction opens,
    // so that the single SQLite writer holds its lock only for the SQL.
    const prepared = prepareReferrals(deps, referrals, current, plan);
    try {
      return await deps.repo.transaction((tx) => writeInTransaction(deps, tx, entries, referrals, opts, current, plan, prepared));
    } catch (err) {
      if (err instanceof IdConflictError) {
        throw new OutcomeError(conflict(`Assessment id ${err.id} is already used by another assessment; send the QuestionnaireResponse with another identifier`));
      }
      // PostgreSQL may also end one of two crossing transactions as a deadlock or serialization failure.
      const code = (err as { code?: string }).code;
      // A taken identifier no stored resource holds was taken by this request itself: no retry mends it.
      if (err instanceof DuplicateIdentifierError && !(await deps.repo.findByIdentifier(err.resourceType, err.system, err.value))) {
        throw new OutcomeError(conflict(`Two ${err.resourceType} resources of this request carry the identifier ${err.system}|${err.value}; each identifier may name one resource`), 409);
      }
      const retryable = err instanceof DuplicateIdentifierError || err instanceof VersionConflictError || code === '40P01' || code === '40001';
      if (!retryable || attempt >= 10) {
        if (retryable) {
          throw new OutcomeError(invalid([issue('error', 'transient', 'The same resources are being written by other requests; nothing of this request was stored, send it again')]), 503, {
            headers: { 'Retry-After': '1' },
          });
        }
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

/** One referral's native version, made ready before the transaction. */
interface PreparedReferral {
  referralId: string;
  /** the native version it was derived from (answers joining first in the same request make it stale) */
  basisVersion?: number;
  /** the id a new ServiceRequest will get (undefined when it is already stored) */
  newServiceRequestId?: string;
  referral: NativeReferral;
  derived: DerivedReferral;
}

function prepareReferrals(deps: WriterDeps, referrals: ReferralUnit[], current: Map<ReferralUnit, ReferralRecord>, plan: JoinPlan): Map<ReferralUnit, PreparedReferral> {
  const out = new Map<ReferralUnit, PreparedReferral>();
  for (const unit of referrals) {
    const record = current.get(unit);
    const newServiceRequestId = record ? undefined : randomUUID();
    const referralId = record?.referralId ?? `PP-IN-${newServiceRequestId}`;
    const referral = withReferralId(unit.mapped.referral, referralId);
    const state = plan.states.get(referralId);
    const earlier = ((state?.referral ?? record)?.view as ReferralViewExtras | undefined)?.risk.source ?? [];
    try {
      // Answers that joined this referral on their own stay with it in the new version; findings are sticky.
      const derived = deriveReferral({ mapper: deps.mapper, validator: deps.validator }, { referral, standalone: state?.standalone ?? [], earlierRiskSources: earlier });
      out.set(unit, { referralId, basisVersion: (state?.referral ?? record)?.version, newServiceRequestId, referral, derived });
    } catch (err) {
      if (!(err instanceof NativeApiError)) throw err;
      throw new OutcomeError(invalid(err.problems.map((p) => issue('error', 'processing', `The referral as the Pain Platform would hold it breaks a rule at ${p.path}: ${p.message}`, unit.entry.location))));
    }
  }
  return out;
}

/** The referral mapped by the checks (under PLACEHOLDER_REFERRAL_ID), with its real id and its assessments' ids. */
function withReferralId(referral: NativeReferral, referralId: string): NativeReferral {
  const prefix = `${PLACEHOLDER_REFERRAL_ID}-`;
  const out = structuredClone(referral);
  out.referralId = referralId;
  for (const a of out.assessments ?? []) {
    if (a.assessmentId.startsWith(prefix)) a.assessmentId = `${referralId}-${a.assessmentId.slice(prefix.length)}`;
    if (a.referralId !== undefined) a.referralId = referralId;
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
  plan: JoinPlan,
  prepared: Map<ReferralUnit, PreparedReferral>,
): Promise<EntryResult[]> {
  const now = deps.now().toISOString();
  // 1. Which stored resource each entry is (by its identifiers), and the id each will have.
  const existing = new Map<RequestEntry, StoredResource>();
  const ids = new Map<RequestEntry, string>();
  const refByFullUrl = new Map<string, string>();
  const assign = (entry: RequestEntry, matched: StoredResource | undefined) => {
    const unit = referrals.find((r) => r.entry === entry);
    // What was prepared must still hold: a referral stored by another request since is done again.
    if (unit && !conditionMet.has(entry) && !!matched !== !!current.get(unit)) {
      throw new VersionConflictError(matched?.versionId ?? 0);
    }
    if (matched) existing.set(entry, matched);
    ids.set(entry, matched?.id ?? (unit && prepared.get(unit)?.newServiceRequestId) ?? randomUUID());
    if (entry.fullUrl) refByFullUrl.set(entry.fullUrl, `${entry.resource.resourceType}/${ids.get(entry)}`);
  };
  const keyless: RequestEntry[] = [];
  /** entries answered by their If-None-Exist: the one stored resource it names, kept as it is */
  const conditionMet = new Map<RequestEntry, StoredResource>(opts.matched ?? []);
  for (const entry of entries) {
    const condition = opts.conditional?.get(entry);
    const named = condition ? await tx.findByIdentifier(entry.resource.resourceType, condition.system, condition.value) : undefined;
    if (named) {
      // The condition found a resource by one identifier: every other identifier must agree with it, or
      // it is another resource (another patient, another referral) and the condition fails.
      const found = await findExisting(tx, entry);
      const clash = identifierClash(entry.resource.resourceType, identifiersOf(entry.resource), identifiersOf(named.resource));
      const otherPatient = await aboutAnotherPatient(tx, entry, named, entries);
      if (found?.id !== named.id || clash || otherPatient) {
        throw new OutcomeError(
          operationOutcome(
            [issue('error', 'conflict', `If-None-Exist ${condition!.system}|${condition!.value} names ${named.resourceType}/${named.id}, which is another resource (its other identifiers, or its patient, differ from the ones sent); make the condition name this resource`, entry.index >= 0 ? `Bundle.entry[${entry.index}].request.ifNoneExist` : undefined)],
            'precondition-failed',
          ),
          412,
        );
      }
      conditionMet.set(entry, named);
    }
    const own = identifiersOf(entry.resource);
    if (own.length === 0 && !conditionMet.has(entry)) keyless.push(entry);
    // A condition on the entry's only identifier that found nothing has already looked everything up.
    else if (condition && !named && own.length === 1) assign(entry, undefined);
    else assign(entry, conditionMet.get(entry) ?? (await findExisting(tx, entry)));
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
  /** answer sets that reached a native referral (inline in a version, or joined) */
  const reached = new Set<object>();
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
      // A conditional create that finds its resource answers with it as stored, changing nothing.
      if (sameContent(before.resource, resource) || conditionMet.has(entry)) {
        result = { entry, status: 200, stored: before, warnings: [] };
        // The referral is unchanged, but answers sent with it for the first time still join it (never
        // when the request is about another patient than the stored referral).
        const referralId = unit && current.get(unit)?.referralId;
        if (unit) samePatient(unit, current.get(unit));
        if (unit && referralId) {
          for (const qr of unit.pkg.questionnaireResponses) {
            const r = resultOf.get(qr);
            if (r?.status !== 201) continue;
            r.warnings.push(...(await joinReferral(deps, tx, plan, referralId, r.stored, r.entry.location, opts, now)));
            reached.add(qr);
          }
        }
      } else if (VERSIONED_ON_RESEND.has(type) || (opts.allowUpdate && type === 'ServiceRequest')) {
        if (unit) checkChange(before, resource, unit, current.get(unit));
        const stored = await tx.update({ resourceType: type, id: before.id, resource }, now, before.versionId);
        result = { entry, status: 200, stored, warnings: [] };
        if (unit) {
          Object.assign(result, await writeNativeVersion(deps, tx, unit, prepared.get(unit)!, stored, opts, current.get(unit), plan, resultOf, now));
          for (const qr of unit.pkg.questionnaireResponses) reached.add(qr);
        }
      } else if (type === 'QuestionnaireResponse' && opts.allowUpdate && (sameAnswers(before.resource, resource) || opts.cancelling) && answersOfReferral(before, entry, referrals, current)) {
        // A message that repeats answers already received for its referral (a sending system may
        // regenerate `authored`) keeps them as received; a cancellation never fails because of the
        // answers it repeats, unless they now disclose self-harm (that must reach a clinician).
        const changed = !sameAnswers(before.resource, resource);
        if (changed && selfHarmAnswer(resource) && !selfHarmAnswer(before.resource)) throw new OutcomeError(invalid([newSelfHarmInChange(entry.location)]));
        result = {
          entry,
          status: 200,
          stored: before,
          warnings: changed ? [issue('warning', 'business-rule', 'These answers differ from the ones received first under this identifier; the referral is cancelled, and the answers are kept as first received', `${entry.location}.item`)] : [],
        };
      } else {
        const id = identifiersOf(entry.resource)[0];
        const how =
          type === 'QuestionnaireResponse'
            ? 'answers already received are not changed: send amended answers as a new QuestionnaireResponse (its own identifier, status amended)'
            : 'to change a referral send a message with reason "update" to $process-message';
        throw new OutcomeError(conflict(`A ${type} with identifier ${id?.system}|${id?.value} is already stored (${type}/${before.id}) with different content; ${how}`, `${entry.location}.identifier`));
      }
    } else {
      if (unit) resource.identifier = [...(resource.identifier ?? []), { system: REFERRAL_ID_SYSTEM, value: prepared.get(unit)!.referralId }];
      const stored = await tx.create({ resourceType: type, id: ids.get(entry)!, resource }, now);
      result = { entry, status: 201, stored, warnings: [] };
      if (unit) {
        Object.assign(result, await writeNativeVersion(deps, tx, unit, prepared.get(unit)!, stored, opts, undefined, plan, resultOf, now));
        for (const qr of unit.pkg.questionnaireResponses) reached.add(qr);
      }
      const joins = plan.byEntry.get(entry);
      if (joins) {
        result.referralId = joins;
        result.warnings.push(...(await joinReferral(deps, tx, plan, joins, stored, entry.location, opts, now)));
        reached.add(entry.resource);
      }
    }
    results.push(result);
    resultOf.set(entry.resource, result);
  }
  // A self-harm answer stored where no referral carries it would sit unseen: refuse the request.
  for (const r of results) {
    if (r.status === 201 && r.entry.resource.resourceType === 'QuestionnaireResponse' && !reached.has(r.entry.resource) && selfHarmAnswer(r.entry.resource)) {
      throw untiedSelfHarm(r.entry.location);
    }
  }
  // Answer in the order of the request.
  return entries.map((e) => resultOf.get(e.resource)!);
}

const CLOSED = ['revoked', 'completed', 'entered-in-error'];

/** A stored answer set that the referral this entry is sent with already holds (never another referral's). */
function answersOfReferral(before: StoredResource, entry: RequestEntry, referrals: ReferralUnit[], current: Map<ReferralUnit, ReferralRecord>): boolean {
  const unit = referrals.find((r) => r.pkg.questionnaireResponses.includes(entry.resource as never));
  const record = unit && current.get(unit);
  const held = ((record?.view as { fhir?: { questionnaireResponses?: string[] } } | undefined)?.fhir?.questionnaireResponses ?? []) as string[];
  return held.includes(`QuestionnaireResponse/${before.id}`);
}

/** A stored answer set (or referral) found by a condition that is about another patient than the one sent. */
async function aboutAnotherPatient(tx: FhirTx, entry: RequestEntry, named: StoredResource, entries: RequestEntry[]): Promise<boolean> {
  if (!('subject' in entry.resource) || entry.resource.resourceType === 'Patient') return false;
  const sent = await subjectNhsNumber(entry.resource, entries, tx);
  const stored = await subjectNhsNumber(named.resource, entries, tx);
  return sent !== undefined && stored !== undefined && sent !== stored;
}


/**
 * What an update may not change, checked again here against what the transaction reads (the checks
 * before it may have raced with a cancellation): a closed referral is not reopened (only marked
 * entered-in-error), and a referral never moves to another patient.
 */
function checkChange(before: StoredResource, resource: Record<string, any>, unit: ReferralUnit, current: ReferralRecord | undefined): void {
  const was = before.resource.status as string;
  const now = resource.status as string;
  if (CLOSED.includes(was) && now !== was && now !== 'entered-in-error') {
    throw new OutcomeError(
      invalid([issue('error', 'business-rule', `This referral is already ${was}; an update cannot make it ${now} (allowed: ${was}, or entered-in-error). Send a new referral instead`, `${unit.entry.location}.status`)]),
    );
  }
  samePatient(unit, current);
}

/** A referral belongs to one patient: a request naming it for another NHS number is refused. */
function samePatient(unit: ReferralUnit, current: ReferralRecord | undefined): void {
  const nhsBefore = (current?.native as NativeReferral | undefined)?.patient.nhsNumber;
  if (nhsBefore !== undefined && unit.mapped.referral.patient?.nhsNumber !== nhsBefore) {
    throw new OutcomeError(
      invalid([issue('error', 'business-rule', 'This referral belongs to another patient: the NHS number differs from the one received first; a change cannot move a referral, cancel it and send a new one', `${unit.entry.location}.subject`)]),
    );
  }
}

/**
 * The stored resource an entry is, by its identifiers. Identifiers that name two different stored
 * resources, or a match whose national identifier (NHS number, SDS id, ODS code) differs from the one
 * sent, are a conflict: merging them would put one person's data on another's record.
 */
async function findExisting(tx: FhirTx, entry: RequestEntry): Promise<StoredResource | undefined> {
  const type = entry.resource.resourceType;
  const sent = identifiersOf(entry.resource);
  let match: StoredResource | undefined;
  for (const id of sent) {
    if (id.system === REFERRAL_ID_SYSTEM && type !== 'ServiceRequest') continue;
    const found = await tx.findByIdentifier(type, id.system, id.value);
    if (!found) continue;
    if (match && match.id !== found.id) {
      throw new OutcomeError(conflict(`The identifiers of this ${type} name two different stored resources (${type}/${match.id} and ${type}/${found.id}); send identifiers of one ${type} only`, `${entry.location}.identifier`));
    }
    match = found;
  }
  if (match) {
    for (const id of sent) {
      if (!TYPE_BY_IDENTIFIER_SYSTEM[id.system]) continue;
      const storedValue = identifiersOf(match.resource).find((i) => i.system === id.system)?.value;
      if (storedValue !== undefined && storedValue !== id.value) {
        throw new OutcomeError(conflict(`Another identifier of this ${type} belongs to a stored ${type} (${type}/${match.id}) with a different ${id.system} identifier; one ${type} cannot carry both`, `${entry.location}.identifier`));
      }
    }
  }
  return match;
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
    } else if (node.identifier && !Array.isArray(node.identifier) && typeof node.identifier.system === 'string' && TYPE_BY_IDENTIFIER_SYSTEM[node.identifier.system]) {
      const type = node.type ?? TYPE_BY_IDENTIFIER_SYSTEM[node.identifier.system];
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
  ready: PreparedReferral,
  stored: StoredResource,
  opts: WriteOptions,
  current: ReferralRecord | undefined,
  plan: JoinPlan,
  resultOf: Map<object, EntryResult>,
  now: string,
): Promise<{ referralId: string; warnings: Issue[] }> {
  const { referralId, referral } = ready;
  const mapped = unit.mapped;
  // Answers that joined this referral earlier in this request are in a newer version than the one the
  // preparation started from: derive again from that one, so that they (and their risk) stay.
  const state = plan.states.get(referralId);
  const derived =
    state && state.referral.version !== ready.basisVersion
      ? deriveReferral(
          { mapper: deps.mapper, validator: deps.validator },
          { referral, standalone: state.standalone, earlierRiskSources: (state.referral.view as ReferralViewExtras).risk.source },
        )
      : ready.derived;
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
  if (current) {
    // The version after any answers that joined this referral earlier in the same request.
    record.version = (plan.states.get(referralId)?.referral.version ?? current.version) + 1;
    await deps.referrals.updateIn(tx.trx, record, input, assessments);
  } else await deps.referrals.createIn(tx.trx, record, input, assessments);
  const warnings = mapped.issues.filter((i) => i.severity === 'warning' || i.severity === 'information');
  if (derived.extras.risk.selfHarm) warnings.push(riskWarning(derived.extras.risk.source, derived.extras.risk.escalated, unit.entry.location));
  return { referralId, warnings };
}
