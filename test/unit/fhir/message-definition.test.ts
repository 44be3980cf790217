// The MessageDefinition of a GP → Pain Platform referral message and its GraphDefinition, read by
// loadMessageRules, and checkMessage over the BaRS-style message fixtures: the valid ones pass; one
// change per case fails with the expected issue at the expected place.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Bundle, MessageHeader } from 'fhir/r4.js';
import { afterAll, describe, expect, test } from 'vitest';
import { checkMessage, loadMessageRules, messageReason, type MessageRules } from '../../../src/fhir/message-definition.js';
import { PROFILES_DIR, PROJECT_ROOT, clone, projectValidator, summary } from './helpers.js';

const PP = 'https://fhir.painplatform.uk';
const SD = `${PP}/StructureDefinition/`;
const REQUEST = `${PP}/MessageDefinition/referral-request`;
const FIXTURES = resolve(PROJECT_ROOT, 'fixtures/fhir-inbound');
const fixture = (name: string): Bundle => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as Bundle;

const all = loadMessageRules(PROFILES_DIR);
const rules = all.get(REQUEST) as MessageRules;
const header = (b: Bundle): MessageHeader => b.entry?.[0]?.resource as MessageHeader;

describe('loadMessageRules on profiles/', () => {
  test('reads the request and response definitions', () => {
    expect([...all.keys()].sort()).toEqual([REQUEST, `${PP}/MessageDefinition/referral-response`]);
  });

  test('the request: BaRS event, ServiceRequest focus 1..1, every other resource type from the GraphDefinition', () => {
    expect(rules.event).toEqual({ system: 'https://fhir.nhs.uk/CodeSystem/message-events-bars', code: 'servicerequest-request' });
    expect(rules.focus).toEqual([{ type: 'ServiceRequest', profile: `${SD}PainPlatform-Inbound-ServiceRequest`, min: 1, max: 1 }]);
    expect(rules.bundleProfile).toBe(`${SD}PainPlatform-ReferralMessage`);
    expect(rules.resources.map((r) => [r.type, r.min, r.max, r.profile?.replace(SD, '')])).toEqual([
      ['MessageHeader', 1, 1, 'PainPlatform-ReferralMessageHeader'],
      ['Patient', 0, 1, 'PainPlatform-Inbound-Patient'],
      ['PractitionerRole', 0, 1, 'PainPlatform-Inbound-PractitionerRole'],
      ['Practitioner', 0, 1, 'PainPlatform-Practitioner'],
      ['Organization', 0, '*', 'PainPlatform-Organization'],
      ['QuestionnaireResponse', 0, 20, 'PainPlatform-Inbound-QuestionnaireResponse'],
    ]);
  });

  test('every profile the rules name is one the validator holds', () => {
    const v = projectValidator();
    for (const r of [...rules.focus, ...rules.resources]) expect(v.hasProfile(r.profile as string), r.type).toBe(true);
    expect(v.hasProfile(rules.bundleProfile as string)).toBe(true);
  });

  test('the MessageDefinitions and the GraphDefinition are valid R4', () => {
    const v = projectValidator();
    for (const f of ['MessageDefinition-referral-request.json', 'MessageDefinition-referral-response.json', 'GraphDefinition-referral-request.json']) {
      const r = JSON.parse(readFileSync(join(PROFILES_DIR, f), 'utf8'));
      expect(summary(v.validate(r).filter((i) => i.severity === 'error' || i.severity === 'fatal')), f).toEqual([]);
    }
  });
});

describe('loadMessageRules refuses an inconsistent definition, naming the file', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const read = (f: string) => JSON.parse(readFileSync(join(PROFILES_DIR, f), 'utf8'));
  const cases: [string, (md: any, graph: any) => void, RegExp][] = [
    ['graph names no GraphDefinition', (md) => (md.graph = [`${PP}/GraphDefinition/nope`]), /MessageDefinition-referral-request\.json: graph .*nope is not a GraphDefinition/],
    ['a link path of another form', (_m, g) => (g.link[1].path = 'entry.resource'), /GraphDefinition-referral-request\.json: link\[1\]: path "entry.resource"/],
    ['a link target of another type', (_m, g) => (g.link[1].target[0].type = 'Practitioner'), /link\[1\]: needs exactly one target, of type Patient/],
    ['max below min', (_m, g) => (g.link[1].min = 2), /link\[1\]: max 1 is below min 2/],
    ['max not a number', (_m, g) => (g.link[1].max = 'many'), /link\[1\]: max "many"/],
    ['a type listed twice', (_m, g) => (g.link[2].path = 'entry.resource.ofType(Patient)', (g.link[2].target[0].type = 'Patient')), /link\[2\]: Patient is listed twice/],
    ['the focus type also a link', (md) => (md.focus[0].code = 'Patient'), /link\[1\]: Patient is listed twice/],
    ['eventUri instead of eventCoding', (md) => ((md.eventUri = 'http://x'), delete md.eventCoding), /MessageDefinition-referral-request\.json: eventCoding needs a system and a code/],
    ['a graph not starting at Bundle', (_m, g) => (g.start = 'ServiceRequest'), /GraphDefinition-referral-request\.json: start is ServiceRequest/],
  ];
  test.each(cases)('%s', (_name, change, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'msgdef-'));
    dirs.push(dir);
    const md = read('MessageDefinition-referral-request.json');
    const graph = read('GraphDefinition-referral-request.json');
    change(md, graph);
    writeFileSync(join(dir, 'MessageDefinition-referral-request.json'), JSON.stringify(md));
    writeFileSync(join(dir, 'GraphDefinition-referral-request.json'), JSON.stringify(graph));
    expect(() => loadMessageRules(dir)).toThrow(message);
  });
});

describe('checkMessage', () => {
  test.each(['gp-referral.message.json', 'gp-cancellation.message.json'])('%s passes, each entry with its profile', (name) => {
    const { issues, profiles } = checkMessage(fixture(name), rules);
    expect(issues).toEqual([]);
    expect([...profiles].map(([i, p]) => [i, p.replace(SD, '')])).toEqual([
      [0, 'PainPlatform-ReferralMessageHeader'],
      [1, 'PainPlatform-Inbound-Patient'],
      [2, 'PainPlatform-Organization'],
      [3, 'PainPlatform-Organization'],
      [4, 'PainPlatform-Practitioner'],
      [5, 'PainPlatform-Inbound-PractitionerRole'],
      [6, 'PainPlatform-Inbound-QuestionnaireResponse'],
      [7, 'PainPlatform-Inbound-QuestionnaireResponse'],
      [8, 'PainPlatform-Inbound-ServiceRequest'],
    ]);
  });

  test('the fixtures are valid against the profiles checkMessage names', () => {
    const v = projectValidator();
    for (const name of ['gp-referral.message.json', 'gp-cancellation.message.json']) {
      const b = fixture(name);
      expect(summary(v.validate(b, rules.bundleProfile))).toEqual([]);
      for (const [i, p] of checkMessage(b, rules).profiles) expect(summary(v.validate(b.entry?.[i]?.resource, p)), `${name} entry ${i}`).toEqual([]);
    }
  });

  test('messageReason reads the BaRS reason', () => {
    expect(messageReason(fixture('gp-referral.message.json'))).toBe('new');
    expect(messageReason(fixture('gp-cancellation.message.json'))).toBe('update');
    const b = fixture('gp-cancellation.message.json');
    header(b).reason = { coding: [{ system: 'https://fhir.nhs.uk/CodeSystem/message-reason-bars', code: 'delete' }] };
    expect(messageReason(b)).toBe('delete');
    delete header(b).reason;
    expect(messageReason(b)).toBeUndefined();
  });

  type Row = [string, (b: any) => void, [string, string, string][]];
  const SR_ENTRY = 8;
  const rows: Row[] = [
    ['type transaction', (b) => (b.type = 'transaction'), [['error', 'invalid', 'Bundle.type']]],
    [
      'the MessageHeader not first',
      (b) => b.entry.push(b.entry.shift()),
      [['error', 'structure', 'Bundle.entry[0].resource']],
    ],
    ['another event', (b) => (b.entry[0].resource.eventCoding.code = 'booking-request'), [['error', 'not-supported', 'Bundle.entry[0].resource.eventCoding']]],
    ['an event of another system', (b) => (b.entry[0].resource.eventCoding.system = 'http://example.org/events'), [['error', 'not-supported', 'Bundle.entry[0].resource.eventCoding']]],
    ['reason absent', (b) => delete b.entry[0].resource.reason, [['error', 'required', 'Bundle.entry[0].resource.reason']]],
    ['reason not a BaRS reason', (b) => (b.entry[0].resource.reason.coding[0].code = 'cancel'), [['error', 'code-invalid', 'Bundle.entry[0].resource.reason']]],
    ['reason of another system', (b) => (b.entry[0].resource.reason.coding[0].system = 'http://example.org/reasons'), [['error', 'required', 'Bundle.entry[0].resource.reason']]],
    ['another MessageDefinition', (b) => (b.entry[0].resource.definition = 'https://fhir.nhs.uk/MessageDefinition/bars-message-servicerequest-request-referral'), [['error', 'not-supported', 'Bundle.entry[0].resource.definition']]],
    ['no focus', (b) => delete b.entry[0].resource.focus, [
      ['error', 'required', 'Bundle.entry[0].resource.focus'],
      ['error', 'structure', `Bundle.entry[${SR_ENTRY}].resource`],
    ]],
    ['focus to nothing', (b) => (b.entry[0].resource.focus[0].reference = 'urn:uuid:00000000-0000-4000-8000-000000000000'), [
      ['error', 'not-found', 'Bundle.entry[0].resource.focus[0]'],
      ['error', 'required', 'Bundle.entry[0].resource.focus'],
      ['error', 'structure', `Bundle.entry[${SR_ENTRY}].resource`],
    ]],
    ['focus on the Patient', (b) => (b.entry[0].resource.focus[0].reference = b.entry[1].fullUrl), [
      ['error', 'invalid', 'Bundle.entry[0].resource.focus[0]'],
      ['error', 'required', 'Bundle.entry[0].resource.focus'],
      ['error', 'structure', `Bundle.entry[${SR_ENTRY}].resource`],
    ]],
    ['two foci on the ServiceRequest', (b) => b.entry[0].resource.focus.push({ reference: b.entry[SR_ENTRY].fullUrl }), []],
    ['a second ServiceRequest', (b) => b.entry.push({ fullUrl: 'urn:uuid:1b7d1c8e-8f33-4a59-9d3c-0c2c3a1e2f10', resource: { ...b.entry[SR_ENTRY].resource } }), [
      ['error', 'structure', 'Bundle.entry[9].resource'],
    ]],
    ['two Patients', (b) => b.entry.push({ fullUrl: 'urn:uuid:1b7d1c8e-8f33-4a59-9d3c-0c2c3a1e2f11', resource: { ...b.entry[1].resource } }), [
      ['error', 'structure', 'Bundle.entry[9].resource'],
    ]],
    ['a Flag', (b) => b.entry.push({ fullUrl: 'urn:uuid:1b7d1c8e-8f33-4a59-9d3c-0c2c3a1e2f12', resource: { resourceType: 'Flag', status: 'active', code: { text: 'x' }, subject: { reference: b.entry[1].fullUrl } } }), [
      ['error', 'not-supported', 'Bundle.entry[9].resource'],
    ]],
    ['a second MessageHeader', (b) => b.entry.push({ fullUrl: 'urn:uuid:1b7d1c8e-8f33-4a59-9d3c-0c2c3a1e2f13', resource: { ...b.entry[0].resource } }), [
      ['error', 'structure', 'Bundle.entry[9].resource'],
    ]],
    ['an entry without resource', (b) => b.entry.push({ fullUrl: 'urn:uuid:1b7d1c8e-8f33-4a59-9d3c-0c2c3a1e2f14' }), [['error', 'required', 'Bundle.entry[9]']]],
    ['the Patient left out (contained or logical instead)', (b) => b.entry.splice(1, 1), []],
    ['focus by Type/id', (b) => {
      b.entry[SR_ENTRY].fullUrl = 'https://gp.example.org/fhir/ServiceRequest/sr1';
      b.entry[SR_ENTRY].resource.id = 'sr1';
      b.entry[0].resource.focus[0].reference = 'ServiceRequest/sr1';
    }, []],
    ['reason delete with an active ServiceRequest', (b) => (b.entry[0].resource.reason.coding[0].code = 'delete'), [
      ['error', 'business-rule', `Bundle.entry[${SR_ENTRY}].resource.status`],
    ]],
    ['reason delete with a revoked ServiceRequest', (b) => ((b.entry[0].resource.reason.coding[0].code = 'delete'), (b.entry[SR_ENTRY].resource.status = 'revoked')), []],
    ['no entries', (b) => (b.entry = []), [
      ['error', 'structure', 'Bundle.entry'],
    ]],
  ];
  test.each(rows)('%s', (_name, change, expected) => {
    const b = clone(fixture('gp-referral.message.json'));
    change(b);
    expect(checkMessage(b, rules).issues.map((i) => [i.severity, i.code, i.expression?.join(' | ')])).toEqual(expected);
  });

  test('too many QuestionnaireResponses names the first one over the limit', () => {
    const b = clone(fixture('gp-referral.message.json'));
    const qr = b.entry?.[6] as any;
    for (let k = 0; k < 19; k++) b.entry?.push({ ...qr, fullUrl: `urn:uuid:1b7d1c8e-8f33-4a59-9d3c-${String(k).padStart(12, '0')}` });
    const issues = checkMessage(b, rules).issues;
    expect(issues.map((i) => [i.code, i.expression])).toEqual([['structure', ['Bundle.entry[27].resource']]]);
    expect(issues[0].details?.text).toBe('21 QuestionnaireResponse entries; this message may hold 0 to 20');
  });

  test('every issue says what is allowed', () => {
    const b = clone(fixture('gp-referral.message.json'));
    (header(b).reason as any).coding[0].code = 'cancel';
    expect(checkMessage(b, rules).issues[0].details?.text).toMatch(/new .*update .*delete .*found "cancel"/);
  });
});
