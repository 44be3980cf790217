import type { Bundle, BundleEntry, OperationOutcomeIssue } from 'fhir/r4.js';
import type { AssessmentScore, NativeAssessment, NativeReferral, RiskFinding } from '../native/types.js';
import { validateReferral } from '../native/schema.js';
import { checkTotals, scoreAssessment } from '../questionnaires/scoring.js';
import { applyRiskRule, assessmentRiskSource } from '../questionnaires/risk.js';
import { contentHash } from '../util/canonical-json.js';
import { parseJsonBody } from '../util/json-body.js';
import { type AssessmentRecord, IdConflictError, type ListFilters, type ReferralRecord, type ReferralRepository, VersionConflictError } from '../store/referrals.repo.js';
import { NativeApiError, type Problem } from './errors.js';
import type { ReferralMapper, ResourceValidator } from './ports.js';

export interface ReferralServiceDeps {
  repo: ReferralRepository;
  mapper: ReferralMapper;
  validator: ResourceValidator;
  now?: () => Date;
}

/** The derived parts of a stored referral that the native view shows beside the referral as sent. */
export interface ReferralViewExtras {
  risk: RiskFinding;
  scores: AssessmentScore[];
  fhir: FhirLinks;
}

export interface FhirLinks {
  bundle: string;
  serviceRequest?: string;
  patient?: string;
  questionnaireResponses: string[];
  flags: string[];
}

export interface WriteResult {
  status: 200 | 201;
  view: Record<string, unknown>;
  version: number;
}

/** What GET /referrals/{id} answers: the referral as sent plus what the adapter knows of it. */
export function referralView(record: ReferralRecord): Record<string, unknown> {
  const extras = record.view as ReferralViewExtras;
  return {
    ...(record.native as object),
    version: record.version,
    receivedAt: record.receivedAt,
    updatedAt: record.updatedAt,
    direction: record.direction,
    risk: extras.risk,
    scores: extras.scores,
    fhir: extras.fhir,
    // Delivery to destinations arrives with the outbox; until a referral is routed it has none.
    delivery: [],
  };
}

/** Raw body → checked native referral → FHIR Bundle, validated; throws NativeApiError when any step says no. */
export class ReferralService {
  private readonly now: () => Date;

  constructor(private readonly deps: ReferralServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async create(rawBody: string): Promise<WriteResult> {
    const prepared = this.prepare(rawBody);
    const { referral } = prepared;
    const receivedAt = this.now().toISOString();
    const record: ReferralRecord = {
      referralId: referral.referralId,
      version: 1,
      direction: 'outbound',
      status: referral.status,
      kind: referral.kind,
      nhsNumber: referral.patient.nhsNumber,
      contentHash: prepared.hash,
      receivedAt,
      updatedAt: receivedAt,
      native: referral,
      view: prepared.extras,
      fhir: prepared.bundle,
    };
    try {
      await this.deps.repo.create(record, rawBody, this.assessmentRecords(prepared, receivedAt));
    } catch (err) {
      if (!(err instanceof IdConflictError)) throw err;
      return this.answerDuplicateCreate(err, prepared.hash, referral);
    }
    return { status: 201, view: referralView(record), version: 1 };
  }

  async replace(referralId: string, rawBody: string, ifMatch?: string): Promise<WriteResult> {
    const prepared = this.prepare(rawBody, await separateRiskSources(this.deps.repo, referralId));
    const { referral } = prepared;
    if (referral.referralId !== referralId) {
      throw new NativeApiError(400, 'referralId in the body differs from the one in the path', [
        { path: 'referralId', message: `the body says ${JSON.stringify(referral.referralId)}, the path ${JSON.stringify(referralId)}`, allowed: 'the referralId of the path' },
      ]);
    }
    const current = await this.deps.repo.get(referralId);
    if (!current) throw new NativeApiError(404, `No referral ${referralId}`, [{ path: 'referralId', message: 'no referral with this id', allowed: 'the id of a referral created with POST /referrals' }]);
    const expected = parseIfMatch(ifMatch);
    if (expected !== undefined && expected !== current.version) {
      throw new NativeApiError(412, `If-Match names version ${expected}, the current version is ${current.version}`, [
        { path: '(header) If-Match', message: `version ${expected} is not current`, allowed: `"${current.version}"` },
      ]);
    }
    if (current.contentHash === prepared.hash) return { status: 200, view: referralView(current), version: current.version };

    const updatedAt = this.now().toISOString();
    const record: ReferralRecord = {
      ...current,
      version: current.version + 1,
      status: referral.status,
      kind: referral.kind,
      nhsNumber: referral.patient.nhsNumber,
      contentHash: prepared.hash,
      updatedAt,
      native: referral,
      view: prepared.extras,
      fhir: prepared.bundle,
    };
    try {
      await this.deps.repo.update(record, rawBody, this.assessmentRecords(prepared, updatedAt));
    } catch (err) {
      if (err instanceof VersionConflictError) {
        throw new NativeApiError(409, `Referral ${referralId} was changed by another request (now version ${err.currentVersion}); read it and try again`, [
          { path: 'referralId', message: 'concurrent update', allowed: 'one update at a time; send If-Match with the version you read' },
        ]);
      }
      if (err instanceof IdConflictError) throw assessmentConflict(err.id, referral);
      throw err;
    }
    return { status: 200, view: referralView(record), version: record.version };
  }

  async get(referralId: string): Promise<ReferralRecord> {
    const record = await this.deps.repo.get(referralId);
    if (!record) throw new NativeApiError(404, `No referral ${referralId}`, [{ path: 'referralId', message: 'no referral with this id', allowed: 'the id of a stored referral' }]);
    return record;
  }

  /** Newest first, keyset-paged: the cursor is the position of the last item returned. */
  async list(query: ListQuery): Promise<{ items: Record<string, unknown>[]; next: string | null }> {
    const after = query.cursor ? decodeCursor(query.cursor) : undefined;
    const records = await this.deps.repo.list({ ...query, limit: query.limit + 1, after });
    const page = records.slice(0, query.limit);
    const last = page[page.length - 1];
    const next = records.length > query.limit && last ? encodeCursor(last) : null;
    return { items: page.map(referralView), next };
  }

  /** Everything from parsing to a validated Bundle, before anything is written. */
  private prepare(rawBody: string, separateRiskSources: string[] = []) {
    const input = parseJsonBody(rawBody);
    const { value: referral, problems } = validateReferral(input, this.now());
    if (!referral || problems.length > 0) throw new NativeApiError(400, 'The referral breaks the native format rules', problems);

    const totalProblems = checkTotals(referral.assessments ?? [], 'assessments');
    if (totalProblems.length > 0) throw new NativeApiError(422, 'A total score does not match the answers', totalProblems);

    return { referral, ...deriveReferral(this.deps, referral, separateRiskSources), hash: contentHash(referral) };
  }

  private assessmentRecords(prepared: ReturnType<ReferralService['prepare']>, at: string): AssessmentRecord[] {
    const { referral, bundle, extras } = prepared;
    const qrs = (bundle.entry ?? []).filter((e) => e.resource?.resourceType === 'QuestionnaireResponse');
    return (referral.assessments ?? []).map((assessment, i) => ({
      assessmentId: assessment.assessmentId,
      referralId: referral.referralId,
      source: 'inline' as const,
      contentHash: contentHash(assessment),
      rawBody: JSON.stringify(assessment),
      native: assessment,
      score: extras.scores[i],
      fhir: qrs[i]?.resource ?? null,
      receivedAt: at,
      updatedAt: at,
    }));
  }

  /** A create whose id exists: a retry of the same content is answered with the stored record. */
  private async answerDuplicateCreate(err: IdConflictError, hash: string, referral: NativeReferral): Promise<WriteResult> {
    if (err.entity === 'assessment') throw assessmentConflict(err.id, referral);
    const existing = await this.deps.repo.get(referral.referralId);
    const first = await this.deps.repo.getVersion(referral.referralId, 1);
    if (existing && (existing.contentHash === hash || first?.content_hash === hash)) {
      return { status: 200, view: referralView(existing), version: existing.version };
    }
    throw new NativeApiError(409, `Referral ${referral.referralId} already exists with different content`, [
      { path: 'referralId', message: 'already used by a referral with different content', allowed: 'a new referralId, or PUT /referrals/{referralId} to send a new version' },
    ]);
  }
}

/**
 * The mapped, validated FHIR and the view extras of one referral. `separateRiskSources` are
 * self-harm findings of assessments posted on their own, which keep counting for the referral.
 */
export function deriveReferral(
  deps: Pick<ReferralServiceDeps, 'mapper' | 'validator'>,
  referral: NativeReferral,
  separateRiskSources: string[],
): { bundle: Bundle; extras: ReferralViewExtras } {
  const risk = applyRiskRule(referral, separateRiskSources);
  const bundle = deps.mapper.referralToBundle(referral, {
    urgency: risk.urgency,
    riskNote: risk.note,
    selfHarmFromRule: risk.finding.selfHarm && !(referral.riskFlags ?? []).includes('self-harm'),
  });
  rejectInvalidFhir(deps.validator.validate(bundle));
  const scores = (referral.assessments ?? []).map((a) => scoreAssessment(a));
  return { bundle, extras: { risk: risk.finding, scores, fhir: fhirLinks(referral.referralId, bundle) } };
}

/** Self-harm findings of the assessments posted on their own for a referral. */
export async function separateRiskSources(repo: ReferralRepository, referralId: string): Promise<string[]> {
  const stored = await repo.listAssessments(referralId);
  return stored.filter((a) => a.source === 'standalone').flatMap((a) => assessmentRiskSource(a.native as NativeAssessment) ?? []);
}

function assessmentConflict(assessmentId: string, referral: NativeReferral): NativeApiError {
  const index = (referral.assessments ?? []).findIndex((a: NativeAssessment) => a.assessmentId === assessmentId);
  return new NativeApiError(409, `Assessment ${assessmentId} already exists`, [
    { path: `assessments[${index}].assessmentId`, message: 'already used by another assessment', allowed: 'an assessmentId not used before' },
  ]);
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
  const ref = (e: BundleEntry) => `${e.resource!.resourceType}/${e.resource!.id}`;
  const entries = bundle.entry ?? [];
  const ofType = (t: string) => entries.filter((e) => e.resource?.resourceType === t).map(ref);
  return {
    bundle: `/referrals/${encodeURIComponent(referralId)}/fhir`,
    serviceRequest: ofType('ServiceRequest')[0],
    patient: ofType('Patient')[0],
    questionnaireResponses: ofType('QuestionnaireResponse'),
    flags: ofType('Flag'),
  };
}

/** The list filters, with the opaque cursor a client sends instead of the store's keyset position. */
export type ListQuery = Omit<ListFilters, 'after'> & { cursor?: string };

function encodeCursor(r: ReferralRecord): string {
  return Buffer.from(JSON.stringify([r.receivedAt, r.referralId])).toString('base64url');
}

function decodeCursor(cursor: string): { receivedAt: string; referralId: string } {
  try {
    const [receivedAt, referralId] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof receivedAt === 'string' && typeof referralId === 'string') return { receivedAt, referralId };
  } catch {
    // fall through to the answer below
  }
  throw new NativeApiError(400, 'The cursor is not one this service gave out', [{ path: 'cursor', message: 'unreadable cursor', allowed: 'the `next` value of a previous page' }]);
}

function parseIfMatch(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const m = /^(?:W\/)?"?(\d+)"?$/.exec(header.trim());
  if (!m) throw new NativeApiError(400, 'If-Match must name a version', [{ path: '(header) If-Match', message: 'not a version', allowed: '"<version number>", as in the ETag' }]);
  return Number(m[1]);
}
