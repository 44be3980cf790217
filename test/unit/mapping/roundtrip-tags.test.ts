// The meta.tag markers the mapping writes (empty arrays, a defaulted status) are codes of our own
// CodeSystem, with the same display: a receiver can look every tag up.
import { join } from 'node:path';
import type { Bundle, Coding } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import type { NativeReferral } from '../../../src/native/types.js';
import { decisionOf, FIXTURES_DIR, mappings, PROFILES_DIR, readJson } from './helpers.js';

const SYSTEM = 'https://fhir.painplatform.uk/CodeSystem/native-roundtrip';

describe('native round-trip tags', () => {
  it('are all defined, with their displays, in CodeSystem native-roundtrip', () => {
    const codeSystem = readJson<{ url: string; concept: Array<{ code: string; display: string }> }>(join(PROFILES_DIR, 'CodeSystem-native-roundtrip.json'));
    expect(codeSystem.url).toBe(SYSTEM);
    const base = readJson<NativeReferral>(join(FIXTURES_DIR, 'referral-step-up/input.json'));
    const referral: NativeReferral = {
      ...base,
      patient: { ...base.patient, address: { ...base.patient.address!, lines: [] } },
      preferences: {},
      riskFlags: [],
      assessments: [{ ...base.assessments![0]!, status: undefined }],
    };
    delete referral.assessments![0]!.status;
    const bundle: Bundle = mappings().referralToBundle(referral, decisionOf(referral));
    const tags: Coding[] = (bundle.entry ?? []).flatMap((e) => e.resource?.meta?.tag ?? []).filter((t) => t.system === SYSTEM);
    const emitted = new Set(tags.map((t) => t.code));
    expect(emitted).toEqual(new Set(['empty:patient.address.lines', 'empty:preferences', 'empty:riskFlags', 'defaulted:status']));
    const empty = mappings().referralToBundle({ ...base, assessments: [] }, decisionOf(base));
    const more = (empty.entry ?? []).flatMap((e) => e.resource?.meta?.tag ?? []).filter((t) => t.system === SYSTEM);
    for (const tag of [...tags, ...more]) {
      expect(codeSystem.concept).toContainEqual(expect.objectContaining({ code: tag.code, display: tag.display }));
    }
    expect(more.map((t) => t.code)).toContain('empty:assessments');
  });
});
