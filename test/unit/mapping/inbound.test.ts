// The inbound reverse mapping (mappings/inbound/inbound-referral.json run by src/mapping/inbound.ts):
// goldens from the GP fixtures in fixtures/fhir-inbound/ to the native referral (*.native.json; rewrite
// them with UPDATE_INBOUND_GOLDENS=1 and read the diff), one table per rule changing one field of the GP
// referral, and the loader refusing bad rules with the file and the rule named.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle, Reference, Resource, ServiceRequest } from 'fhir/r4.js';
import { afterAll, describe, expect, test } from 'vitest';
import type { InboundReferralPackage } from '../../../src/fhir/inbound-package.js';
import { MappingConfigError } from '../../../src/mapping/errors.js';
import { INBOUND_MAPPING_FILE, loadInboundMapping, type InboundMappingResult } from '../../../src/mapping/inbound.js';
import { validateReferral } from '../../../src/native/schema.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const MAPPINGS = join(ROOT, 'mappings');
const FIXTURES = join(ROOT, 'fixtures/fhir-inbound');
const NOW = new Date('2026-11-25T12:00:00Z');
const OPTS = { referralId: 'PP-IN-000001', defaultRecipientOds: 'RM3', now: NOW };

const mapper = loadInboundMapping(MAPPINGS);
const read = <T>(name: string): T => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as T;

// ---- a small resolver, as the front door does it (contained, Bundle entry, or a resource already held) ----

type Json = Record<string, any>;
interface Held {
  resource: Resource;
  location: string;
}

function packageOf(sr: ServiceRequest, srLocation: string, entries: (Held & { fullUrl?: string })[], known: Resource[] = []): InboundReferralPackage {
  const locations = new Map<object, string>([[sr, srLocation]]);
  // biome-ignore lint: the resolved resource is narrowed by resourceType below
  const resolveRef = (ref: Reference | undefined, holder: Resource, holderLoc: string, element: string): any => {
    if (!ref) return undefined;
    const r = ref.reference;
    if (r?.startsWith('#')) {
      const i = (holder as Json).contained?.findIndex((c: Json) => c.id === r.slice(1)) ?? -1;
      if (i < 0) return undefined;
      const c = (holder as Json).contained[i] as Resource;
      locations.set(c, `${holderLoc}.contained[${i}]`);
      return c;
    }
    if (r) {
      const e = entries.find((x) => x.fullUrl === r);
      if (e) locations.set(e.resource, e.location);
      return e?.resource;
    }
    const id = ref.identifier;
    const hit = [...entries.map((e) => e.resource), ...known].find((x) =>
      [(x as Json).identifier ?? []].flat().some((y: Json) => y.system === id?.system && y.value === id?.value),
    );
    if (hit && !locations.has(hit)) locations.set(hit, entries.find((e) => e.resource === hit)?.location ?? `${srLocation}.${element}`);
    return hit;
  };
  const patient = resolveRef(sr.subject, sr, srLocation, 'subject') as InboundReferralPackage['patient'];
  const pkg: InboundReferralPackage = { serviceRequest: sr, patient, questionnaireResponses: [], locations };
  const requester = resolveRef(sr.requester, sr, srLocation, 'requester');
  if (requester?.resourceType === 'PractitionerRole') {
    pkg.practitionerRole = requester;
    const loc = locations.get(requester) as string;
    pkg.practitioner = resolveRef(requester.practitioner, requester, loc, 'practitioner') as InboundReferralPackage['practitioner'];
    pkg.requesterOrganization = resolveRef(requester.organization, requester, loc, 'organization') as InboundReferralPackage['requesterOrganization'];
  } else if (requester?.resourceType === 'Practitioner') pkg.practitioner = requester;
  else if (requester?.resourceType === 'Organization') pkg.requesterOrganization = requester;
  const performer = resolveRef(sr.performer?.[0], sr, srLocation, 'performer[0]');
  if (performer?.resourceType === 'Organization') pkg.performerOrganization = performer;
  for (const ref of sr.supportingInfo ?? []) {
    const qr = resolveRef(ref, sr, srLocation, 'supportingInfo');
    if (qr?.resourceType === 'QuestionnaireResponse') pkg.questionnaireResponses.push(qr);
  }
  return pkg;
}

function packageOfBundle(bundle: Bundle, known: Resource[] = []): InboundReferralPackage {
  const entries = (bundle.entry ?? []).map((e, i) => ({ resource: e.resource as Resource, location: `Bundle.entry[${i}].resource`, fullUrl: e.fullUrl }));
  const sr = entries.find((e) => e.resource.resourceType === 'ServiceRequest') as Held;
  return packageOf(sr.resource as ServiceRequest, sr.location, entries, known);
}

const gpBundle = (): Bundle => read<Bundle>('gp-referral.transaction.json');
const heldPatient = (): Resource => structuredClone(gpBundle().entry?.[0]?.resource as Resource);
const heldPractitioner = (): Resource => structuredClone(gpBundle().entry?.find((e) => e.resource?.resourceType === 'Practitioner')?.resource as Resource);

const FIXTURE_PACKAGES: Record<string, () => InboundReferralPackage> = {
  'gp-referral.transaction.json': () => packageOfBundle(gpBundle()),
  'gp-referral.message.json': () => packageOfBundle(read('gp-referral.message.json')),
  'gp-cancellation.message.json': () => packageOfBundle(read('gp-cancellation.message.json')),
  'gp-referral-contained-patient.service-request.json': () =>
    packageOf(read('gp-referral-contained-patient.service-request.json'), 'ServiceRequest', [], [heldPractitioner()]),
  'gp-referral-logical-subject.service-request.json': () =>
    packageOf(read('gp-referral-logical-subject.service-request.json'), 'ServiceRequest', [], [heldPatient(), heldPractitioner()]),
};

const summary = (r: InboundMappingResult) => r.issues.map((i) => [i.severity, i.code, i.expression?.join(' | ')]);

// ---- goldens ----------------------------------------------------------------------------------------

describe('golden: GP fixture → native referral', () => {
  test.each(Object.keys(FIXTURE_PACKAGES))('%s', (name) => {
    const result = mapper.toNative(FIXTURE_PACKAGES[name]!(), OPTS);
    const golden = join(FIXTURES, name.replace(/\.json$/, '.native.json'));
    const text = `${JSON.stringify(result.referral, null, 2)}\n`;
    if (process.env.UPDATE_INBOUND_GOLDENS === '1' || !existsSync(golden)) writeFileSync(golden, text);
    expect(text).toBe(readFileSync(golden, 'utf8'));
    expect(result.issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(validateReferral(result.referral, NOW).problems).toEqual([]);
  });

  test('the issues each fixture gets', () => {
    const issues = Object.fromEntries(Object.entries(FIXTURE_PACKAGES).map(([n, p]) => [n, summary(mapper.toNative(p(), OPTS))]));
    expect(issues).toEqual({
      'gp-referral.transaction.json': [],
      'gp-referral.message.json': [],
      'gp-cancellation.message.json': [],
      'gp-referral-contained-patient.service-request.json': [],
      'gp-referral-logical-subject.service-request.json': [['warning', 'required', 'ServiceRequest.reasonCode']],
    });
  });

  test('the sender identifiers are kept', () => {
    expect(mapper.toNative(FIXTURE_PACKAGES['gp-referral.message.json']!(), OPTS).senderIdentifiers).toEqual([
      { resourceType: 'ServiceRequest', system: 'https://fhir.nhs.uk/Id/UBRN', value: '000012345678' },
      { resourceType: 'QuestionnaireResponse', system: 'https://fhir.eccles-practice.example/Id/questionnaire-response', value: 'EMP-QR-2026-0041' },
      { resourceType: 'QuestionnaireResponse', system: 'https://fhir.eccles-practice.example/Id/questionnaire-response', value: 'EMP QR 42 (GAD)' },
    ]);
  });

  test('a cancellation (revoked) is native cancelled', () => {
    expect(mapper.toNative(FIXTURE_PACKAGES['gp-cancellation.message.json']!(), OPTS).referral.status).toBe('cancelled');
  });
});

// ---- one rule per row -------------------------------------------------------------------------------

const SCT = 'http://snomed.info/sct';
const PP = 'https://fhir.painplatform.uk/CodeSystem/';
const SR = 'Bundle.entry[7].resource';
const PAT = 'Bundle.entry[0].resource';
type Change = (b: { sr: Json; patient: Json; prac: Json; role: Json; gp: Json; rec: Json; qrs: Json[]; bundle: Json }) => void;
/** [name, change, native path, expected value (undefined: absent), issues [severity, code, expression]] */
type Row = [string, Change, string, unknown, [string, string, string][]];

function mapChanged(change: Change, known: Resource[] = []): InboundMappingResult {
  const bundle = gpBundle() as Json;
  const r = (t: string) => bundle.entry.filter((e: Json) => e.resource.resourceType === t).map((e: Json) => e.resource);
  change({ sr: r('ServiceRequest')[0], patient: r('Patient')[0], prac: r('Practitioner')[0], role: r('PractitionerRole')[0], gp: r('Organization')[0], rec: r('Organization')[1], qrs: r('QuestionnaireResponse'), bundle });
  return mapper.toNative(packageOfBundle(bundle as Bundle, known), OPTS);
}

const get = (o: unknown, path: string): unknown => path.split('.').reduce<any>((x, k) => (x == null ? undefined : x[k]), o);

const rows: Row[] = [
  // kind
  ['kind: none → new', () => {}, 'kind', 'new', []],
  ['kind: platform coding', ({ sr }) => sr.category[0].coding.push({ system: `${PP}referral-kind`, code: 'step-down' }), 'kind', 'step-down', []],
  ['kind: platform coding unknown', ({ sr }) => sr.category[0].coding.push({ system: `${PP}referral-kind`, code: 'sideways' }), 'kind', 'new', [['error', 'code-invalid', `${SR}.category`]]],
  // step
  ['step: SNOMED 278414003 → 3', () => {}, 'step', 3, []],
  ['step: SNOMED 228557008 → 2', ({ sr }) => (sr.code.coding[0].code = '228557008'), 'step', 2, []],
  ['step: no code → 1', ({ sr }) => delete sr.code, 'step', 1, []],
  ['step: an unmapped SNOMED code → 1 with a warning', ({ sr }) => (sr.code.coding[0].code = '306265007'), 'step', 1, [['warning', 'code-invalid', `${SR}.code`]]],
  ['step: a platform coding wins', ({ sr }) => sr.code.coding.push({ system: `${PP}care-step`, code: '2' }), 'step', 2, []],
  // urgency
  ['urgency: routine', () => {}, 'urgency', 'routine', []],
  ['urgency: urgent', ({ sr }) => (sr.priority = 'urgent'), 'urgency', 'urgent', []],
  ['urgency: asap → urgent', ({ sr }) => (sr.priority = 'asap'), 'urgency', 'urgent', []],
  ['urgency: stat → urgent', ({ sr }) => (sr.priority = 'stat'), 'urgency', 'urgent', []],
  ['urgency: absent → routine', ({ sr }) => delete sr.priority, 'urgency', 'routine', []],
  // status
  ['status: active', () => {}, 'status', 'active', []],
  ['status: on-hold', ({ sr }) => (sr.status = 'on-hold'), 'status', 'on-hold', []],
  ['status: completed', ({ sr }) => (sr.status = 'completed'), 'status', 'completed', []],
  ['status: entered-in-error', ({ sr }) => (sr.status = 'entered-in-error'), 'status', 'entered-in-error', []],
  ['status: revoked → cancelled', ({ sr }) => (sr.status = 'revoked'), 'status', 'cancelled', []],
  ['status: draft refused', ({ sr }) => (sr.status = 'draft'), 'status', undefined, [['error', 'code-invalid', `${SR}.status`]]],
  // primaryCondition
  ['primaryCondition: 203082005 → fibromyalgia', () => {}, 'primaryCondition', 'fibromyalgia', []],
  ['primaryCondition: 82423001 → chronic-pain-other', ({ sr }) => (sr.reasonCode[0].coding[0].code = '82423001'), 'primaryCondition', 'chronic-pain-other', []],
  ['primaryCondition: platform coding wins', ({ sr }) => sr.reasonCode[0].coding.push({ system: `${PP}primary-condition`, code: 'chronic-widespread-pain' }), 'primaryCondition', 'chronic-widespread-pain', []],
  ['primaryCondition: absent → chronic-pain-other, warning', ({ sr }) => delete sr.reasonCode, 'primaryCondition', 'chronic-pain-other', [['warning', 'required', `${SR}.reasonCode`]]],
  ['primaryCondition: unmapped → chronic-pain-other, warning', ({ sr }) => (sr.reasonCode[0].coding[0].code = '35489007'), 'primaryCondition', 'chronic-pain-other', [['warning', 'code-invalid', `${SR}.reasonCode`]]],
  ['primaryCondition: two that disagree → the first, warning', ({ sr }) => sr.reasonCode.push({ coding: [{ system: SCT, code: '82423001' }] }), 'primaryCondition', 'fibromyalgia', [['warning', 'conflict', `${SR}.reasonCode`]]],
  // createdAt
  ['createdAt ← authoredOn', () => {}, 'createdAt', '2026-11-20T09:30:00+00:00', []],
  ['createdAt: a date alone is refused', ({ sr }) => (sr.authoredOn = '2026-11-20'), 'createdAt', undefined, [['error', 'value', `${SR}.authoredOn`]]],
  ['createdAt: no seconds is refused', ({ sr }) => (sr.authoredOn = '2026-11-20T09:30+00:00'), 'createdAt', undefined, [['error', 'value', `${SR}.authoredOn`]]],
  ['createdAt: in the future is refused', ({ sr }) => (sr.authoredOn = '2027-01-01T00:00:00Z'), 'createdAt', '2027-01-01T00:00:00Z', [['error', 'invariant', `${SR}.authoredOn`]]],
  // clinicalSummary, symptomDurationMonths
  ['clinicalSummary: one note', ({ sr }) => sr.note.splice(1), 'clinicalSummary', 'Widespread pain for 18 months, poor sleep.', []],
  ['clinicalSummary: none', ({ sr }) => delete sr.note, 'clinicalSummary', undefined, []],
  ['symptomDurationMonths ← Extension-SymptomDuration', () => {}, 'symptomDurationMonths', 18, []],
  ['symptomDurationMonths: not in months → absent', ({ sr }) => (sr.extension[0].valueDuration.code = 'a'), 'symptomDurationMonths', undefined, []],
  ['symptomDurationMonths: out of range → dropped, warning', ({ sr }) => (sr.extension[0].valueDuration.value = 700), 'symptomDurationMonths', undefined, [['warning', 'value', `${SR}.extension`]]],
  ['symptomDurationMonths: fractional → dropped, warning', ({ sr }) => (sr.extension[0].valueDuration.value = 2.5), 'symptomDurationMonths', undefined, [['warning', 'value', `${SR}.extension`]]],
  // patient
  ['patient.nhsNumber', () => {}, 'patient.nhsNumber', '9000000009', []],
  ['patient.nhsNumber absent', ({ patient }) => (patient.identifier = []), 'patient.nhsNumber', undefined, [['error', 'required', `${PAT}.identifier`]]],
  ['patient.name: official', () => {}, 'patient.name', { given: ['Jane', 'Anne'], family: 'Smith', prefix: 'Mrs' }, []],
  ['patient.name: no official → first complete', ({ patient }) => ((patient.name[0].use = 'maiden'), patient.name.unshift({ use: 'nickname', given: ['J'] })), 'patient.name.family', 'Smith', []],
  ['patient.name: none with a family name', ({ patient }) => (patient.name = [{ given: ['Jane'] }]), 'patient.name', undefined, [['error', 'required', `${PAT}.name`]]],
  ['patient.birthDate', () => {}, 'patient.birthDate', '1975-03-14', []],
  ['patient.birthDate partial refused', ({ patient }) => (patient.birthDate = '1975-03'), 'patient.birthDate', undefined, [['error', 'value', `${PAT}.birthDate`]]],
  ['patient.gender', ({ patient }) => (patient.gender = 'unknown'), 'patient.gender', 'unknown', []],
  ['patient.address: home over work', () => {}, 'patient.address.postcode', 'M30 0AB', []],
  ['patient.address: no home → first', ({ patient }) => patient.address.splice(1), 'patient.address', { lines: ['1 Office Park'], postcode: 'M1 1AA' }, []],
  ['patient.address: no postcode → dropped, warning', ({ patient }) => delete patient.address[1].postalCode, 'patient.address', undefined, [['warning', 'value', `${PAT}.address`]]],
  ['patient.phone: mobile first', () => {}, 'patient.phone', '+44 7700 900001', []],
  ['patient.phone: else the first', ({ patient }) => patient.telecom.pop(), 'patient.phone', '01632 960001', []],
  ['patient.phone: not a number → dropped, warning', ({ patient }) => (patient.telecom[2].value = 'ring the office'), 'patient.phone', undefined, [['warning', 'value', `${PAT}.telecom`]]],
  ['patient.email', () => {}, 'patient.email', 'jane.smith@example.org', []],
  ['patient.gpPractice ← generalPractitioner identifier', () => {}, 'patient.gpPractice', { odsCode: 'P88001' }, []],
  ['patient.gpPractice: reference only → absent', ({ patient }) => delete patient.generalPractitioner[0].identifier, 'patient.gpPractice', undefined, []],
  // referrer
  ['referrer.sdsUserId', () => {}, 'referrer.sdsUserId', '555123456789', []],
  ['referrer.name', () => {}, 'referrer.name', { given: ['Anita'], family: 'Patel', prefix: 'Dr' }, []],
  ['referrer.odsCode ← the requester Organization', ({ gp }) => (gp.identifier[0].value = 'Y01234'), 'referrer.odsCode', 'Y01234', []],
  ['referrer.odsCode ← PractitionerRole.organization identifier', ({ role }) => (role.organization = { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'Y05678' } }), 'referrer.odsCode', 'Y05678', []],
  ['referrer.odsCode ← the patient\'s GP practice', ({ role }) => delete role.organization, 'referrer.odsCode', 'P88001', []],
  ['referrer.role: 62247001 → gp', () => {}, 'referrer.role', 'gp', []],
  ['referrer.role: platform coding wins', ({ role }) => role.code[0].coding.push({ system: `${PP}referrer-role`, code: 'nurse' }), 'referrer.role', 'nurse', []],
  ['referrer.role: unmapped → absent, information', ({ role }) => (role.code[0].coding[0].code = '106292003'), 'referrer.role', undefined, [['information', 'code-invalid', 'Bundle.entry[4].resource.code']]],
  ['referrer: requester is an Organization', ({ sr, bundle }) => (sr.requester = { reference: bundle.entry[1].fullUrl }), 'referrer.sdsUserId', undefined, [
    ['error', 'required', `${SR}.requester`],
    ['error', 'required', `${SR}.requester`],
  ]],
  ['referrer: requester is a Practitioner', ({ sr, bundle }) => (sr.requester = { reference: bundle.entry[3].fullUrl }), 'referrer', { sdsUserId: '555123456789', name: { given: ['Anita'], family: 'Patel', prefix: 'Dr' }, odsCode: 'P88001' }, []],
  // recipient
  ['recipient ← the performer Organization', ({ rec }) => (rec.identifier[0].value = 'RW6'), 'recipient.odsCode', 'RW6', []],
  ['recipient ← performer identifier', ({ sr }) => (sr.performer = [{ identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'RBV' } }]), 'recipient.odsCode', 'RBV', []],
  ['recipient ← the default', ({ sr }) => delete sr.performer, 'recipient.odsCode', 'RM3', []],
  // preferences
  ['preferences', () => {}, 'preferences', { language: 'en', interpreterRequired: false, availability: 'Weekday mornings' }, []],
  ['preferences: contact method', ({ sr }) => sr.extension.push({ url: 'https://fhir.painplatform.uk/StructureDefinition/Extension-ContactMethod', valueCoding: { system: `${PP}contact-method`, code: 'video' } }), 'preferences.contactMethod', 'video', []],
  ['preferences: none → absent', ({ patient, sr }) => (delete patient.communication, (patient.extension = []), delete sr.patientInstruction), 'preferences', undefined, []],
  ['preferences: interpreter', ({ patient }) => (patient.extension[0].valueBoolean = true), 'preferences.interpreterRequired', true, []],
  ['preferences: language not BCP-47 → dropped, warning', ({ patient }) => (patient.communication[0].language.coding[0].code = 'english!'), 'preferences.language', undefined, [['warning', 'value', `${PAT}.communication`]]],
  // assessments
  ['assessments: ids (own when it fits, else referralId-A<n>)', () => {}, 'assessments', undefined, []],
  ['assessments: another Questionnaire is left out', ({ qrs }) => (qrs[1].questionnaire = 'http://example.org/Questionnaire/audit'), 'assessments.length', 1, [['warning', 'not-supported', 'Bundle.entry[6].resource.questionnaire']]],
  ['assessments: an unknown answer code', ({ qrs }) => (qrs[0].item[0].answer[0].valueCoding.code = 'LA0000-0'), 'assessments.length', 1, [['error', 'code-invalid', 'Bundle.entry[5].resource']]],
  ['assessments: a total that differs', ({ qrs }) => (qrs[0].item.at(-1).answer[0].valueInteger = 20), 'assessments.0.totalScore', 20, [['error', 'business-rule', 'Bundle.entry[5].resource.item[10].answer[0]']]],
  ['assessments: a version we do not hold is not ours', ({ qrs }) => (qrs[1].questionnaire = 'https://fhir.painplatform.uk/Questionnaire/gad-7|2.0.0'), 'assessments.length', 1, [['warning', 'not-supported', 'Bundle.entry[6].resource.questionnaire']]],
];

describe('rules, one change each', () => {
  test.each(rows)('%s', (_name, change, path, expected, issues) => {
    const result = mapChanged(change);
    if (path !== 'assessments') expect(get(result.referral, path)).toEqual(expected);
    expect(summary(result)).toEqual(issues);
  });

  test('assessment ids are always <referralId>-A<n>: senders\' own ids could clash across senders, and are kept as sender identifiers', () => {
    const r = mapChanged(() => {});
    expect(r.referral.assessments?.map((a) => [a.assessmentId, a.instrument])).toEqual([
      ['PP-IN-000001-A1', 'PHQ-9'],
      ['PP-IN-000001-A2', 'GAD-7'],
    ]);
    expect(r.senderIdentifiers.map((i) => i.value)).toContain('EMP-QR-2026-0041');
  });

  test('every issue text says what is wrong and what is allowed or done', () => {
    const texts = [
      mapChanged(({ sr }) => (sr.status = 'draft')),
      mapChanged(({ sr }) => (sr.authoredOn = '2026-11-20')),
      mapChanged(({ sr }) => delete sr.reasonCode),
      mapChanged(({ sr, bundle }) => (sr.requester = { reference: bundle.entry[1].fullUrl })),
    ].flatMap((r) => r.issues.map((i) => i.details?.text ?? ''));
    expect(texts[0]).toMatch(/draft.*known: active, on-hold, completed, revoked, entered-in-error/);
    expect(texts[1]).toMatch(/no time or no timezone offset.*e\.g\. 2026-11-20T09:30:00\+00:00/);
    expect(texts.find((t) => t.includes('reasonCode'))).toMatch(/received as "chronic-pain-other"/);
    expect(texts.find((t) => t.includes('SDS user id'))).toMatch(/needed: .*Practitioner with an SDS user id/);
  });

  test('a logical subject resolves to a patient already held; the issues point at ServiceRequest.subject', () => {
    const sr = read<ServiceRequest>('gp-referral-logical-subject.service-request.json');
    const patient = heldPatient() as Json;
    delete patient.birthDate;
    const result = mapper.toNative(packageOf(sr, 'ServiceRequest', [], [patient as Resource, heldPractitioner()]), OPTS);
    expect(summary(result)).toContainEqual(['error', 'required', 'ServiceRequest.subject.birthDate']);
  });

  test('a contained patient: issues point into ServiceRequest.contained', () => {
    const sr = read<Json>('gp-referral-contained-patient.service-request.json');
    sr.contained[0].gender = 'woman';
    const result = mapper.toNative(packageOf(sr as ServiceRequest, 'ServiceRequest', [], [heldPractitioner()]), OPTS);
    expect(summary(result)[0]).toEqual(['error', 'code-invalid', 'ServiceRequest.contained[0].gender']);
  });

  test('QuestionnaireResponses that are not ours do not stop the referral', () => {
    const r = mapChanged(({ qrs }) => ((qrs[0].questionnaire = 'x'), (qrs[1].questionnaire = 'y')));
    expect(r.referral.assessments).toBeUndefined();
    expect(r.issues.every((i) => i.severity === 'warning')).toBe(true);
  });
});

// ---- the loader ---------------------------------------------------------------------------------------

describe('loadInboundMapping refuses a bad rule, naming the file and the rule', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const FILE = join(MAPPINGS, INBOUND_MAPPING_FILE);
  const cases: [string, (m: Json) => void, RegExp][] = [
    ['an unknown field', (m) => (m.rules[3].defualt = 'new'), /rule "kind" \(rules\[3\]\): unknown field\(s\) "defualt"/],
    ['an unknown native field', (m) => (m.rules[3].native = 'knd'), /rule "kind" \(rules\[3\]\): native "knd" is not a native field/],
    ['a FHIRPath that does not compile', (m) => (m.rules[5].from = 'serviceRequest.priority.where('), /rule "urgency" \(rules\[5\]\): FHIRPath .* does not compile/],
    ['a path from nowhere', (m) => (m.rules[5].from = 'encounter.priority'), /rule "urgency" \(rules\[5\]\): "encounter.priority" must start with one of/],
    ['an unknown variable', (m) => (m.rules[10].from = '%patientNam.given'), /rule "patient-given" \(rules\[10\]\): unknown variable %patientNam/],
    ['an unknown ConceptMap', (m) => (m.rules[2].conceptMap = 'referal-status'), /rule "status" \(rules\[2\]\): unknown conceptMap "referal-status"/],
    ['an ambiguous target without a choice', (m) => delete m.rules[6].ambiguous, /rule "primary-condition" \(rules\[6\]\): ConceptMap primary-condition maps chronic-widespread-pain and chronic-pain-other to http:\/\/snomed.info\/sct\|82423001/],
    ['a choice that is not a source', (m) => (m.rules[6].ambiguous['http://snomed.info/sct|82423001'] = 'fibromyalgia'), /ambiguous .*82423001 → "fibromyalgia" is not one of chronic-widespread-pain, chronic-pain-other/],
    ['a default of the wrong type', (m) => (m.rules[4].default = '1'), /rule "step" \(rules\[4\]\): default "1" is not a integer/],
    ['a required field without a rule', (m) => m.rules.splice(5, 1), /rules: no rule writes urgency/],
    ['an optional required field', (m) => (m.rules[2].optional = true), /rule "status" \(rules\[2\]\): optional: status is required/],
    ['a severity that is not one', (m) => (m.rules[4].whenUnmapped = 'warn'), /rule "step" \(rules\[4\]\): "warn" is not one of/],
    ['a rule without a why', (m) => delete m.rules[4].description, /rule "step" \(rules\[4\]\): a rule says why/],
    ['an extension value read through the model', (m) => (m.rules[30].from = "patient.extension.where(url = 'x').value"), /rule "preference-interpreter" \(rules\[30\]\): .*name an extension's value as in JSON/],
    ['the same native field twice', (m) => m.rules.push({ ...m.rules[4], id: 'step-again' }), /rule "step-again" \(rules\[\d+\]\): native step is written by an earlier rule/],
  ];
  test.each(cases)('%s', (_name, change, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'inbound-map-'));
    dirs.push(dir);
    cpSync(MAPPINGS, join(dir, 'mappings'), { recursive: true });
    symlinkSync(join(ROOT, 'profiles'), join(dir, 'profiles'));
    const m = JSON.parse(readFileSync(FILE, 'utf8'));
    change(m);
    const file = join(dir, 'mappings', INBOUND_MAPPING_FILE);
    writeFileSync(file, JSON.stringify(m));
    let err: unknown;
    try {
      loadInboundMapping(join(dir, 'mappings'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MappingConfigError);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toMatch(message);
  });

  test('the committed file loads, and every rule says why', () => {
    const m = JSON.parse(readFileSync(FILE, 'utf8'));
    expect(m.rules.every((r: Json) => typeof r.description === 'string' && r.description.length > 10)).toBe(true);
  });
});
