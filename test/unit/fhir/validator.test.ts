// The validator's own behaviour, independent of the platform profiles: input checks, profile
// choice, base-R4 extras (NHS number anywhere, contained resources, choice types), the Bundle pass,
// and — with a tiny test profile — slicing, backbone elements, extensions and required bindings.
import type { Resource } from 'fhir/r4.js';
import { beforeAll, describe, expect, it, test } from 'vitest';
import { createValidator, type FhirValidator } from '../../../src/fhir/validator.js';
import { projectValidator, summary } from './helpers.js';
import { MRN, TEST_EXTENSION, TEST_PATIENT, writeTestProfiles } from './test-profile.js';

type Json = Record<string, any>;
const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
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
  const cases: [string, Json, [string, string, string][]][] = [
    [
      'NHS number check digit on a plain R4 Patient (no profile invariant: one issue)',
      { resourceType: 'Patient', identifier: [{ system: NHS, value: '9000000008' }] },
      [['error', 'value', 'Patient.identifier[0].value']],
    ],
    ['a valid NHS number', { resourceType: 'Patient', identifier: [{ system: NHS, value: '9000000009' }] }, []],
    [
      'NHS number with letters',
      { resourceType: 'Patient', identifier: [{ system: NHS, value: '90000000A9' }] },
      [['error', 'value', 'Patient.identifier[0].value']],
    ],
    [
      'NHS number on a reference identifier',
      { resourceType: 'Flag', status: 'active', code: { text: 'x' }, subject: { identifier: { system: NHS, value: '1234567890' } } },
      [['error', 'value', 'Flag.subject.identifier.value']],
    ],
    [
      'required binding in a datatype (Identifier.use)',
      { resourceType: 'Patient', identifier: [{ use: 'offical', value: 'x' }] },
      [['error', 'code-invalid', 'Patient.identifier[0].use']],
    ],
    [
      'required binding in a contained resource',
      { resourceType: 'Patient', contained: [{ resourceType: 'Practitioner', id: 'p', gender: 'M' }], generalPractitioner: [{ reference: '#p' }] },
      [['error', 'code-invalid', 'Patient.contained[0].gender']],
    ],
    [
      'required binding inside a primitive extension is walked too (Period in an extension value)',
      { resourceType: 'Patient', _birthDate: { extension: [{ url: 'https://example.org/x', valueContactPoint: { system: 'pager2', value: '1' } }] } },
      [['error', 'code-invalid', 'Patient.birthDate.extension[0].value.ofType(ContactPoint).system']],
    ],
    [
      'two types for one choice element',
      { resourceType: 'Patient', deceasedBoolean: false, deceasedDateTime: '2020-01-01' },
      [['error', 'structure', 'Patient.deceased']],
    ],
    [
      'a core extension with a value type its definition does not allow',
      { resourceType: 'Patient', extension: [{ url: `${R4}patient-interpreterRequired`, valueString: 'yes' }] },
      [['error', 'structure', 'Patient.extension[0].value.ofType(string)']],
    ],
    [
      'a wrong primitive format',
      { resourceType: 'Patient', birthDate: '03/09/1981' },
      [['error', 'structure', 'Patient.birthDate']],
    ],
  ];
  test.each(cases)('%s', (_n, resource, expected) => {
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
  const entry = (fullUrl: string, resource: Json): Json => ({ fullUrl, resource, request: { method: 'POST', url: resource.resourceType } });
  const tx = (...entries: Json[]): Json => ({ resourceType: 'Bundle', type: 'transaction', entry: entries });
  const A = 'urn:uuid:6f2a1c1e-0000-4000-8000-00000000000a';
  const B = 'urn:uuid:6f2a1c1e-0000-4000-8000-00000000000b';

  test.each([
    ['references resolve', tx(entry(A, { resourceType: 'Patient' }), entry(B, { resourceType: 'Flag', status: 'active', code: { text: 'x' }, subject: { reference: A } })), []],
    [
      'unresolved urn:uuid',
      tx(entry(A, { resourceType: 'Patient' }), entry(B, { resourceType: 'Flag', status: 'active', code: { text: 'x' }, subject: { reference: 'urn:uuid:6f2a1c1e-0000-4000-8000-00000000000c' } })),
      [['error', 'not-found', 'Bundle.entry[1].resource.subject.reference']],
    ],
    [
      'a reference to an entry of a type the element does not allow',
      tx(entry(A, { resourceType: 'Basic', code: { text: 'x' } }), entry(B, { resourceType: 'Flag', status: 'active', code: { text: 'x' }, subject: { reference: A } })),
      [['error', 'structure', 'Bundle.entry[1].resource.subject.reference']],
    ],
    [
      'an entry resource issue is located inside the entry',
      tx(entry(A, { resourceType: 'Patient', gender: 'M' })),
      [['error', 'code-invalid', 'Bundle.entry[0].resource.gender']],
    ],
    [
      'an entry without request in a transaction (bdl-3)',
      { resourceType: 'Bundle', type: 'transaction', entry: [{ fullUrl: A, resource: { resourceType: 'Patient' } }] },
      [['error', 'invariant', 'Bundle']],
    ],
    [
      'duplicate fullUrl (bdl-7, evaluated on entry stubs)',
      tx(entry(A, { resourceType: 'Patient' }), entry(A, { resourceType: 'Patient' })),
      [['error', 'invariant', 'Bundle']],
    ],
    [
      'a document whose first resource is not a Composition (bdl-11)',
      { resourceType: 'Bundle', type: 'document', identifier: { system: 'urn:ietf:rfc:3986', value: 'urn:uuid:x' }, timestamp: '2026-01-01T00:00:00Z', entry: [{ fullUrl: A, resource: { resourceType: 'Patient' } }] },
      [['error', 'invariant', 'Bundle']],
    ],
    [
      'Bundle.type not in the value set',
      { resourceType: 'Bundle', type: 'parcel' },
      [['error', 'code-invalid', 'Bundle.type']],
    ],
  ] as [string, Json, [string, string, string][]][])('%s', (_n, bundle, expected) => {
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
  const valid = (): Json => ({
    resourceType: 'Patient',
    meta: { profile: [TEST_PATIENT] },
    identifier: [{ system: MRN, value: '123' }],
    gender: 'male',
    maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M' }] },
    name: [{ family: 'Nowak' }],
    birthDate: '1981-09-03',
    contact: [{ gender: 'female', name: { family: 'Nowak' }, telecom: [{ system: 'phone', value: '1' }] }],
    extension: [{ url: TEST_EXTENSION, valueCode: 'red' }],
  });

  it('the valid base has no issues', () => {
    expect(tiny.validate(valid())).toEqual([]);
  });

  const cases: [string, (r: Json) => void, [string, string, string][], RegExp?][] = [
    ['closed slicing: an identifier matching no slice', (r) => r.identifier.push({ system: 'https://example.org/other', value: '1' }), [['error', 'structure', 'Patient.identifier[1]']], /slicing is closed.*mrn \(system = https:\/\/example\.org\/fhir\/Id\/mrn\)/],
    ['a required slice missing', (r) => (r.identifier[0].system = 'https://example.org/other'), [['error', 'structure', 'Patient.identifier[0]'], ['error', 'required', 'Patient.identifier']]],
    ['a required element inside a slice (medplum ignores slice children)', (r) => delete r.identifier[0].value, [['error', 'required', 'Patient.identifier[0].value']], /value \(1\.\.1\) in TestPatient/],
    ['a tightened element below a backbone element', (r) => delete r.contact[0].gender, [['error', 'required', 'Patient.contact[0].gender']]],
    ['a profile invariant below a backbone element', (r) => (r.contact[0].name = { given: ['Ana'] }), [['error', 'invariant', 'Patient.contact[0].name']], /tst-1/],
    [
      'every failed invariant of an element, not only the first (medplum stops at the first)',
      (r) => {
        delete r.name;
        delete r.birthDate;
      },
      [
        ['error', 'invariant', 'Patient'],
        ['error', 'invariant', 'Patient'],
      ],
      /tst-2.*tst-3/,
    ],
    ['a code outside a concept-list ValueSet', (r) => (r.gender = 'other'), [['error', 'code-invalid', 'Patient.gender']], /allowed: male, female$/],
    ['a code a ValueSet excludes', (r) => (r.maritalStatus.coding[0].code = 'P'), [['error', 'code-invalid', 'Patient.maritalStatus']]],
    ['a CodeableConcept with text only under a required binding', (r) => (r.maritalStatus = { text: 'married' }), [['error', 'code-invalid', 'Patient.maritalStatus']], /No coding given/],
    ['an extension code outside its descendent-of ValueSet', (r) => (r.extension[0].valueCode = 'blue'), [['error', 'code-invalid', 'Patient.extension[0].value.ofType(code)']], /allowed: red, orange/],
    ['descendent-of excludes the root concept', (r) => (r.extension[0].valueCode = 'warm'), [['error', 'code-invalid', 'Patient.extension[0].value.ofType(code)']]],
    ['an extension value type the definition does not allow', (r) => (r.extension[0] = { url: TEST_EXTENSION, valueString: 'red' }), [['error', 'structure', 'Patient.extension[0].value.ofType(string)']], /allowed: code/],
    ['an extension slice used twice', (r) => r.extension.push({ url: TEST_EXTENSION, valueCode: 'orange' }), [['error', 'structure', 'Patient.extension']], /colour.*expected 0\.\.1, found 2/],
  ];
  test.each(cases)('%s', (_n, change, expected, text) => {
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
