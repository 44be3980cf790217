// How long validating one referral Bundle (9 resources, contract shape) takes, and where the time
// goes. The figures are printed; the assertion only guards against a gross regression (a shared CI
// box is noisy), the target itself is reported, not enforced.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateResource } from '@medplum/core';
import type { Resource } from 'fhir/r4.js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FhirValidator } from '../../../src/fhir/validator.js';
import { PROJECT_ROOT, projectValidator } from './helpers.js';
import { referralBundle } from './referral-fixture.js';

function measure(fn: () => unknown, iterations: number): { mean: number; median: number; p95: number } {
  for (let i = 0; i < 200; i++) fn(); // warm-up: JIT, lazy compilation
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  return { mean, median: times[Math.floor(times.length / 2)], p95: times[Math.floor(times.length * 0.95)] };
}

const fmt = (m: { mean: number; median: number; p95: number }): string =>
  `median ${m.median.toFixed(2)} ms, mean ${m.mean.toFixed(2)} ms, p95 ${m.p95.toFixed(2)} ms`;

let v: FhirValidator;
beforeAll(() => {
  v = projectValidator();
});

describe('performance', () => {
  it('validates a referral Bundle of 9 resources', () => {
    const bundle = referralBundle();
    expect(v.validate(bundle)).toEqual([]);
    const full = measure(() => v.validate(bundle), 1000);
    // medplum's structural pass alone, base R4, no profiles: the floor under the whole validator
    const resources = (bundle.entry ?? []).map((e) => e.resource as Resource);
    const medplumOnly = measure(() => {
      for (const r of resources) {
        try {
          validateResource(r as never);
        } catch {
          /* valid: nothing thrown */
        }
      }
    }, 1000);
    console.log(`[validator perf] referral Bundle (9 resources): ${fmt(full)}`);
    console.log(`[validator perf] medplum validateResource alone, base R4, same 9 resources: ${fmt(medplumOnly)}`);
    expect(full.median).toBeLessThan(50);
  });

  it('validates the mapping goldens', () => {
    for (const name of ['referral-new-at-risk.bundle.json', 'referral-step-up.bundle.json']) {
      const file = join(PROJECT_ROOT, 'fixtures', 'fhir', name);
      if (!existsSync(file)) continue;
      const bundle = JSON.parse(readFileSync(file, 'utf8')) as { entry?: unknown[] };
      const m = measure(() => v.validate(bundle), 500);
      console.log(`[validator perf] ${name} (${bundle.entry?.length} resources): ${fmt(m)}`);
      expect(m.median).toBeLessThan(50);
    }
  });
});
