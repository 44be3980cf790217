// QuestionnaireResponses that reach a referral already here: sent on their own (basedOn names the
// referral), or new answers beside a referral that itself is unchanged (a resend with more answers).
// Each joins the referral as a new native version carrying its score and the risk rule's finding, so a
// self-harm answer (PHQ-9 item 9 above 0) is never stored beside a referral that stays routine; and a
// self-harm answer that names no referral is refused rather than stored where no one will see it.
import type { QuestionnaireResponse } from 'fhir/r4.js';
import { invalid, issue, type Issue, OutcomeError } from '../../fhir/outcomes.js';
import type { NativeAssessment, NativeReferral } from '../../native/types.js';
import { scoreAssessment } from '../../questionnaires/scoring.js';
import type { StoredResource } from '../../store/fhir.repo.js';
import type { AssessmentRecord, ReferralRecord } from '../../store/referrals.repo.js';
import { canonicalJson, contentHash } from '../../util/canonical-json.js';
import { deriveReferral, type ReferralViewExtras } from '../referral-state.js';
import type { ReferralUnit } from './inbound-checks.js';
import { identifiersOf, type RequestEntry, subjectNhsNumber } from './request-entries.js';
import type { FhirTx } from '../../store/fhir.repo.js';
import type { WriterDeps, WriteOptions } from './intake-writer.js';

import { REFERRAL_ID_SYSTEM } from './adapter-identifiers.js';

export { REFERRAL_ID_SYSTEM };
const PHQ9_ITEM9 = '44260-8';
const NOT_AT_ALL = 'LA6568-5';

/** One referral's state as answers join it, version after version, inside one request. */
interface JoinState {
  referral: ReferralRecord;
  /** assessments posted on their own for it so far */
  standalone: NativeAssessment[];
  /** the body of its current version (a join changes no referral content) */
  rawBody: string;
}

export interface JoinPlan {
  /** a QuestionnaireResponse sent on its own → the referral it joins */
  byEntry: Map<RequestEntry, string>;
  states: Map<string, JoinState>;
}

/** Read before the write transaction opens (every read inside it must go through the transaction). */
export async function planJoins(deps: WriterDeps, entries: RequestEntry[], referrals: ReferralUnit[], current: Map<ReferralUnit, ReferralRecord>): Promise<JoinPlan> {
  const plan: JoinPlan = { byEntry: new Map(), states: new Map() };
  const load = async (record: ReferralRecord) => {
    if (plan.states.has(record.referralId)) return;
    const stored = await deps.referrals.listAssessments(record.referralId);
    const previous = await deps.referrals.getVersion(record.referralId, record.version);
    plan.states.set(record.referralId, {
      referral: record,
      standalone: stored.filter((a) => a.source === 'standalone').map((a) => a.native as NativeAssessment),
      rawBody: previous?.raw_body ?? '',
    });
  };
  for (const record of current.values()) await load(record);

  const inUnits = new Set(referrals.flatMap((r) => r.pkg.questionnaireResponses as object[]));
  for (const entry of entries) {
    if (entry.resource.resourceType !== 'QuestionnaireResponse' || inUnits.has(entry.resource)) continue;
    const referralId = await referralIdOfBasedOn(deps, entry.resource.basedOn);
    const referral = referralId ? await deps.referrals.get(referralId) : undefined;
    if (!referral) continue;
    // Answers about someone else must never join this patient's referral.
    const subjectNhs = await subjectNhsNumber(entry.resource, entries, deps.repo);
    if (subjectNhs !== (referral.native as NativeReferral).patient.nhsNumber) {
      throw new OutcomeError(
        invalid([
          issue(
            'error',
            'business-rule',
            subjectNhs
              ? 'QuestionnaireResponse.subject is another patient than the patient of the referral its basedOn names; both must be the same person'
              : 'QuestionnaireResponse.subject must identify the patient (NHS number, or a Patient sent or stored here) when basedOn names a referral; a reference and an identifier given together must name the same patient',
            `${entry.location}.subject`,
          ),
        ]),
      );
    }
    await load(referral);
    plan.byEntry.set(entry, referral.referralId);
  }
  return plan;
}

/** The referral a basedOn names: a stored ServiceRequest (by id or by any of its identifiers), or the platform's referral id. */
async function referralIdOfBasedOn(deps: WriterDeps, basedOn: unknown): Promise<string | undefined> {
  for (const ref of Array.isArray(basedOn) ? basedOn : []) {
    const { system, value } = ref?.identifier ?? {};
    if (typeof system === 'string' && typeof value === 'string') {
      if (system === REFERRAL_ID_SYSTEM) return value;
      const sr = await deps.repo.findByIdentifier('ServiceRequest', system, value);
      const id = sr && identifiersOf(sr.resource).find((i) => i.system === REFERRAL_ID_SYSTEM)?.value;
      if (id) return id;
    }
    const m = typeof ref?.reference === 'string' ? /(?:^|\/)ServiceRequest\/([A-Za-z0-9\-.]{1,64})$/.exec(ref.reference) : null;
    const sr = m ? await deps.repo.read('ServiceRequest', m[1]!) : undefined;
    const id = sr && identifiersOf(sr.resource).find((i) => i.system === REFERRAL_ID_SYSTEM)?.value;
    if (id) return id;
  }
  return undefined;
}

/** The answers of a stored QuestionnaireResponse join a referral: its next native version. */
export async function joinReferral(
  deps: WriterDeps,
  tx: FhirTx,
  plan: JoinPlan,
  referralId: string,
  stored: StoredResource,
  location: string,
  opts: WriteOptions,
  now: string,
): Promise<Issue[]> {
  const state = plan.states.get(referralId)!;
  const qr = stored.resource as unknown as QuestionnaireResponse;
  const questionnaire = qr.questionnaire ? deps.questionnaires.resolve(qr.questionnaire) : undefined;
  // Only the platform's instruments reach the native referral; anything else stays FHIR only.
  if (!questionnaire?.url) return [issue('information', 'informational', 'These answers are stored as FHIR only: their Questionnaire is not one the Pain Platform reads', `${location}.questionnaire`)];
  const assessmentId = `QR-${stored.id}`;
  const assessment = { ...toAssessment(deps, qr, `${questionnaire.url}|${questionnaire.version}`, assessmentId, location), referralId };
  const derived = deriveReferral(
    { mapper: deps.mapper, validator: deps.validator },
    { referral: state.referral.native as NativeReferral, standalone: [...state.standalone, assessment], earlierRiskSources: (state.referral.view as ReferralViewExtras).risk.source },
  );
  const previousView = state.referral.view as ReferralViewExtras & { fhir: { questionnaireResponses?: string[] }; inbound?: unknown };
  const view = {
    ...derived.extras,
    fhir: { ...previousView.fhir, questionnaireResponses: [...(previousView.fhir?.questionnaireResponses ?? []), `QuestionnaireResponse/${stored.id}`] },
    ...(previousView.inbound ? { inbound: previousView.inbound } : {}),
  };
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
  const version: ReferralRecord = { ...state.referral, version: state.referral.version + 1, updatedAt: now, view, fhir: derived.bundle };
  await deps.referrals.createAssessmentIn(tx.trx, record, { record: version, input: { rawBody: state.rawBody, cause: `${opts.cause} QuestionnaireResponse/${stored.id}` } });
  // A second answer set in the same request builds on this version.
  plan.states.set(referralId, { ...state, referral: version, standalone: [...state.standalone, assessment] });
  return derived.extras.risk.selfHarm ? [riskWarning(derived.extras.risk.source, derived.extras.risk.escalated, location)] : [];
}

/** A platform QuestionnaireResponse read into a native assessment; what the platform cannot read is refused (422) where it is. */
function toAssessment(deps: WriterDeps, qr: QuestionnaireResponse, canonical: string, assessmentId: string, location: string): NativeAssessment {
  const copy: QuestionnaireResponse = {
    ...structuredClone(qr),
    questionnaire: canonical,
    identifier: { system: 'https://fhir.painplatform.uk/Id/assessment-id', value: assessmentId },
  };
  delete copy.basedOn;
  try {
    return deps.assessments.questionnaireResponseToAssessment(copy);
  } catch (err) {
    const problem = (err as { problem?: string }).problem ?? (err as Error).message;
    throw new OutcomeError(invalid([issue('error', 'business-rule', `These answers cannot be passed to the Pain Platform: ${problem}`, location)]));
  }
}

/**
 * A PHQ-9 whose item 9 (thoughts of self-harm) is answered above "Not at all", read from the FHIR
 * directly, so that it holds whatever the status or the rest of the answers.
 */
export function selfHarmAnswer(qr: Record<string, any>): boolean {
  const walk = (items: any[]): boolean =>
    items.some((item) => {
      if (item?.linkId === PHQ9_ITEM9) {
        for (const a of Array.isArray(item.answer) ? item.answer : []) {
          if (a?.valueCoding?.code && a.valueCoding.code !== NOT_AT_ALL) return true;
          if (typeof a?.valueInteger === 'number' && a.valueInteger > 0) return true;
        }
      }
      return walk(Array.isArray(item?.item) ? item.item : []) || (Array.isArray(item?.answer) && item.answer.some((a: any) => walk(Array.isArray(a?.item) ? a.item : [])));
    });
  return walk(Array.isArray(qr.item) ? qr.item : []);
}

/** A change message that puts a self-harm answer under an answer set received without one. */
export function newSelfHarmInChange(location: string): Issue {
  return issue(
    'error',
    'business-rule',
    'These answers now hold a self-harm answer (PHQ-9 item 9 above "Not at all") that the answers first received under this identifier did not; answers are not changed in place, so send them as a new QuestionnaireResponse with its own identifier, so that the finding reaches a clinician',
    `${location}.item`,
  );
}

/** The same answers (questionnaire, status, items), whatever else a sending system regenerated (e.g. `authored`). */
export function sameAnswers(a: Record<string, any>, b: Record<string, any>): boolean {
  const pick = (r: Record<string, any>) => canonicalJson({ questionnaire: r.questionnaire, status: r.status, item: r.item });
  return pick(a) === pick(b);
}

export function untiedSelfHarm(location: string): OutcomeError {
  return new OutcomeError(
    invalid([
      issue(
        'error',
        'business-rule',
        'This PHQ-9 has a self-harm answer (item 9 above "Not at all") but names no referral here, so no clinician would be alerted; send it with its ServiceRequest, or name the referral in basedOn (ServiceRequest/<id>, or its identifier)',
        `${location}.basedOn`,
      ),
    ]),
  );
}

export function riskWarning(sources: string[], escalated: boolean, expression?: string): Issue {
  return issue(
    'warning',
    'business-rule',
    `Self-harm risk found (${sources.join('; ')}): the Pain Platform flags this referral${escalated ? ' and has raised its urgency from routine to urgent' : ''}`,
    expression,
  );
}
