import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';
import { isUniqueViolation } from './db.js';

export interface ReferralRecord {
  referralId: string;
  version: number;
  direction: 'outbound' | 'inbound';
  status: string;
  kind: string;
  nhsNumber: string;
  contentHash: string;
  receivedAt: string;
  updatedAt: string;
  native: unknown;
  view: unknown;
  fhir: unknown;
}

export interface AssessmentRecord {
  assessmentId: string;
  referralId: string;
  source: 'inline' | 'standalone';
  contentHash: string;
  rawBody: string;
  native: unknown;
  score: unknown;
  fhir: unknown;
  receivedAt: string;
  updatedAt: string;
  /** set when a later version of the referral left this inline assessment out */
  withdrawnInVersion?: number | null;
}

/** What is written as one referral version, besides the record itself. */
export interface VersionInput {
  /** the referral body as received (for a version made by an assessment, the referral's unchanged body) */
  rawBody: string;
  /** what made this version: `POST /referrals`, `PUT /referrals`, `POST /assessments <assessmentId>` */
  cause: string;
}

/** Thrown inside a write transaction when an id is taken; the transaction rolls back. */
export class IdConflictError extends Error {
  constructor(
    readonly entity: 'referral' | 'assessment',
    readonly id: string,
  ) {
    super(`${entity} ${id} already exists`);
  }
}

/** Thrown when a new version was written concurrently since the caller read `expectedVersion`. */
export class VersionConflictError extends Error {
  constructor(readonly currentVersion: number) {
    super('version conflict');
  }
}

export interface ListFilters {
  status?: string;
  kind?: string;
  direction?: string;
  nhsNumber?: string;
  since?: string;
  limit: number;
  /** exclusive keyset position: items strictly older than this */
  after?: { receivedAt: string; referralId: string };
}

type Row = Database['referrals'] & Pick<Database['referral_versions'], 'native_json' | 'view_json' | 'fhir_json'>;

function toRecord(row: Row): ReferralRecord {
  return {
    referralId: row.referral_id,
    version: Number(row.version),
    direction: row.direction,
    status: row.status,
    kind: row.kind,
    nhsNumber: row.nhs_number,
    contentHash: row.content_hash,
    receivedAt: row.received_at,
    updatedAt: row.updated_at,
    native: JSON.parse(row.native_json),
    view: JSON.parse(row.view_json),
    fhir: JSON.parse(row.fhir_json),
  };
}

function toAssessmentRecord(row: Database['assessments']): AssessmentRecord {
  return {
    assessmentId: row.assessment_id,
    referralId: row.referral_id,
    source: row.source,
    contentHash: row.content_hash,
    rawBody: row.raw_body,
    native: JSON.parse(row.native_json),
    score: JSON.parse(row.score_json),
    fhir: JSON.parse(row.fhir_json),
    receivedAt: row.received_at,
    updatedAt: row.updated_at,
    withdrawnInVersion: row.withdrawn_in_version === null ? null : Number(row.withdrawn_in_version),
  };
}

function assessmentRow(a: AssessmentRecord): Database['assessments'] {
  return {
    assessment_id: a.assessmentId,
    referral_id: a.referralId,
    source: a.source,
    content_hash: a.contentHash,
    raw_body: a.rawBody,
    native_json: JSON.stringify(a.native),
    score_json: JSON.stringify(a.score),
    fhir_json: JSON.stringify(a.fhir),
    received_at: a.receivedAt,
    updated_at: a.updatedAt,
    withdrawn_in_version: a.withdrawnInVersion ?? null,
  };
}

async function insertAssessmentRows(trx: Transaction<Database>, assessments: AssessmentRecord[]): Promise<void> {
  for (const a of assessments) {
    try {
      await trx.insertInto('assessments').values(assessmentRow(a)).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new IdConflictError('assessment', a.assessmentId);
      throw err;
    }
  }
}

/** Referral reads and writes. Every write is one transaction: all of it is stored, or none. */
export class ReferralRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** The referral with the content of its current version. */
  private current() {
    return this.db
      .selectFrom('referrals as r')
      .innerJoin('referral_versions as v', (join) => join.onRef('v.referral_id', '=', 'r.referral_id').onRef('v.version', '=', 'r.version'))
      .selectAll('r')
      .select(['v.native_json', 'v.view_json', 'v.fhir_json']);
  }

  async get(referralId: string): Promise<ReferralRecord | undefined> {
    const row = await this.current().where('r.referral_id', '=', referralId).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async countVersions(referralId: string): Promise<number> {
    const row = await this.db
      .selectFrom('referral_versions')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where('referral_id', '=', referralId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async getVersion(referralId: string, version: number) {
    return this.db
      .selectFrom('referral_versions')
      .selectAll()
      .where('referral_id', '=', referralId)
      .where('version', '=', version)
      .executeTakeFirst();
  }

  /**
   * Stores a new referral (version 1) with its raw body and inline assessments.
   * The unique key does the duplicate check (never search-then-insert), so two concurrent
   * creates of one id cannot both succeed: the loser gets IdConflictError.
   */
  async create(record: ReferralRecord, input: VersionInput, assessments: AssessmentRecord[]): Promise<void> {
    await this.db.transaction().execute((trx) => this.createIn(trx, record, input, assessments));
  }

  /** create() inside the caller's transaction (e.g. with the FHIR resources it came from). */
  async createIn(trx: Transaction<Database>, record: ReferralRecord, input: VersionInput, assessments: AssessmentRecord[]): Promise<void> {
    try {
      await trx.insertInto('referrals').values(referralRow(record)).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new IdConflictError('referral', record.referralId);
      throw err;
    }
    await trx.insertInto('referral_versions').values(versionRow(record, input)).execute();
    await insertAssessmentRows(trx, assessments);
  }

  /**
   * Writes version `record.version` over `record.version - 1` (VersionConflictError if another write
   * came first). Inline assessments are brought up to date; those the new version leaves out are marked
   * withdrawn, not deleted. An assessment posted on its own is never overwritten by an inline one.
   */
  async update(record: ReferralRecord, input: VersionInput, assessments: AssessmentRecord[]): Promise<void> {
    await this.db.transaction().execute((trx) => this.updateIn(trx, record, input, assessments));
  }

  /** update() inside the caller's transaction. */
  async updateIn(trx: Transaction<Database>, record: ReferralRecord, input: VersionInput, assessments: AssessmentRecord[]): Promise<void> {
    await writeNextVersion(trx, record, input);
    for (const a of assessments) {
      const owner = await trx
        .selectFrom('assessments')
        .select(['referral_id', 'source', 'content_hash'])
        .where('assessment_id', '=', a.assessmentId)
        .executeTakeFirst();
      if (!owner) {
        await insertAssessmentRows(trx, [a]);
      } else if (owner.referral_id !== a.referralId || (owner.source === 'standalone' && owner.content_hash !== a.contentHash)) {
        throw new IdConflictError('assessment', a.assessmentId);
      } else if (owner.source === 'inline') {
        await trx
          .updateTable('assessments')
          .set(withoutKeys(assessmentRow({ ...a, withdrawnInVersion: null }), ['assessment_id', 'received_at']))
          .where('assessment_id', '=', a.assessmentId)
          .execute();
      }
    }
    let withdrawn = trx
      .updateTable('assessments')
      .set({ withdrawn_in_version: record.version })
      .where('referral_id', '=', record.referralId)
      .where('source', '=', 'inline')
      .where('withdrawn_in_version', 'is', null);
    if (assessments.length > 0) withdrawn = withdrawn.where('assessment_id', 'not in', assessments.map((a) => a.assessmentId));
    await withdrawn.execute();
  }

  async list(filters: ListFilters): Promise<ReferralRecord[]> {
    let query = this.current();
    if (filters.status) query = query.where('r.status', '=', filters.status);
    if (filters.kind) query = query.where('r.kind', '=', filters.kind);
    if (filters.direction) query = query.where('r.direction', '=', filters.direction as ReferralRecord['direction']);
    if (filters.nhsNumber) query = query.where('r.nhs_number', '=', filters.nhsNumber);
    if (filters.since) query = query.where('r.updated_at', '>=', filters.since);
    const after = filters.after;
    if (after) {
      query = query.where((eb) =>
        eb.or([eb('r.received_at', '<', after.receivedAt), eb.and([eb('r.received_at', '=', after.receivedAt), eb('r.referral_id', '<', after.referralId)])]),
      );
    }
    const rows = await query.orderBy('r.received_at', 'desc').orderBy('r.referral_id', 'desc').limit(filters.limit).execute();
    return rows.map(toRecord);
  }

  async getAssessment(assessmentId: string): Promise<AssessmentRecord | undefined> {
    const row = await this.db.selectFrom('assessments').selectAll().where('assessment_id', '=', assessmentId).executeTakeFirst();
    return row ? toAssessmentRecord(row) : undefined;
  }

  async listAssessments(referralId: string): Promise<AssessmentRecord[]> {
    const rows = await this.db.selectFrom('assessments').selectAll().where('referral_id', '=', referralId).orderBy('received_at').orderBy('assessment_id').execute();
    return rows.map(toAssessmentRecord);
  }

  /**
   * Stores an assessment posted on its own together with the referral version that now includes it
   * (its QuestionnaireResponse in the Bundle, its score, any risk it raises): both or neither.
   */
  async createAssessment(record: AssessmentRecord, referralVersion: { record: ReferralRecord; input: VersionInput }): Promise<void> {
    await this.db.transaction().execute((trx) => this.createAssessmentIn(trx, record, referralVersion));
  }

  /** createAssessment() inside the caller's transaction. */
  async createAssessmentIn(
    trx: Transaction<Database>,
    record: AssessmentRecord,
    referralVersion: { record: ReferralRecord; input: VersionInput },
  ): Promise<void> {
    await insertAssessmentRows(trx, [record]);
    await writeNextVersion(trx, referralVersion.record, referralVersion.input);
  }
}

async function writeNextVersion(trx: Transaction<Database>, record: ReferralRecord, input: VersionInput): Promise<void> {
  const result = await trx
    .updateTable('referrals')
    .set(withoutKeys(referralRow(record), ['referral_id', 'received_at']))
    .where('referral_id', '=', record.referralId)
    .where('version', '=', record.version - 1)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) {
    const current = await trx.selectFrom('referrals').select('version').where('referral_id', '=', record.referralId).executeTakeFirst();
    throw new VersionConflictError(current ? Number(current.version) : 0);
  }
  await trx.insertInto('referral_versions').values(versionRow(record, input)).execute();
}

function referralRow(r: ReferralRecord): Database['referrals'] {
  return {
    referral_id: r.referralId,
    version: r.version,
    direction: r.direction,
    status: r.status,
    kind: r.kind,
    nhs_number: r.nhsNumber,
    content_hash: r.contentHash,
    received_at: r.receivedAt,
    updated_at: r.updatedAt,
  };
}

function versionRow(r: ReferralRecord, input: VersionInput): Database['referral_versions'] {
  return {
    referral_id: r.referralId,
    version: r.version,
    raw_body: input.rawBody,
    cause: input.cause,
    native_json: JSON.stringify(r.native),
    view_json: JSON.stringify(r.view),
    fhir_json: JSON.stringify(r.fhir),
    content_hash: r.contentHash,
    received_at: r.updatedAt,
  };
}

/** The first receipt time and the key never change on update. */
function withoutKeys<T extends object, K extends keyof T>(row: T, keys: K[]): Omit<T, K> {
  const copy = { ...row };
  for (const k of keys) delete copy[k];
  return copy;
}
