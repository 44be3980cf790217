// Broken variants of contract-shaped resources (one field changed per case) and exactly the issues
// each must yield against the platform profiles: severity, code, FHIRPath location, and (where given)
// what the text must say.
import * as F from './referral-fixture.js';

type Json = Record<string, any>;
export type Expected = [severity: string, code: string, expression: string, text?: RegExp];
export type Case = [name: string, base: () => Json, change: (r: Json) => void, expected: Expected[]];

const SR = () => F.serviceRequest({ escalated: false }) as Json;
const BUNDLE = () => F.referralBundle() as Json;
const NHS_TEXT = /NHS number/;

// [name, base, change, expected issues]
export const cases: Case[] = [
  ['ServiceRequest without status', SR, (r) => delete r.status, [['error', 'required', 'ServiceRequest.status', /status.*1\.\.1.*draft, active/]]],
  ['ServiceRequest intent "plan" (an R4 code, but the profile fixes "order")', SR, (r) => (r.intent = 'plan'), [['error', 'value', 'ServiceRequest.intent', /exactly "order"/]]],
  [
    'ServiceRequest intent "bogus" (not an R4 code either)',
    SR,
    (r) => (r.intent = 'bogus'),
    [
      ['error', 'value', 'ServiceRequest.intent', /exactly "order"/],
      ['error', 'code-invalid', 'ServiceRequest.intent', /request-intent; allowed: proposal, plan/],
    ],
  ],
  ['ServiceRequest status "cancelled" (native, not FHIR)', SR, (r) => (r.status = 'cancelled'), [['error', 'code-invalid', 'ServiceRequest.status', /"cancelled".*allowed: draft, active, on-hold, revoked/]]],
  ['ServiceRequest priority "asap" (R4, outside routine|urgent)', SR, (r) => (r.priority = 'asap'), [['error', 'code-invalid', 'ServiceRequest.priority', /allowed: routine, urgent$/]]],
  ['ServiceRequest priority "soon"', SR, (r) => (r.priority = 'soon'), [['error', 'code-invalid', 'ServiceRequest.priority']]],
  [
    'escalated ServiceRequest whose priority is back to routine',
    () => F.serviceRequest() as Json,
    (r) => (r.priority = 'routine'),
    [['error', 'invariant', 'ServiceRequest', /pp-sr-1/]],
  ],
  ['ServiceRequest referral-kind code not in the CodeSystem', SR, (r) => (r.category[0].coding[1].code = 'sideways'), [['error', 'code-invalid', 'ServiceRequest.category[0]', /None of the codings/]]],
  ['ServiceRequest care step "4"', SR, (r) => (r.code.coding[1].code = '4'), [['error', 'code-invalid', 'ServiceRequest.code', /allowed: 1, 2, 3/]]],
  ['ServiceRequest primary condition not in the CodeSystem', SR, (r) => (r.reasonCode[0].coding[1].code = 'migraine'), [['error', 'code-invalid', 'ServiceRequest.reasonCode[0]']]],
  [
    'ServiceRequest contact method not in the CodeSystem (binding inside an extension)',
    SR,
    (r) => (r.extension[1].valueCoding.code = 'carrier-pigeon'),
    [['error', 'code-invalid', 'ServiceRequest.extension[1].value.ofType(Coding)', /allowed: telephone, video, face-to-face/]],
  ],
  [
    'ServiceRequest symptom duration in years, not months',
    SR,
    (r) => (r.extension[0].valueDuration.code = 'a'),
    [['error', 'value', 'ServiceRequest.extension[0].value.ofType(Duration).code', /exactly "mo"/]],
  ],
  [
    'ServiceRequest with a second UrgencyAsSent extension',
    () => F.serviceRequest() as Json,
    (r) => r.extension.push({ url: `${F.SD}/Extension-UrgencyAsSent`, valueCode: 'routine' }),
    [['error', 'structure', 'ServiceRequest.extension', /urgencyAsSent.*expected 0\.\.1, found 2/]],
  ],
  [
    'ServiceRequest contact method given by its display only (a Coding without system and code)',
    SR,
    (r) => (r.extension[1].valueCoding = { display: 'Video call' }),
    [
      ['error', 'invariant', 'ServiceRequest.extension[1]', /pp-sr-4/],
      ['error', 'code-invalid', 'ServiceRequest.extension[1].value.ofType(Coding)', /No code given.*allowed: telephone, video, face-to-face/],
    ],
  ],
  [
    'ServiceRequest contact method {} (empty: read as absent)',
    SR,
    (r) => (r.extension[1].valueCoding = {}),
    [
      ['error', 'invariant', 'ServiceRequest.extension[1]', /ext-1/],
      ['error', 'invariant', 'ServiceRequest.extension[1]', /pp-sr-4/],
      ['error', 'structure', 'ServiceRequest.extension[1].valueCoding'],
      ['error', 'required', 'ServiceRequest.extension[1].value', /Missing required element value\[x\]/],
    ],
  ],
  [
    'ServiceRequest symptom duration value {} (an object for a decimal)',
    SR,
    (r) => (r.extension[0].valueDuration.value = {}),
    [['error', 'structure', 'ServiceRequest.extension[0].value.ofType(Duration).value', /FHIR decimal is a JSON number, found a JSON object/]],
  ],
  [
    'ServiceRequest urgency-as-sent code given as an object with an extension (belongs in _valueCode)',
    () => F.serviceRequest() as Json,
    (r) => (r.extension[2].valueCode = { extension: [{ url: 'https://example.org/x', valueString: 'routine' }] }),
    [['error', 'structure', 'ServiceRequest.extension[2].value.ofType(code)', /go in _valueCode/]],
  ],
  [
    'ServiceRequest contact method given as a number',
    SR,
    (r) => (r.extension[1].valueCoding = 2147483648),
    [
      ['error', 'invariant', 'ServiceRequest.extension[1]', /pp-sr-4/],
      ['error', 'structure', 'ServiceRequest.extension[1].value.ofType(Coding)', /FHIR Coding is a JSON object, found a JSON number/],
    ],
  ],
  ['ServiceRequest without a requester', SR, (r) => delete r.requester, [['error', 'required', 'ServiceRequest.requester']]],
  [
    'Patient NHS number with a wrong check digit',
    F.patient as () => Json,
    (r) => (r.identifier[0].value = '9990158397'),
    [['error', 'value', 'Patient.identifier[0].value', /Modulus 11/]],
  ],
  [
    'Patient NHS number of 9 digits',
    F.patient as () => Json,
    (r) => (r.identifier[0].value = '999015839'),
    [['error', 'value', 'Patient.identifier[0].value', /exactly 10 digits \(found 9 characters\)/]],
  ],
  [
    'Patient NHS number {} (an object for a string)',
    F.patient as () => Json,
    (r) => (r.identifier[0].value = {}),
    [['error', 'structure', 'Patient.identifier[0].value', /FHIR string is a JSON string, found a JSON object/]],
  ],
  [
    'Patient NHS number "" (empty: read as absent)',
    F.patient as () => Json,
    (r) => (r.identifier[0].value = ''),
    [
      ['error', 'value', 'Patient.identifier[0].value', /exactly 10 digits \(found 0 characters\)/],
      ['error', 'required', 'Patient.identifier[0].value'],
    ],
  ],
  [
    'Patient identifier with another system (no NHS number slice)',
    F.patient as () => Json,
    (r) => (r.identifier[0].system = 'https://example.org/mrn'),
    [['error', 'required', 'Patient.identifier', /nhsNumber \(system = https:\/\/fhir\.nhs\.uk\/Id\/nhs-number\).*expected 1\.\.1, found 0/]],
  ],
  ['Patient gender "M"', F.patient as () => Json, (r) => (r.gender = 'M'), [['error', 'code-invalid', 'Patient.gender', /allowed: male, female, other, unknown/]]],
  ['Patient with an unknown element', F.patient as () => Json, (r) => (r.favouriteColour = 'blue'), [['error', 'structure', 'Patient.favouriteColour', /Unknown element "favouriteColour".*known elements: id, meta/]]],
  ['Patient interpreterRequired as a string', F.patient as () => Json, (r) => (r.extension[0].valueBoolean = 'yes'), [['error', 'structure', 'Patient.extension[0].value.ofType(boolean)', /JSON boolean, found a JSON string/]]],
  ['Patient without a birth date', F.patient as () => Json, (r) => delete r.birthDate, [['error', 'required', 'Patient.birthDate']]],
  ['Organization without an identifier (no ODS code)', () => F.organization() as Json, (r) => delete r.identifier, [['error', 'required', 'Organization.identifier']]],
  [
    'Organization with an ODS site code instead of an organisation code',
    () => F.organization() as Json,
    (r) => (r.identifier[0].system = 'https://fhir.nhs.uk/Id/ods-site-code'),
    [['error', 'required', 'Organization.identifier', /odsOrganisationCode.*found 0/]],
  ],
  ['Organization active as a string (wrong type)', () => F.organization() as Json, (r) => (r.active = 'true'), [['error', 'structure', 'Organization.active', /FHIR boolean is a JSON boolean, found a JSON string/]]],
  ['Practitioner SDS user id not digits', F.practitioner as () => Json, (r) => (r.identifier[0].value = 'abc'), [['error', 'invariant', 'Practitioner.identifier[0]', /pp-prac-1/]]],
  ['PractitionerRole role not in the CodeSystem', F.practitionerRole as () => Json, (r) => (r.code[0].coding[1].code = 'surgeon'), [['error', 'code-invalid', 'PractitionerRole.code[0]']]],
  ['QuestionnaireResponse status "done"', F.phq9 as () => Json, (r) => (r.status = 'done'), [['error', 'code-invalid', 'QuestionnaireResponse.status', /allowed: in-progress, completed, amended/]]],
  [
    'QuestionnaireResponse assessment mode not in the CodeSystem',
    F.phq9 as () => Json,
    (r) => (r.extension[0].valueCoding.code = 'carrier-pigeon'),
    [['error', 'code-invalid', 'QuestionnaireResponse.extension[0].value.ofType(Coding)']],
  ],
  [
    'QuestionnaireResponse subject given by an invalid NHS number',
    F.phq9 as () => Json,
    (r) => (r.subject = { identifier: { system: F.NHS, value: '9990158397' } }),
    [['error', 'value', 'QuestionnaireResponse.subject.identifier.value', NHS_TEXT]],
  ],
  ['QuestionnaireResponse item without linkId', F.phq9 as () => Json, (r) => delete r.item[0].linkId, [['error', 'required', 'QuestionnaireResponse.item[0].linkId']]],
  ['Flag status "gone"', F.flag as () => Json, (r) => (r.status = 'gone'), [['error', 'code-invalid', 'Flag.status', /allowed: active, inactive, entered-in-error/]]],
  [
    'Bundle with an unresolved urn:uuid reference',
    BUNDLE,
    (r) => (r.entry[8].resource.subject.reference = 'urn:uuid:00000000-0000-5000-8000-000000000000'),
    [['error', 'not-found', 'Bundle.entry[8].resource.subject.reference', /does not resolve/]],
  ],
  [
    'Bundle reference to an entry of the wrong type',
    BUNDLE,
    (r) => (r.entry[8].resource.subject.reference = F.urn(F.ID.gp)),
    [['error', 'structure', 'Bundle.entry[8].resource.subject.reference', /points to an Organization, but subject must refer to Patient/]],
  ],
  [
    'Bundle whose Patient has a bad gender (issue located inside the entry)',
    BUNDLE,
    (r) => (r.entry[0].resource.gender = 'M'),
    [['error', 'code-invalid', 'Bundle.entry[0].resource.gender']],
  ],
  ['Bundle of type batch', BUNDLE, (r) => (r.type = 'batch'), [['error', 'value', 'Bundle.type', /exactly "transaction"/]]],
];

