// The fast engine (the default) against the engine it replaced: medplum's validateTypedValue as the
// structural pass, every invariant evaluated every time. On every input below both must report the
// same issues: same severity, code, location and text, in the same order (errors, warnings and
// information alike: stricter than "the same error issues"). Inputs: the mapping goldens, every
// broken-variant table of the validator and profile tests, generated referral Bundles, each with and
// without random one-field mutations (mutations.ts), and medplum's own pass on the extension
// definitions. The HL7 R4 examples are compared in test/conformance/hl7-examples.test.ts.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { StructureDefinition } from 'fhir/r4.js';
import { beforeAll, describe, expect, it, test } from 'vitest';
import type { Issue } from '../../../src/fhir/outcomes.js';
import { FastStructuralPass } from '../../../src/fhir/validation/fast-structural.js';
import { medplumIssues, registerProfileForMedplum } from '../../../src/fhir/validation/structural.js';
import { createValidator, type FhirValidator } from '../../../src/fhir/validator.js';
import { decision, referral } from '../mapping/arbitraries.js';
import { mappings } from '../mapping/helpers.js';
import { droppedInvariantCases, suites } from '../profiles/cases.js';
import { PROFILES_DIR, PROJECT_ROOT } from './helpers.js';
import { cases as contractCases } from './profile-cases.js';
import * as F from './referral-fixture.js';
import { mutate } from './mutations.js';
import { writeTestProfiles } from './test-profile.js';
import { baseCases, bundleCases, tinyCases, tinyValid } from './validator-cases.js';

type Json = Record<string, any>;

interface Pair {
  readonly fast: FhirValidator;
  readonly medplum: FhirValidator;
}

let project: Pair;
let tiny: Pair;
/** what the comparisons saw, so a vacuous comparison (nothing ever wrong) fails */
const seen = { compared: 0, withErrors: 0 };

beforeAll(() => {
  project = {
    fast: createValidator({ profilesDir: PROFILES_DIR }),
    medplum: createValidator({ profilesDir: PROFILES_DIR, engine: 'medplum' }),
  };
  const dir = writeTestProfiles();
  tiny = { fast: createValidator({ profilesDir: dir }), medplum: createValidator({ profilesDir: dir, engine: 'medplum' }) };
});

const isError = (i: Issue): boolean => i.severity === 'error' || i.severity === 'fatal';

/** Both engines on their own copy (medplum's pass may write into odd input); their issues must be equal. */
function compare(pair: Pair, input: unknown, profileUrl?: string, label = ''): Issue[] {
  const fast = pair.fast.validate(structuredClone(input), profileUrl);
  const medplum = pair.medplum.validate(structuredClone(input), profileUrl);
  expect(fast, label).toEqual(medplum);
  seen.compared++;
  if (medplum.some(isError)) seen.withErrors++;
  return fast;
}

/** The input as it is, then `n` seeded one-field mutations of it. */
function compareMutated(pair: Pair, input: Json, n: number, seed: number, label: string): void {
  compare(pair, input, undefined, label);
  for (let k = 0; k < n; k++) {
    const copy = structuredClone(input);
    const what = mutate(copy, seed + k * 7919);
    compare(pair, copy, undefined, `${label}: ${what}`);
  }
}

function jsonFiles(dir: string, pattern: RegExp): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => pattern.test(f.split('/').pop() ?? ''))
    .map((f) => join(dir, f))
    .sort();
}

const GOLDENS = [
  ...jsonFiles(join(PROJECT_ROOT, 'fixtures'), /\.json$/).filter((f) => f.includes('/fhir/') || /\/expected[^/]*\.json$/.test(f)),
  ...jsonFiles(join(PROJECT_ROOT, 'test/unit/mapping/fixtures'), /^expected.*\.json$/),
];

describe('mapping goldens, as they are and with 20 one-field mutations each', () => {
  it('finds the goldens', () => {
    expect(GOLDENS.length).toBeGreaterThanOrEqual(9);
  });

  test.each(GOLDENS.map((f) => [f.slice(PROJECT_ROOT.length + 1), f]))('%s', (_name, file) => {
    const golden = JSON.parse(readFileSync(file, 'utf8')) as Json;
    compareMutated(project, golden, 20, file.length * 131, file);
  });
});

describe('broken-variant tables', () => {
  test.each(contractCases.map(([name, base, change]) => [name, base, change] as const))('contract case: %s', (name, base, change) => {
    const r = base();
    change(r);
    compare(project, r, undefined, name);
  });

  const suiteCases: [string, () => Json, (r: Json) => void][] = [
    ...suites.flatMap((s): [string, () => Json, (r: Json) => void][] => [
      [`${s.profile}: base`, s.base, () => {}],
      ...s.valid.map(([name, change]: [string, (r: Json) => void]): [string, () => Json, (r: Json) => void] => [`${s.profile} accepts: ${name}`, s.base, change]),
      ...s.broken.map((b: { name: string; change: (r: Json) => void }): [string, () => Json, (r: Json) => void] => [`${s.profile} rejects: ${b.name}`, s.base, b.change]),
    ]),
    ...droppedInvariantCases.map((c): [string, () => Json, (r: Json) => void] => [`${c.suite.profile} (was ${c.invariant}): ${c.name}`, c.suite.base, c.change]),
  ];
  test.each(suiteCases)('profile table: %s', (name, base, change) => {
    const r = base();
    change(r);
    compare(project, r, undefined, name);
  });

  test.each(baseCases)('base R4: %s', (name, resource) => {
    compare(project, resource, `http://hl7.org/fhir/StructureDefinition/${resource.resourceType}`, name);
    compare(project, resource, undefined, name);
  });

  test.each(bundleCases)('Bundle: %s', (name, bundle) => {
    compare(project, bundle, undefined, name);
  });

  test.each([['valid base', () => {}] as [string, (r: Json) => void], ...tinyCases.map(([n, c]) => [n, c] as [string, (r: Json) => void])])(
    'tiny profile: %s',
    (name, change) => {
      const r = tinyValid();
      change(r);
      compare(tiny, r, undefined, name);
    },
  );

  test.each([
    ['Patient', F.patient],
    ['Organization', () => F.organization()],
    ['Practitioner', F.practitioner],
    ['PractitionerRole', F.practitionerRole],
    ['QuestionnaireResponse (PHQ-9)', F.phq9],
    ['QuestionnaireResponse (GAD-7)', F.gad7],
    ['Flag', F.flag],
    ['ServiceRequest', () => F.serviceRequest()],
    ['referral Bundle', F.referralBundle],
  ] as [string, () => Json][])('contract %s with 25 one-field mutations', (name, build) => {
    compareMutated(project, build(), 25, name.length * 977, name);
  });
});

describe('generated referral Bundles (mapping arbitraries)', () => {
  it('300 Bundles as mapped, each also with a random one-field mutation', () => {
    const m = mappings();
    fc.assert(
      fc.property(referral.chain((r) => fc.tuple(fc.constant(r), decision(r))), fc.nat(), ([r, d], seed) => {
        const bundle = m.referralToBundle(r, d) as Json;
        const clean = compare(project, bundle, undefined, 'as mapped');
        expect(clean.filter(isError)).toEqual([]);
        const copy = structuredClone(bundle);
        const what = mutate(copy, seed);
        compare(project, copy, undefined, what);
      }),
      { numRuns: 300 },
    );
  });
});

describe('extension definitions (structural pass alone, against each definition)', () => {
  const ext = (name: string): StructureDefinition =>
    JSON.parse(readFileSync(join(PROFILES_DIR, `StructureDefinition-${name}.json`), 'utf8')) as StructureDefinition;
  const SD = 'https://fhir.painplatform.uk/StructureDefinition/';
  const values: [string, Json][] = [
    ['Extension-SymptomDuration', { url: `${SD}Extension-SymptomDuration`, valueDuration: { value: 26, unit: 'months', system: 'http://unitsofmeasure.org', code: 'mo' } }],
    ['Extension-ContactMethod', { url: `${SD}Extension-ContactMethod`, valueCoding: { system: 'https://fhir.painplatform.uk/CodeSystem/contact-method', code: 'video' } }],
    ['Extension-UrgencyAsSent', { url: `${SD}Extension-UrgencyAsSent`, valueCode: 'routine' }],
    ['Extension-AssessmentMode', { url: `${SD}Extension-AssessmentMode`, valueCoding: { system: 'https://fhir.painplatform.uk/CodeSystem/assessment-mode', code: 'paper' } }],
  ];
  test.each(values)('%s, as given and with 40 one-field mutations', (name, value) => {
    project.fast.hasProfile(SD + name); // loads medplum's core types
    const key = registerProfileForMedplum(ext(name));
    const pass = new FastStructuralPass();
    for (let k = 0; k <= 40; k++) {
      const input = structuredClone(value);
      const what = k === 0 ? 'as given' : mutate(input, k * 104729 + name.length);
      expect(pass.issues(structuredClone(input), key), what).toEqual(medplumIssues(structuredClone(input) as never, key));
    }
  });
});

describe('the comparison is not vacuous', () => {
  it('compared many inputs, a good share of them with errors', () => {
    expect(seen.compared).toBeGreaterThan(1000);
    expect(seen.withErrors / seen.compared).toBeGreaterThan(0.3);
  });
});
