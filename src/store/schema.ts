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

/** The current version of a FHIR resource received at /fhir. */
export interface FhirResourcesTable {
  resource_type: string;
  id: string;
  version_id: number;
  last_updated: string;
  /** the resource as stored, meta.versionId and meta.lastUpdated included */
  resource_json: string;
}

/** Every version of every FHIR resource (the current one included). */
export type FhirResourceVersionsTable = FhirResourcesTable;

/** One row per (type, identifier system|value): its primary key is the duplicate guard. */
export interface FhirIdentifiersTable {
  resource_type: string;
  system: string;
  value: string;
  id: string;
}

/** One row per indexed search value of a current resource version. */
export interface FhirSearchIndexTable {
  resource_type: string;
  id: string;
  param: string;
  system: string | null;
  value: string;
  /** dates: the UTC instant range the value covers (ISO-8601, millisecond precision) */
  low: string | null;
  high: string | null;
}

/** The response given to an X-Request-ID, for replay. */
export interface RequestLogTable {
  request_id: string;
  body_hash: string;
  method: string;
  url: string;
  status: number;
  headers_json: string;
  body_text: string;
  content_type: string;
  created_at: string;
}

export interface Database {
  referrals: ReferralsTable;
  referral_versions: ReferralVersionsTable;
  assessments: AssessmentsTable;
  fhir_resources: FhirResourcesTable;
  fhir_resource_versions: FhirResourceVersionsTable;
  fhir_identifiers: FhirIdentifiersTable;
  fhir_search_index: FhirSearchIndexTable;
  request_log: RequestLogTable;
}
