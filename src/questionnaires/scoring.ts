// Scores of the three instruments (native-format.md "Items and scores"; codes-and-rules.md "Score bands").
// Pure: no hapi, no I/O. Difficulty items (PHQ-9 "10", GAD-7 "8") are never scored.

import { INSTRUMENTS } from '../native/instruments.js';
import type { Problem } from '../native/problem.js';
import type { AssessmentScore, Instrument, NativeAssessment } from '../native/types.js';

interface Band {
  min: number;
  max: number;
  band: string;
}

/** PHQ-9 severity bands (Kroenke 2001). */
export const PHQ9_BANDS: readonly Band[] = [
  { min: 0, max: 4, band: 'none-minimal' },
  { min: 5, max: 9, band: 'mild' },
  { min: 10, max: 14, band: 'moderate' },
  { min: 15, max: 19, band: 'moderately severe' },
  { min: 20, max: 27, band: 'severe' },
];

/** GAD-7 severity bands (Spitzer 2006). */
export const GAD7_BANDS: readonly Band[] = [
  { min: 0, max: 4, band: 'minimal' },
  { min: 5, max: 9, band: 'mild' },
  { min: 10, max: 14, band: 'moderate' },
  { min: 15, max: 21, band: 'severe' },
];

const BANDS: Record<Instrument, readonly Band[] | null> = { 'PHQ-9': PHQ9_BANDS, 'GAD-7': GAD7_BANDS, PEG: null };

/** The band of a total, or null when the instrument has no bands (PEG) or the total is outside them. */
export function bandOf(instrument: Instrument, total: number): string | null {
  return BANDS[instrument]?.find((b) => total >= b.min && total <= b.max)?.band ?? null;
}

/**
 * Mean of integer item scores to one decimal place, rounding half up, in integer arithmetic so that no
 * binary floating-point error can move a result across a rounding boundary.
 */
export function meanToOneDecimal(items: readonly number[]): number {
  const n = items.length;
  const sum = items.reduce((s, x) => s + x, 0);
  // round(10·sum/n) half up = floor((20·sum + n) / (2n)) for sum ≥ 0
  return Math.floor((20 * sum + n) / (2 * n)) / 10;
}

/**
 * The computed score: PHQ-9 and GAD-7 the sum of the scored items, PEG the mean of its three items to
 * one decimal place. Null for an in-progress assessment and whenever a scored item has no numeric answer.
 */
export function computedTotal(a: NativeAssessment): number | null {
  if (a.status === 'in-progress') return null;
  const def = INSTRUMENTS[a.instrument];
  if (!def) return null;
  const values: number[] = [];
  for (const item of def.scored) {
    const v = a.answers[item];
    if (typeof v !== 'number' || !Number.isFinite(v)) return null;
    values.push(v);
  }
  return a.instrument === 'PEG' ? meanToOneDecimal(values) : values.reduce((s, x) => s + x, 0);
}

/** Total and band of one assessment (`scores` in the native view). PEG has no band (null). */
export function scoreAssessment(a: NativeAssessment): AssessmentScore {
  const total = computedTotal(a);
  return {
    assessmentId: a.assessmentId,
    instrument: a.instrument,
    total,
    band: total === null ? null : bandOf(a.instrument, total),
  };
}

const TOTAL_NAME: Record<Instrument, string> = { 'PHQ-9': 'PHQ-9 total', 'GAD-7': 'GAD-7 total', PEG: 'PEG score' };
const TOTAL_RULE: Record<Instrument, string> = {
  'PHQ-9': 'the PHQ-9 total: the sum of items 1 to 9 (item 10 is not scored)',
  'GAD-7': 'the GAD-7 total: the sum of items 1 to 7 (item 8 is not scored)',
  PEG: 'the PEG score: the mean of items 1 to 3 to one decimal place, rounded half up',
};

/**
 * The problem (422) when `a.totalScore` is given and differs from the computed score; `path` is where
 * the totalScore is (`totalScore` for a standalone assessment).
 */
export function checkAssessmentTotal(a: NativeAssessment, path = 'totalScore'): Problem | undefined {
  if (a.totalScore === undefined) return undefined;
  const total = computedTotal(a);
  if (total === null || Math.abs(a.totalScore - total) < 1e-9) return undefined;
  return {
    path,
    message: `totalScore ${a.totalScore} does not equal the computed ${TOTAL_NAME[a.instrument]} ${total}`,
    allowed: `leave totalScore out, or give ${TOTAL_RULE[a.instrument]}`,
  };
}

/**
 * Problems for every assessment whose given totalScore differs from the computed one, with paths
 * `<pathPrefix>[i].totalScore` (e.g. `assessments[1].totalScore`; with pathPrefix '' → `[1].totalScore`).
 * Run after validateReferral / validateAssessment: a mismatch is a 422, not a 400.
 */
export function checkTotals(assessments: readonly NativeAssessment[], pathPrefix = 'assessments'): Problem[] {
  const problems: Problem[] = [];
  assessments.forEach((a, i) => {
    const p = checkAssessmentTotal(a, `${pathPrefix}[${i}].totalScore`);
    if (p) problems.push(p);
  });
  return problems;
}
