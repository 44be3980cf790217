// Valid resources in the shape docs/fhir-contract.md gives (the step-up example of the native spec,
// with a self-harm Flag raised by the risk rule). Each call returns a fresh copy, so a test case can
// change one field without touching another case's base.
import type {
  Bundle,
  BundleEntry,
  Flag,
  Organization,
  Patient,
  Practitioner,
  PractitionerRole,
  QuestionnaireResponse,
  Resource,
  ServiceRequest,
} from 'fhir/r4.js';

const PP = 'https://fhir.painplatform.uk';
export const SD = `${PP}/StructureDefinition/`;
const CS = `${PP}/CodeSystem/`;
const SCT = 'http://snomed.info/sct';

export const ids = {
  patient: '2f1c0a57-3d0e-5b5a-9a0e-6a3f4e1b7c01',
  gpPractice: '6b7e2c43-95a1-5d8e-8f3c-0e4d2a1b9c02',
  referrerOrg: '9c4d1e2f-7a6b-5c3d-8e9f-1a2b3c4d5e03',
  recipient: 'a1b2c3d4-e5f6-5a7b-8c9d-0e1f2a3b4c04',
  practitioner: 'b2c3d4e5-f6a7-5b8c-9d0e-1f2a3b4c5d05',
  practitionerRole: 'c3d4e5f6-a7b8-5c9d-8e1f-2a3b4c5d6e06',
  qrPhq9: 'd4e5f6a7-b8c9-5d0e-9f2a-3b4c5d6e7f07',
  flag: 'e5f6a7b8-c9d0-5e1f-8a3b-4c5d6e7f8a08',
  serviceRequest: 'f6a7b8c9-d0e1-5f2a-9b4c-5d6e7f8a9b09',
};
const urn = (id: string): string => `urn:uuid:${id}`;

export function patient(): Patient {
  return {
    resourceType: 'Patient',
    id: ids.patient,
    meta: { profile: [`${SD}PainPlatform-Patient`] },
    extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired', valueBoolean: false }],
    identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9990000018' }],
    name: [{ use: 'official', family: 'Hughes', given: ['Amelia', 'Rose'], prefix: ['Ms'] }],
    telecom: [{ system: 'phone', value: '0161 496 0123' }],
    gender: 'female',
    birthDate: '1968-04-12',
    address: [{ use: 'home', line: ['14 Eccles Old Road'], city: 'Salford', postalCode: 'M6 8HA' }],
    generalPractitioner: [
      { reference: urn(ids.gpPractice), identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'P88001' } },
    ],
    communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'en' }] }, preferred: true }],
  };
}

export function organization(id = ids.gpPractice, odsCode = 'P88001'): Organization {
  return {
    resourceType: 'Organization',
    id,
    meta: { profile: [`${SD}PainPlatform-Organization`] },
    identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: odsCode }],
    active: true,
  };
}

export function practitioner(): Practitioner {
  return {
    resourceType: 'Practitioner',
    id: ids.practitioner,
    meta: { profile: [`${SD}PainPlatform-Practitioner`] },
    identifier: [{ system: 'https://fhir.nhs.uk/Id/sds-user-id', value: '555123456789' }],
    name: [{ use: 'official', family: 'Shah', given: ['Priya'] }],
  };
}

export function practitionerRole(): PractitionerRole {
  return {
    resourceType: 'PractitionerRole',
    id: ids.practitionerRole,
    meta: { profile: [`${SD}PainPlatform-PractitionerRole`] },
    identifier: [{ system: `${PP}/Id/practitioner-role-id`, value: '555123456789@NQ9X1' }],
    practitioner: { reference: urn(ids.practitioner) },
    organization: { reference: urn(ids.referrerOrg) },
    code: [{ coding: [{ system: `${CS}referrer-role`, code: 'pwp' }] }],
  };
}

export function questionnaireResponse(): QuestionnaireResponse {
  const answer = (code: string, display: string) => [{ valueCoding: { system: 'http://loinc.org', code, display } }];
  return {
    resourceType: 'QuestionnaireResponse',
    id: ids.qrPhq9,
    meta: { profile: [`${SD}PainPlatform-QuestionnaireResponse`] },
    extension: [
      {
        url: `${SD}Extension-AssessmentMode`,
        valueCoding: { system: `${CS}assessment-mode`, code: 'telephone' },
      },
    ],
    identifier: { system: `${PP}/Id/assessment-id`, value: 'PP-A-000311' },
    basedOn: [{ reference: urn(ids.serviceRequest) }],
    questionnaire: `${PP}/Questionnaire/phq-9|1.0.0`,
    status: 'completed',
    subject: { reference: urn(ids.patient) },
    authored: '2026-11-18T09:30:00+00:00',
    item: [
      { linkId: '44250-9', text: 'Little interest or pleasure in doing things', answer: answer('LA6569-3', 'Several days') },
      { linkId: '44261-6', text: 'Patient health questionnaire 9 item total score', answer: [{ valueInteger: 8 }] },
    ],
  };
}

export function flag(): Flag {
  return {
    resourceType: 'Flag',
    id: ids.flag,
    meta: {
      profile: [`${SD}PainPlatform-Flag`],
      tag: [{ system: `${CS}flag-origin`, code: 'risk-rule' }],
    },
    identifier: [{ system: `${PP}/Id/flag-id`, value: 'PP-2026-000123:self-harm' }],
    status: 'active',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/flag-category', code: 'safety' }] }],
    code: {
      coding: [
        { system: SCT, code: '401206008', display: 'At risk for deliberate self harm' },
        { system: `${CS}risk-flag`, code: 'self-harm' },
      ],
    },
    subject: { reference: urn(ids.patient) },
    period: { start: '2026-11-20T10:15:00+00:00' },
  };
}

export function serviceRequest(): ServiceRequest {
  return {
    resourceType: 'ServiceRequest',
    id: ids.serviceRequest,
    meta: { profile: [`${SD}PainPlatform-ServiceRequest`] },
    extension: [
      {
        url: `${SD}Extension-SymptomDuration`,
        valueDuration: { value: 26, unit: 'months', system: 'http://unitsofmeasure.org', code: 'mo' },
      },
      { url: `${SD}Extension-ContactMethod`, valueCoding: { system: `${CS}contact-method`, code: 'telephone' } },
      { url: `${SD}Extension-UrgencyAsSent`, valueCode: 'routine' },
    ],
    identifier: [{ system: `${PP}/Id/referral-id`, value: 'PP-2026-000123' }],
    status: 'active',
    intent: 'order',
    category: [
      {
        coding: [
          { system: SCT, code: '3457005', display: 'Patient referral' },
          { system: `${CS}referral-kind`, code: 'step-up', display: 'Step-up referral' },
        ],
      },
    ],
    priority: 'urgent',
    code: {
      coding: [
        { system: SCT, code: '278414003', display: 'Pain management' },
        { system: `${CS}care-step`, code: '3', display: 'Step 3: specialist pain management' },
      ],
    },
    subject: { reference: urn(ids.patient) },
    authoredOn: '2026-11-20T10:15:00+00:00',
    requester: { reference: urn(ids.practitionerRole) },
    performer: [{ reference: urn(ids.recipient) }],
    reasonCode: [
      {
        coding: [
          { system: SCT, code: '82423001', display: 'Chronic pain' },
          { system: `${CS}primary-condition`, code: 'chronic-widespread-pain' },
        ],
      },
    ],
    supportingInfo: [{ reference: urn(ids.qrPhq9) }, { reference: urn(ids.flag) }],
    note: [
      { text: 'Widespread pain for over two years.' },
      { text: 'Risk rule: PHQ-9 item 9 answered 1; urgency raised from routine to urgent.' },
    ],
    patientInstruction: 'Weekday mornings',
  };
}

function entry(resource: Resource & { id?: string }, ifNoneExist?: string): BundleEntry {
  return {
    fullUrl: urn(resource.id as string),
    resource,
    request: { method: 'POST', url: resource.resourceType, ...(ifNoneExist ? { ifNoneExist } : {}) },
  };
}

export function referralBundle(): Bundle {
  return {
    resourceType: 'Bundle',
    meta: { profile: [`${SD}PainPlatform-ReferralBundle`] },
    identifier: { system: `${PP}/Id/referral-id`, value: 'PP-2026-000123' },
    type: 'transaction',
    timestamp: '2026-11-20T10:15:00+00:00',
    entry: [
      entry(patient(), 'identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018'),
      entry(organization(ids.gpPractice, 'P88001'), 'identifier=https://fhir.nhs.uk/Id/ods-organization-code|P88001'),
      entry(organization(ids.referrerOrg, 'NQ9X1'), 'identifier=https://fhir.nhs.uk/Id/ods-organization-code|NQ9X1'),
      entry(organization(ids.recipient, 'RM3'), 'identifier=https://fhir.nhs.uk/Id/ods-organization-code|RM3'),
      entry(practitioner(), 'identifier=https://fhir.nhs.uk/Id/sds-user-id|555123456789'),
      entry(practitionerRole(), `identifier=${PP}/Id/practitioner-role-id|555123456789@NQ9X1`),
      entry(questionnaireResponse(), `identifier=${PP}/Id/assessment-id|PP-A-000311`),
      entry(flag(), `identifier=${PP}/Id/flag-id|PP-2026-000123:self-harm`),
      entry(serviceRequest(), `identifier=${PP}/Id/referral-id|PP-2026-000123`),
    ],
  };
}
