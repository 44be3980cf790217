// The platform's definitions served read-only: loaded from the real profiles/ and
// mappings/conceptmaps/, read by id, searched by url / name / version / status, refused clearly when
// the query is not understood, and each one valid R4.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, test } from 'vitest';
import { OutcomeError } from '../../../src/fhir/outcomes.js';
import type { FhirValidator } from '../../../src/fhir/validator.js';
import { CONFORMANCE_TYPES, ConformanceResources } from '../../../src/services/conformance-resources.js';
import { PROFILES_DIR, PROJECT_ROOT, projectValidator } from '../fhir/helpers.js';

const CONCEPT_MAPS_DIR = resolve(PROJECT_ROOT, 'mappings/conceptmaps');
const PHQ9_URL = 'https://fhir.painplatform.uk/Questionnaire/phq-9';

type Json = Record<string, unknown>;

const served = ConformanceResources.load(PROFILES_DIR, CONCEPT_MAPS_DIR);

/** Every definition file on disk, as [type, file, parsed content]. */
const onDisk: [string, string, Json][] = [PROFILES_DIR, CONCEPT_MAPS_DIR].flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => /^[A-Z][A-Za-z]+-.+\.json$/.test(f))
    .map((f): [string, string, Json] => [f.slice(0, f.indexOf('-')), join(dir, f), JSON.parse(readFileSync(join(dir, f), 'utf8')) as Json]),
);

const ids = (list: Json[]): unknown[] => list.map((r) => r.id);

function outcomeOf(fn: () => unknown): { status: number; text: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof OutcomeError) return { status: e.status, text: e.outcome.issue.map((i) => i.details?.text).join('; ') };
    throw e;
  }
  throw new Error('expected an OutcomeError');
}

describe('loading the real folders', () => {
  it('holds the definition types the platform publishes', () => {
    for (const type of ['StructureDefinition', 'Questionnaire', 'ValueSet', 'CodeSystem', 'ConceptMap']) {
      expect(served.types()).toContain(type);
    }
    for (const type of served.types()) expect(onDisk.some(([t]) => t === type)).toBe(true);
    expect(served.types()).toEqual([...served.types()].sort());
  });

  it('every definition file on disk is served under its type and id, as stored', () => {
    expect(onDisk.length).toBeGreaterThan(40);
    for (const [type, file, json] of onDisk) {
      const { meta, ...rest } = served.read(type, json.id as string) ?? {};
      const { meta: diskMeta, ...diskRest } = json;
      expect(rest, file).toEqual(diskRest);
      expect(meta, file).toEqual({ ...(diskMeta as Json | undefined), versionId: '1', lastUpdated: statSync(file).mtime.toISOString() });
    }
    expect(served.types().reduce((n, t) => n + served.all(t).length, 0)).toBe(onDisk.length);
  });

  it('StructureDefinitions keep their snapshots', () => {
    const sd = served.read('StructureDefinition', 'PainPlatform-ServiceRequest') as { snapshot?: { element?: unknown[] } };
    expect(sd.snapshot?.element?.length).toBeGreaterThan(10);
  });

  it('a restart serves the same meta (stable ETag and Last-Modified)', () => {
    const again = ConformanceResources.load(PROFILES_DIR, CONCEPT_MAPS_DIR);
    for (const type of served.types()) {
      expect(again.all(type).map((r) => r.meta)).toEqual(served.all(type).map((r) => r.meta));
    }
  });
});

describe('profilesByType', () => {
  const PP = 'https://fhir.painplatform.uk/StructureDefinition/';
  it('groups the resource profiles by the type they constrain; extensions are not resource profiles', () => {
    const byType = served.profilesByType();
    expect(byType.get('ServiceRequest')).toEqual([`${PP}PainPlatform-Inbound-ServiceRequest`, `${PP}PainPlatform-ServiceRequest`]);
    expect(byType.get('Bundle')).toContain(`${PP}PainPlatform-ReferralBundle`);
    expect(byType.has('Extension')).toBe(false);
    const all = [...byType.values()].flat();
    const resourceProfiles = served.all('StructureDefinition').filter((sd) => sd.kind === 'resource').map((sd) => sd.url);
    expect([...all].sort()).toEqual([...resourceProfiles].sort());
  });
});

describe('read', () => {
  test.each([
    ['Questionnaire', 'phq-9', PHQ9_URL],
    ['ConceptMap', 'gender', 'https://fhir.painplatform.uk/ConceptMap/gender'],
    ['CodeSystem', 'care-step', 'https://fhir.painplatform.uk/CodeSystem/care-step'],
    ['ValueSet', 'care-step', 'https://fhir.painplatform.uk/ValueSet/care-step'],
    ['StructureDefinition', 'PainPlatform-Patient', 'https://fhir.painplatform.uk/StructureDefinition/PainPlatform-Patient'],
  ])('%s/%s', (type, id, url) => {
    expect(served.read(type, id)).toMatchObject({ resourceType: type, id, url, meta: { versionId: '1' } });
  });

  test.each([
    ['an unknown id', 'Questionnaire', 'phq-10'],
    ['an id of another type', 'ConceptMap', 'phq-9'],
    ['a type not held', 'ServiceRequest', 'phq-9'],
  ])('%s → undefined', (_n, type, id) => {
    expect(served.read(type, id)).toBeUndefined();
  });

  it('hands out copies: changing one does not change the next read', () => {
    const first = served.read('Questionnaire', 'phq-9') as Json;
    first.status = 'retired';
    (first.meta as Json).versionId = '2';
    expect(served.read('Questionnaire', 'phq-9')).toMatchObject({ status: 'active', meta: { versionId: '1' } });
  });
});

describe('search', () => {
  test.each<[string, string, Record<string, string | string[]>, string[]]>([
    ['url', 'Questionnaire', { url: PHQ9_URL }, ['phq-9']],
    ['url|version', 'Questionnaire', { url: `${PHQ9_URL}|1.0.0` }, ['phq-9']],
    ['url|another version', 'Questionnaire', { url: `${PHQ9_URL}|2.0.0` }, []],
    ['url of another type', 'ValueSet', { url: PHQ9_URL }, []],
    ['url, either of two', 'Questionnaire', { url: `${PHQ9_URL},https://fhir.painplatform.uk/Questionnaire/peg` }, ['peg', 'phq-9']],
    ['name starts with, any case', 'Questionnaire', { name: 'phq' }, ['phq-9']],
    ['name:exact', 'Questionnaire', { 'name:exact': 'PHQ9' }, ['phq-9']],
    ['name:exact, other case', 'Questionnaire', { 'name:exact': 'phq9' }, []],
    ['name:contains', 'StructureDefinition', { 'name:contains': 'inboundservicerequest' }, ['PainPlatform-Inbound-ServiceRequest']],
    ['_id', 'CodeSystem', { _id: 'care-step' }, ['care-step']],
    ['version and status', 'Questionnaire', { version: '1.0.0', status: 'active' }, ['gad-7', 'peg', 'phq-9']],
    ['status retired', 'Questionnaire', { status: 'retired' }, []],
    ['repeated parameter: both must hold', 'Questionnaire', { name: ['P', 'PH'] }, ['phq-9']],
    ['result parameters are left to the route', 'Questionnaire', { _count: '1', _format: 'json', name: 'GAD' }, ['gad-7']],
    ['no parameters: all of the type', 'Questionnaire', {}, ['gad-7', 'peg', 'phq-9']],
  ])('%s', (_n, type, query, expected) => {
    expect(ids(served.search(type, query))).toEqual(expected);
  });

  test.each<[string, string, Record<string, string>, RegExp]>([
    ['an unknown parameter', 'ValueSet', { title: 'x' }, /Unknown search parameter "title" for ValueSet; supported: _id, url, name, version, status/],
    ['an unknown modifier', 'ValueSet', { 'url:below': 'https://fhir.painplatform.uk/' }, /Unknown search parameter "url:below"/],
    ['a modifier on a result parameter', 'ValueSet', { '_count:x': '1' }, /Unknown search parameter "_count:x"/],
    ['a type not held', 'ServiceRequest', { url: 'x' }, /ServiceRequest is not served here; the definition types are: .*CodeSystem/],
  ])('%s → 400 saying what is supported', (_n, type, query, text) => {
    const { status, text: got } = outcomeOf(() => served.search(type, query));
    expect(status).toBe(400);
    expect(got).toMatch(text);
  });
});

describe('every served resource is valid R4', () => {
  let validator: FhirValidator;
  beforeAll(() => {
    validator = projectValidator();
  });
  const errorsOf = (resource: Json): string[] =>
    validator
      .validate(resource, `http://hl7.org/fhir/StructureDefinition/${String(resource.resourceType)}`)
      .filter((i) => i.severity === 'error' || i.severity === 'fatal')
      .map((i) => `${i.code} ${i.details?.text} @ ${i.expression?.join(', ')}`);

  test.each(served.types().flatMap((type) => served.all(type).map((r): [string, Json] => [`${type}/${String(r.id)}`, r])))('%s', (_n, resource) => {
    expect(errorsOf(resource)).toEqual([]);
  });

  it('the check can fail: a served resource with a bad status has an error', () => {
    expect(errorsOf({ ...(served.read('Questionnaire', 'phq-9') as Json), status: 'published' })).not.toEqual([]);
  });

  it('every type held is one the front door routes (CONFORMANCE_TYPES)', () => {
    for (const type of served.types()) expect(CONFORMANCE_TYPES as readonly string[]).toContain(type);
  });
});

describe('loading refuses ambiguous or broken folders, naming the files', () => {
  let dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    dirs = [];
  });
  const folder = (files: Record<string, unknown>): string => {
    const dir = mkdtempSync(join(tmpdir(), 'conformance-'));
    dirs.push(dir);
    for (const [name, content] of Object.entries(files)) {
      writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
    }
    return dir;
  };
  const vs = (id: string, url = `https://example.org/ValueSet/${id}`): Json => ({ resourceType: 'ValueSet', id, url, status: 'active' });

  test.each<[string, Record<string, unknown>, Record<string, unknown>, RegExp[]]>([
    ['a duplicate url', { 'ValueSet-a.json': vs('a', 'https://example.org/ValueSet/same') }, { 'ValueSet-b.json': vs('b', 'https://example.org/ValueSet/same') }, [/ValueSet-b\.json: ValueSet url https:\/\/example\.org\/ValueSet\/same is also defined in .*ValueSet-a\.json/]],
    ['a duplicate id', { 'ValueSet-a.json': vs('same'), 'ValueSet-b.json': vs('same', 'https://example.org/ValueSet/other') }, {}, [/ValueSet-b\.json: ValueSet id "same" is also the id in .*ValueSet-a\.json/]],
    ['a resourceType other than the file name says', { 'CodeSystem-a.json': vs('a') }, {}, [/CodeSystem-a\.json: expected resourceType "CodeSystem".*found "ValueSet"/]],
    ['no id', { 'ValueSet-a.json': { resourceType: 'ValueSet', url: 'https://example.org/x' } }, {}, [/ValueSet-a\.json: ValueSet has no id/]],
    ['not JSON', { 'ValueSet-a.json': '{ "resourceType": ' }, {}, [/ValueSet-a\.json: not valid JSON/]],
    ['several problems at once', { 'ValueSet-a.json': '{', 'CodeSystem-b.json': vs('b') }, {}, [/2 problem/, /ValueSet-a\.json/, /CodeSystem-b\.json/]],
  ])('%s → throws', (_n, profiles, conceptMaps, messages) => {
    const load = (): unknown => ConformanceResources.load(folder(profiles), folder(conceptMaps));
    expect(load).toThrow();
    for (const m of messages) expect(load).toThrow(m);
  });

  it('a new definition type is served without a code change; other files are ignored', () => {
    const graph = { resourceType: 'GraphDefinition', id: 'referral', name: 'Referral', status: 'active', start: 'ServiceRequest' };
    const loaded = ConformanceResources.load(folder({ 'GraphDefinition-referral.json': graph, 'README.md': '# notes', 'notes.json': '{' }), folder({}));
    expect(loaded.types()).toEqual(['GraphDefinition']);
    expect(loaded.read('GraphDefinition', 'referral')).toMatchObject(graph);
  });
});
