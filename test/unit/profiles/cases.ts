// One-field variants of the contract-shaped examples, per profile: those the profile accepts and
// those it rejects, with where (FHIRPath) and why medplum's validator says so. Shared by the medplum
// test (profile-validation) and the FHIRPath cross-check (invariants).
import type {
  Bundle,
  Flag,
  Observation,
  Organization,
  Patient,
  Practitioner,
  PractitionerRole,
  QuestionnaireResponse,
  ServiceRequest,
} from 'fhir/r4.js';
import * as ex from './examples.js';

export interface Broken<T> {
  name: string;
  change: (r: T) => void;
  /** Where medplum reports the problem, and (part of) what it says. */
  expression: string;
  message: string;
}

export interface Suite<T> {
  profile: string;
  base: () => T;
  valid: [string, (r: T) => void][];
  broken: Broken<T>[];
}

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
export const CS = 'https://fhir.painplatform.uk/CodeSystem/';
const SCT = 'http://snomed.info/sct';

export const patientSuite: Suite<Patient> = {
  profile: 'PainPlatform-Patient',
  base: ex.patient,
  valid: [
    ['another identifier beside the NHS number', (r) => r.identifier?.push({ system: 'https://example.org/mrn', value: 'X1' })],
    ['NHS number 9000000009', (r) => ((r.identifier ?? [])[0].value = '9000000009')],
    ['no interpreter extension, telecom, address, GP or language', (r) => {
      delete r.extension;
      delete r.telecom;
      delete r.address;
      delete r.generalPractitioner;
      delete r.communication;
    }],
  ],
  broken: [
    { name: 'no identifier', change: (r) => delete r.identifier, expression: 'Patient.identifier', message: 'Missing required property' },
    {
      name: 'no NHS number identifier',
      change: (r) => (r.identifier = [{ system: 'https://example.org/mrn', value: '9990000018' }]),
      expression: 'Patient.identifier',
      message: "slice 'nhsNumber': expected 1..1, but found 0",
    },
    {
      name: 'two NHS numbers',
      change: (r) => r.identifier?.push({ system: NHS, value: '9000000009' }),
      expression: 'Patient.identifier',
      message: "slice 'nhsNumber': expected 1..1, but found 2",
    },
    { name: 'no name', change: (r) => delete r.name, expression: 'Patient.name', message: 'Missing required property' },
    {
      name: 'a name without family',
      change: (r) => delete (r.name ?? [])[0].family,
      expression: 'Patient.name[0].family',
      message: 'Missing required property',
    },
    {
      name: 'a name without given',
      change: (r) => delete (r.name ?? [])[0].given,
      expression: 'Patient.name[0].given',
      message: 'Missing required property',
    },
    { name: 'no gender', change: (r) => delete r.gender, expression: 'Patient.gender', message: 'Missing required property' },
    { name: 'no birth date', change: (r) => delete r.birthDate, expression: 'Patient.birthDate', message: 'Missing required property' },
    {
      name: 'interpreterRequired twice',
      change: (r) => r.extension?.push({ url: 'http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired', valueBoolean: true }),
      expression: 'Patient.extension',
      message: "slice 'interpreterRequired': expected 0..1, but found 2",
    },
  ],
};

export const organizationSuite: Suite<Organization> = {
  profile: 'PainPlatform-Organization',
  base: ex.organization,
  valid: [
    ['a 3-character ODS code', (r) => ((r.identifier ?? [])[0].value = 'RM3')],
    ['an ODS site code beside it', (r) => r.identifier?.push({ system: 'https://fhir.nhs.uk/Id/ods-site-code', value: 'RM301' })],
  ],
  broken: [
    { name: 'no identifier', change: (r) => delete r.identifier, expression: 'Organization.identifier', message: 'Missing required property' },
    {
      name: 'no ODS code',
      change: (r) => (r.identifier = [{ system: 'https://fhir.nhs.uk/Id/ods-site-code', value: 'P88001' }]),
      expression: 'Organization.identifier',
      message: "slice 'odsOrganisationCode': expected 1..1, but found 0",
    },
    {
      name: 'ODS code in lower case',
      change: (r) => ((r.identifier ?? [])[0].value = 'p88001'),
      expression: 'Organization.identifier[0]',
      message: 'pp-org-1',
    },
    {
      name: 'ODS code of 7 characters',
      change: (r) => ((r.identifier ?? [])[0].value = 'P880011'),
      expression: 'Organization.identifier[0]',
      message: 'pp-org-1',
    },
    {
      name: 'ODS code of 2 characters',
      change: (r) => ((r.identifier ?? [])[0].value = 'P8'),
      expression: 'Organization.identifier[0]',
      message: 'pp-org-1',
    },
  ],
};

export const practitionerSuite: Suite<Practitioner> = {
  profile: 'PainPlatform-Practitioner',
  base: ex.practitioner,
  valid: [['a prefix in the name', (r) => ((r.name ?? [])[0].prefix = ['Dr'])]],
  broken: [
    {
      name: 'no SDS user id',
      change: (r) => (r.identifier = [{ system: 'https://fhir.hl7.org.uk/Id/gmc-number', value: 'C1234567' }]),
      expression: 'Practitioner.identifier',
      message: "slice 'sdsUserId': expected 1..1, but found 0",
    },
    {
      name: 'SDS user id with letters',
      change: (r) => ((r.identifier ?? [])[0].value = 'G1234567'),
      expression: 'Practitioner.identifier[0]',
      message: 'pp-prac-1',
    },
    { name: 'no name', change: (r) => delete r.name, expression: 'Practitioner.name', message: 'Missing required property' },
    {
      name: 'a name without family',
      change: (r) => delete (r.name ?? [])[0].family,
      expression: 'Practitioner.name[0].family',
      message: 'Missing required property',
    },
  ],
};

export const practitionerRoleSuite: Suite<PractitionerRole> = {
  profile: 'PainPlatform-PractitionerRole',
  base: ex.practitionerRole,
  valid: [
    ['no role code (role not given)', (r) => delete r.code],
    ['SNOMED beside the platform role', (r) => (r.code = [{ coding: [
      { system: SCT, code: '62247001', display: 'General practitioner' },
      { system: `${CS}referrer-role`, code: 'gp' },
    ] }])],
  ],
  broken: [
    {
      name: 'no platform role id',
      change: (r) => delete r.identifier,
      expression: 'PractitionerRole.identifier',
      message: 'Missing required property',
    },
    {
      name: 'role id without the ODS code',
      change: (r) => ((r.identifier ?? [])[0].value = '555123456789'),
      expression: 'PractitionerRole.identifier[0]',
      message: 'pp-prrole-1',
    },
    { name: 'no practitioner', change: (r) => delete r.practitioner, expression: 'PractitionerRole.practitioner', message: 'Missing required property' },
    { name: 'no organization', change: (r) => delete r.organization, expression: 'PractitionerRole.organization', message: 'Missing required property' },
    {
      name: 'a role code with only SNOMED',
      change: (r) => (r.code = [{ coding: [{ system: SCT, code: '62247001' }] }]),
      expression: 'PractitionerRole.code[0]',
      message: 'pp-prrole-2',
    },
  ],
};

export const UAS = `${ex.SD}Extension-UrgencyAsSent`;
export const serviceRequestSuite: Suite<ServiceRequest> = {
  profile: 'PainPlatform-ServiceRequest',
  base: ex.serviceRequest,
  valid: [
    ['routine, never raised (no urgency-as-sent)', (r) => {
      r.priority = 'routine';
      r.extension = r.extension?.filter((e) => e.url !== UAS);
    }],
    ['no extensions, notes, instruction or supporting info', (r) => {
      delete r.extension;
      delete r.note;
      delete r.patientInstruction;
      delete r.supportingInfo;
    }],
    ['status revoked (native cancelled)', (r) => (r.status = 'revoked')],
    ['step 1: platform care-step coding only', (r) => (r.code = { coding: [{ system: `${CS}care-step`, code: '1' }] })],
  ],
  broken: [
    { name: 'intent plan', change: (r) => (r.intent = 'plan'), expression: 'ServiceRequest.intent', message: 'Value did not match expected pattern' },
    { name: 'no status', change: (r) => delete (r as Partial<ServiceRequest>).status, expression: 'ServiceRequest.status', message: 'Missing required property' },
    {
      name: 'no referral id',
      change: (r) => (r.identifier = [{ system: 'https://fhir.nhs.uk/Id/UBRN', value: '000000070000' }]),
      expression: 'ServiceRequest.identifier',
      message: "slice 'referralId': expected 1..1, but found 0",
    },
    {
      name: 'referral id with a space',
      change: (r) => ((r.identifier ?? [])[0].value = 'PP 2026 000123'),
      expression: 'ServiceRequest.identifier[0]',
      message: 'pp-sr-6',
    },
    {
      name: 'category without SNOMED 3457005',
      change: (r) => (r.category = [{ coding: [{ system: `${CS}referral-kind`, code: 'new' }] }]),
      expression: 'ServiceRequest.category',
      message: "slice 'patientReferral': expected 1..1, but found 0",
    },
    {
      name: 'category without the referral kind',
      change: (r) => (r.category = [{ coding: [{ system: SCT, code: '3457005' }] }]),
      expression: 'ServiceRequest',
      message: 'pp-sr-2',
    },
    { name: 'no category', change: (r) => delete r.category, expression: 'ServiceRequest.category', message: 'Missing required property' },
    { name: 'no priority', change: (r) => delete r.priority, expression: 'ServiceRequest.priority', message: 'Missing required property' },
    { name: 'no code', change: (r) => delete r.code, expression: 'ServiceRequest.code', message: 'Missing required property' },
    {
      name: 'code without the care step',
      change: (r) => (r.code = { coding: [{ system: SCT, code: '278414003' }] }),
      expression: 'ServiceRequest.code',
      message: 'pp-sr-7',
    },
    { name: 'no reason', change: (r) => delete r.reasonCode, expression: 'ServiceRequest.reasonCode', message: 'Missing required property' },
    {
      name: 'reason without the primary condition',
      change: (r) => (r.reasonCode = [{ coding: [{ system: SCT, code: '82423001' }] }]),
      expression: 'ServiceRequest.reasonCode[0]',
      message: 'pp-sr-8',
    },
    {
      name: 'two reasons',
      change: (r) => r.reasonCode?.push({ coding: [{ system: `${CS}primary-condition`, code: 'fibromyalgia' }] }),
      expression: 'ServiceRequest.reasonCode',
      message: 'expected 1..1, but found 2',
    },
    { name: 'no subject', change: (r) => delete (r as Partial<ServiceRequest>).subject, expression: 'ServiceRequest.subject', message: 'Missing required property' },
    { name: 'no requester', change: (r) => delete r.requester, expression: 'ServiceRequest.requester', message: 'Missing required property' },
    { name: 'no performer', change: (r) => delete r.performer, expression: 'ServiceRequest.performer', message: 'Missing required property' },
    {
      name: 'two performers',
      change: (r) => r.performer?.push({ reference: 'urn:uuid:00000000-0000-5000-8000-000000000000' }),
      expression: 'ServiceRequest.performer',
      message: 'expected 1..1, but found 2',
    },
    { name: 'no authoredOn', change: (r) => delete r.authoredOn, expression: 'ServiceRequest.authoredOn', message: 'Missing required property' },
    {
      name: 'urgency-as-sent while routine',
      change: (r) => (r.priority = 'routine'),
      expression: 'ServiceRequest',
      message: 'pp-sr-1',
    },
    {
      name: 'urgency-as-sent twice',
      change: (r) => r.extension?.push({ url: UAS, valueCode: 'routine' }),
      expression: 'ServiceRequest.extension',
      message: "slice 'urgencyAsSent': expected 0..1, but found 2",
    },
    {
      name: 'contact method from another code system',
      change: (r) => ((r.extension ?? [])[1].valueCoding = { system: SCT, code: '386472008' }),
      expression: 'ServiceRequest.extension[1]',
      message: 'pp-sr-4',
    },
  ],
};

export const questionnaireResponseSuite: Suite<QuestionnaireResponse> = {
  profile: 'PainPlatform-QuestionnaireResponse',
  base: ex.questionnaireResponse,
  valid: [
    ['no mode and not based on a referral', (r) => {
      delete r.extension;
      delete r.basedOn;
    }],
    ['in progress', (r) => (r.status = 'in-progress')],
    ['the GAD-7 Questionnaire', (r) => (r.questionnaire = 'https://fhir.painplatform.uk/Questionnaire/gad-7|1.0.0')],
  ],
  broken: [
    { name: 'no identifier', change: (r) => delete r.identifier, expression: 'QuestionnaireResponse.identifier', message: 'Missing required property' },
    {
      name: 'identifier of another system',
      change: (r) => ((r.identifier ?? {}).system = 'https://example.org/assessments'),
      expression: 'QuestionnaireResponse.identifier.system',
      message: 'Value did not match expected pattern',
    },
    {
      name: 'assessment id with a slash',
      change: (r) => ((r.identifier ?? {}).value = 'PP/A/000311'),
      expression: 'QuestionnaireResponse.identifier',
      message: 'pp-qr-2',
    },
    { name: 'no questionnaire', change: (r) => delete r.questionnaire, expression: 'QuestionnaireResponse.questionnaire', message: 'Missing required property' },
    {
      name: 'questionnaire without version',
      change: (r) => (r.questionnaire = 'https://fhir.painplatform.uk/Questionnaire/phq-9'),
      expression: 'QuestionnaireResponse.questionnaire',
      message: 'pp-qr-3',
    },
    {
      name: 'a questionnaire that is not ours',
      change: (r) => (r.questionnaire = 'http://hl7.org/fhir/Questionnaire/phq-9|4.0.1'),
      expression: 'QuestionnaireResponse.questionnaire',
      message: 'pp-qr-3',
    },
    { name: 'no subject', change: (r) => delete r.subject, expression: 'QuestionnaireResponse.subject', message: 'Missing required property' },
    { name: 'no authored', change: (r) => delete r.authored, expression: 'QuestionnaireResponse.authored', message: 'Missing required property' },
    {
      name: 'assessment mode from another code system',
      change: (r) => ((r.extension ?? [])[0].valueCoding = { system: 'https://example.org/modes', code: 'telephone' }),
      expression: 'QuestionnaireResponse.extension[0]',
      message: 'pp-qr-1',
    },
    {
      name: 'two assessment modes',
      change: (r) => r.extension?.push({ url: `${ex.SD}Extension-AssessmentMode`, valueCoding: { system: `${CS}assessment-mode`, code: 'online' } }),
      expression: 'QuestionnaireResponse.extension',
      message: "slice 'assessmentMode': expected 0..1, but found 2",
    },
  ],
};

export const flagSuite: Suite<Flag> = {
  profile: 'PainPlatform-Flag',
  base: ex.flag,
  valid: [
    ['a safeguarding flag sent with the referral', (r) => {
      r.code = { coding: [{ system: `${CS}risk-flag`, code: 'safeguarding' }] };
      r.meta = { ...r.meta, tag: [{ system: `${CS}flag-origin`, code: 'sent' }] };
      (r.identifier ?? [])[0].value = 'PP-2026-000123:safeguarding';
    }],
  ],
  broken: [
    { name: 'no identifier', change: (r) => delete r.identifier, expression: 'Flag.identifier', message: 'Missing required property' },
    {
      name: 'flag id without the flag code',
      change: (r) => ((r.identifier ?? [])[0].value = 'PP-2026-000123'),
      expression: 'Flag.identifier[0]',
      message: 'pp-flag-4',
    },
    { name: 'no category', change: (r) => delete r.category, expression: 'Flag.category', message: 'Missing required property' },
    {
      name: 'category clinical, not safety',
      change: (r) => (r.category = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/flag-category', code: 'clinical' }] }]),
      expression: 'Flag.category',
      message: "slice 'safety': expected 1..1, but found 0",
    },
    {
      name: 'code without the risk-flag coding',
      change: (r) => (r.code = { coding: [{ system: SCT, code: '401206008' }] }),
      expression: 'Flag.code',
      message: 'pp-flag-5',
    },
    {
      name: 'self-harm without SNOMED 401206008',
      change: (r) => (r.code = { coding: [{ system: `${CS}risk-flag`, code: 'self-harm' }] }),
      expression: 'Flag',
      message: 'pp-flag-2',
    },
    { name: 'no flag-origin tag', change: (r) => delete r.meta?.tag, expression: 'Flag', message: 'pp-flag-1' },
    {
      name: 'an unknown flag-origin code',
      change: (r) => (r.meta = { ...r.meta, tag: [{ system: `${CS}flag-origin`, code: 'manual' }] }),
      expression: 'Flag',
      message: 'pp-flag-1',
    },
    {
      name: 'a safeguarding flag raised by the risk rule',
      change: (r) => {
        r.code = { coding: [{ system: `${CS}risk-flag`, code: 'safeguarding' }] };
        (r.identifier ?? [])[0].value = 'PP-2026-000123:safeguarding';
      },
      expression: 'Flag',
      message: 'pp-flag-3',
    },
    { name: 'no period', change: (r) => delete r.period, expression: 'Flag.period', message: 'Missing required property' },
    {
      name: 'a period without start',
      change: (r) => (r.period = { end: '2026-12-20T10:15:00+00:00' }),
      expression: 'Flag.period.start',
      message: 'Missing required property',
    },
    { name: 'no status', change: (r) => delete (r as Partial<Flag>).status, expression: 'Flag.status', message: 'Missing required property' },
  ],
};

const observation: Observation = {
  resourceType: 'Observation',
  id: '10000000-0000-5000-8000-000000000000',
  status: 'final',
  code: { text: 'Pain score' },
};
const entryOf = (b: Bundle, type: string) => (b.entry ?? []).find((e) => e.resource?.resourceType === type);
export const referralBundleSuite: Suite<Bundle> = {
  profile: 'PainPlatform-ReferralBundle',
  base: ex.referralBundle,
  valid: [
    ['no Flag and no QuestionnaireResponse', (r) => {
      r.entry = r.entry?.filter((e) => !['Flag', 'QuestionnaireResponse'].includes(e.resource?.resourceType as string));
      const sr = entryOf(r, 'ServiceRequest')?.resource as ServiceRequest;
      delete sr.supportingInfo;
    }],
  ],
  broken: [
    { name: 'type batch', change: (r) => (r.type = 'batch'), expression: 'Bundle.type', message: 'Value did not match expected pattern' },
    { name: 'no identifier', change: (r) => delete r.identifier, expression: 'Bundle.identifier', message: 'Missing required property' },
    {
      name: 'identifier of another system',
      change: (r) => ((r.identifier ?? {}).system = 'https://example.org/referrals'),
      expression: 'Bundle.identifier.system',
      message: 'Value did not match expected pattern',
    },
    {
      name: "identifier other than the ServiceRequest's referral id",
      change: (r) => ((r.identifier ?? {}).value = 'PP-2026-999999'),
      expression: 'Bundle',
      message: 'pp-bun-6',
    },
    { name: 'no timestamp', change: (r) => delete r.timestamp, expression: 'Bundle.timestamp', message: 'Missing required property' },
    { name: 'no entries', change: (r) => delete r.entry, expression: 'Bundle.entry', message: 'Missing required property' },
    {
      name: 'an entry without request',
      change: (r) => delete (r.entry ?? [])[1].request,
      expression: 'Bundle.entry[1]',
      message: 'pp-bun-8',
    },
    {
      name: 'an entry without fullUrl',
      change: (r) => delete (r.entry ?? [])[1].fullUrl,
      expression: 'Bundle.entry[1]',
      message: 'pp-bun-8',
    },
    {
      name: "a fullUrl that is not urn:uuid:<the resource's id>",
      change: (r) => ((r.entry ?? [])[1].fullUrl = 'urn:uuid:00000000-0000-5000-8000-000000000000'),
      expression: 'Bundle.entry[1]',
      message: 'pp-bun-9',
    },
    {
      name: 'an Observation entry',
      change: (r) => r.entry?.splice(1, 0, {
        fullUrl: 'urn:uuid:10000000-0000-5000-8000-000000000000',
        resource: observation,
        request: { method: 'POST', url: 'Observation' },
      }),
      expression: 'Bundle',
      message: 'pp-bun-1',
    },
    {
      name: 'two Patients',
      change: (r) => {
        const copy = structuredClone(entryOf(r, 'Patient'));
        if (copy?.resource) {
          copy.resource.id = '20000000-0000-5000-8000-000000000000';
          copy.fullUrl = `urn:uuid:${copy.resource.id}`;
          r.entry?.push(copy);
        }
      },
      expression: 'Bundle',
      message: 'pp-bun-2',
    },
    {
      name: 'no ServiceRequest',
      change: (r) => (r.entry = r.entry?.filter((e) => e.resource?.resourceType !== 'ServiceRequest')),
      expression: 'Bundle',
      message: 'pp-bun-3',
    },
    {
      name: 'no Practitioner',
      change: (r) => (r.entry = r.entry?.filter((e) => e.resource?.resourceType !== 'Practitioner')),
      expression: 'Bundle',
      message: 'pp-bun-4',
    },
    {
      name: 'the same ODS code twice',
      change: (r) => {
        const org = (r.entry ?? [])[3].resource as Organization;
        (org.identifier ?? [])[0].value = 'P88001';
      },
      expression: 'Bundle',
      message: 'pp-bun-5',
    },
    {
      name: 'the same fullUrl twice',
      change: (r) => {
        const copy = structuredClone((r.entry ?? [])[1]);
        r.entry?.splice(2, 0, copy);
      },
      // core bdl-7 says it first (medplum reports one failed invariant per element)
      expression: 'Bundle',
      message: 'bdl-7',
    },
  ],
};

// biome-ignore lint: the suites differ in resource type
export const suites: Suite<any>[] = [
  patientSuite,
  organizationSuite,
  practitionerSuite,
  practitionerRoleSuite,
  serviceRequestSuite,
  questionnaireResponseSuite,
  flagSuite,
  referralBundleSuite,
];

/**
 * One-field variants that a pp- invariant used to reject, dropped because the validator
 * (src/fhir/validator.ts) already says so with its own checks: the NHS number check (pp-pat-1/2),
 * urn:uuid references resolved inside the Bundle (pp-bun-7), and the extension definitions with their
 * cardinalities, fixed values and required bindings (pp-sr-3/5). medplum's validateResource alone accepts them now;
 * test/unit/fhir/dropped-invariants.test.ts proves that the validator rejects each of them.
 */
export interface DroppedInvariantCase<T> {
  suite: Suite<T>;
  invariant: string;
  name: string;
  change: (r: T) => void;
  /** where the invariant reported it */
  expression: string;
}

/** Typed by its suite, stored untyped (the cases differ in resource type). */
function dropped<T>(c: DroppedInvariantCase<T>): DroppedInvariantCase<any> {
  return c as DroppedInvariantCase<any>;
}

// biome-ignore lint: the suites differ in resource type
export const droppedInvariantCases: DroppedInvariantCase<any>[] = [
  dropped({
    suite: patientSuite,
    name: 'NHS number without a value',
    change: (r) => delete (r.identifier ?? [])[0].value,
    expression: 'Patient.identifier[0]',
    invariant: 'pp-pat-1',
  }),
  dropped({
    suite: patientSuite,
    name: 'NHS number of 9 digits',
    change: (r) => ((r.identifier ?? [])[0].value = '999000001'),
    expression: 'Patient.identifier[0]',
    invariant: 'pp-pat-1',
  }),
  dropped({
    suite: patientSuite,
    name: 'NHS number with spaces',
    change: (r) => ((r.identifier ?? [])[0].value = '999 000 0018'),
    expression: 'Patient.identifier[0]',
    invariant: 'pp-pat-1',
  }),
  dropped({
    suite: patientSuite,
    name: 'NHS number with a wrong check digit',
    change: (r) => ((r.identifier ?? [])[0].value = '9990000019'),
    expression: 'Patient.identifier[0]',
    invariant: 'pp-pat-2',
  }),
  dropped({
    suite: patientSuite,
    name: 'NHS number from a BaRS example that fails the check (3478526985)',
    change: (r) => ((r.identifier ?? [])[0].value = '3478526985'),
    expression: 'Patient.identifier[0]',
    invariant: 'pp-pat-2',
  }),
  dropped({
    suite: patientSuite,
    name: 'NHS number whose check value would be 10 (1000000010)',
    change: (r) => ((r.identifier ?? [])[0].value = '1000000010'),
    expression: 'Patient.identifier[0]',
    invariant: 'pp-pat-2',
  }),
  dropped({
    suite: serviceRequestSuite,
    name: 'urgency-as-sent as a string',
    change: (r) => (r.extension = r.extension?.map((e) => (e.url === UAS ? { url: UAS, valueString: 'routine' } : e))),
    expression: 'ServiceRequest.extension[2]',
    invariant: 'pp-sr-5',
  }),
  dropped({
    suite: serviceRequestSuite,
    name: 'urgency-as-sent asap',
    change: (r) => (r.extension = r.extension?.map((e) => (e.url === UAS ? { url: UAS, valueCode: 'asap' } : e))),
    expression: 'ServiceRequest.extension[2]',
    invariant: 'pp-sr-5',
  }),
  dropped({
    suite: serviceRequestSuite,
    name: 'symptom duration in days',
    change: (r) => (((r.extension ?? [])[0].valueDuration ?? {}).code = 'd'),
    expression: 'ServiceRequest.extension[0]',
    invariant: 'pp-sr-3',
  }),
  dropped({
    suite: referralBundleSuite,
    name: 'a reference to a resource not in the Bundle',
    change: (r) => {
      const sr = entryOf(r, 'ServiceRequest')?.resource as ServiceRequest;
      sr.performer = [{ reference: 'urn:uuid:30000000-0000-5000-8000-000000000000' }];
    },
    expression: 'Bundle',
    invariant: 'pp-bun-7',
  }),
];
