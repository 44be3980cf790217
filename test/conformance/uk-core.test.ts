// "UK Core conformant" as a tested claim. Every Patient, Practitioner, PractitionerRole, Organization
// and ServiceRequest the adapter emits is validated against the UK Core profile of its type, with no
// error allowed. UK Core is read from ../shared/reference/uk-core at test time (differential-only XML,
// snapshots generated here; nothing copied into the project); a missing folder fails the suite.
//
// Releases: STU2 2.0.2 (the line in live use) and main (the development line). The reference copy of
// 2.0.2 holds StructureDefinitions only, no ValueSets or CodeSystems, so its UK Core required bindings
// are stated exclusions below; main brings its own terminology.
//
// What the validator cannot check here is listed, never skipped silently: required bindings whose
// ValueSet needs a terminology server (each release's excludedValueSets; the suite fails if the
// validator meets an unexpandable ValueSet that is not listed, or a listed one becomes expandable),
// and the cross-version extension definitions the reference does not hold (expectedStubs).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle, Resource, StructureDefinition } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it, test } from 'vitest';
import type { NativeReferral } from '../../src/native/types.js';
import { createValidator, ProfileLoadError, type FhirValidator, type Issue } from '../../src/fhir/validator.js';
import { decisionOf, mappings, readJson, scenarios } from '../unit/mapping/helpers.js';
import { loadUkCore, readExamples, type UkCoreDefinitions, type UkCoreRelease } from './uk-core/definitions.js';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UK_CORE = fileURLToPath(new URL('../../../shared/reference/uk-core/', import.meta.url));
const TYPES = ['Patient', 'Practitioner', 'PractitionerRole', 'Organization', 'ServiceRequest'] as const;

interface Release extends UkCoreRelease {
  /** the resource types checked against this release: the five, plus any further profile it has */
  readonly types: readonly string[];
  /** ValueSets this release's validator cannot expand: url → why (each one a stated exclusion) */
  readonly excludedValueSets: Readonly<Record<string, string>>;
  /** cross-version extension definitions stubbed (url fixed, value unchecked) */
  readonly expectedStubs: readonly string[];
}

// Unexpandable for every release: code systems that are grammars or external terminologies, and
// ValueSets R4 core names but does not ship. None of them is bound by an element the adapter fills
// except Patient.communication.language (BCP-47 tags such as "en"; the mapping writes a fixed system).
const COMMON_EXCLUSIONS: Record<string, string> = {
  'http://hl7.org/fhir/ValueSet/all-languages':
    'BCP-47 is a grammar, not an enumerable CodeSystem (Patient.communication.language, Practitioner.communication); needs a terminology server',
  'http://hl7.org/fhir/ValueSet/mimetypes': 'BCP-13 MIME types are a grammar (Attachment.contentType); needs a terminology server',
  'http://hl7.org/fhir/ValueSet/currencies': 'ISO 4217 is not shipped with R4 core (Money.currency); needs a terminology server',
  'http://hl7.org/fhir/ValueSet/ucum-units': 'UCUM is a grammar (Quantity units in R4 core extensions); needs a terminology server',
  'http://hl7.org/fhir/ValueSet/characteristic-combination': 'named by R4 core but not shipped in its definitions',
  'http://hl7.org/fhir/ValueSet/subscription-notification-type': 'named by R4 core but not shipped in its definitions',
  'http://loinc.org/vs/LL379-9': 'a LOINC answer list; LOINC is not held locally',
};

const RELEASES: readonly Release[] = [
  {
    label: 'STU2 2.0.2',
    dir: join(UK_CORE, 'tag-2.0.2-62781c5'),
    types: TYPES,
    excludedValueSets: {
      ...COMMON_EXCLUSIONS,
      'https://fhir.hl7.org.uk/ValueSet/UKCore-BirthSex':
        'not in the reference copy of 2.0.2 (StructureDefinitions only); bound by Extension-UKCore-BirthSex, which the adapter does not emit',
      'https://fhir.hl7.org.uk/ValueSet/UKCore-NHSNumberVerificationStatus':
        'not in the reference copy of 2.0.2 (StructureDefinitions only); bound by Extension-UKCore-NHSNumberVerificationStatus, which the adapter does not emit',
    },
    expectedStubs: [],
  },
  {
    label: 'main 55dd5f7',
    dir: join(UK_CORE, 'main-55dd5f7'),
    terminologyDir: join(UK_CORE, 'main-55dd5f7'),
    // main also profiles the rest of what the adapter emits (2.0.2 has no such profiles).
    types: [...TYPES, 'QuestionnaireResponse', 'Flag', 'Bundle'],
    excludedValueSets: COMMON_EXCLUSIONS,
    // Patient.extension:fetalStatus names an R6 cross-version extension (package hl7.fhir.extensions.r5).
    expectedStubs: ['http://hl7.org/fhir/6.0/StructureDefinition/extension-Patient.fetalStatus'],
  },
];

// --- what the adapter emits ---------------------------------------------------------------------------

interface Emitted {
  readonly source: string;
  readonly expression: string;
  readonly resource: Resource;
}

/** The Bundle and every entry resource. */
function entriesOf(source: string, bundle: Bundle): Emitted[] {
  const out: Emitted[] = [{ source, expression: 'Bundle', resource: bundle }];
  (bundle.entry ?? []).forEach((e, i) => {
    if (e.resource) out.push({ source, expression: `Bundle.entry[${i}].resource`, resource: e.resource });
  });
  return out;
}

function emitted(): Emitted[] {
  const out: Emitted[] = [];
  const fhirDir = join(PROJECT_ROOT, 'fixtures/fhir');
  for (const f of readdirSync(fhirDir).sort()) {
    if (f.endsWith('.bundle.json')) out.push(...entriesOf(`fixtures/fhir/${f}`, readJson<Bundle>(join(fhirDir, f))));
    else if (f.endsWith('.json')) out.push({ source: `fixtures/fhir/${f}`, expression: '', resource: readJson<Resource>(join(fhirDir, f)) });
  }
  const m = mappings();
  const nativeDir = join(PROJECT_ROOT, 'fixtures/native');
  const inputs: [string, NativeReferral][] = readdirSync(nativeDir)
    .filter((n) => n.startsWith('referral-') && n.endsWith('.json'))
    .sort()
    .map((f) => [`fixtures/native/${f}`, readJson<NativeReferral>(join(nativeDir, f))]);
  for (const s of scenarios().filter((x) => x.kind === 'referral')) {
    inputs.push([`test/unit/mapping/fixtures/${s.name}/input.json`, readJson<NativeReferral>(join(s.dir, 'input.json'))]);
  }
  for (const [name, input] of inputs) {
    const bundle = JSON.parse(JSON.stringify(m.referralToBundle(input, decisionOf(input)))) as Bundle;
    out.push(...entriesOf(`referralToBundle(${name})`, bundle));
  }
  return out;
}

const EMITTED = emitted();

// --- one-field mutations UK Core forbids ----------------------------------------------------------------
// Not among them: an identifier with some other system than the NHS number's. UK Core slices
// Patient.identifier by system with open slicing and an optional nhsNumber slice, so such an
// identifier is simply not an NHS number, which UK Core allows (our own PainPlatform-Patient is what
// requires the NHS number).

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
const UKCORE_EXT = 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-';
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Mutation {
  readonly name: string;
  readonly type: (typeof TYPES)[number];
  readonly mutate: (r: Json) => void;
  /** the FHIRPath an error must carry (exactly, or matching the pattern) */
  readonly at: string | RegExp;
  /**
   * true when base R4 allows it, i.e. only the UK Core profile forbids it (checked too). Errors in a
   * UK Core extension's value are false: its definition applies by url, against base R4 as well.
   */
  readonly ukCoreOnly: boolean;
  /** releases where the rule cannot be checked (a stated exclusion): the case then expects no error */
  readonly excludedIn?: Readonly<Record<string, string>>;
}

const ethnicCategory = { url: `${UKCORE_EXT}EthnicCategory`, valueCodeableConcept: { coding: [{ system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategory', code: 'A' }] } };
const sourceOfServiceRequest = { url: `${UKCORE_EXT}SourceOfServiceRequest`, valueCodeableConcept: { text: 'GP' } };

const MUTATIONS: readonly Mutation[] = [
  {
    name: 'NHS number with a bad Modulus 11 check digit',
    type: 'Patient',
    mutate: (r) => (r.identifier[0].value = '9990000019'),
    at: 'Patient.identifier[0].value',
    ukCoreOnly: false,
  },
  {
    name: 'NHS number slice without a value (identifier:nhsNumber.value is 1..1)',
    type: 'Patient',
    mutate: (r) => {
      delete r.identifier[0].value;
      r.identifier[0].use = 'official'; // Identifier needs some content (ele-1)
    },
    at: 'Patient.identifier[0].value',
    ukCoreOnly: true,
  },
  {
    name: 'two NHS numbers (identifier:nhsNumber is 0..1)',
    type: 'Patient',
    mutate: (r) => r.identifier.push({ system: NHS, value: '9990000026' }),
    at: 'Patient.identifier',
    ukCoreOnly: true,
  },
  {
    name: 'Patient.gender outside administrative-gender',
    type: 'Patient',
    mutate: (r) => (r.gender = 'F'),
    at: 'Patient.gender',
    ukCoreOnly: false,
  },
  {
    name: 'two ethnic categories (extension:ethnicCategory is 0..1)',
    type: 'Patient',
    mutate: (r) => (r.extension = [...(r.extension ?? []), ethnicCategory, ethnicCategory]),
    at: 'Patient.extension',
    ukCoreOnly: true,
  },
  {
    name: 'ethnic category with a string value (Extension-UKCore-EthnicCategory is a CodeableConcept)',
    type: 'Patient',
    mutate: (r) => (r.extension = [...(r.extension ?? []), { url: ethnicCategory.url, valueString: 'A' }]),
    at: /^Patient\.extension\[\d+\]\.value\.ofType\(string\)$/,
    ukCoreOnly: false,
  },
  {
    name: 'NHS number verification status outside UKCore-NHSNumberVerificationStatus (required)',
    type: 'Patient',
    mutate: (r) =>
      (r.identifier[0].extension = [
        {
          url: `${UKCORE_EXT}NHSNumberVerificationStatus`,
          valueCodeableConcept: { coding: [{ system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland', code: '99' }] },
        },
      ]),
    at: 'Patient.identifier[0].extension[0].value.ofType(CodeableConcept)',
    ukCoreOnly: false, // the extension's definition applies by its url, with or without the profile
    excludedIn: { 'STU2 2.0.2': 'UKCore-NHSNumberVerificationStatus is not in the reference copy of 2.0.2' },
  },
  {
    name: 'Organization ODS code without a value (identifier:odsOrganisationCode.value is 1..1)',
    type: 'Organization',
    mutate: (r) => {
      delete r.identifier[0].value;
      r.identifier[0].use = 'official';
    },
    at: 'Organization.identifier[0].value',
    ukCoreOnly: true,
  },
  {
    name: 'two ODS organisation codes (identifier:odsOrganisationCode is 0..1)',
    type: 'Organization',
    mutate: (r) => r.identifier.push({ system: ODS, value: 'X26' }),
    at: 'Organization.identifier',
    ukCoreOnly: true,
  },
  {
    name: 'main location given as a string (Extension-UKCore-MainLocation is a Reference)',
    type: 'Organization',
    mutate: (r) => (r.extension = [{ url: `${UKCORE_EXT}MainLocation`, valueString: 'Salford' }]),
    at: 'Organization.extension[0].value.ofType(string)',
    ukCoreOnly: false,
  },
  {
    name: 'Practitioner.gender outside administrative-gender',
    type: 'Practitioner',
    mutate: (r) => (r.gender = 'M'),
    at: 'Practitioner.gender',
    ukCoreOnly: false,
  },
  {
    name: 'PractitionerRole.active not a boolean',
    type: 'PractitionerRole',
    mutate: (r) => (r.active = 'yes'),
    at: 'PractitionerRole.active',
    ukCoreOnly: false,
  },
  {
    name: 'ServiceRequest without subject',
    type: 'ServiceRequest',
    mutate: (r) => delete r.subject,
    at: 'ServiceRequest.subject',
    ukCoreOnly: false,
  },
  {
    name: 'ServiceRequest.status outside request-status',
    type: 'ServiceRequest',
    mutate: (r) => (r.status = 'cancelled'),
    at: 'ServiceRequest.status',
    ukCoreOnly: false,
  },
  {
    name: 'two sources of the request (extension:sourceOfServiceRequest is 0..1)',
    type: 'ServiceRequest',
    mutate: (r) => r.extension.push(sourceOfServiceRequest, sourceOfServiceRequest),
    at: 'ServiceRequest.extension',
    ukCoreOnly: true,
  },
];

// UK Core's own examples of the five types, validated against the generated snapshots: a check that
// generating the snapshots here adds no false errors. The errors they do have, each explained (file →
// FHIRPath → why); anything else fails.
const EXAMPLE_ERRORS: Record<string, Record<string, string>> = {
  'UKCore-Patient-BabyPatient-Example.xml': {
    'Patient.identifier[0].value': 'the example\'s NHS number 9912003890 fails the Modulus 11 check digit (a defect in the example)',
  },
  'UKCore-Patient-RichardSmith-Example.xml': {
    'Patient.extension[1].extension[1].value.ofType(Timing).repeat.period':
      'the fhir npm XML→JSON converter writes this decimal (Timing.repeat.period = 1) as the JSON string "1" (conversion artefact)',
  },
  'UKCore-Patient-Extension-ContactPreference-Example.xml': {
    'Patient.extension[0].extension[1].value.ofType(Timing).repeat.period':
      'the fhir npm XML→JSON converter writes this decimal (Timing.repeat.period = 1) as the JSON string "1" (conversion artefact)',
  },
};

// --- the suite ----------------------------------------------------------------------------------------

const errorsOf = (issues: Issue[]): Issue[] => issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');

/** The first emitted resource of a type (the mutation cases start from it). */
function sample(type: string): Json {
  const found = EMITTED.find((e) => e.resource.resourceType === type);
  if (!found) throw new Error(`no emitted ${type}`);
  return structuredClone(found.resource) as Json;
}

const summary: string[] = [];
afterAll(() => {
  if (summary.length) console.log(`UK Core conformance\n${summary.map((s) => `  ${s}`).join('\n')}`);
});

it(`finds UK Core at ${UK_CORE}`, () => {
  for (const r of RELEASES) {
    expect(existsSync(join(r.dir, 'structuredefinitions')), `${r.dir} is missing (CI provides ../shared/reference)`).toBe(true);
  }
});

it('has every emitted type to check', () => {
  const emittedTypes = new Set(EMITTED.map((e) => e.resource.resourceType));
  for (const r of RELEASES) for (const type of r.types) expect(emittedTypes, `${r.label} ${type}`).toContain(type);
});

for (const release of RELEASES) {
  describe(`UK Core ${release.label}`, () => {
    let uk: UkCoreDefinitions;
    let v: FhirValidator;
    let checked = 0;
    let errors = 0;
    let exampleCount = 0;

    beforeAll(() => {
      uk = loadUkCore(
        release,
        release.types.map((t) => `UKCore-${t}.xml`),
      );
      v = createValidator({
        profilesDir: join(PROJECT_ROOT, 'profiles'),
        extraDefinitions: [...uk.structures, ...uk.stubs, ...uk.valueSets, ...uk.codeSystems],
      });
    });

    it(`loads the profiles of ${release.types.join(', ')} with generated snapshots`, () => {
      for (const type of release.types) {
        const url = uk.profiles.get(type);
        expect(url, type).toBe(`https://fhir.hl7.org.uk/StructureDefinition/UKCore-${type}`);
        expect(v.hasProfile(url as string), url).toBe(true);
        const sd = uk.structures.find((s) => s.url === url) as StructureDefinition;
        expect(sd.snapshot?.element.length, url).toBeGreaterThan(sd.differential?.element.length ?? 0);
      }
      expect(uk.stubs.map((s) => s.url)).toEqual(release.expectedStubs);
    });

    const mine = EMITTED.filter((e) => release.types.includes(e.resource.resourceType));
    test.each(mine.map((e) => [e.source, e.expression, e.resource.resourceType, e] as const))(
      '%s %s (%s) has no error',
      (_source, _expression, type, e) => {
        const issues = errorsOf(v.validate(structuredClone(e.resource), uk.profiles.get(type)));
        checked++;
        errors += issues.length;
        expect(issues).toEqual([]);
      },
    );

    test.each(MUTATIONS.map((m) => [m.type, m.name, m] as const))('%s: %s is an error', (type, _name, m) => {
      const resource = sample(type);
      m.mutate(resource);
      const issues = errorsOf(v.validate(structuredClone(resource), uk.profiles.get(type)));
      const excluded = m.excludedIn?.[release.label];
      if (excluded) {
        expect(issues, `stated exclusion (${excluded}) but the rule is now checked: drop it`).toEqual([]);
        return;
      }
      expect(issues.length, 'no error').toBeGreaterThan(0);
      const matches = (x: string): boolean => (typeof m.at === 'string' ? x === m.at : m.at.test(x));
      expect(issues.some((i) => i.expression?.some(matches)), JSON.stringify(issues)).toBe(true);
      const base = errorsOf(v.validate(structuredClone(resource), `http://hl7.org/fhir/StructureDefinition/${type}`));
      if (m.ukCoreOnly) expect(base, 'base R4 should allow this: only UK Core forbids it').toEqual([]);
      else expect(base.length, 'base R4 forbids this too').toBeGreaterThan(0);
    });

    it("validates UK Core's own examples of the five types with only the explained errors", () => {
      const examples = readExamples(release, TYPES);
      expect(examples.length).toBeGreaterThanOrEqual(15);
      const found: Record<string, string[]> = {};
      for (const [file, resource] of examples) {
        const issues = errorsOf(v.validate(resource, uk.profiles.get(resource.resourceType)));
        if (issues.length) found[file] = issues.map((i) => i.expression?.[0] ?? '(no expression)').sort();
      }
      const expected = Object.fromEntries(
        Object.entries(EXAMPLE_ERRORS)
          .filter(([file]) => examples.some(([f]) => f === file))
          .map(([file, errs]) => [file, Object.keys(errs).sort()]),
      );
      expect(found).toEqual(expected);
      exampleCount = examples.length;
    });

    it('states every required binding it could not check', () => {
      const unexpandable = v.stats().unexpandableValueSets;
      expect([...unexpandable.keys()].sort()).toEqual(Object.keys(release.excludedValueSets).sort());
      // Which UK Core elements each exclusion leaves unchecked, for the summary.
      const where = new Map<string, string[]>();
      for (const sd of uk.structures) {
        for (const el of sd.snapshot?.element ?? []) {
          const vs = el.binding?.strength === 'required' ? el.binding.valueSet?.split('|')[0] : undefined;
          if (vs && unexpandable.has(vs)) where.set(vs, [...(where.get(vs) ?? []), `${sd.id}:${el.id}`]);
        }
      }
      summary.push(
        `${release.label}: ${uk.profiles.size} profiles + ${uk.structures.length - uk.profiles.size} extension definitions (snapshots generated), ` +
          `${uk.valueSets.length} ValueSets, ${uk.codeSystems.length} CodeSystems, ${uk.stubs.length} cross-version stubs; ` +
          `${checked} emitted resources checked, ${errors} errors; ${MUTATIONS.length} mutations; ${exampleCount} UK Core examples; ` +
          `${v.stats().skippedBindingChecks} binding checks skipped (unexpandable ValueSets)`,
      );
      for (const [vs, elements] of where) summary.push(`  excluded ${vs}: ${elements.join(', ')}`);
    });
  });
}

// The validator option this suite relies on: extra definitions are checked like the profiles folder's.
describe('createValidator({ extraDefinitions })', () => {
  const profilesDir = join(PROJECT_ROOT, 'profiles');
  const problemsOf = (extra: unknown[]): readonly string[] => {
    try {
      createValidator({ profilesDir, extraDefinitions: extra as never });
    } catch (e) {
      if (e instanceof ProfileLoadError) return e.problems;
      throw e;
    }
    return [];
  };
  const patientProfile = readJson<StructureDefinition>(join(profilesDir, 'StructureDefinition-PainPlatform-Patient.json'));

  test.each([
    ['a canonical URL the profiles folder defines', [patientProfile], /^extra\[0\] .*also defined in StructureDefinition-PainPlatform-Patient\.json$/],
    ['a resource that is no definition', [{ resourceType: 'Patient', url: 'https://example.org/x' }], /^extra\[0\] .*expected a StructureDefinition, ValueSet or CodeSystem/],
    ['a definition without url', [{ resourceType: 'ValueSet', status: 'active' }], /^extra\[0\] .*ValueSet has no url$/],
    ['a StructureDefinition without snapshot', [{ ...patientProfile, url: 'https://example.org/P', snapshot: undefined }], /has no snapshot/],
    ['the same URL twice', [{ resourceType: 'ValueSet', url: 'https://example.org/vs', status: 'active' }, { resourceType: 'ValueSet', url: 'https://example.org/vs', status: 'active' }], /^extra\[1\] .*also defined in extra\[0\]/],
  ])('refuses %s', (_what, extra, message) => {
    const problems = problemsOf(extra);
    expect(problems.some((p) => message.test(p)), problems.join('\n')).toBe(true);
  });

  it('accepts none (the default) and validates as without the option', () => {
    const patient = sample('Patient');
    expect(createValidator({ profilesDir, extraDefinitions: [] }).validate(structuredClone(patient))).toEqual(
      createValidator({ profilesDir }).validate(structuredClone(patient)),
    );
  });
});
