// Golden tests (FHIR-Converter style): fixtures/<scenario>/input.json → the whole expected.json, and
// expected.json → input.json again. UPDATE_GOLDEN=1 rewrites decision.json and expected.json (review the diff!).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, BundleEntry, QuestionnaireResponse } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import type { AssessmentMappingContext, ReferralMappingOptions } from '../../../src/mapping/index.js';
import type { NativeAssessment, NativeReferral } from '../../../src/native/types.js';
import { decisionOf, mappings, readJson, ROOT, scenarios, UPDATE_GOLDEN, writeJson } from './helpers.js';

/** The spec examples also go to fixtures/fhir/ for the other suites (validator, routes). */
const SHARED = new Set(['referral-step-up', 'referral-new-at-risk', 'assessment-follow-up']);

describe('golden mapping fixtures', () => {
  const m = mappings();
  for (const s of scenarios()) {
    describe(s.name, () => {
      const input = readJson<NativeReferral & NativeAssessment>(join(s.dir, 'input.json'));
      const expectedFile = join(s.dir, 'expected.json');

      if (s.kind === 'referral') {
        const decisionFile = join(s.dir, 'decision.json');
        if (UPDATE_GOLDEN || !existsSync(decisionFile)) writeJson(decisionFile, decisionOf(input));
        const decision = readJson<ReferralMappingOptions>(decisionFile);

        it('decision.json is what the risk rule decides', () => {
          expect(decision).toStrictEqual(decisionOf(input));
        });

        it('native → Bundle equals expected.json', () => {
          const bundle = m.referralToBundle(input, decision);
          if (UPDATE_GOLDEN || !existsSync(expectedFile)) writeJson(expectedFile, bundle);
          if (UPDATE_GOLDEN && SHARED.has(s.name)) writeJson(join(ROOT, 'fixtures/fhir', `${s.name}.bundle.json`), bundle);
          expect(JSON.parse(JSON.stringify(bundle))).toStrictEqual(readJson(expectedFile));
          if (SHARED.has(s.name)) expect(readJson(join(ROOT, 'fixtures/fhir', `${s.name}.bundle.json`)), 'fixtures/fhir is out of date: UPDATE_GOLDEN=1').toStrictEqual(readJson(expectedFile));
        });

        it('expected.json → native equals input.json (exact inverse, even the key order)', () => {
          const back = m.bundleToReferral(readJson<Bundle>(expectedFile));
          expect(back).toStrictEqual(input);
          expect(JSON.stringify(back)).toBe(JSON.stringify(input));
        });

        it('round trip native → FHIR → native', () => {
          const bundle = JSON.parse(JSON.stringify(m.referralToBundle(input, decision))) as Bundle;
          expect(m.bundleToReferral(bundle)).toStrictEqual(input);
        });

        it('entry order, ids and references follow the contract', () => {
          const bundle = readJson<Bundle>(expectedFile);
          const entries = bundle.entry as BundleEntry[];
          const order = ['Patient', 'Organization', 'Practitioner', 'PractitionerRole', 'QuestionnaireResponse', 'Flag', 'ServiceRequest'];
          const ranks = entries.map((e) => order.indexOf(e.resource!.resourceType));
          expect(ranks).toStrictEqual([...ranks].sort((a, b) => a - b));
          expect(entries.at(-1)!.resource!.resourceType).toBe('ServiceRequest');
          const urls = new Set(entries.map((e) => e.fullUrl));
          expect(urls.size).toBe(entries.length);
          for (const e of entries) {
            expect(e.fullUrl).toBe(`urn:uuid:${e.resource!.id}`);
            expect(e.resource!.meta?.profile).toHaveLength(1);
            expect(e.request).toMatchObject({ method: 'POST', url: e.resource!.resourceType });
          }
          const refs = JSON.stringify(bundle).match(/"reference":"urn:uuid:[0-9a-f-]+"/g) ?? [];
          for (const r of refs) expect(urls.has(r.slice(13, -1))).toBe(true);
          const odsCodes = entries.filter((e) => e.resource!.resourceType === 'Organization').map((e) => JSON.stringify(e.resource));
          expect(new Set(odsCodes).size).toBe(odsCodes.length);
        });
      } else {
        const ctx = readJson<AssessmentMappingContext>(join(s.dir, 'context.json'));
        it('native → QuestionnaireResponse equals expected.json', () => {
          const qr = m.assessmentToQuestionnaireResponse(input, ctx);
          if (UPDATE_GOLDEN || !existsSync(expectedFile)) writeJson(expectedFile, qr);
          if (UPDATE_GOLDEN && SHARED.has(s.name)) writeJson(join(ROOT, 'fixtures/fhir', `${s.name}.questionnaire-response.json`), qr);
          expect(JSON.parse(JSON.stringify(qr))).toStrictEqual(readJson(expectedFile));
          if (SHARED.has(s.name)) {
            expect(readJson(join(ROOT, 'fixtures/fhir', `${s.name}.questionnaire-response.json`)), 'fixtures/fhir is out of date: UPDATE_GOLDEN=1').toStrictEqual(readJson(expectedFile));
          }
        });
        it('expected.json → native equals input.json (exact inverse, even the key order)', () => {
          const back = m.questionnaireResponseToAssessment(readJson<QuestionnaireResponse>(expectedFile));
          expect(back).toStrictEqual(input);
          expect(JSON.stringify(back)).toBe(JSON.stringify(input));
        });
      }
    });
  }
});
