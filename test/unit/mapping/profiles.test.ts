// What the mapping emits passes the platform profiles (src/fhir/validator.ts over profiles/): the goldens
// and generated referrals, with no error.

import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { createValidator, type FhirValidator } from '../../../src/fhir/validator.js';
import { decision, referral } from './arbitraries.js';
import { mappings, PROFILES_DIR, readJson, scenarios } from './helpers.js';

let validator: FhirValidator;
const errors = (resource: unknown) =>
  validator.validate(resource).filter((i) => i.severity === 'error' || i.severity === 'fatal');

describe('mapped FHIR against the platform profiles', () => {
  beforeAll(() => {
    validator = createValidator({ profilesDir: PROFILES_DIR });
  });

  for (const s of scenarios()) {
    it(`${s.name}: expected.json has no error`, () => {
      expect(errors(readJson(join(s.dir, 'expected.json')))).toStrictEqual([]);
    });
  }

  it('200 generated referrals map to Bundles with no error', () => {
    const m = mappings();
    fc.assert(
      fc.property(referral.chain((r) => fc.tuple(fc.constant(r), decision(r))), ([r, d]) => {
        expect(errors(m.referralToBundle(r, d))).toStrictEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
