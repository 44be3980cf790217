import type { NativeAssessment, NativeReferral, RiskFinding } from '../native/types.js';
import { validateAssessment } from '../native/schema.js';
import { checkAssessmentTotal, scoreAssessment } from '../questionnaires/scoring.js';
import { assessmentRiskSource } from '../questionnaires/risk.js';
import { contentHash } from '../util/canonical-json.js';
import { parseJsonBody } from '../util/json-body.js';
import { type AssessmentRecord, IdConflictError, type ReferralRecord, type ReferralRepository } from '../store/referrals.repo.js';
import { NativeApiError } from './errors.js';
import type { ReferralMapper, ResourceValidator } from './ports.js';
import { deriveReferral, type ReferralViewExtras, withVersionRetry } from './referral-state.js';

export interface AssessmentServiceDeps {
  repo: ReferralRepository;
  mapper: ReferralMapper;
  validator: ResourceValidator;
  now?: () => Date;
}

/** What GET /assessments/{id} answers: the assessment as sent plus its score, risk and FHIR place. */
export function assessmentView(record: AssessmentRecord): Record<string, unknown> {
  const native = record.native as NativeAssessment;
  return {
    ...native,
    referralId: native.referralId ?? record.referralId,
    receivedAt: record.receivedAt,
    source: record.source,
    ...(record.withdrawnInVersion ? { withdrawnInVersion: record.withdrawnInVersion } : {}),
    score: record.score,
    risk: assessmentRisk(native),
    fhir: { referralBundle: `/referrals/${encodeURIComponent(record.referralId)}/fhir` },
  };
}

/** The self-harm part of the risk rule, for one assessment. */
function assessmentRisk(a: NativeAssessment): Pick<RiskFinding, 'selfHarm' | 'source'> {
  const source = assessmentRiskSource(a);
  return { selfHarm: source !== undefined, source: source ? [source] : [] };
}

export class AssessmentService {
  private readonly now: () => Date;

  constructor(private readonly deps: AssessmentServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * An assessment posted on its own joins its referral: the referral gets a new version whose Bundle
   * carries the assessment's QuestionnaireResponse and whose view carries its score, and, when it
   * fires the risk rule, the Flag and the raised urgency. Assessment and version are one transaction.
   */
  async create(rawBody: string): Promise<{ status: 200 | 201; view: Record<string, unknown> }> {
    const input = parseJsonBody(rawBody);
    const { value: assessment, problems } = validateAssessment(input, this.now());
    if (!assessment || problems.length > 0) throw new NativeApiError(400, 'The assessment breaks the native format rules', problems);
    const totalProblem = checkAssessmentTotal(assessment);
    if (totalProblem) throw new NativeApiError(422, 'The total score does not match the answers', [totalProblem]);

    const hash = contentHash(assessment);
    const repeat = await this.answerRepeat(assessment.assessmentId, hash);
    if (repeat) return repeat;

    return withVersionRetry(async () => {
      const referral = await this.referralOf(assessment);
      const at = this.now().toISOString();
      const others = (await this.deps.repo.listAssessments(referral.referralId)).filter((a) => a.source === 'standalone').map((a) => a.native as NativeAssessment);
      const derived = deriveReferral(this.deps, {
        referral: referral.native as NativeReferral,
        standalone: [...others, assessment],
        earlierRiskSources: (referral.view as ReferralViewExtras).risk.source,
      });
      const qr = derived.bundle.entry?.find((e) => e.resource?.resourceType === 'QuestionnaireResponse' && (e.resource as { identifier?: { value?: string } }).identifier?.value === assessment.assessmentId);
      const record: AssessmentRecord = {
        assessmentId: assessment.assessmentId,
        referralId: referral.referralId,
        source: 'standalone',
        contentHash: hash,
        rawBody,
        native: assessment,
        score: scoreAssessment(assessment),
        fhir: qr?.resource ?? null,
        receivedAt: at,
        updatedAt: at,
      };
      const version: ReferralRecord = { ...referral, version: referral.version + 1, updatedAt: at, view: derived.extras, fhir: derived.bundle };
      const previous = await this.deps.repo.getVersion(referral.referralId, referral.version);
      try {
        await this.deps.repo.createAssessment(record, { record: version, input: { rawBody: previous!.raw_body, cause: `POST /assessments ${assessment.assessmentId}` } });
      } catch (err) {
        if (!(err instanceof IdConflictError)) throw err;
        const answer = await this.answerRepeat(assessment.assessmentId, hash);
        if (answer) return answer;
        throw err;
      }
      return { status: 201 as const, view: assessmentView(record) };
    });
  }

  async get(assessmentId: string): Promise<Record<string, unknown>> {
    const record = await this.deps.repo.getAssessment(assessmentId);
    if (!record) throw new NativeApiError(404, `No assessment ${assessmentId}`, [{ path: 'assessmentId', message: 'no assessment with this id', allowed: 'the id of a stored assessment' }]);
    return assessmentView(record);
  }

  private async referralOf(assessment: NativeAssessment): Promise<ReferralRecord> {
    const referral = await this.deps.repo.get(assessment.referralId!);
    if (!referral) {
      throw new NativeApiError(404, `No referral ${assessment.referralId}`, [{ path: 'referralId', message: 'no referral with this id', allowed: 'the referralId of a stored referral' }]);
    }
    return referral;
  }

  /** The same assessment again is answered with the stored one (200); other content under its id is 409. */
  private async answerRepeat(assessmentId: string, hash: string): Promise<{ status: 200; view: Record<string, unknown> } | undefined> {
    const existing = await this.deps.repo.getAssessment(assessmentId);
    if (!existing) return undefined;
    if (existing.contentHash === hash && existing.source === 'standalone') return { status: 200, view: assessmentView(existing) };
    throw new NativeApiError(409, `Assessment ${assessmentId} already exists with different content`, [
      { path: 'assessmentId', message: 'already used by another assessment', allowed: 'a new assessmentId' },
    ]);
  }
}
