// The Pain Platform's own JSON (../shared/spec/native-format.md), version 1.
// These types describe what the platform sends; the joi schemas in ./schema.ts enforce the rules.

export type ReferralStatus = 'active' | 'on-hold' | 'completed' | 'cancelled' | 'entered-in-error';
export type ReferralKind = 'new' | 'step-up' | 'step-down';
export type CareStep = 1 | 2 | 3;
export type Urgency = 'routine' | 'urgent';
export type PrimaryCondition = 'chronic-widespread-pain' | 'fibromyalgia' | 'chronic-pain-other';
export type Gender = 'male' | 'female' | 'other' | 'unknown';
export type ReferrerRole = 'gp' | 'pwp' | 'pain-consultant' | 'physiotherapist' | 'nurse';
export type ContactMethod = 'telephone' | 'video' | 'face-to-face';
export type RiskFlag = 'self-harm' | 'safeguarding' | 'lone-worker-risk';
export type Instrument = 'PHQ-9' | 'GAD-7' | 'PEG';
export type AssessmentStatus = 'completed' | 'in-progress' | 'amended' | 'entered-in-error';
export type AssessmentMode = 'telephone' | 'online' | 'paper' | 'in-person';

export interface PersonName {
  given: string[];
  family: string;
  prefix?: string;
}

export interface OdsRef {
  odsCode: string;
}

export interface NativePatient {
  nhsNumber: string;
  name: PersonName;
  birthDate: string;
  gender: Gender;
  address?: { lines: string[]; city?: string; postcode: string };
  phone?: string;
  email?: string;
  gpPractice?: OdsRef;
}

export interface NativeReferrer {
  sdsUserId: string;
  name: PersonName;
  odsCode: string;
  role?: ReferrerRole;
}

export interface NativePreferences {
  contactMethod?: ContactMethod;
  language?: string;
  interpreterRequired?: boolean;
  availability?: string;
}

export interface NativeAssessment {
  assessmentId: string;
  referralId?: string;
  instrument: Instrument;
  status?: AssessmentStatus;
  completedAt: string;
  mode?: AssessmentMode;
  /** item number ("1", "2", …) → integer score */
  answers: Record<string, number>;
  totalScore?: number;
}

export interface NativeReferral {
  referralId: string;
  createdAt: string;
  status: ReferralStatus;
  kind: ReferralKind;
  step: CareStep;
  urgency: Urgency;
  primaryCondition: PrimaryCondition;
  symptomDurationMonths?: number;
  clinicalSummary?: string;
  patient: NativePatient;
  referrer: NativeReferrer;
  recipient: OdsRef;
  preferences?: NativePreferences;
  riskFlags?: RiskFlag[];
  assessments?: NativeAssessment[];
}

/** What the risk rule concluded for one referral (shown as `risk` in the native view). */
export interface RiskFinding {
  selfHarm: boolean;
  /** which answer or flag fired the rule, e.g. "PHQ-9 item 9 = 2 (assessment PP-A-000320)" or "riskFlags: self-harm" */
  source: string[];
  /** true when the rule raised urgency from routine to urgent */
  escalated: boolean;
}

/** Computed score of one assessment (shown under `scores` in the native view). */
export interface AssessmentScore {
  assessmentId: string;
  instrument: Instrument;
  /** null for an in-progress assessment, which carries no total */
  total: number | null;
  band: string | null;
}
