// Property: for every VALID native referral (and every risk decision the rule could hand over),
// native → FHIR → native gives back deep-equal JSON, absent keys included.

import fc from 'fast-check';
import type { Bundle, BundleEntry } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { validateReferral } from '../../../src/native/schema.js';
import { checkTotals } from '../../../src/questionnaires/scoring.js';
import { decision, referral } from './arbitraries.js';
import { decisionOf, mappings } from './helpers.js';

const FAR_FUTURE = new Date('2100-01-01T00:00:00Z');

describe('round trip native → FHIR → native (fast-check)', () => {
  const m = mappings();

  it('the generator only makes valid referrals (native schema and totals)', () => {
    fc.assert(
      fc.property(referral, (r) => {
        expect(validateReferral(r, FAR_FUTURE).problems).toStrictEqual([]);
        expect(checkTotals(r.assessments ?? [])).toStrictEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('1,000 generated referrals with generated risk decisions come back deep-equal', () => {
    fc.assert(
      fc.property(
        referral.chain((r) => fc.tuple(fc.constant(r), decision(r))),
        ([r, d]) => {
          const before = JSON.stringify(r);
          const bundle = JSON.parse(JSON.stringify(m.referralToBundle(r, d))) as Bundle;
          expect(JSON.stringify(r)).toBe(before); // the input is not touched
          const back = m.bundleToReferral(bundle);
          expect(back).toStrictEqual(r);
          expect(JSON.stringify(back)).toBe(before); // even the key order of native-format.md
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('with the real risk rule: flags, urgency and notes follow the contract', () => {
    fc.assert(
      fc.property(referral, (r) => {
        const d = decisionOf(r);
        const bundle = m.referralToBundle(r, d);
        const entries = bundle.entry as BundleEntry[];
        const resources = entries.map((e) => e.resource as unknown as Record<string, any>);
        const sr = resources.at(-1)!;
        const flags = resources.filter((x) => x.resourceType === 'Flag');
        const selfHarm = flags.filter((f) => f.code.coding.some((c: any) => c.code === 'self-harm'));
        expect(selfHarm.length).toBe(d.selfHarmFromRule ? 1 : 0);
        expect(flags.length).toBe((r.riskFlags ?? []).length + (d.selfHarmFromRule && !(r.riskFlags ?? []).includes('self-harm') ? 1 : 0));
        expect(sr.priority).toBe(d.urgency);
        expect(sr.extension?.some((x: any) => x.url.endsWith('Extension-UrgencyAsSent')) ?? false).toBe(d.urgency !== r.urgency);
        expect(sr.note?.map((n: any) => n.text) ?? []).toStrictEqual([
          ...(r.clinicalSummary !== undefined ? [r.clinicalSummary] : []),
          ...(d.selfHarmFromRule ? [d.riskNote] : []),
        ]);
        expect(m.bundleToReferral(JSON.parse(JSON.stringify(bundle)))).toStrictEqual(r);
      }),
      { numRuns: 300 },
    );
  });
});
