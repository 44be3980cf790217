import { describe, expect, test } from 'vitest';
import type { NativeReferral } from '../../../src/native/types.js';
import { applyRiskRule, assessmentRiskSource, evaluateRisk } from '../../../src/questionnaires/risk.js';
import { REMOVE, newAtRisk, stepUp, withChange } from '../native/fixtures.js';

// referral-step-up.json: routine, no riskFlags, PHQ-9 PP-A-000311 with item 9 = 0.
const base = stepUp();

type Expect = { urgency: 'routine' | 'urgent'; selfHarm: boolean; source: string[]; escalated: boolean; note?: string };

const cases: Array<[string, NativeReferral, Expect]> = [
  ['PHQ-9 item 9 = 0: no risk', base, { urgency: 'routine', selfHarm: false, source: [], escalated: false }],
  [
    'PHQ-9 item 9 = 1 on routine: raised to urgent',
    withChange(base, 'assessments.0.answers.9', 1),
    {
      urgency: 'urgent',
      selfHarm: true,
      source: ['PHQ-9 item 9 = 1 in assessment PP-A-000311'],
      escalated: true,
      note: 'Risk rule: urgency raised from routine to urgent because PHQ-9 item 9 = 1 in assessment PP-A-000311.',
    },
  ],
  [
    'PHQ-9 item 9 = 3 on urgent: self-harm but not escalated',
    withChange(withChange(base, 'assessments.0.answers.9', 3), 'urgency', 'urgent'),
    {
      urgency: 'urgent',
      selfHarm: true,
      source: ['PHQ-9 item 9 = 3 in assessment PP-A-000311'],
      escalated: false,
      note: 'Risk rule: self-harm risk found (PHQ-9 item 9 = 3 in assessment PP-A-000311); urgency already urgent.',
    },
  ],
  [
    'riskFlags self-harm on routine',
    withChange(base, 'riskFlags', ['self-harm']),
    {
      urgency: 'urgent',
      selfHarm: true,
      source: ['riskFlags: self-harm'],
      escalated: true,
      note: 'Risk rule: urgency raised from routine to urgent because riskFlags: self-harm.',
    },
  ],
  ['riskFlags safeguarding and lone-worker-risk only: no self-harm', withChange(base, 'riskFlags', ['safeguarding', 'lone-worker-risk']), { urgency: 'routine', selfHarm: false, source: [], escalated: false }],
  [
    'entered-in-error PHQ-9 with item 9 = 2 is ignored',
    withChange(base, 'assessments.0', { ...base.assessments![0]!, status: 'entered-in-error', answers: { ...base.assessments![0]!.answers, '9': 2 } }),
    { urgency: 'routine', selfHarm: false, source: [], escalated: false },
  ],
  [
    'in-progress PHQ-9 with item 9 = 2 counts',
    withChange(base, 'assessments.0', { ...base.assessments![0]!, status: 'in-progress', answers: { '9': 2 } }),
    {
      urgency: 'urgent',
      selfHarm: true,
      source: ['PHQ-9 item 9 = 2 in assessment PP-A-000311'],
      escalated: true,
      note: 'Risk rule: urgency raised from routine to urgent because PHQ-9 item 9 = 2 in assessment PP-A-000311.',
    },
  ],
  ['PHQ-9 without item 9 (in progress): no risk', withChange(base, 'assessments.0', { ...base.assessments![0]!, status: 'in-progress', answers: { '1': 3 } }), { urgency: 'routine', selfHarm: false, source: [], escalated: false }],
  ['no assessments at all', withChange(base, 'assessments', REMOVE), { urgency: 'routine', selfHarm: false, source: [], escalated: false }],
  [
    'the example referral-new-at-risk.json',
    newAtRisk(),
    {
      urgency: 'urgent',
      selfHarm: true,
      source: ['PHQ-9 item 9 = 1 in assessment PP-A-000320'],
      escalated: true,
      note: 'Risk rule: urgency raised from routine to urgent because PHQ-9 item 9 = 1 in assessment PP-A-000320.',
    },
  ],
];

describe('applyRiskRule', () => {
  test.each(cases)('%s', (_what, referral, e) => {
    const before = JSON.stringify(referral);
    const result = applyRiskRule(referral);
    expect(result).toEqual({
      urgency: e.urgency,
      finding: { selfHarm: e.selfHarm, source: e.source, escalated: e.escalated },
      ...(e.note ? { note: e.note } : {}),
    });
    expect(evaluateRisk(referral)).toEqual(result.finding);
    expect(JSON.stringify(referral)).toBe(before); // the referral itself is never changed
  });

  test('several reasons are all listed: assessments in order, then riskFlags', () => {
    const referral = withChange(newAtRisk(), 'riskFlags', ['safeguarding', 'self-harm']);
    referral.assessments!.push({ ...referral.assessments![0]!, assessmentId: 'PP-A-000321', answers: { ...referral.assessments![0]!.answers, '9': 3 } });
    const result = applyRiskRule(referral);
    expect(result.finding.source).toEqual([
      'PHQ-9 item 9 = 1 in assessment PP-A-000320',
      'PHQ-9 item 9 = 3 in assessment PP-A-000321',
      'riskFlags: self-harm',
    ]);
    expect(result.note).toBe(
      'Risk rule: urgency raised from routine to urgent because PHQ-9 item 9 = 1 in assessment PP-A-000320; PHQ-9 item 9 = 3 in assessment PP-A-000321; riskFlags: self-harm.',
    );
  });

  test('urgency is never lowered', () => {
    for (const r of [withChange(base, 'urgency', 'urgent'), withChange(withChange(base, 'urgency', 'urgent'), 'riskFlags', ['self-harm'])]) {
      expect(applyRiskRule(r).urgency).toBe('urgent');
    }
  });

  test('no patient data in the finding or the note', () => {
    const referral = newAtRisk();
    const result = applyRiskRule(referral);
    const text = JSON.stringify(result);
    for (const v of [referral.patient.nhsNumber, referral.patient.name.family, ...referral.patient.name.given, referral.patient.birthDate, referral.patient.phone!]) {
      expect(text).not.toContain(v);
    }
  });
});

describe('assessmentRiskSource', () => {
  test.each([
    ['PHQ-9 item 9 = 2', { instrument: 'PHQ-9', answers: { '9': 2 } }, 'PHQ-9 item 9 = 2 in assessment PP-A-1'],
    ['PHQ-9 item 9 = 0', { instrument: 'PHQ-9', answers: { '9': 0 } }, undefined],
    ['amended PHQ-9 item 9 = 1', { instrument: 'PHQ-9', status: 'amended', answers: { '9': 1 } }, 'PHQ-9 item 9 = 1 in assessment PP-A-1'],
    ['entered-in-error PHQ-9 item 9 = 1', { instrument: 'PHQ-9', status: 'entered-in-error', answers: { '9': 1 } }, undefined],
    ['GAD-7 (has no item 9)', { instrument: 'GAD-7', answers: { '7': 3 } }, undefined],
    ['PEG item 3 = 10', { instrument: 'PEG', answers: { '3': 10 } }, undefined],
  ] as const)('%s', (_what, partial, expected) => {
    expect(assessmentRiskSource({ assessmentId: 'PP-A-1', completedAt: '2026-11-18T09:30:00Z', ...partial } as never)).toBe(expected);
  });
});
