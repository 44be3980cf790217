// The conformance resources in profiles/: well-formed, named for what they are, every binding and
// every code system they use resolvable, and every code system complete.
import type { CodeSystem, ElementDefinition, ValueSet } from 'fhir/r4.js';
import { describe, expect, test } from 'vitest';
import { serializeResource } from '../../../src/fhir/snapshot.js';
import { PP, coreDefinitions, readProfileFiles, readStructureDefinitions } from './load.js';

const files = readProfileFiles();
const ours = files.map((f) => f.resource);
const sds = readStructureDefinitions().map((f) => f.sd);
const codeSystems = ours.filter((r) => r.resourceType === 'CodeSystem') as CodeSystem[];
const valueSets = ours.filter((r) => r.resourceType === 'ValueSet') as ValueSet[];

// R4 core terminology by resource type and url (the first one wins: valuesets.json before v2/v3).
const coreTerminology = new Map<string, CodeSystem | ValueSet>();
for (const entry of coreDefinitions().terminology.flatMap((b) => b.entry ?? [])) {
  const r = entry.resource as CodeSystem | ValueSet;
  if (r.url && !coreTerminology.has(`${r.resourceType}|${r.url}`)) {
    coreTerminology.set(`${r.resourceType}|${r.url}`, r);
  }
}
const stripVersion = (url: string): string => url.split('|')[0];
const findValueSet = (url: string): ValueSet | undefined =>
  valueSets.find((v) => v.url === stripVersion(url)) ??
  (coreTerminology.get(`ValueSet|${stripVersion(url)}`) as ValueSet | undefined);
const findCodeSystem = (url: string): CodeSystem | undefined =>
  codeSystems.find((c) => c.url === stripVersion(url)) ??
  (coreTerminology.get(`CodeSystem|${stripVersion(url)}`) as CodeSystem | undefined);

const PLATFORM_CODE_SYSTEMS: Record<string, string[]> = {
  'referral-kind': ['new', 'step-up', 'step-down'],
  'care-step': ['1', '2', '3'],
  'primary-condition': ['chronic-widespread-pain', 'fibromyalgia', 'chronic-pain-other'],
  'referrer-role': ['gp', 'pwp', 'pain-consultant', 'physiotherapist', 'nurse'],
  'risk-flag': ['self-harm', 'safeguarding', 'lone-worker-risk'],
  'assessment-instrument': ['PHQ-9', 'GAD-7', 'PEG'],
  'assessment-mode': ['telephone', 'online', 'paper', 'in-person'],
  'contact-method': ['telephone', 'video', 'face-to-face'],
  difficulty: ['0', '1', '2', '3'],
  'flag-origin': ['sent', 'risk-rule'],
};

function bindings(elements: ElementDefinition[] | undefined): { id: string; strength: string; valueSet: string }[] {
  return (elements ?? [])
    .filter((e) => e.binding?.valueSet)
    .map((e) => ({ id: e.id as string, strength: e.binding?.strength as string, valueSet: e.binding?.valueSet as string }));
}

describe('every file in profiles/', () => {
  test.each(files.map((f) => [f.name, f] as const))('%s is a named, canonical, 2-space JSON resource', (name, file) => {
    const r = file.resource;
    expect(typeof r.resourceType).toBe('string');
    expect(name).toBe(`${r.resourceType}-${r.id}.json`);
    expect(r.url).toBe(`${PP}/${r.resourceType}/${r.id}`);
    expect(typeof r.name).toBe('string');
    expect(['draft', 'active', 'retired', 'unknown']).toContain(r.status);
    expect(file.text).toBe(serializeResource(r));
  });

  test('urls are unique', () => {
    const urls = ours.map((r) => r.url);
    expect(new Set(urls).size).toBe(urls.length);
  });
});

describe('StructureDefinitions', () => {
  test.each(sds.map((sd) => [sd.id, sd] as const))('%s derives by constraint from R4 core', (_id, sd) => {
    expect(sd.fhirVersion).toBe('4.0.1');
    expect(sd.derivation).toBe('constraint');
    expect(sd.name).toMatch(/^[A-Z][A-Za-z0-9_]{0,254}$/);
    expect(sd.baseDefinition).toBe(`http://hl7.org/fhir/StructureDefinition/${sd.type}`);
    expect(sd.differential?.element.length).toBeGreaterThan(0);
    if (sd.type === 'Extension') {
      expect(sd.kind).toBe('complex-type');
      expect(sd.context?.length).toBeGreaterThan(0);
      expect(sd.differential?.element.find((e) => e.id === 'Extension.url')?.fixedUri).toBe(sd.url);
    } else {
      expect(sd.kind).toBe('resource');
      expect(sd.id).toMatch(/^PainPlatform-/);
    }
  });

  test.each(sds.map((sd) => [sd.id, sd] as const))('%s: every binding names a ValueSet that exists', (_id, sd) => {
    for (const b of [...bindings(sd.differential?.element), ...bindings(sd.snapshot?.element)]) {
      expect(findValueSet(b.valueSet), `${b.id} → ${b.valueSet}`).toBeDefined();
    }
  });

  test.each(sds.map((sd) => [sd.id, sd] as const))(
    '%s: bindings added by the differential are required bindings to our own ValueSets',
    (_id, sd) => {
      for (const b of bindings(sd.differential?.element)) {
        expect(b.strength, b.id).toBe('required');
        expect(b.valueSet, b.id).toMatch(new RegExp(`^${PP}/ValueSet/`));
      }
    },
  );

  test.each(sds.map((sd) => [sd.id, sd] as const))(
    '%s: constraints of its own are pp- errors, with human text and an expression',
    (_id, sd) => {
      for (const e of sd.differential?.element ?? []) {
        for (const c of e.constraint ?? []) {
          expect(c.key, e.id).toMatch(/^pp-[a-z]+-[0-9]+$/);
          expect(c.severity).toBe('error');
          expect(c.human.length).toBeGreaterThan(0);
          expect(c.expression?.length).toBeGreaterThan(0);
        }
      }
    },
  );

  test('pp- constraint keys are unique across the profiles', () => {
    const keys = sds.flatMap((sd) => (sd.differential?.element ?? []).flatMap((e) => (e.constraint ?? []).map((c) => c.key)));
    expect(new Set(keys).size).toBe(keys.length);
  });

  test('references between our profiles and extensions resolve', () => {
    const urls = new Set(sds.map((sd) => sd.url));
    for (const sd of sds) {
      for (const e of sd.differential?.element ?? []) {
        for (const t of e.type ?? []) {
          for (const target of [...(t.targetProfile ?? []), ...(t.profile ?? [])]) {
            if (target.startsWith(PP)) {
              expect(urls.has(target), `${sd.id} ${e.id} → ${target}`).toBe(true);
            }
          }
        }
      }
    }
  });
});

describe('CodeSystems and ValueSets', () => {
  test('there is a complete CodeSystem and a whole-system ValueSet of the same name for every platform code system', () => {
    for (const [id, codes] of Object.entries(PLATFORM_CODE_SYSTEMS)) {
      const cs = codeSystems.find((c) => c.id === id);
      expect(cs, id).toBeDefined();
      expect(cs?.content).toBe('complete');
      expect(cs?.count).toBe(codes.length);
      expect(cs?.concept?.map((c) => c.code)).toEqual(codes);
      expect(cs?.valueSet).toBe(`${PP}/ValueSet/${id}`);
      const vs = valueSets.find((v) => v.id === id);
      expect(vs?.name).toBe(cs?.name);
      expect(vs?.compose?.include).toEqual([{ system: cs?.url }]);
    }
  });

  test.each(codeSystems.map((cs) => [cs.id, cs] as const))('%s: every concept has a display and a definition', (_id, cs) => {
    expect(cs.caseSensitive).toBe(true);
    expect(cs.name).toMatch(/^[A-Z][A-Za-z0-9_]{0,254}$/);
    for (const c of cs.concept ?? []) {
      expect(c.display?.length, c.code).toBeGreaterThan(0);
      expect(c.definition?.length, c.code).toBeGreaterThan(0);
    }
    const codes = (cs.concept ?? []).map((c) => c.code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  test.each(valueSets.map((vs) => [vs.id, vs] as const))(
    '%s: every included CodeSystem exists and every listed code is in it, with its display',
    (_id, vs) => {
      expect(vs.name).toMatch(/^[A-Z][A-Za-z0-9_]{0,254}$/);
      expect(vs.compose?.include.length).toBeGreaterThan(0);
      for (const include of vs.compose?.include ?? []) {
        const cs = findCodeSystem(include.system as string);
        expect(cs, include.system).toBeDefined();
        for (const concept of include.concept ?? []) {
          const found = cs?.concept?.find((c) => c.code === concept.code);
          expect(found, `${include.system}#${concept.code}`).toBeDefined();
          expect(concept.display).toBe(found?.display);
        }
      }
    },
  );

  test('the R4 code sets we bind to have the codes the contract uses', () => {
    const codes = (id: string) => valueSets.find((v) => v.id === id)?.compose?.include.flatMap((i) => (i.concept ?? []).map((c) => c.code));
    expect(codes('request-priority-routine-urgent')).toEqual(['routine', 'urgent']);
    expect(codes('request-status')).toEqual(
      expect.arrayContaining(['active', 'on-hold', 'revoked', 'completed', 'entered-in-error']),
    );
    expect(codes('questionnaire-answers-status')).toEqual(
      expect.arrayContaining(['completed', 'in-progress', 'amended', 'entered-in-error']),
    );
    expect(codes('administrative-gender')).toEqual(['male', 'female', 'other', 'unknown']);
    expect(codes('flag-status')).toContain('active');
  });
});
