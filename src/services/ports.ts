import type { Bundle, OperationOutcomeIssue, QuestionnaireResponse } from 'fhir/r4.js';
import type { NativeReferral } from '../native/types.js';

// What the native services need from the mapping and validation modules. Kept as small interfaces
// so that the services depend on behaviour, not on how mappings/ or profiles/ are loaded.

export interface RiskDecision {
  urgency: 'routine' | 'urgent';
  riskNote?: string;
  /** the self-harm Flag exists only because of an answer, not because the platform sent the flag */
  selfHarmFromRule: boolean;
}

export interface ReferralMapper {
  referralToBundle(referral: NativeReferral, decision: RiskDecision): Bundle;
}

export interface ResourceValidator {
  /** every issue found; an empty list (or only warnings) means valid */
  validate(resource: Bundle | QuestionnaireResponse): OperationOutcomeIssue[];
}
