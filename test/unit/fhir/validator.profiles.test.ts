// The platform profiles against contract-shaped resources (docs/fhir-contract.md): the valid base
// objects pass with no issue at all, and each broken variant (one field changed) yields exactly the
// issues listed: count, severity, code and FHIRPath location.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Resource } from 'fhir/r4.js';
import { beforeAll, describe, expect, it, test } from 'vitest';
import type { FhirValidator } from '../../../src/fhir/validator.js';
import { PROJECT_ROOT, projectValidator, summary } from './helpers.js';
import { cases } from './profile-cases.js';
import * as F from './referral-fixture.js';

type Json = Record<string, any>;

let v: FhirValidator;
beforeAll(() => {
  v = projectValidator();
});

describe('valid contract resources', () => {
  test.each([
    ['Patient', F.patient],
    ['Organization', () => F.organization()],
    ['Practitioner', F.practitioner],
    ['PractitionerRole', F.practitionerRole],
    ['QuestionnaireResponse (PHQ-9)', F.phq9],
    ['QuestionnaireResponse (GAD-7)', F.gad7],
    ['Flag', F.flag],
    ['ServiceRequest (escalated by the risk rule)', () => F.serviceRequest()],
    ['ServiceRequest (not escalated)', () => F.serviceRequest({ escalated: false })],
    ['referral Bundle', F.referralBundle],
  ] as [string, () => Resource][])('%s has no issues', (_name, build) => {
    expect(v.validate(build())).toEqual([]);
  });

  it('validates each resource against its meta.profile', () => {
    const sr = F.serviceRequest({ escalated: false }) as Json;
    sr.intent = 'plan'; // fine for R4, not for PainPlatform-ServiceRequest (fixed "order")
    expect(v.validate(sr, 'http://hl7.org/fhir/StructureDefinition/ServiceRequest')).toEqual([]);
    expect(summary(v.validate(sr))).toEqual([['error', 'value', 'ServiceRequest.intent']]);
  });
});

// The mapping engineer's golden outputs (native → FHIR) must pass as they are.
const GOLDENS = join(PROJECT_ROOT, 'fixtures', 'fhir');
const goldens = existsSync(GOLDENS) ? readdirSync(GOLDENS).filter((f) => f.endsWith('.json')) : [];

describe('mapping goldens (fixtures/fhir)', () => {
  test.each(goldens)('%s has no issues', (file) => {
    expect(v.validate(JSON.parse(readFileSync(join(GOLDENS, file), 'utf8')))).toEqual([]);
  });
});

describe('broken variants against the platform profiles', () => {
  test.each(cases)('%s', (_name, base, change, expected) => {
    const resource = base();
    expect(v.validate(resource)).toEqual([]); // the base is valid: the issues below are the change's
    change(resource);
    const issues = v.validate(resource);
    expect(summary(issues)).toEqual(expected.map(([severity, code, expression]) => [severity, code, expression]));
    expected.forEach(([, , , text], i) => {
      expect(issues[i].details?.text).toBeTruthy();
      if (text) expect(issues[i].details?.text).toMatch(text);
    });
  });
});
