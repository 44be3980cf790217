// The validator's own behaviour, independent of the platform profiles: input checks, profile
// choice, base-R4 extras (NHS number anywhere, contained resources, choice types), the Bundle pass,
// and — with a tiny test profile — slicing, backbone elements, extensions and required bindings.
import type { Resource } from 'fhir/r4.js';
import { beforeAll, describe, expect, it, test } from 'vitest';
import { createValidator, type FhirValidator } from '../../../src/fhir/validator.js';
import { projectValidator, summary } from './helpers.js';
import { writeTestProfiles } from './test-profile.js';
import { A, baseCases, bundleCases, entry, tinyCases, tinyValid, tx } from './validator-cases.js';

const R4 = 'http://hl7.org/fhir/StructureDefinition/';

let base: FhirValidator;
let tiny: FhirValidator;
beforeAll(() => {
  base = projectValidator();
  tiny = createValidator({ profilesDir: writeTestProfiles() });
});

describe('input', () => {
  test.each([
    ['a string', 'Patient', 'fatal', 'structure'],
    ['null', null, 'fatal', 'structure'],
    ['an array', [], 'fatal', 'structure'],
    ['no resourceType', { id: 'x' }, 'fatal', 'structure'],
    ['an unknown resourceType', { resourceType: 'Patientt' }, 'fatal', 'structure'],
  ])('%s → one issue', (_n, input, severity, code) => {
    const issues = base.validate(input);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ severity, code });
    expect(issues[0].details?.text).toBeTruthy();
  });

  it('an explicit profile that is not known → not-supported', () => {
    expect(summary(base.validate({ resourceType: 'Patient' }, 'https://example.org/nope'))).toEqual([['error', 'not-supported', undefined]]);
  });

  it('an explicit profile for another type → invalid', () => {
    expect(summary(base.validate({ resourceType: 'Patient' }, `${R4}Organization`))).toEqual([['error', 'invalid', 'Patient']]);
  });

  it('a meta.profile it does not know → information, then base R4', () => {
    const issues = base.validate({ resourceType: 'Patient', meta: { profile: ['https://example.org/p'] }, gender: 'x' });
    expect(summary(issues)).toEqual([
      ['information', 'not-supported', 'Patient.meta.profile'],
      ['error', 'code-invalid', 'Patient.gender'],
    ]);
  });

  it('hasProfile knows core, platform and core extension definitions', () => {
    expect(base.hasProfile(`${R4}Patient`)).toBe(true);
    expect(base.hasProfile('https://fhir.painplatform.uk/StructureDefinition/PainPlatform-Patient')).toBe(true);
    expect(base.hasProfile(`${R4}patient-interpreterRequired`)).toBe(true);
    expect(base.hasProfile('https://example.org/nope')).toBe(false);
  });
});

describe('base R4 plus our checks', () => {
  test.each(baseCases)('%s', (_n, resource, expected) => {
    expect(summary(base.validate(resource, `${R4}${resource.resourceType}`))).toEqual(expected);
  });

  it('says what is wrong and what is allowed', () => {
    const [i] = base.validate({ resourceType: 'Patient', birthDate: '03/09/1981' });
    expect(i.details?.text).toMatch(/Invalid date format; expected YYYY, YYYY-MM or YYYY-MM-DD/);
    const [g] = base.validate({ resourceType: 'Patient', gender: 'M' });
    expect(g.details?.text).toBe('Value "M" is not in the required value set http://hl7.org/fhir/ValueSet/administrative-gender; allowed: male, female, other, unknown');
  });

  it('counts required-binding checks it had to skip (ValueSet not expandable locally)', () => {
    const before = base.stats().skippedBindingChecks;
    base.validate({ resourceType: 'Patient', photo: [{ contentType: 'image/png', url: 'https://example.org/p.png' }] });
    expect(base.stats().skippedBindingChecks).toBe(before + 1);
    expect(base.stats().unexpandableValueSets.get('http://hl7.org/fhir/ValueSet/mimetypes')).toMatch(/urn:ietf:bcp:13/);
  });
});

describe('Bundle (base R4)', () => {
  test.each(bundleCases)('%s', (_n, bundle, expected) => {
    expect(summary(base.validate(bundle))).toEqual(expected);
  });

  it('validates each entry against its own meta.profile', () => {
    const bad = { resourceType: 'Patient', meta: { profile: ['https://fhir.painplatform.uk/StructureDefinition/PainPlatform-Patient'] } };
    const issues = base.validate(tx(entry(A, bad)));
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.every((i) => i.expression?.[0]?.startsWith('Bundle.entry[0].resource'))).toBe(true);
    expect(issues.map((i) => i.expression?.[0])).toContain('Bundle.entry[0].resource.identifier');
  });
});

describe('a tiny test profile: what medplum cannot reach', () => {
  const valid = tinyValid;

  it('the valid base has no issues', () => {
    expect(tiny.validate(valid())).toEqual([]);
  });

  test.each(tinyCases)('%s', (_n, change, expected, text) => {
    const r = valid();
    change(r);
    const issues = tiny.validate(r);
    expect(summary(issues)).toEqual(expected);
    if (text) expect(issues.map((i) => i.details?.text).join(' / ')).toMatch(text);
  });

  it('other resource types still validate against base R4 on the same validator', () => {
    expect(tiny.validate({ resourceType: 'Organization', active: true } as Resource)).toEqual([]);
  });
});
