import type { Bundle, Reference } from 'fhir/r4.js';
import type { AssessmentScore, NativeAssessment, NativeReferral, RiskFinding } from '../native/types.js';
import { validateAssessment } from '../native/schema.js';
import { checkTotals, scoreAssessment } from '../questionnaires/scoring.js';
import { assessmentRiskSource } from '../questionnaires/risk.js';
import { contentHash } from '../util/canonical-json.js';
import { parseJsonBody } from '../util/json-body.js';
import { type AssessmentRecord, IdConflictError, type ReferralRecord, type ReferralRepository, VersionConflictError } from '../store/referrals.repo.js';
import { NativeApiError } from './errors.js';
import type { ReferralMapper, ResourceValidator } from './ports.js';
import { deriveReferral, rejectInvalidFhir, separateRiskSources } from './referrals.service.js';

export interface AssessmentServiceDeps {
  repo: ReferralRepository;
  mapper: ReferralMapper;
  validator: ResourceValidator;
  now?: () => Date;
}

/** What GET /assessments/{id} answers: the assessment as sent plus its score, risk and FHIR id. */
export function assessmentView(record: AssessmentRecord): Record<string, unknown> {
  const fhir = record.fhir as { resourceType?: string; id?: string } | null;
  const native = record.native as NativeAssessment;
  return {
    ...native,
    referralId: native.referralId ?? record.referralId,
    receivedAt: record.receivedAt,
    source: record.source,
    score: record.score,
    risk: assessmentRisk(native),
    fhir: fhir?.id ? { questionnaireResponse: `QuestionnaireResponse/${fhir.id}` } : {},
  };
}

/** The self-harm part of the risk rule, for one assessment on its own. */
function assessmentRisk(a: NativeAssessment): Pick<RiskFinding, 'selfHarm' | 'source'> {
  const source = assessmentRiskSource(a);
  return { selfHarm: source !== undefined, source: source ? [source] : [] };
}

export class AssessmentService {
  private readonly now: () => Date;

  constructor(private readonly deps: AssessmentServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async create(rawBody: string): Promise<{ status: 200 | 201; view: Record<string, unknown> }> {
    const input = parseJsonBody(rawBody);
    const { value: assessment, problems } = validateAssessment(input, this.now());
    if (!assessment || problems.length > 0) throw new NativeApiError(400, 'The assessment breaks the native format rules', problems);

    const referralId = assessment.referralId!;
    const referral = await this.deps.repo.get(referralId);
    if (!referral) {
      throw new NativeApiError(404, `No referral ${referralId}`, [{ path: 'referralId', message: 'no referral with this id', allowed: 'the referralId of a stored referral' }]);
    }
    const totalProblems = checkTotals([assessment], '').map((p) => ({ ...p, path: p.path.replace(/^\[0\]\.?/, '') }));
    if (totalProblems.length > 0) throw new NativeApiError(422, 'The total score does not match the answers', totalProblems);

    const qr = this.deps.mapper.assessmentToQuestionnaireResponse(assessment, referencesOf(referral.fhir as Bundle));
    rejectInvalidFhir(this.deps.validator.validate(qr));

    const at = this.now().toISOString();
    const score: AssessmentScore = scoreAssessment(assessment);
    const record: AssessmentRecord = {
      assessmentId: assessment.assessmentId,
      referralId,
      source: 'standalone',
      contentHash: contentHash(assessment),
      rawBody,
      native: assessment,
      score,
      fhir: qr,
      receivedAt: at,
      updatedAt: at,
    };
    try {
      await this.deps.repo.createAssessment(record, await this.riskVersion(referral, assessment, rawBody, at));
    } catch (err) {
      if (err instanceof VersionConflictError) {
        throw new NativeApiError(409, `Referral ${referralId} changed while this assessment was stored; send it again`, [
          { path: 'referralId', message: 'concurrent update of the referral', allowed: 'a retry of the same request' },
        ]);
      }
      if (!(err instanceof IdConflictError)) throw err;
      const existing = await this.deps.repo.getAssessment(assessment.assessmentId);
      if (existing && existing.contentHash === record.contentHash) return { status: 200, view: assessmentView(existing) };
      throw new NativeApiError(409, `Assessment ${assessment.assessmentId} already exists with different content`, [
        { path: 'assessmentId', message: 'already used by an assessment with different content', allowed: 'a new assessmentId' },
      ]);
    }
    return { status: 201, view: assessmentView(record) };
  }

  /**
   * A self-harm finding must never sit in a routine queue: when this assessment fires the risk rule,
   * the referral gets a new version (urgent, with the Flag and a note) written with the assessment.
   */
  private async riskVersion(referral: ReferralRecord, assessment: NativeAssessment, rawBody: string, at: string) {
    const source = assessmentRiskSource(assessment);
    if (!source) return undefined;
    const sources = [...(await separateRiskSources(this.deps.repo, referral.referralId)), source];
    const { bundle, extras } = deriveReferral(this.deps, referral.native as NativeReferral, sources);
    const record: ReferralRecord = { ...referral, version: referral.version + 1, updatedAt: at, view: extras, fhir: bundle };
    return { record, rawBody };
  }

  async get(assessmentId: string): Promise<Record<string, unknown>> {
    const record = await this.deps.repo.getAssessment(assessmentId);
    if (!record) throw new NativeApiError(404, `No assessment ${assessmentId}`, [{ path: 'assessmentId', message: 'no assessment with this id', allowed: 'the id of a stored assessment' }]);
    return assessmentView(record);
  }
}

/** A standalone assessment points at the Patient and ServiceRequest its referral was mapped to. */
function referencesOf(bundle: Bundle): { patientRef: Reference; serviceRequestRef?: Reference } {
  const find = (type: string) => bundle.entry?.find((e) => e.resource?.resourceType === type)?.resource;
  const patient = find('Patient') as { id: string; identifier?: Reference['identifier'][] } | undefined;
  const serviceRequest = find('ServiceRequest') as { id: string; identifier?: Reference['identifier'][] } | undefined;
  return {
    patientRef: { reference: `Patient/${patient?.id}`, identifier: patient?.identifier?.[0] },
    serviceRequestRef: serviceRequest ? { reference: `ServiceRequest/${serviceRequest.id}`, identifier: serviceRequest.identifier?.[0] } : undefined,
  };
}
