// The validator's own tables (validator.test.ts), shared with the engine comparison
// (engines.test.ts): base-R4 resources with what they must yield, Bundles, and the tiny test profile's
// valid base with its one-field variants.
import { MRN, TEST_EXTENSION, TEST_PATIENT } from './test-profile.js';

type Json = Record<string, any>;
const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const R4 = 'http://hl7.org/fhir/StructureDefinition/';

/** [name, resource, expected [severity, code, expression] per issue] against base R4 */
export const baseCases: [string, Json, [string, string, string][]][] = [
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

export const entry = (fullUrl: string, resource: Json): Json => ({ fullUrl, resource, request: { method: 'POST', url: resource.resourceType } });
export const tx = (...entries: Json[]): Json => ({ resourceType: 'Bundle', type: 'transaction', entry: entries });
export const A = 'urn:uuid:6f2a1c1e-0000-4000-8000-00000000000a';
export const B = 'urn:uuid:6f2a1c1e-0000-4000-8000-00000000000b';

/** [name, Bundle, expected issues] */
export const bundleCases: [string, Json, [string, string, string][]][] = [
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
];

/** The tiny test profile's valid base. */
export const tinyValid = (): Json => ({
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

/** [name, change of the valid base, expected issues, what the text says] */
export const tinyCases: [string, (r: Json) => void, [string, string, string][], RegExp?][] = [
  ['closed slicing: an identifier matching no slice', (r) => r.identifier.push({ system: 'https://example.org/other', value: '1' }), [['error', 'structure', 'Patient.identifier[1]']], /slicing is closed.*mrn \(system = https:\/\/example\.org\/fhir\/Id\/mrn\)/],
  ['a required slice missing', (r) => (r.identifier[0].system = 'https://example.org/other'), [['error', 'structure', 'Patient.identifier[0]'], ['error', 'required', 'Patient.identifier']]],
  ['a required element inside a slice (medplum ignores slice children)', (r) => delete r.identifier[0].value, [['error', 'required', 'Patient.identifier[0].value']], /value \(1\.\.1\) in TestPatient/],
  ['a tightened element below a backbone element', (r) => delete r.contact[0].gender, [['error', 'required', 'Patient.contact[0].gender']]],
  [
    'a tightened element given as "" (read as absent)',
    (r) => (r.contact[0].gender = ''),
    [
      ['error', 'code-invalid', 'Patient.contact[0].gender'],
      ['error', 'required', 'Patient.contact[0].gender'],
    ],
    /Missing required element gender/,
  ],
  [
    'a primitive given as an object (medplum reads it as the extension part)',
    (r) => (r.identifier[0].value = {}),
    [['error', 'structure', 'Patient.identifier[0].value']],
    /FHIR string is a JSON string, found a JSON object \(a primitive's id and extensions go in _value\)/,
  ],
  [
    'a datatype given as a number (medplum reads it as a value with no elements)',
    (r) => (r.maritalStatus = 5),
    [['error', 'structure', 'Patient.maritalStatus']],
    /FHIR CodeableConcept is a JSON object, found a JSON number/,
  ],
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
