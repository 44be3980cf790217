import type { Bundle, BundleEntry, OperationOutcomeIssue } from 'fhir/r4.js';
import type { AssessmentScore, NativeAssessment, NativeReferral, RiskFinding } from '../native/types.js';
import { scoreAssessment } from '../questionnaires/scoring.js';
import { applyRiskRule, evaluateRisk } from '../questionnaires/risk.js';
import { VersionConflictError } from '../store/referrals.repo.js';
import { NativeApiError, type Problem } from './errors.js';
import type { ReferralMapper, ResourceValidator } from './ports.js';

// What a referral looks like in FHIR and in the native view is derived from three things: the
// referral as last sent, the assessments posted on their own for it, and the self-harm findings of
// earlier versions. Findings are sticky: a later version that leaves out (or corrects) the answer
// that fired the risk rule does not lower urgency or drop the Flag; only a person can stand a
// self-harm finding down, and this service has no such action.

/** The derived parts of a stored referral that the native view shows beside the referral as sent. */
export interface ReferralViewExtras {
  risk: RiskFinding;
  scores: AssessmentScore[];
  fhir: FhirLinks;
}

/** Where each mapped resource sits in the Bundle (`urn:uuid` full URLs: ids are Bundle-local). */
export interface FhirLinks {
  bundle: string;
  serviceRequest?: string;
  patient?: string;
  questionnaireResponses: string[];
  flags: string[];
}

export interface DerivedReferral {
  bundle: Bundle;
  extras: ReferralViewExtras;
}

export interface DeriveInput {
  referral: NativeReferral;
  /** assessments posted on their own for this referral, in the order received */
  standalone?: NativeAssessment[];
  /** risk sources of the version this one replaces */
  earlierRiskSources?: string[];
}

/** The mapped, validated FHIR and the view extras of one referral version. */
export function deriveReferral(deps: { mapper: ReferralMapper; validator: ResourceValidator }, input: DeriveInput): DerivedReferral {
  const { referral } = input;
  const inlineIds = new Set((referral.assessments ?? []).map((a) => a.assessmentId));
  const standalone = (input.standalone ?? []).filter((a) => !inlineIds.has(a.assessmentId));
  // Every assessment, inline or posted on its own, becomes a QuestionnaireResponse of the Bundle.
  const effective: NativeReferral = standalone.length > 0 ? { ...referral, assessments: [...(referral.assessments ?? []), ...standalone] } : referral;

  const foundNow = evaluateRisk(effective).source;
  const carried = (input.earlierRiskSources ?? []).filter((s) => !foundNow.includes(s));
  const risk = applyRiskRule(effective, carried);
  const bundle = deps.mapper.referralToBundle(effective, {
    urgency: risk.urgency,
    riskNote: risk.note,
    selfHarmFromRule: risk.finding.selfHarm && !(referral.riskFlags ?? []).includes('self-harm'),
  });
  rejectInvalidFhir(deps.validator.validate(bundle));
  const scores = (effective.assessments ?? []).map((a) => scoreAssessment(a));
  return { bundle, extras: { risk: risk.finding, scores, fhir: fhirLinks(referral.referralId, bundle) } };
}

/** A mapped resource that fails its profile is never stored: 422 naming each FHIRPath. */
export function rejectInvalidFhir(issues: OperationOutcomeIssue[]): void {
  const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
  if (errors.length === 0) return;
  const problems: Problem[] = errors.map((i) => ({
    path: i.expression?.[0] ?? i.location?.[0] ?? '(resource)',
    message: i.details?.text ?? i.diagnostics ?? i.code,
    allowed: 'a resource that conforms to its Pain Platform profile',
  }));
  throw new NativeApiError(422, 'The mapped FHIR does not conform to the profiles', problems);
}

function fhirLinks(referralId: string, bundle: Bundle): FhirLinks {
  const entries = bundle.entry ?? [];
  const ofType = (t: string) => entries.filter((e: BundleEntry) => e.resource?.resourceType === t).map((e) => e.fullUrl!);
  return {
    bundle: `/referrals/${encodeURIComponent(referralId)}/fhir`,
    serviceRequest: ofType('ServiceRequest')[0],
    patient: ofType('Patient')[0],
    questionnaireResponses: ofType('QuestionnaireResponse'),
    flags: ofType('Flag'),
  };
}

/**
 * Runs a read-derive-write step again when another request wrote a version in between (its
 * VersionConflictError): the write never depends on what the client saw, so a bounded retry is safe.
 * After the last attempt the client is told to retry (503), never that its data conflicts.
 */
export async function withVersionRetry<T>(step: () => Promise<T>, attempts = 10): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (!(err instanceof VersionConflictError)) throw err;
      // One writer wins each round; a random pause keeps the others from colliding again in lockstep.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
      if (attempt >= attempts) {
        throw new NativeApiError(503, 'The referral is being changed by other requests; nothing was stored, send this again', [
          { path: '(request)', message: `still changing after ${attempts} attempts`, allowed: 'a retry after the Retry-After delay' },
        ], { 'retry-after': '1' });
      }
    }
  }
}
