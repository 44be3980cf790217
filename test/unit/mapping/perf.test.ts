// The mapping runs on every request: it must stay well under 0.2 ms per referral.

import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import type { Bundle } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import type { NativeReferral } from '../../../src/native/types.js';
import { referral } from './arbitraries.js';
import { decisionOf, FIXTURES_DIR, mappings, readJson } from './helpers.js';

function timeUs(n: number, f: (i: number) => void): number {
  for (let i = 0; i < Math.min(n, 500); i++) f(i); // warm-up
  const t = performance.now();
  for (let i = 0; i < n; i++) f(i);
  return ((performance.now() - t) * 1000) / n;
}

describe('mapping speed', () => {
  it('maps a referral (step-up example: 3 assessments, 10 resources) in < 200 µs', () => {
    const m = mappings();
    const r = readJson<NativeReferral>(join(FIXTURES_DIR, 'referral-step-up/input.json'));
    const d = decisionOf(r);
    let b: Bundle | undefined;
    const forward = timeUs(5000, () => {
      b = m.referralToBundle(r, d);
    });
    const reverse = timeUs(5000, () => m.bundleToReferral(b!));
    console.log(`native → FHIR ${forward.toFixed(1)} µs/referral, FHIR → native ${reverse.toFixed(1)} µs/referral (step-up example)`);
    expect(forward).toBeLessThan(200);
  });

  it('maps generated referrals (0-4 assessments) in < 200 µs on average', () => {
    const m = mappings();
    const rs = fc.sample(referral, { numRuns: 2000, seed: 42 });
    const ds = rs.map(decisionOf);
    const forward = timeUs(rs.length, (i) => m.referralToBundle(rs[i]!, ds[i]!));
    console.log(`native → FHIR ${forward.toFixed(1)} µs/referral (2,000 generated referrals)`);
    expect(forward).toBeLessThan(200);
  });
});
