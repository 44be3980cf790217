import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Instrument, NativeAssessment } from '../../../src/native/types.js';
import {
  bandOf,
  checkAssessmentTotal,
  checkTotals,
  computedTotal,
  meanToOneDecimal,
  scoreAssessment,
} from '../../../src/questionnaires/scoring.js';
import { followUp, newAtRisk, stepUp } from '../native/fixtures.js';

/** Answers for `items` scored items (each 0..max) adding up to `total`, filled from item 1 on. */
function answersFor(total: number, items: number, max: number): Record<string, number> {
  const answers: Record<string, number> = {};
  let left = total;
  for (let i = 1; i <= items; i++) {
    const v = Math.min(max, left);
    answers[String(i)] = v;
    left -= v;
  }
  if (left !== 0) throw new Error(`total ${total} does not fit`);
  return answers;
}

function assessment(instrument: Instrument, answers: Record<string, number>, extra: Partial<NativeAssessment> = {}): NativeAssessment {
  return { assessmentId: 'PP-A-T', instrument, completedAt: '2026-11-18T09:30:00+00:00', answers, ...extra };
}

describe('PHQ-9: total of items 1–9 and every band boundary', () => {
  test.each([
    [0, 'none-minimal'],
    [4, 'none-minimal'],
    [5, 'mild'],
    [9, 'mild'],
    [10, 'moderate'],
    [14, 'moderate'],
    [15, 'moderately severe'],
    [19, 'moderately severe'],
    [20, 'severe'],
    [27, 'severe'],
  ])('total %i → %s', (total, band) => {
    const a = assessment('PHQ-9', answersFor(total, 9, 3));
    expect(scoreAssessment(a)).toEqual({ assessmentId: 'PP-A-T', instrument: 'PHQ-9', total, band });
  });

  test('item 10 (difficulty) is not scored', () => {
    const a = assessment('PHQ-9', { ...answersFor(4, 9, 3), '10': 3 });
    expect(scoreAssessment(a)).toMatchObject({ total: 4, band: 'none-minimal' });
  });
});

describe('GAD-7: total of items 1–7 and every band boundary', () => {
  test.each([
    [0, 'minimal'],
    [4, 'minimal'],
    [5, 'mild'],
    [9, 'mild'],
    [10, 'moderate'],
    [14, 'moderate'],
    [15, 'severe'],
    [21, 'severe'],
  ])('total %i → %s', (total, band) => {
    expect(scoreAssessment(assessment('GAD-7', answersFor(total, 7, 3)))).toMatchObject({ total, band });
  });

  test('item 8 (difficulty) is not scored', () => {
    expect(scoreAssessment(assessment('GAD-7', { ...answersFor(9, 7, 3), '8': 3 }))).toMatchObject({ total: 9, band: 'mild' });
  });
});

describe('PEG: mean of the three items to one decimal place, no band', () => {
  test.each([
    [[7, 6, 8], 7],
    [[7, 6, 7], 6.7], // 6.666… rounds up
    [[7, 7, 8], 7.3], // 7.333… rounds down
    [[1, 0, 0], 0.3],
    [[2, 0, 0], 0.7],
    [[0, 0, 0], 0],
    [[10, 10, 10], 10],
    [[10, 10, 9], 9.7],
    [[10, 9, 9], 9.3],
  ])('%j → %d', ([a, b, c], score) => {
    expect(scoreAssessment(assessment('PEG', { '1': a!, '2': b!, '3': c! }))).toMatchObject({ total: score, band: null });
  });

  test.each([
    [[1, 0, 0, 0], 0.3], // 0.25
    [[3, 0, 0, 0], 0.8], // 0.75
    [[7, 0, 0, 0], 1.8], // 1.75
    [[1, 0], 0.5],
  ])('meanToOneDecimal rounds an exact half up: %j → %d', (items, mean) => {
    expect(meanToOneDecimal(items)).toBe(mean);
  });

  test('every PEG score is the nearest tenth to the exact mean, with one decimal at most', () => {
    const item = fc.integer({ min: 0, max: 10 });
    fc.assert(
      fc.property(item, item, item, (a, b, c) => {
        const score = computedTotal(assessment('PEG', { '1': a, '2': b, '3': c }))!;
        const sum = a + b + c;
        // |score − sum/3| ≤ 0.05, compared in thirtieths to avoid floating error
        const tenths = Math.round(score * 10);
        return Math.abs(tenths * 3 - sum * 10) <= 1.5 && Number.isInteger(tenths) && String(score) === (tenths / 10).toString();
      }),
    );
  });
});

describe('totals that are not computed', () => {
  test.each([
    ['PHQ-9 in-progress', assessment('PHQ-9', answersFor(12, 9, 3), { status: 'in-progress' })],
    ['PEG in-progress', assessment('PEG', { '1': 5 }, { status: 'in-progress' })],
    ['GAD-7 in-progress with every item', assessment('GAD-7', answersFor(10, 7, 3), { status: 'in-progress' })],
    ['entered-in-error with an item missing', assessment('PHQ-9', { '1': 1 }, { status: 'entered-in-error' })],
  ])('%s → total null, band null', (_what, a) => {
    expect(scoreAssessment(a)).toMatchObject({ total: null, band: null });
  });

  test('an entered-in-error assessment with every item is still scored', () => {
    expect(scoreAssessment(assessment('PHQ-9', answersFor(12, 9, 3), { status: 'entered-in-error' }))).toMatchObject({ total: 12, band: 'moderate' });
  });

  test('amended is scored like completed', () => {
    expect(scoreAssessment(assessment('GAD-7', answersFor(15, 7, 3), { status: 'amended' }))).toMatchObject({ total: 15, band: 'severe' });
  });

  test('bandOf outside the scale is null', () => {
    expect(bandOf('PHQ-9', 28)).toBeNull();
    expect(bandOf('GAD-7', -1)).toBeNull();
    expect(bandOf('PEG', 5)).toBeNull();
  });
});

describe('the spec examples', () => {
  test('scores of referral-step-up.json', () => {
    expect((stepUp().assessments ?? []).map(scoreAssessment)).toEqual([
      { assessmentId: 'PP-A-000311', instrument: 'PHQ-9', total: 8, band: 'mild' },
      { assessmentId: 'PP-A-000312', instrument: 'GAD-7', total: 6, band: 'mild' },
      { assessmentId: 'PP-A-000313', instrument: 'PEG', total: 7, band: null },
    ]);
  });

  test('every given totalScore matches', () => {
    expect(checkTotals(stepUp().assessments ?? [])).toEqual([]);
    expect(checkTotals(newAtRisk().assessments ?? [])).toEqual([]);
    expect(checkAssessmentTotal(followUp())).toBeUndefined();
  });
});

describe('checkTotals', () => {
  const phq9 = assessment('PHQ-9', answersFor(12, 9, 3));

  test('a mismatch names both numbers and the path', () => {
    const list = [assessment('GAD-7', answersFor(6, 7, 3)), { ...phq9, totalScore: 14 }];
    expect(checkTotals(list, 'assessments')).toEqual([
      {
        path: 'assessments[1].totalScore',
        message: 'totalScore 14 does not equal the computed PHQ-9 total 12',
        allowed: expect.stringContaining('the sum of items 1 to 9'),
      },
    ]);
  });

  test.each([
    ['GAD-7', assessment('GAD-7', answersFor(13, 7, 3), { totalScore: 12 }), 'totalScore 12 does not equal the computed GAD-7 total 13'],
    ['PEG', assessment('PEG', { '1': 7, '2': 6, '3': 7 }, { totalScore: 6.6 }), 'totalScore 6.6 does not equal the computed PEG score 6.7'],
    ['PEG unrounded', assessment('PEG', { '1': 7, '2': 6, '3': 7 }, { totalScore: 6.67 }), 'totalScore 6.67 does not equal the computed PEG score 6.7'],
    ['PHQ-9 counting item 10', assessment('PHQ-9', { ...answersFor(12, 9, 3), '10': 2 }, { totalScore: 14 }), 'totalScore 14 does not equal the computed PHQ-9 total 12'],
  ])('%s mismatch', (_what, a, message) => {
    expect(checkTotals([a]).map((p) => [p.path, p.message])).toEqual([['assessments[0].totalScore', message]]);
  });

  test.each([
    ['no totalScore', phq9],
    ['matching PHQ-9', { ...phq9, totalScore: 12 }],
    ['matching PEG 7 for 7.0', assessment('PEG', { '1': 7, '2': 6, '3': 8 }, { totalScore: 7 })],
    ['matching PEG 6.7', assessment('PEG', { '1': 7, '2': 6, '3': 7 }, { totalScore: 6.7 })],
    ['in-progress (its totalScore is a 400 from validation, not a 422)', { ...phq9, status: 'in-progress' as const, totalScore: 3 }],
  ])('%s → no problem', (_what, a) => {
    expect(checkTotals([a])).toEqual([]);
  });

  test('pathPrefix "" gives [i].totalScore; checkAssessmentTotal defaults to totalScore', () => {
    expect(checkTotals([{ ...phq9, totalScore: 1 }], '')[0]!.path).toBe('[0].totalScore');
    expect(checkAssessmentTotal({ ...phq9, totalScore: 1 })!.path).toBe('totalScore');
  });

  test('every mismatch is reported', () => {
    const list = [{ ...phq9, totalScore: 1 }, phq9, { ...phq9, totalScore: 2 }];
    expect(checkTotals(list).map((p) => p.path)).toEqual(['assessments[0].totalScore', 'assessments[2].totalScore']);
  });
});
