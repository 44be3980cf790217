// The inbound profiles (what a GP system sends: standard codes and national identifiers only), through
// the adapter's validator. Each resource of the GP referral fixture passes its profile as it is; each
// row changes one field and names the error it must cause and where.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Bundle, Resource } from 'fhir/r4.js';
import { describe, expect, test } from 'vitest';
import { PROJECT_ROOT, clone, projectValidator } from '../fhir/helpers.js';

const SD = 'https://fhir.painplatform.uk/StructureDefinition/';
const tx = JSON.parse(readFileSync(resolve(PROJECT_ROOT, 'fixtures/fhir-inbound/gp-referral.transaction.json'), 'utf8')) as Bundle;
const message = JSON.parse(readFileSync(resolve(PROJECT_ROOT, 'fixtures/fhir-inbound/gp-referral.message.json'), 'utf8')) as Bundle;
const first = <T extends Resource>(type: string): T => tx.entry?.find((e) => e.resource?.resourceType === type)?.resource as T;

type Json = Record<string, any>;
const resources: Record<string, () => Json> = {
  'PainPlatform-Inbound-ServiceRequest': () => clone(first('ServiceRequest')),
  'PainPlatform-Inbound-Patient': () => clone(first('Patient')),
  'PainPlatform-Inbound-PractitionerRole': () => clone(first('PractitionerRole')),
  'PainPlatform-Inbound-QuestionnaireResponse': () => clone(first('QuestionnaireResponse')),
  'PainPlatform-Practitioner': () => clone(first('Practitioner')),
  'PainPlatform-Organization': () => clone(first('Organization')),
  'PainPlatform-ReferralMessageHeader': () => clone(message.entry?.[0]?.resource as Json),
  'PainPlatform-ReferralMessage': () => clone(message as Json),
};

const errorsOf = (r: Json, profile: string): [string, string][] =>
  projectValidator()
    .validate(r, SD + profile)
    .filter((i) => i.severity === 'error' || i.severity === 'fatal')
    .map((i) => [i.code, i.expression?.[0] ?? '']);

describe('a GP-style resource passes its inbound profile as sent', () => {
  test.each(Object.keys(resources))('%s', (profile) => {
    expect(errorsOf(resources[profile](), profile)).toEqual([]);
  });

  test('the GP resources carry no platform coding or identifier (the QRs answer our Questionnaires with their own answer codes)', () => {
    const notQr = tx.entry?.filter((e) => e.resource?.resourceType !== 'QuestionnaireResponse');
    expect(JSON.stringify(notQr)).not.toMatch(/fhir\.painplatform\.uk\/(CodeSystem|Id)\//);
  });
});

type Row = [string, string, (r: Json) => void, [string, string][]];
const SR = 'PainPlatform-Inbound-ServiceRequest';
const PAT = 'PainPlatform-Inbound-Patient';
const ROLE = 'PainPlatform-Inbound-PractitionerRole';
const QR = 'PainPlatform-Inbound-QuestionnaireResponse';
const MH = 'PainPlatform-ReferralMessageHeader';
const MSG = 'PainPlatform-ReferralMessage';
const rows: Row[] = [
  // ServiceRequest
  [SR, 'status draft', (r) => (r.status = 'draft'), [['code-invalid', 'ServiceRequest.status']]],
  [SR, 'status unknown', (r) => (r.status = 'unknown'), [['code-invalid', 'ServiceRequest.status']]],
  [SR, 'status absent', (r) => delete r.status, [['required', 'ServiceRequest.status']]],
  [SR, 'intent proposal', (r) => (r.intent = 'proposal'), [['code-invalid', 'ServiceRequest.intent']]],
  [SR, 'intent absent', (r) => delete r.intent, [['required', 'ServiceRequest.intent']]],
  [SR, 'subject absent', (r) => delete r.subject, [['required', 'ServiceRequest.subject']]],
  [SR, 'requester absent', (r) => delete r.requester, [['required', 'ServiceRequest.requester']]],
  [SR, 'authoredOn absent', (r) => delete r.authoredOn, [['required', 'ServiceRequest.authoredOn']]],
  [SR, 'authoredOn not a date', (r) => (r.authoredOn = '20/11/2026'), [['structure', 'ServiceRequest.authoredOn']]],
  [SR, 'priority not R4', (r) => (r.priority = 'soon'), [['code-invalid', 'ServiceRequest.priority']]],
  [SR, 'an unknown element', (r) => (r.urgency = 'routine'), [['structure', 'ServiceRequest.urgency']]],
  // Patient
  [PAT, 'NHS number absent', (r) => (r.identifier = [{ system: 'https://fhir.nhs.uk/Id/UBRN', value: '1' }]), [['required', 'Patient.identifier']]],
  [PAT, 'NHS number check digit', (r) => (r.identifier[0].value = '9000000008'), [['value', 'Patient.identifier[0].value']]],
  [PAT, 'two NHS numbers', (r) => r.identifier.push({ ...r.identifier[0] }), [['structure', 'Patient.identifier']]],
  [PAT, 'name absent', (r) => delete r.name, [['required', 'Patient.name']]],
  [PAT, 'birthDate absent', (r) => delete r.birthDate, [['required', 'Patient.birthDate']]],
  [PAT, 'gender absent', (r) => delete r.gender, [['required', 'Patient.gender']]],
  [PAT, 'gender not R4', (r) => (r.gender = 'F'), [['code-invalid', 'Patient.gender']]],
  // PractitionerRole
  [ROLE, 'practitioner absent', (r) => delete r.practitioner, [['required', 'PractitionerRole.practitioner']]],
  [ROLE, 'organization absent', (r) => delete r.organization, [['required', 'PractitionerRole.organization']]],
  // QuestionnaireResponse
  [QR, 'questionnaire absent', (r) => delete r.questionnaire, [['required', 'QuestionnaireResponse.questionnaire']]],
  [QR, 'subject absent', (r) => delete r.subject, [['required', 'QuestionnaireResponse.subject']]],
  [QR, 'authored absent', (r) => delete r.authored, [['required', 'QuestionnaireResponse.authored']]],
  [QR, 'status not R4', (r) => (r.status = 'done'), [['code-invalid', 'QuestionnaireResponse.status']]],
  [QR, 'two identifiers', (r) => (r.identifier = [r.identifier, r.identifier]), [['structure', 'QuestionnaireResponse.identifier']]],
  // Practitioner and Organization (the outbound profiles, which ask only for national identifiers)
  ['PainPlatform-Practitioner', 'SDS user id absent', (r) => (r.identifier[0].system = 'https://example.org/staff'), [['required', 'Practitioner.identifier']]],
  ['PainPlatform-Organization', 'ODS code absent', (r) => delete r.identifier, [['required', 'Organization.identifier']]],
  // MessageHeader
  [MH, 'eventUri', (r) => ((r.eventUri = 'https://example.org/referral'), delete r.eventCoding), [['required', 'MessageHeader.event.ofType(uri)']]],
  [MH, 'another BaRS event', (r) => (r.eventCoding.code = 'booking-request'), [['value', 'MessageHeader.event.ofType(Coding)']]],
  [MH, 'reason absent', (r) => delete r.reason, [['required', 'MessageHeader.reason']]],
  [MH, 'reason of another system', (r) => (r.reason.coding[0].system = 'https://example.org/reason'), [['value', 'MessageHeader.reason']]],
  [MH, 'focus absent', (r) => delete r.focus, [['required', 'MessageHeader.focus']]],
  [MH, 'two foci', (r) => r.focus.push(r.focus[0]), [['structure', 'MessageHeader.focus']]],
  [MH, 'definition absent', (r) => delete r.definition, [['required', 'MessageHeader.definition']]],
  [MH, 'source.endpoint absent', (r) => delete r.source.endpoint, [['required', 'MessageHeader.source.endpoint']]],
  // the message Bundle itself
  [MSG, 'type transaction', (r) => (r.type = 'transaction'), [['value', 'Bundle.type']]],
  [MSG, 'timestamp absent', (r) => delete r.timestamp, [['required', 'Bundle.timestamp']]],
  [MSG, 'fullUrl absent', (r) => delete r.entry[1].fullUrl, [['required', 'Bundle.entry[1].fullUrl']]],
];

describe('one change, one error', () => {
  test.each(rows)('%s: %s', (profile, _name, change, expected) => {
    const r = resources[profile]();
    change(r);
    const got = errorsOf(r, profile);
    for (const e of expected) expect(got, JSON.stringify(got)).toContainEqual(e);
  });
});
