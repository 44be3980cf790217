// The clinical-safety risk rule (native-format.md "Risk rule"): a PHQ-9 whose item 9 (thoughts of
// self-harm) is above 0, or riskFlags holding self-harm, is a self-harm risk; a routine referral is then
// raised to urgent. Urgency is never lowered and a referral is never dropped because of risk.
// Reasons name the item, its value and the assessment id only: no patient data.

import type { NativeAssessment, NativeReferral, RiskFinding, Urgency } from '../native/types.js';

/** The reason one assessment fires the rule (`PHQ-9 item 9 = 1 in assessment PP-A-000320`), or undefined. */
export function assessmentRiskSource(a: NativeAssessment): string | undefined {
  if (a.instrument !== 'PHQ-9' || a.status === 'entered-in-error') return undefined;
  const item9 = a.answers?.['9'];
  return typeof item9 === 'number' && item9 > 0 ? `PHQ-9 item 9 = ${item9} in assessment ${a.assessmentId}` : undefined;
}

/**
 * What the rule finds in a referral: every reason, in the order assessments, riskFlags, then
 * `separateSources` (findings of assessments posted on their own for this referral, which must keep
 * counting when the referral is later replaced without them: urgency is never lowered).
 */
export function evaluateRisk(referral: NativeReferral, separateSources: readonly string[] = []): RiskFinding {
  const source: string[] = [];
  for (const a of referral.assessments ?? []) {
    const reason = assessmentRiskSource(a);
    if (reason) source.push(reason);
  }
  if ((referral.riskFlags ?? []).includes('self-harm')) source.push('riskFlags: self-harm');
  source.push(...separateSources);
  const selfHarm = source.length > 0;
  return { selfHarm, source, escalated: selfHarm && referral.urgency === 'routine' };
}

export interface RiskRuleResult {
  /** the urgency to emit: urgent when the rule fired, otherwise as sent (never lowered) */
  urgency: Urgency;
  finding: RiskFinding;
  /** the ServiceRequest.note text when the rule fired */
  note?: string;
}

/** Applies the rule: the urgency after it, the finding, and the note saying why. */
export function applyRiskRule(referral: NativeReferral, separateSources: readonly string[] = []): RiskRuleResult {
  const finding = evaluateRisk(referral, separateSources);
  if (!finding.selfHarm) return { urgency: referral.urgency, finding };
  const reasons = finding.source.join('; ');
  if (finding.escalated) {
    return {
      urgency: 'urgent',
      finding,
      note: `Risk rule: urgency raised from routine to urgent because ${reasons}.`,
    };
  }
  return {
    urgency: referral.urgency,
    finding,
    note: `Risk rule: self-harm risk found (${reasons}); urgency already ${referral.urgency}.`,
  };
}
