import type { NativeAssessment, NativeReferral } from '../native/types.js';
import { validateReferral } from '../native/schema.js';
import { checkTotals } from '../questionnaires/scoring.js';
import { contentHash } from '../util/canonical-json.js';
import { parseJsonBody } from '../util/json-body.js';
import { type AssessmentRecord, IdConflictError, type ListFilters, type ReferralRecord, type ReferralRepository, VersionConflictError } from '../store/referrals.repo.js';
import { NativeApiError } from './errors.js';
import type { ReferralMapper, ResourceValidator } from './ports.js';
import { type DerivedReferral, deriveReferral, type ReferralViewExtras, withVersionRetry } from './referral-state.js';

export interface ReferralServiceDeps {
  repo: ReferralRepository;
  mapper: ReferralMapper;
  validator: ResourceValidator;
  now?: () => Date;
}

export interface WriteResult {
  status: 200 | 201;
  view: Record<string, unknown>;
  version: number;
}

/** The list filters, with the opaque cursor a client sends instead of the store's keyset position. */
export type ListQuery = Omit<ListFilters, 'after'> & { cursor?: string };

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
    // A referral that arrived as FHIR keeps the sender's identifiers (and how it came) beside it.
    ...((extras as { inbound?: unknown }).inbound ? { inbound: (extras as { inbound?: unknown }).inbound } : {}),
    // Delivery to destinations arrives with the outbox; until a referral is routed it has none.
    delivery: [],
  };
}

/** A referral body that passed every native rule, with its content hash. */
interface CheckedReferral {
  referral: NativeReferral;
  hash: string;
}

/** Raw body → checked native referral → FHIR Bundle, validated → stored; NativeApiError when any step says no. */
export class ReferralService {
  private readonly now: () => Date;

  constructor(private readonly deps: ReferralServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async create(rawBody: string): Promise<WriteResult> {
    const { referral, hash } = this.check(rawBody);
    const derived = deriveReferral(this.deps, { referral });
    const receivedAt = this.now().toISOString();
    const record: ReferralRecord = {
      referralId: referral.referralId,
      version: 1,
      direction: 'outbound',
      status: referral.status,
      kind: referral.kind,
      nhsNumber: referral.patient.nhsNumber,
      contentHash: hash,
      receivedAt,
      updatedAt: receivedAt,
      native: referral,
      view: derived.extras,
      fhir: derived.bundle,
    };
    try {
      await this.deps.repo.create(record, { rawBody, cause: 'POST /referrals' }, inlineAssessmentRecords(referral, derived, receivedAt));
    } catch (err) {
      if (!(err instanceof IdConflictError)) throw err;
      return this.answerDuplicateCreate(err, hash, referral);
    }
    return { status: 201, view: referralView(record), version: 1 };
  }

  async replace(referralId: string, rawBody: string, ifMatch?: string): Promise<WriteResult> {
    const { referral, hash } = this.check(rawBody);
    if (referral.referralId !== referralId) {
      throw new NativeApiError(400, 'referralId in the body differs from the one in the path', [
        { path: 'referralId', message: `the body says ${JSON.stringify(referral.referralId)}, the path ${JSON.stringify(referralId)}`, allowed: 'the referralId of the path' },
      ]);
    }
    const expected = parseIfMatch(ifMatch);
    const attempt = async (): Promise<WriteResult> => {
      const current = await this.get(referralId);
      // A resend of what is already stored is answered as success, whatever If-Match it carries:
      // the client's first attempt may have succeeded with its answer lost.
      if (current.contentHash === hash) return { status: 200, view: referralView(current), version: current.version };
      if (expected !== undefined && expected !== current.version) {
        throw new NativeApiError(412, `If-Match names version ${expected}, the current version is ${current.version}`, [
          { path: '(header) If-Match', message: `version ${expected} is not current`, allowed: `"${current.version}"` },
        ]);
      }
      const standalone = await this.standaloneAssessments(referralId);
      const derived = deriveReferral(this.deps, { referral, standalone, earlierRiskSources: (current.view as ReferralViewExtras).risk.source });
      const updatedAt = this.now().toISOString();
      const record: ReferralRecord = {
        ...current,
        version: current.version + 1,
        status: referral.status,
        kind: referral.kind,
        nhsNumber: referral.patient.nhsNumber,
        contentHash: hash,
        updatedAt,
        native: referral,
        view: derived.extras,
        fhir: derived.bundle,
      };
      try {
        await this.deps.repo.update(record, { rawBody, cause: 'PUT /referrals' }, inlineAssessmentRecords(referral, derived, updatedAt));
      } catch (err) {
        if (err instanceof IdConflictError) throw assessmentConflict(err.id, referral);
        if (err instanceof VersionConflictError && expected !== undefined) {
          throw new NativeApiError(412, `Referral ${referralId} changed while this update was prepared (now version ${err.currentVersion})`, [
            { path: '(header) If-Match', message: `version ${expected} is no longer current`, allowed: `"${err.currentVersion}"` },
          ]);
        }
        throw err;
      }
      return { status: 200, view: referralView(record), version: record.version };
    };
    return withVersionRetry(attempt);
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

  private async standaloneAssessments(referralId: string): Promise<NativeAssessment[]> {
    const stored = await this.deps.repo.listAssessments(referralId);
    return stored.filter((a) => a.source === 'standalone').map((a) => a.native as NativeAssessment);
  }

  /** Parsing and the native rules (400), then the totals (422): nothing is written before both pass. */
  private check(rawBody: string): CheckedReferral {
    const input = parseJsonBody(rawBody);
    const { value: referral, problems } = validateReferral(input, this.now());
    if (!referral || problems.length > 0) throw new NativeApiError(400, 'The referral breaks the native format rules', problems);
    const totalProblems = checkTotals(referral.assessments ?? [], 'assessments');
    if (totalProblems.length > 0) throw new NativeApiError(422, 'A total score does not match the answers', totalProblems);
    return { referral, hash: contentHash(referral) };
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

/** The inline assessments of a referral version, each with its score and QuestionnaireResponse. */
export function inlineAssessmentRecords(referral: NativeReferral, derived: DerivedReferral, at: string): AssessmentRecord[] {
  const qrs = (derived.bundle.entry ?? []).filter((e) => e.resource?.resourceType === 'QuestionnaireResponse');
  return (referral.assessments ?? []).map((assessment, i) => ({
    assessmentId: assessment.assessmentId,
    referralId: referral.referralId,
    source: 'inline' as const,
    contentHash: contentHash(assessment),
    rawBody: JSON.stringify(assessment),
    native: assessment,
    score: derived.extras.scores[i],
    fhir: qrs[i]?.resource ?? null,
    receivedAt: at,
    updatedAt: at,
  }));
}

function assessmentConflict(assessmentId: string, referral: NativeReferral): NativeApiError {
  const index = (referral.assessments ?? []).findIndex((a) => a.assessmentId === assessmentId);
  return new NativeApiError(409, `Assessment ${assessmentId} already exists with different content`, [
    { path: `assessments[${index}].assessmentId`, message: 'already used by another assessment (of another referral, or posted on its own with different content)', allowed: 'an assessmentId not used before' },
  ]);
}

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

/** `"3"`, `W/"3"` or `3` → 3; `*` (any version) → undefined. */
function parseIfMatch(header: string | undefined): number | undefined {
  if (!header || header.trim() === '*') return undefined;
  const m = /^(?:W\/)?"?(\d+)"?$/.exec(header.trim());
  if (!m) throw new NativeApiError(400, 'If-Match must name a version', [{ path: '(header) If-Match', message: 'not a version', allowed: '"<version number>", as in the ETag, or *' }]);
  return Number(m[1]);
}
