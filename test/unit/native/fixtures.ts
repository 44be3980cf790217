// Test helpers: the spec's three examples (copied to fixtures/native/) and one-field variants of them.
import { readFileSync } from 'node:fs';
import type { NativeAssessment, NativeReferral } from '../../../src/native/types.js';

const DIR = new URL('../../../fixtures/native/', import.meta.url);

export function loadJson<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(new URL(name, DIR), 'utf8')) as T;
}

export const stepUp = (): NativeReferral => loadJson<NativeReferral>('referral-step-up.json');
export const newAtRisk = (): NativeReferral => loadJson<NativeReferral>('referral-new-at-risk.json');
export const followUp = (): NativeAssessment => loadJson<NativeAssessment>('assessment-follow-up.json');

/** The clock the examples are judged by. */
export const NOW = new Date('2026-11-27T00:00:00Z');

export const REMOVE = Symbol('remove');

/**
 * A deep copy of `base` with ONE change at `path` (dot-separated; a segment indexes an array when the
 * container is an array, otherwise it is a property name, so `assessments.0.answers.9` works).
 */
export function withChange<T>(base: T, path: string, value: unknown): T {
  const copy = structuredClone(base) as unknown;
  const segs = path.split('.');
  let node = copy as Record<string, unknown>;
  for (const seg of segs.slice(0, -1)) node = node[seg] as Record<string, unknown>;
  const last = segs[segs.length - 1]!;
  if (value === REMOVE) delete node[last];
  else node[last] = value;
  return copy as T;
}
