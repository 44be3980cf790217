// One schema for SQLite and PostgreSQL: text and integer columns only, timestamps as ISO-8601 UTC
// strings (they sort correctly as text in both), JSON as text so that what was stored is what is read.

/** One row per referral: what lists and filters need, and which version is current. */
export interface ReferralsTable {
  referral_id: string;
  version: number;
  direction: 'outbound' | 'inbound';
  status: string;
  kind: string;
  nhs_number: string;
  content_hash: string;
  received_at: string;
  updated_at: string;
}

/** Every version of every referral, with its content (the current one is referrals.version). */
export interface ReferralVersionsTable {
  referral_id: string;
  version: number;
  /** the request body exactly as received, before any parsing */
  raw_body: string;
  /** the native referral as sent */
  native_json: string;
  /** derived view parts: risk, scores, fhir links */
  view_json: string;
  /** the mapped, validated FHIR transaction Bundle */
  fhir_json: string;
  content_hash: string;
  received_at: string;
  /** what made this version: `POST /referrals`, `PUT /referrals`, or `POST /assessments <assessmentId>` */
  cause: string;
}

export interface AssessmentsTable {
  assessment_id: string;
  referral_id: string;
  /** 'inline' when it arrived inside a referral, 'standalone' when posted to /assessments */
  source: 'inline' | 'standalone';
  content_hash: string;
  raw_body: string;
  native_json: string;
  score_json: string;
  fhir_json: string;
  received_at: string;
  updated_at: string;
  /** an inline assessment left out of a later version of its referral: that version's number */
  withdrawn_in_version: number | null;
}

export interface Database {
  referrals: ReferralsTable;
  referral_versions: ReferralVersionsTable;
  assessments: AssessmentsTable;
}
