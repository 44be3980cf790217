// A referral Bundle in exactly the shape docs/fhir-contract.md describes (the spec's
// referral-new-at-risk example plus a GAD-7 and a symptom duration: 9 resources), built fresh per
// call so a test can change one field without affecting another.
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

export const PP = 'https://fhir.painplatform.uk';
export const SD = `${PP}/StructureDefinition`;
export const CS = `${PP}/CodeSystem`;
export const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
export const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
export const SDS = 'https://fhir.nhs.uk/Id/sds-user-id';
export const SNOMED = 'http://snomed.info/sct';
export const LOINC = 'http://loinc.org';

export const ID = {
  patient: '2b5f0b0e-7a43-5d4c-9a51-0c1b6e2f3a01',
  gp: '2b5f0b0e-7a43-5d4c-9a51-0c1b6e2f3a02',
  recipient: '2b5f0b0e-7a43-5d4c-9a51-0c1b6e2f3a03',
  practitioner: '2b5f0b0e-7a43-5d4c-9a51-0c1b6e2f3a04',
  role: '2b5f0b0e-7a43-5d4c-9a51-0c1b6e2f3a05',
  phq9: '2b5f0b0e-7a43-5d4c-9a51-0c1b6e2f3a06',
  gad7: '2b5f0b0e-7a43-5d4c-9a51-0c1b6e2f3a07',
  flag: '2b5f0b0e-7a43-5d4c-9a51-0c1b6e2f3a08',
  serviceRequest: '2b5f0b0e-7a43-5d4c-9a51-0c1b6e2f3a09',
} as const;

export const urn = (id: string): string => `urn:uuid:${id}`;
const CREATED = '2026-11-21T14:02:00+00:00';
const REFERRAL_ID = 'PP-2026-000124';

export function patient(): Patient {
  return {
    resourceType: 'Patient',
    id: ID.patient,
    meta: { profile: [`${SD}/PainPlatform-Patient`] },
    extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired', valueBoolean: true }],
    identifier: [{ system: NHS, value: '9990158398' }],
    name: [{ use: 'official', family: 'Nowak', given: ['Tomasz'] }],
    telecom: [{ system: 'phone', value: '+44 7700 900123' }],
    gender: 'male',
    birthDate: '1981-09-03',
    generalPractitioner: [{ reference: urn(ID.gp), identifier: { system: ODS, value: 'P88002' } }],
    communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'pl' }] }, preferred: true }],
  };
}

export function organization(id: string = ID.gp, ods = 'P88002'): Organization {
  return {
    resourceType: 'Organization',
    id,
    meta: { profile: [`${SD}/PainPlatform-Organization`] },
    identifier: [{ system: ODS, value: ods }],
    active: true,
  };
}

export function practitioner(): Practitioner {
  return {
    resourceType: 'Practitioner',
    id: ID.practitioner,
    meta: { profile: [`${SD}/PainPlatform-Practitioner`] },
    identifier: [{ system: SDS, value: '555987654321' }],
    name: [{ use: 'official', family: 'Okafor', given: ['Hannah'], prefix: ['Dr'] }],
  };
}

export function practitionerRole(): PractitionerRole {
  return {
    resourceType: 'PractitionerRole',
    id: ID.role,
    meta: { profile: [`${SD}/PainPlatform-PractitionerRole`] },
    identifier: [{ system: `${PP}/Id/practitioner-role-id`, value: '555987654321@P88002' }],
    practitioner: { reference: urn(ID.practitioner) },
    organization: { reference: urn(ID.gp) },
    code: [
      {
        coding: [
          { system: SNOMED, code: '62247001', display: 'General practitioner' },
          { system: `${CS}/referrer-role`, code: 'gp' },
        ],
      },
    ],
  };
}

const LL358 = [
  ['LA6568-5', 'Not at all'],
  ['LA6569-3', 'Several days'],
  ['LA6570-1', 'More than half the days'],
  ['LA6571-9', 'Nearly every day'],
] as const;

function answer(score: number): { valueCoding: { system: string; code: string; display: string } } {
  const [code, display] = LL358[score];
  return { valueCoding: { system: LOINC, code, display } };
}

export function phq9(): QuestionnaireResponse {
  const linkIds = ['44250-9', '44255-8', '44259-0', '44254-1', '44251-7', '44258-2', '44252-5', '44253-3', '44260-8'];
  const scores = [2, 2, 1, 2, 1, 2, 1, 0, 1];
  return {
    resourceType: 'QuestionnaireResponse',
    id: ID.phq9,
    meta: { profile: [`${SD}/PainPlatform-QuestionnaireResponse`] },
    extension: [
      {
        url: `${SD}/Extension-AssessmentMode`,
        valueCoding: { system: `${CS}/assessment-mode`, code: 'in-person' },
      },
    ],
    identifier: { system: `${PP}/Id/assessment-id`, value: 'PP-A-000320' },
    basedOn: [{ reference: urn(ID.serviceRequest) }],
    questionnaire: `${PP}/Questionnaire/phq-9|1.0.0`,
    status: 'completed',
    subject: { reference: urn(ID.patient) },
    authored: '2026-11-21T13:50:00+00:00',
    item: [
      ...linkIds.map((linkId, i) => ({ linkId, text: `PHQ-9 item ${i + 1}`, answer: [answer(scores[i])] })),
      { linkId: '44261-6', text: 'Patient Health Questionnaire 9 item (PHQ-9) total score', answer: [{ valueInteger: 12 }] },
    ],
  };
}

export function gad7(): QuestionnaireResponse {
  const linkIds = ['69725-0', '68509-9', '69733-4', '69734-2', '69735-9', '69689-8', '69736-7'];
  return {
    resourceType: 'QuestionnaireResponse',
    id: ID.gad7,
    meta: { profile: [`${SD}/PainPlatform-QuestionnaireResponse`] },
    identifier: { system: `${PP}/Id/assessment-id`, value: 'PP-A-000321' },
    basedOn: [{ reference: urn(ID.serviceRequest) }],
    questionnaire: `${PP}/Questionnaire/gad-7|1.0.0`,
    status: 'completed',
    subject: { reference: urn(ID.patient) },
    authored: '2026-11-21T13:55:00+00:00',
    item: [
      ...linkIds.map((linkId, i) => ({ linkId, text: `GAD-7 item ${i + 1}`, answer: [answer(1)] })),
      {
        linkId: 'gad-7-difficulty',
        text: 'How difficult have these problems made it for you?',
        answer: [{ valueCoding: { system: `${CS}/difficulty`, code: '1', display: 'Somewhat difficult' } }],
      },
    ],
  };
}

export function flag(): Flag {
  return {
    resourceType: 'Flag',
    id: ID.flag,
    meta: {
      profile: [`${SD}/PainPlatform-Flag`],
      tag: [{ system: `${CS}/flag-origin`, code: 'risk-rule' }],
    },
    identifier: [{ system: `${PP}/Id/flag-id`, value: `${REFERRAL_ID}:self-harm` }],
    status: 'active',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/flag-category', code: 'safety' }] }],
    code: {
      coding: [
        { system: SNOMED, code: '401206008', display: 'At risk for deliberate self harm' },
        { system: `${CS}/risk-flag`, code: 'self-harm' },
      ],
    },
    subject: { reference: urn(ID.patient) },
    period: { start: CREATED },
  };
}

/**
 * `escalated` (the default, as in the at-risk example): the risk rule raised the urgency, so priority
 * is urgent and Extension-UrgencyAsSent records the routine urgency that was sent.
 */
export function serviceRequest(opts: { escalated?: boolean } = {}): ServiceRequest {
  const escalated = opts.escalated ?? true;
  const sr: ServiceRequest = {
    resourceType: 'ServiceRequest',
    id: ID.serviceRequest,
    meta: { profile: [`${SD}/PainPlatform-ServiceRequest`] },
    extension: [
      {
        url: `${SD}/Extension-SymptomDuration`,
        valueDuration: { value: 30, unit: 'months', system: 'http://unitsofmeasure.org', code: 'mo' },
      },
      { url: `${SD}/Extension-ContactMethod`, valueCoding: { system: `${CS}/contact-method`, code: 'telephone' } },
      { url: `${SD}/Extension-UrgencyAsSent`, valueCode: 'routine' },
    ],
    identifier: [{ system: `${PP}/Id/referral-id`, value: REFERRAL_ID }],
    status: 'active',
    intent: 'order',
    category: [
      {
        coding: [
          { system: SNOMED, code: '3457005', display: 'Patient referral' },
          { system: `${CS}/referral-kind`, code: 'new', display: 'New referral' },
        ],
      },
    ],
    priority: 'urgent',
    code: {
      coding: [
        { system: SNOMED, code: '228557008', display: 'Cognitive and behavioral therapy' },
        { system: `${CS}/care-step`, code: '2', display: 'Step 2' },
      ],
    },
    subject: { reference: urn(ID.patient) },
    authoredOn: CREATED,
    requester: { reference: urn(ID.role) },
    performer: [{ reference: urn(ID.recipient) }],
    reasonCode: [{ coding: [{ system: SNOMED, code: '203082005' }, { system: `${CS}/primary-condition`, code: 'fibromyalgia' }] }],
    supportingInfo: [{ reference: urn(ID.phq9) }, { reference: urn(ID.gad7) }],
    note: [
      { text: 'Fibromyalgia diagnosed 2024. Low mood. Patient would prefer telephone sessions.' },
      { text: 'Risk rule: PHQ-9 item 9 answered 1 (several days); a self-harm flag was raised and urgency raised from routine to urgent.' },
    ],
  };
  if (!escalated) {
    sr.priority = 'routine';
    sr.extension = sr.extension?.filter((e) => !e.url.endsWith('/Extension-UrgencyAsSent'));
    sr.note = sr.note?.slice(0, 1);
  }
  return sr;
}

function entry(resource: Resource & { id?: string }, ifNoneExist?: string): BundleEntry {
  const e: BundleEntry = {
    fullUrl: urn(resource.id as string),
    resource,
    request: { method: 'POST', url: resource.resourceType },
  };
  if (ifNoneExist && e.request) e.request.ifNoneExist = ifNoneExist;
  return e;
}

export function referralBundle(): Bundle {
  return {
    resourceType: 'Bundle',
    meta: { profile: [`${SD}/PainPlatform-ReferralBundle`] },
    identifier: { system: `${PP}/Id/referral-id`, value: REFERRAL_ID },
    type: 'transaction',
    timestamp: CREATED,
    entry: [
      entry(patient(), `identifier=${NHS}|9990158398`),
      entry(organization(), `identifier=${ODS}|P88002`),
      entry(organization(ID.recipient, 'NQ9X1'), `identifier=${ODS}|NQ9X1`),
      entry(practitioner(), `identifier=${SDS}|555987654321`),
      entry(practitionerRole(), `identifier=${PP}/Id/practitioner-role-id|555987654321@P88002`),
      entry(phq9(), `identifier=${PP}/Id/assessment-id|PP-A-000320`),
      entry(gad7(), `identifier=${PP}/Id/assessment-id|PP-A-000321`),
      entry(flag(), `identifier=${PP}/Id/flag-id|${REFERRAL_ID}:self-harm`),
      entry(serviceRequest(), `identifier=${PP}/Id/referral-id|${REFERRAL_ID}`),
    ],
  };
}
