// The generator on small differentials: where it puts slices and expanded children, and the
// differentials it refuses rather than turning into a wrong snapshot.
import type { ElementDefinition, StructureDefinition } from 'fhir/r4.js';
import { describe, expect, test } from 'vitest';
import { SnapshotError, generateSnapshot, generateSnapshots } from '../../../src/fhir/snapshot.js';
import { coreResolver } from './load.js';

const resolve = coreResolver();

function profile(type: string, elements: ElementDefinition[], extra: Partial<StructureDefinition> = {}): StructureDefinition {
  return {
    resourceType: 'StructureDefinition',
    id: `Test-${type}`,
    url: `https://fhir.painplatform.uk/StructureDefinition/Test-${type}`,
    name: `Test${type}`,
    status: 'draft',
    kind: type === 'Extension' ? 'complex-type' : 'resource',
    abstract: false,
    type,
    baseDefinition: `http://hl7.org/fhir/StructureDefinition/${type}`,
    derivation: 'constraint',
    differential: { element: elements },
    ...extra,
  };
}

const ids = (sd: StructureDefinition): string[] => (sd.snapshot?.element ?? []).map((e) => e.id as string);
const element = (sd: StructureDefinition, id: string): ElementDefinition | undefined =>
  sd.snapshot?.element.find((e) => e.id === id);

describe('generateSnapshot', () => {
  test('does not change its input', () => {
    const sd = profile('Patient', [{ id: 'Patient.birthDate', path: 'Patient.birthDate', min: 1 }]);
    const before = JSON.stringify(sd);
    generateSnapshot(sd, resolve);
    expect(JSON.stringify(sd)).toBe(before);
  });

  test('a slice and its children come after the sliced element, in the type order', () => {
    const sd = generateSnapshot(
      profile('Patient', [
        {
          id: 'Patient.identifier',
          path: 'Patient.identifier',
          slicing: { discriminator: [{ type: 'value', path: 'system' }], rules: 'open' },
        },
        { id: 'Patient.identifier:a', path: 'Patient.identifier', sliceName: 'a', max: '1' },
        { id: 'Patient.identifier:a.value', path: 'Patient.identifier.value', min: 1 },
        { id: 'Patient.identifier:a.system', path: 'Patient.identifier.system', fixedUri: 'urn:a' },
      ]),
      resolve,
    );
    const list = ids(sd);
    const start = list.indexOf('Patient.identifier');
    expect(list.slice(start, start + 10)).toEqual([
      'Patient.identifier',
      'Patient.identifier:a',
      'Patient.identifier:a.id',
      'Patient.identifier:a.extension',
      'Patient.identifier:a.use',
      'Patient.identifier:a.type',
      'Patient.identifier:a.system',
      'Patient.identifier:a.value',
      'Patient.identifier:a.period',
      'Patient.identifier:a.assigner',
    ]);
    expect(list[start + 10]).toBe('Patient.active');
    expect(element(sd, 'Patient.identifier:a')).toMatchObject({ sliceName: 'a', min: 0, max: '1' });
    expect(element(sd, 'Patient.identifier:a.system')).toMatchObject({ path: 'Patient.identifier.system', fixedUri: 'urn:a' });
    expect(element(sd, 'Patient.identifier:a.value')?.base?.path).toBe('Identifier.value');
  });

  test('extension slices get the url slicing and their children from the extension definition', () => {
    const sd = generateSnapshot(
      profile('Patient', [
        {
          id: 'Patient.extension:interpreter',
          path: 'Patient.extension',
          sliceName: 'interpreter',
          max: '1',
          type: [{ code: 'Extension', profile: ['http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired'] }],
        },
      ]),
      resolve,
    );
    expect(element(sd, 'Patient.extension')?.slicing?.discriminator).toEqual([{ type: 'value', path: 'url' }]);
    expect(element(sd, 'Patient.extension:interpreter.url')?.fixedUri).toBe(
      'http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired',
    );
    expect(element(sd, 'Patient.extension:interpreter.value[x]')?.type).toEqual([{ code: 'boolean' }]);
  });

  test('constraints are added with this profile as source; one with the same key is replaced', () => {
    const sd = generateSnapshot(
      profile('Patient', [
        {
          id: 'Patient',
          path: 'Patient',
          constraint: [{ key: 'pp-x', severity: 'error', human: 'x', expression: 'true' }],
        },
      ]),
      resolve,
    );
    const root = element(sd, 'Patient');
    expect(root?.constraint?.find((c) => c.key === 'pp-x')).toEqual({
      key: 'pp-x',
      severity: 'error',
      human: 'x',
      expression: 'true',
      source: 'https://fhir.painplatform.uk/StructureDefinition/Test-Patient',
    });
    expect(root?.constraint?.some((c) => c.key === 'dom-2')).toBe(true);
  });

  test('a choice element restricted to one type can have its children constrained', () => {
    const sd = generateSnapshot(
      profile(
        'Extension',
        [
          { id: 'Extension.url', path: 'Extension.url', fixedUri: 'https://example.org/x' },
          { id: 'Extension.value[x]', path: 'Extension.value[x]', type: [{ code: 'Quantity' }] },
          { id: 'Extension.value[x].code', path: 'Extension.value[x].code', fixedCode: 'mo' },
        ],
        { context: [{ type: 'element', expression: 'Patient' }] },
      ),
      resolve,
    );
    expect(element(sd, 'Extension.value[x].code')).toMatchObject({ path: 'Extension.value[x].code', fixedCode: 'mo' });
  });

  test.each([
    ['an unknown element', [{ id: 'Patient.nickname', path: 'Patient.nickname' }], /no such element/],
    ['a path that does not match the id', [{ id: 'Patient.gender', path: 'Patient.birthDate' }], /does not match the id/],
    [
      'a slice of an element without slicing',
      [{ id: 'Patient.identifier:a', path: 'Patient.identifier', sliceName: 'a' }],
      /is not sliced/,
    ],
    ['a maximum above the base', [{ id: 'Patient.gender', path: 'Patient.gender', max: '2' }], /above the base maximum/],
    ['a minimum below the base', [{ id: 'Patient.link.other', path: 'Patient.link.other', min: 0 }], /below the base minimum/],
    ['min above max', [{ id: 'Patient.name', path: 'Patient.name', min: 2, max: '1' }], /above max/],
    ['a type the base does not allow', [{ id: 'Patient.birthDate', path: 'Patient.birthDate', type: [{ code: 'string' }] }], /not allowed/],
    [
      'a weaker binding than a required one',
      [{ id: 'Patient.gender', path: 'Patient.gender', binding: { strength: 'extensible', valueSet: 'urn:x' } }],
      /cannot be weakened/,
    ],
    ['a fixed value of the wrong type', [{ id: 'Patient.gender', path: 'Patient.gender', fixedUri: 'urn:x' }], /does not match the element's type/],
    [
      'children of a choice element with several types',
      [{ id: 'Patient.deceased[x].id', path: 'Patient.deceased[x].id' }],
      /restrict it to one type first/,
    ],
    ['an element without id', [{ path: 'Patient.gender' }], /without id/],
  ] as [string, ElementDefinition[], RegExp][])('refuses %s', (_label, elements, message) => {
    expect(() => generateSnapshot(profile('Patient', elements), resolve)).toThrow(SnapshotError);
    expect(() => generateSnapshot(profile('Patient', elements), resolve)).toThrow(message);
  });

  test('refuses a base definition it cannot find', () => {
    const sd = profile('Patient', [{ id: 'Patient', path: 'Patient' }], {
      baseDefinition: 'https://example.org/StructureDefinition/Unknown',
    });
    expect(() => generateSnapshot(sd, resolve)).toThrow(/not found/);
  });

  test('generateSnapshots resolves profiles that name each other, whatever the order', () => {
    const ext = profile(
      'Extension',
      [
        { id: 'Extension.url', path: 'Extension.url', fixedUri: 'https://fhir.painplatform.uk/StructureDefinition/Test-Extension' },
        { id: 'Extension.value[x]', path: 'Extension.value[x]', type: [{ code: 'boolean' }] },
      ],
      { context: [{ type: 'element', expression: 'Patient' }] },
    );
    const patient = profile('Patient', [
      {
        id: 'Patient.extension:flag',
        path: 'Patient.extension',
        sliceName: 'flag',
        type: [{ code: 'Extension', profile: [ext.url] }],
      },
    ]);
    const [first] = generateSnapshots([patient, ext], resolve);
    expect(element(first, 'Patient.extension:flag.url')?.fixedUri).toBe(ext.url);
    expect(element(first, 'Patient.extension:flag.value[x]')?.type).toEqual([{ code: 'boolean' }]);
  });
});
