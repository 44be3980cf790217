// createValidator refuses to start on a broken profile set, naming every problem and its file.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, test } from 'vitest';
import { ProfileLoadError, createValidator } from '../../../src/fhir/validator.js';
import { PROFILES_DIR } from './helpers.js';
import { testPatientProfile, writeTestProfiles } from './test-profile.js';

function loadError(dir: string): ProfileLoadError {
  try {
    createValidator({ profilesDir: dir });
  } catch (e) {
    expect(e).toBeInstanceOf(ProfileLoadError);
    return e as ProfileLoadError;
  }
  throw new Error('createValidator did not fail');
}

function variant(change: (sd: Record<string, any>) => void): string {
  const sd = testPatientProfile() as Record<string, any>;
  change(sd);
  return JSON.stringify(sd);
}

const PATIENT = 'StructureDefinition-TestPatient.json';

describe('start-up fails with a clear message', () => {
  test.each([
    ['a file that is not JSON', { 'ValueSet-broken.json': '{ "resourceType": "ValueSet", ' }, [], /ValueSet-broken\.json: not valid JSON/],
    ['a file whose resourceType does not match its name', { 'CodeSystem-x.json': '{"resourceType":"ValueSet","url":"x"}' }, [], /CodeSystem-x\.json: expected resourceType "CodeSystem", found "ValueSet"/],
    ['a StructureDefinition without snapshot', { [PATIENT]: variant((sd) => delete sd.snapshot) }, [], /TestPatient\.json: StructureDefinition has no snapshot/],
    ['an unknown baseDefinition', { [PATIENT]: variant((sd) => (sd.baseDefinition = 'https://example.org/nope')) }, [], /TestPatient\.json: baseDefinition https:\/\/example\.org\/nope is not known/],
    [
      'an invariant that does not parse',
      { [PATIENT]: variant((sd) => sd.snapshot.element.find((e: any) => e.id === 'Patient.contact.name').constraint.push({ key: 'bad-1', severity: 'error', human: 'x', expression: 'family.exists(' })) },
      [],
      /TestPatient\.json: element Patient\.contact\.name constraint bad-1: FHIRPath "family\.exists\(" does not compile/,
    ],
    [
      'a slicing discriminator medplum cannot handle',
      { [PATIENT]: variant((sd) => (sd.snapshot.element.find((e: any) => e.id === 'Patient.identifier').slicing.discriminator[0].type = 'exists')) },
      [],
      /TestPatient\.json: .*Unsupported slicing discriminator type: exists/,
    ],
    [
      'a slice before its sliced element',
      { [PATIENT]: variant((sd) => (sd.snapshot.element = sd.snapshot.element.filter((e: any) => e.id !== 'Patient.identifier'))) },
      [],
      /TestPatient\.json: .*Patient\.identifier:mrn/,
    ],
    [
      'a required binding to a platform ValueSet that is missing',
      { [PATIENT]: variant((sd) => (sd.snapshot.element.find((e: any) => e.id === 'Patient.gender').binding.valueSet = 'https://fhir.painplatform.uk/ValueSet/missing')) },
      [],
      /Patient\.gender has a required binding to https:\/\/fhir\.painplatform\.uk\/ValueSet\/missing, which is not in the profiles folder/,
    ],
    [
      'a duplicate canonical URL',
      { 'ValueSet-binary-gender-copy.json': JSON.stringify({ resourceType: 'ValueSet', url: 'https://example.org/fhir/ValueSet/binary-gender', status: 'active' }) },
      [],
      /ValueSet-binary-gender\.json: ValueSet url https:\/\/example\.org\/fhir\/ValueSet\/binary-gender is also defined in ValueSet-binary-gender-copy\.json/,
    ],
  ] as [string, Record<string, string>, string[], RegExp][])('%s', (_n, extra, omit, message) => {
    const e = loadError(writeTestProfiles(extra, omit));
    expect(e.message).toMatch(message);
    expect(e.message).toMatch(/^Cannot load FHIR profiles from /);
  });

  it('reports every problem at once', () => {
    const e = loadError(writeTestProfiles({ 'ValueSet-a.json': '{', 'CodeSystem-b.json': '[' }));
    expect(e.problems).toHaveLength(2);
    expect(e.problems.join('\n')).toMatch(/ValueSet-a\.json[\s\S]*CodeSystem-b\.json|CodeSystem-b\.json[\s\S]*ValueSet-a\.json/);
  });

  it('a folder that does not exist', () => {
    expect(loadError(join(PROFILES_DIR, 'does-not-exist')).message).toMatch(/cannot read directory/);
  });

  it('ignores files that are not StructureDefinitions, ValueSets or CodeSystems (Questionnaires are read elsewhere)', () => {
    const v = createValidator({ profilesDir: writeTestProfiles({ 'Questionnaire-x.json': '{ not json', 'README.md': '# x' }) });
    expect(v.stats().profiles).toHaveLength(2);
  });
});

describe('the project profiles load', () => {
  it('all StructureDefinitions, ValueSets and CodeSystems in profiles/', () => {
    const v = createValidator({ profilesDir: PROFILES_DIR });
    const stats = v.stats();
    const sdFiles = JSON.parse(JSON.stringify(stats.profiles)) as string[];
    expect(sdFiles).toContain('https://fhir.painplatform.uk/StructureDefinition/PainPlatform-ServiceRequest');
    expect(sdFiles).toContain('https://fhir.painplatform.uk/StructureDefinition/Extension-SymptomDuration');
    // every platform required binding can be expanded: nothing of ours is silently skipped
    for (const url of stats.unexpandableValueSets.keys()) expect(url.startsWith('https://fhir.painplatform.uk/')).toBe(false);
    const bundle = JSON.parse(readFileSync(join(PROFILES_DIR, 'StructureDefinition-PainPlatform-ReferralBundle.json'), 'utf8'));
    expect(v.hasProfile(bundle.url)).toBe(true);
  });
});
