import { describe, expect, test } from 'vitest';
import { referralSchema, validateReferral } from '../../../src/native/schema.js';
import type { NativeAssessment, NativeReferral } from '../../../src/native/types.js';
import { NOW, REMOVE, newAtRisk, stepUp, withChange } from './fixtures.js';

const base = stepUp();

function pegAssessment(i: number): NativeAssessment {
  return {
    assessmentId: `PP-A-9${String(i).padStart(5, '0')}`,
    instrument: 'PEG',
    completedAt: '2026-11-18T09:45:00+00:00',
    answers: { '1': 1, '2': 2, '3': 3 },
  };
}

describe('the spec examples', () => {
  test.each([
    ['referral-step-up.json', stepUp],
    ['referral-new-at-risk.json', newAtRisk],
  ])('%s validates with no problem and comes back as the very same object', (_name, load) => {
    const input = load();
    const before = JSON.stringify(input);
    const result = validateReferral(input, NOW);
    expect(result.problems).toEqual([]);
    expect(result.value).toBe(input);
    expect(JSON.stringify(result.value)).toBe(before);
  });

  test('nothing is defaulted or converted: an assessment without status stays without status', () => {
    const input = stepUp();
    const { value } = validateReferral(input, NOW);
    expect(value?.assessments?.[0]).not.toHaveProperty('status');
    expect(Object.keys(value!)).toEqual(Object.keys(base));
  });

  test('the joi schema alone does not convert either', () => {
    const { error } = referralSchema.validate(withChange(base, 'step', '3'), { convert: false });
    expect(error?.details[0]?.type).toBe('number.base');
  });

  test('now defaults to the current clock', () => {
    // createdAt 2026-11-20 is in the past for any clock running this test after that date; before it, in the future.
    const result = validateReferral(withChange(base, 'createdAt', new Date(Date.now() - 60_000).toISOString()));
    expect(result.problems).toEqual([]);
  });
});

// [what, path changed, new value, expected problem path, fragment of message, fragment of allowed]
type Case = [string, string, unknown, string, string | RegExp, string | RegExp];

const invalid: Case[] = [
  // whole-body shape
  ['unknown top-level field', 'notes', 'hello', 'notes', 'unknown property "notes"', 'referralId, createdAt'],
  ['referralId missing', 'referralId', REMOVE, 'referralId', 'required property is missing', '^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$'],
  ['referralId too short', 'referralId', 'PP', 'referralId', '"PP" is not a valid identifier', 'a letter or digit'],
  ['referralId starting with a hyphen', 'referralId', '-PP-1', 'referralId', 'is not a valid identifier', 'a letter or digit'],
  ['referralId with a space', 'referralId', 'PP 2026', 'referralId', 'is not a valid identifier', 'a letter or digit'],
  ['referralId a number', 'referralId', 2026000123, 'referralId', 'expected a string, got the number 2026000123', 'a letter or digit'],
  ['referralId empty', 'referralId', '', 'referralId', 'is an empty string', 'a letter or digit'],
  // createdAt
  ['createdAt without offset', 'createdAt', '2026-11-20T10:15:00', 'createdAt', '"2026-11-20T10:15:00" has no timezone offset', 'timezone offset'],
  ['createdAt without seconds', 'createdAt', '2026-11-20T10:15+00:00', 'createdAt', 'is not a date-time in the form', 'with seconds'],
  ['createdAt a date only', 'createdAt', '2026-11-20', 'createdAt', 'is not a date-time in the form', 'timezone offset'],
  ['createdAt not a real date', 'createdAt', '2026-02-30T10:15:00Z', 'createdAt', 'is not a real date and time', 'timezone offset'],
  ['createdAt 5 min 1 s in the future', 'createdAt', '2026-11-27T00:05:01Z', 'createdAt', 'more than 5 minutes in the future', 'not more than 5 minutes in the future'],
  ['createdAt in the future by offset', 'createdAt', '2026-11-27T00:06:00+00:00', 'createdAt', 'more than 5 minutes in the future', 'not more than 5 minutes'],
  ['createdAt a number', 'createdAt', 1795162500000, 'createdAt', 'expected a string, got the number', 'timezone offset'],
  // codes and numbers
  ['status unknown code', 'status', 'revoked', 'status', '"revoked" is not an allowed value', 'one of: active, on-hold, completed, cancelled, entered-in-error'],
  ['status wrong case', 'status', 'Active', 'status', '"Active" is not an allowed value', 'one of: active'],
  ['kind unknown code', 'kind', 'step_up', 'kind', '"step_up" is not an allowed value', 'one of: new, step-up, step-down'],
  ['step 4', 'step', 4, 'step', '4 is more than the maximum 3', 'the integer 1, 2 or 3'],
  ['step 0', 'step', 0, 'step', '0 is less than the minimum 1', 'the integer 1, 2 or 3'],
  ['step 2.5', 'step', 2.5, 'step', '2.5 is not a whole number', 'the integer 1, 2 or 3'],
  ['step a string', 'step', '3', 'step', 'expected a number, got the string "3"', 'the integer 1, 2 or 3'],
  ['step missing', 'step', REMOVE, 'step', 'required property is missing', 'the integer 1, 2 or 3'],
  ['urgency unknown code', 'urgency', 'asap', 'urgency', '"asap" is not an allowed value', 'one of: routine, urgent'],
  ['primaryCondition unknown code', 'primaryCondition', 'fibro', 'primaryCondition', '"fibro" is not an allowed value', 'chronic-widespread-pain'],
  ['symptomDurationMonths 601', 'symptomDurationMonths', 601, 'symptomDurationMonths', '601 is more than the maximum 600', 'an integer from 0 to 600'],
  ['symptomDurationMonths -1', 'symptomDurationMonths', -1, 'symptomDurationMonths', '-1 is less than the minimum 0', 'an integer from 0 to 600'],
  ['symptomDurationMonths 1.5', 'symptomDurationMonths', 1.5, 'symptomDurationMonths', '1.5 is not a whole number', 'an integer from 0 to 600'],
  ['symptomDurationMonths a string', 'symptomDurationMonths', '26', 'symptomDurationMonths', 'expected a number, got the string "26"', 'an integer from 0 to 600'],
  ['symptomDurationMonths null', 'symptomDurationMonths', null, 'symptomDurationMonths', 'expected a number, got null', 'an integer from 0 to 600'],
  ['clinicalSummary 10,001 characters', 'clinicalSummary', 'x'.repeat(10_001), 'clinicalSummary', 'is 10001 characters long, more than the limit of 10000', 'at most 10000 characters'],
  ['clinicalSummary empty', 'clinicalSummary', '', 'clinicalSummary', 'is an empty string', 'non-empty string'],
  ['clinicalSummary only spaces', 'clinicalSummary', '   ', 'clinicalSummary', 'contains only whitespace', 'non-empty string'],
  // patient
  ['patient missing', 'patient', REMOVE, 'patient', 'required property is missing', 'nhsNumber, name, birthDate, gender'],
  ['patient an array', 'patient', [], 'patient', 'expected a JSON object, got an array', 'nhsNumber, name, birthDate, gender'],
  ['patient unknown field', 'patient.nhs', '9990000018', 'patient.nhs', 'unknown property "nhs"', 'nhsNumber, name, birthDate, gender, address, phone, email, gpPractice'],
  ['NHS number bad check digit', 'patient.nhsNumber', '9990000019', 'patient.nhsNumber', '"9990000019" fails the NHS number Modulus 11 check digit', '10 digits with a valid Modulus 11 check digit'],
  ['NHS number BaRS example 3478526985', 'patient.nhsNumber', '3478526985', 'patient.nhsNumber', 'fails the NHS number Modulus 11 check digit', 'Modulus 11'],
  ['NHS number BaRS example 4857773456', 'patient.nhsNumber', '4857773456', 'patient.nhsNumber', 'fails the NHS number Modulus 11 check digit', 'Modulus 11'],
  ['NHS number 9 digits', 'patient.nhsNumber', '999000001', 'patient.nhsNumber', '"999000001" is not 10 digits', '10 digits'],
  ['NHS number with spaces', 'patient.nhsNumber', '999 000 0018', 'patient.nhsNumber', 'is not 10 digits', '10 digits'],
  ['NHS number a number', 'patient.nhsNumber', 9990000018, 'patient.nhsNumber', 'expected a string, got the number 9990000018', '10 digits'],
  ['NHS number missing', 'patient.nhsNumber', REMOVE, 'patient.nhsNumber', 'required property is missing', '10 digits'],
  ['given names empty', 'patient.name.given', [], 'patient.name.given', 'has 0 items, fewer than the minimum of 1', 'at least one given name'],
  ['given names a string', 'patient.name.given', 'Amelia', 'patient.name.given', 'expected an array, got the string "Amelia"', 'at least one given name'],
  ['a given name empty', 'patient.name.given.1', '', 'patient.name.given[1]', 'is an empty string', 'non-empty string'],
  ['family name missing', 'patient.name.family', REMOVE, 'patient.name.family', 'required property is missing', 'non-empty string'],
  ['family name only spaces', 'patient.name.family', ' ', 'patient.name.family', 'contains only whitespace', 'non-empty string'],
  ['unknown name part', 'patient.name.middle', 'Jo', 'patient.name.middle', 'unknown property "middle"', 'given, family, prefix'],
  ['birthDate in the future', 'patient.birthDate', '2026-11-28', 'patient.birthDate', '"2026-11-28" is in the future (today is 2026-11-27 in the UK)', 'not in the future'],
  ['birthDate not a real date', 'patient.birthDate', '1968-02-30', 'patient.birthDate', 'is not a real calendar date', 'YYYY-MM-DD'],
  ['birthDate 29 Feb of a common year', 'patient.birthDate', '1967-02-29', 'patient.birthDate', 'is not a real calendar date', 'YYYY-MM-DD'],
  ['birthDate day-month-year', 'patient.birthDate', '12/04/1968', 'patient.birthDate', 'is not a date in the form YYYY-MM-DD', 'YYYY-MM-DD'],
  ['birthDate with a time', 'patient.birthDate', '1968-04-12T00:00:00Z', 'patient.birthDate', 'is not a date in the form YYYY-MM-DD', 'YYYY-MM-DD'],
  ['gender unknown code', 'patient.gender', 'F', 'patient.gender', '"F" is not an allowed value', 'one of: male, female, other, unknown'],
  ['postcode with a hyphen', 'patient.address.postcode', 'M6-8HA', 'patient.address.postcode', '"M6-8HA" is not a valid UK postcode', 'UK postcode'],
  ['postcode lower case', 'patient.address.postcode', 'm6 8ha', 'patient.address.postcode', 'is not a valid UK postcode', 'capital letters'],
  ['postcode missing from address', 'patient.address.postcode', REMOVE, 'patient.address.postcode', 'required property is missing', 'UK postcode'],
  ['address lines a string', 'patient.address.lines', '14 Eccles Old Road', 'patient.address.lines', 'expected an array', 'address lines'],
  ['address unknown field', 'patient.address.country', 'UK', 'patient.address.country', 'unknown property "country"', 'lines, city, postcode'],
  ['phone with hyphens', 'patient.phone', '0161-496-0123', 'patient.phone', '"0161-496-0123" is not a valid telephone number', 'digits and spaces'],
  ['phone with brackets', 'patient.phone', '+44 (0)161 496 0123', 'patient.phone', 'is not a valid telephone number', 'optionally starting with +'],
  ['phone + not leading', 'patient.phone', '44+ 7700', 'patient.phone', 'is not a valid telephone number', 'digits and spaces'],
  ['phone a number', 'patient.phone', 1614960123, 'patient.phone', 'expected a string, got the number', 'digits and spaces'],
  ['email without domain', 'patient.email', 'amelia.hughes', 'patient.email', '"amelia.hughes" is not a valid email address', 'an email address'],
  ['email with unknown top-level domain', 'patient.email', 'amelia@example.nte', 'patient.email', 'is not a valid email address', 'an email address'],
  ['gpPractice ODS lower case', 'patient.gpPractice.odsCode', 'p88001', 'patient.gpPractice.odsCode', '"p88001" is not a valid ODS code', '3 to 6 capital letters or digits'],
  ['gpPractice ODS 7 characters', 'patient.gpPractice.odsCode', 'P880011', 'patient.gpPractice.odsCode', 'is not a valid ODS code', '3 to 6'],
  ['gpPractice ODS 2 characters', 'patient.gpPractice.odsCode', 'P8', 'patient.gpPractice.odsCode', 'is not a valid ODS code', '3 to 6'],
  ['gpPractice a string', 'patient.gpPractice', 'P88001', 'patient.gpPractice', 'expected a JSON object, got the string "P88001"', '{ "odsCode": ODS code }'],
  // referrer, recipient
  ['sdsUserId 5 digits', 'referrer.sdsUserId', '55512', 'referrer.sdsUserId', '"55512" is not a valid SDS user id', '6 to 12 digits'],
  ['sdsUserId 13 digits', 'referrer.sdsUserId', '5551234567890', 'referrer.sdsUserId', 'is not a valid SDS user id', '6 to 12 digits'],
  ['sdsUserId with a letter', 'referrer.sdsUserId', 'S55123456', 'referrer.sdsUserId', 'is not a valid SDS user id', '6 to 12 digits'],
  ['sdsUserId a number', 'referrer.sdsUserId', 555123456789, 'referrer.sdsUserId', 'expected a string, got the number', '6 to 12 digits'],
  ['referrer ODS lower case', 'referrer.odsCode', 'nq9x1', 'referrer.odsCode', 'is not a valid ODS code', '3 to 6 capital letters'],
  ['referrer role unknown', 'referrer.role', 'doctor', 'referrer.role', '"doctor" is not an allowed value', 'one of: gp, pwp, pain-consultant, physiotherapist, nurse'],
  ['referrer name missing', 'referrer.name', REMOVE, 'referrer.name', 'required property is missing', "the referrer's name"],
  ['referrer unknown field', 'referrer.email', 'p@example.org', 'referrer.email', 'unknown property "email"', 'sdsUserId, name, odsCode, role'],
  ['recipient missing', 'recipient', REMOVE, 'recipient', 'required property is missing', 'the receiving organisation'],
  ['recipient ODS with a space', 'recipient.odsCode', 'RM 3', 'recipient.odsCode', 'is not a valid ODS code', '3 to 6'],
  // preferences
  ['contactMethod unknown', 'preferences.contactMethod', 'email', 'preferences.contactMethod', '"email" is not an allowed value', 'one of: telephone, video, face-to-face'],
  ['language a word', 'preferences.language', 'english', 'preferences.language', '"english" is not a valid BCP-47 language tag', 'BCP-47'],
  ['language with underscore', 'preferences.language', 'en_GB', 'preferences.language', 'is not a valid BCP-47 language tag', 'BCP-47'],
  ['interpreterRequired a string', 'preferences.interpreterRequired', 'false', 'preferences.interpreterRequired', 'expected a boolean (true or false), got the string "false"', 'JSON boolean'],
  ['availability 501 characters', 'preferences.availability', 'y'.repeat(501), 'preferences.availability', 'is 501 characters long, more than the limit of 500', 'at most 500 characters'],
  ['preferences unknown field', 'preferences.timezone', 'Europe/London', 'preferences.timezone', 'unknown property "timezone"', 'contactMethod, language, interpreterRequired, availability'],
  // riskFlags
  ['riskFlags duplicate', 'riskFlags', ['self-harm', 'self-harm'], 'riskFlags[1]', '"self-harm" appears more than once (also at riskFlags[0])', 'distinct risk flags'],
  ['riskFlags unknown code', 'riskFlags', ['suicide'], 'riskFlags[0]', '"suicide" is not an allowed value', 'one of: self-harm, safeguarding, lone-worker-risk'],
  ['riskFlags a string', 'riskFlags', 'self-harm', 'riskFlags', 'expected an array, got the string "self-harm"', 'distinct risk flags'],
  // assessments: shape
  ['too many assessments (21)', 'assessments', Array.from({ length: 21 }, (_, i) => pegAssessment(i)), 'assessments', 'has 21 items, more than the limit of 20', 'at most 20 assessments'],
  ['assessments an object', 'assessments', {}, 'assessments', 'expected an array, got an object', 'at most 20 assessments'],
  ['duplicate assessmentId', 'assessments.1.assessmentId', 'PP-A-000311', 'assessments[1].assessmentId', 'assessmentId "PP-A-000311" is used more than once (also by assessments[0])', 'an assessmentId that no other item of assessments has'],
  ['an assessment a string', 'assessments.1', 'PP-A-000312', 'assessments[1]', 'expected a JSON object, got the string "PP-A-000312"', 'assessmentId, instrument, completedAt, answers'],
  ['assessmentId missing', 'assessments.0.assessmentId', REMOVE, 'assessments[0].assessmentId', 'required property is missing', 'a letter or digit'],
  ['assessmentId bad pattern', 'assessments.0.assessmentId', 'A/1', 'assessments[0].assessmentId', '"A/1" is not a valid identifier', 'a letter or digit'],
  ['assessment unknown field', 'assessments.0.score', 8, 'assessments[0].score', 'unknown property "score"', 'assessmentId, referralId, instrument, status, completedAt, mode, answers, totalScore'],
  ['instrument unknown', 'assessments.0.instrument', 'PHQ9', 'assessments[0].instrument', '"PHQ9" is not an allowed value', 'one of: PHQ-9, GAD-7, PEG'],
  ['assessment status unknown', 'assessments.0.status', 'done', 'assessments[0].status', '"done" is not an allowed value', 'one of: completed, in-progress, amended, entered-in-error'],
  ['completedAt without offset', 'assessments.0.completedAt', '2026-11-18T09:30:00', 'assessments[0].completedAt', '"2026-11-18T09:30:00" has no timezone offset', 'timezone offset'],
  ['completedAt missing', 'assessments.0.completedAt', REMOVE, 'assessments[0].completedAt', 'required property is missing', 'timezone offset'],
  ['mode unknown', 'assessments.0.mode', 'phone', 'assessments[0].mode', '"phone" is not an allowed value', 'one of: telephone, online, paper, in-person'],
  ['totalScore a string', 'assessments.0.totalScore', '8', 'assessments[0].totalScore', 'expected a number, got the string "8"', 'computed score'],
  ['answers an array', 'assessments.0.answers', [1, 1, 2, 2, 0, 1, 1, 0, 0], 'assessments[0].answers', 'expected a JSON object, got an array', 'item numbers'],
  ['answers missing', 'assessments.0.answers', REMOVE, 'assessments[0].answers', 'required property is missing', 'item numbers'],
  // assessments: answers per instrument
  ['PHQ-9 scored item missing', 'assessments.0.answers.9', REMOVE, 'assessments[0].answers.9', 'PHQ-9 item "9" is not answered, but an assessment without status (completed by default) must answer every scored item', 'only an in-progress assessment may leave items out'],
  ['PHQ-9 unknown item 11', 'assessments.0.answers.11', 1, 'assessments[0].answers.11', '"11" is not an item of PHQ-9', 'PHQ-9 items "1" to "9"'],
  ['PHQ-9 unknown item 0', 'assessments.0.answers.0', 1, 'assessments[0].answers.0', '"0" is not an item of PHQ-9', 'optionally "10"'],
  ['PHQ-9 item key "01"', 'assessments.0.answers.01', 1, 'assessments[0].answers.01', '"01" is not an item of PHQ-9', 'PHQ-9 items'],
  ['PHQ-9 answer 4', 'assessments.0.answers.1', 4, 'assessments[0].answers.1', '4 is out of range for a PHQ-9 answer', 'an integer from 0 to 3'],
  ['PHQ-9 answer -1', 'assessments.0.answers.1', -1, 'assessments[0].answers.1', '-1 is out of range for a PHQ-9 answer', 'an integer from 0 to 3'],
  ['PHQ-9 answer 1.5', 'assessments.0.answers.1', 1.5, 'assessments[0].answers.1', '1.5 is not a whole number', 'an integer from 0 to 3'],
  ['PHQ-9 answer a string', 'assessments.0.answers.1', '1', 'assessments[0].answers.1', 'expected an integer answer, got the string "1"', 'an integer from 0 to 3'],
  ['PHQ-9 answer null', 'assessments.0.answers.1', null, 'assessments[0].answers.1', 'expected an integer answer, got null', 'an integer from 0 to 3'],
  ['PHQ-9 difficulty 4', 'assessments.0.answers.10', 4, 'assessments[0].answers.10', '4 is out of range for a PHQ-9 answer', 'an integer from 0 to 3'],
  ['GAD-7 scored item missing', 'assessments.1.answers.7', REMOVE, 'assessments[1].answers.7', 'GAD-7 item "7" is not answered', 'only an in-progress assessment may leave items out'],
  ['GAD-7 has no item 9', 'assessments.1.answers.9', 0, 'assessments[1].answers.9', '"9" is not an item of GAD-7', 'GAD-7 items "1" to "7"'],
  ['GAD-7 difficulty 4', 'assessments.1.answers.8', 4, 'assessments[1].answers.8', '4 is out of range for a GAD-7 answer', 'an integer from 0 to 3'],
  ['PEG answer 11', 'assessments.2.answers.1', 11, 'assessments[2].answers.1', '11 is out of range for a PEG answer', 'an integer from 0 to 10'],
  ['PEG has no item 4', 'assessments.2.answers.4', 5, 'assessments[2].answers.4', '"4" is not an item of PEG', 'PEG items "1"'],
  ['PEG scored item missing', 'assessments.2.answers.3', REMOVE, 'assessments[2].answers.3', 'PEG item "3" is not answered', 'an integer from 0 to 10'],
  // assessments: status and referralId rules
  ['in-progress with a totalScore', 'assessments.0.status', 'in-progress', 'assessments[0].totalScore', 'an in-progress assessment must not carry a totalScore', 'no totalScore'],
  ['inline referralId of another referral', 'assessments.0.referralId', 'PP-2026-000999', 'assessments[0].referralId', '"PP-2026-000999" differs from the referral\'s own referralId "PP-2026-000123"', "the enclosing referral's referralId"],
  ['inline referralId bad pattern', 'assessments.0.referralId', 'P', 'assessments[0].referralId', '"P" is not a valid identifier', "this referral's own referralId"],
];

describe('a referral with ONE field wrong gives exactly one problem, at that path', () => {
  test.each(invalid)('%s', (_what, path, value, problemPath, message, allowed) => {
    const result = validateReferral(withChange(base, path, value), NOW);
    expect(result.value).toBeUndefined();
    expect(result.problems.map((p) => p.path)).toEqual([problemPath]);
    const [problem] = result.problems;
    if (typeof message === 'string') expect(problem!.message).toContain(message);
    else expect(problem!.message).toMatch(message);
    if (typeof allowed === 'string') expect(problem!.allowed).toContain(allowed);
    else expect(problem!.allowed).toMatch(allowed);
  });
});

// [what, path changed, new value]
const valid: Array<[string, string, unknown]> = [
  ['createdAt exactly 5 minutes ahead', 'createdAt', '2026-11-27T00:05:00Z'],
  ['createdAt with Z', 'createdAt', '2026-11-20T10:15:00Z'],
  ['createdAt with a negative offset', 'createdAt', '2026-11-20T10:15:00-05:00'],
  ['createdAt with fractional seconds', 'createdAt', '2026-11-20T10:15:00.123+00:00'],
  ['createdAt 5 minutes ahead written in another offset', 'createdAt', '2026-11-27T01:05:00+01:00'],
  ['birthDate today (UK)', 'patient.birthDate', '2026-11-27'],
  ['birthDate 29 Feb of a leap year', 'patient.birthDate', '2024-02-29'],
  ['postcode without the space', 'patient.address.postcode', 'M68HA'],
  ['postcode SW1A 1AA', 'patient.address.postcode', 'SW1A 1AA'],
  ['address without city', 'patient.address.city', REMOVE],
  ['address with no lines', 'patient.address.lines', []],
  ['international phone', 'patient.phone', '+44 161 496 0123'],
  ['email', 'patient.email', 'amelia.hughes@example.org'],
  ['no gpPractice', 'patient.gpPractice', REMOVE],
  ['language with region', 'preferences.language', 'pt-BR'],
  ['language with script and region', 'preferences.language', 'zh-Hant-TW'],
  ['availability of 500 characters', 'preferences.availability', 'y'.repeat(500)],
  ['clinicalSummary of 10,000 characters', 'clinicalSummary', 'x'.repeat(10_000)],
  ['no preferences', 'preferences', REMOVE],
  ['no referrer role', 'referrer.role', REMOVE],
  ['riskFlags all three', 'riskFlags', ['self-harm', 'safeguarding', 'lone-worker-risk']],
  ['riskFlags empty', 'riskFlags', []],
  ['no assessments', 'assessments', REMOVE],
  ['20 assessments', 'assessments', Array.from({ length: 20 }, (_, i) => pegAssessment(i))],
  ['inline referralId equal to the referral', 'assessments.0.referralId', 'PP-2026-000123'],
  ['symptomDurationMonths 0', 'symptomDurationMonths', 0],
  ['symptomDurationMonths 600', 'symptomDurationMonths', 600],
  ['step 1', 'step', 1],
  ['PHQ-9 without the difficulty item', 'assessments.0.answers.10', REMOVE],
  ['GAD-7 in-progress (no totalScore) with every item', 'assessments.1.status', 'in-progress'],
  ['GAD-7 amended', 'assessments.1.status', 'amended'],
  ['GAD-7 with difficulty', 'assessments.1.answers.8', 3],
  ['PEG answers 10', 'assessments.2.answers.1', 10],
];

describe('a referral with ONE field changed to another allowed value validates', () => {
  test.each(valid)('%s', (_what, path, value) => {
    const input = withChange(base, path, value);
    const result = validateReferral(input, NOW);
    expect(result.problems).toEqual([]);
    expect(result.value).toBe(input);
  });
});

describe('status-dependent completeness', () => {
  const gad7Missing = (status: string | typeof REMOVE) =>
    withChange(withChange(base, 'assessments.1.answers.7', REMOVE), 'assessments.1.status', status);

  test.each([
    ['in-progress', []],
    ['entered-in-error', []],
    ['completed', ['assessments[1].answers.7']],
    ['amended', ['assessments[1].answers.7']],
  ])('GAD-7 without item 7, status %s', (status, paths) => {
    const result = validateReferral(gad7Missing(status), NOW);
    expect(result.problems.map((p) => p.path)).toEqual(paths);
  });

  test('the message names the status', () => {
    const [problem] = validateReferral(gad7Missing('amended'), NOW).problems;
    expect(problem!.message).toContain('an amended assessment must answer every scored item');
  });

  test('an in-progress assessment may leave every item out', () => {
    const input = withChange(withChange(base, 'assessments.2.answers', {}), 'assessments.2.status', 'in-progress');
    expect(validateReferral(input, NOW).problems).toEqual([]);
  });

  test('a completed assessment with no answers lists every missing scored item', () => {
    const result = validateReferral(withChange(base, 'assessments.0.answers', {}), NOW);
    expect(result.problems.map((p) => p.path)).toEqual(
      ['1', '2', '3', '4', '5', '6', '7', '8', '9'].map((i) => `assessments[0].answers.${i}`),
    );
  });
});

describe('every problem is collected', () => {
  const messy = (): unknown => {
    const r = structuredClone(base) as unknown as Record<string, any>;
    r.referralId = 'x';
    r.createdAt = '2026-11-20T10:15:00';
    r.step = '3';
    r.typo = true;
    r.patient.nhsNumber = '9990000019';
    r.patient.birthDate = '2030-01-01';
    r.patient.phone = 'ring me';
    r.referrer.odsCode = 'nq9x1';
    r.riskFlags = ['self-harm', 'self-harm'];
    r.assessments[0].answers['9'] = 7;
    r.assessments[1].assessmentId = 'PP-A-000311';
    r.assessments[2].referralId = 'PP-2026-000999';
    delete r.recipient;
    return r;
  };

  test('all thirteen problems are reported, each with path, message and allowed', () => {
    const { value, problems } = validateReferral(messy(), NOW);
    expect(value).toBeUndefined();
    expect(problems.map((p) => p.path).sort()).toEqual(
      [
        'referralId',
        'createdAt',
        'step',
        'typo',
        'patient.nhsNumber',
        'patient.birthDate',
        'patient.phone',
        'referrer.odsCode',
        'recipient',
        'riskFlags[1]',
        'assessments[0].answers.9',
        'assessments[1].assessmentId',
        'assessments[2].referralId',
      ].sort(),
    );
    for (const p of problems) {
      expect(p.message.length).toBeGreaterThan(0);
      expect(p.allowed.length).toBeGreaterThan(0);
    }
  });

  test('no patient data in any path or allowed text (only in messages)', () => {
    const sent = stepUp();
    const other = newAtRisk();
    const patientValues = [
      other.patient.nhsNumber,
      other.patient.phone!,
      other.patient.birthDate,
      sent.patient.nhsNumber,
      '9990000019',
      '2030-01-01',
      'ring me',
      sent.patient.name.family,
      ...sent.patient.name.given,
      sent.patient.birthDate,
      sent.patient.address!.postcode,
      sent.patient.address!.lines[0]!,
      sent.patient.phone!,
    ];
    const { problems } = validateReferral(messy(), NOW);
    for (const p of problems) {
      for (const v of patientValues) {
        expect(p.path).not.toContain(v);
        expect(p.allowed).not.toContain(v);
      }
    }
  });
});

describe('bodies that are not a referral', () => {
  test.each([
    ['null', null, 'expected a JSON object, got null'],
    ['an array', [], 'expected a JSON object, got an array'],
    ['a string', 'referral', 'expected a JSON object, got the string "referral"'],
    ['nothing', undefined, 'nothing was sent'],
  ])('%s', (_what, input, message) => {
    const { value, problems } = validateReferral(input, NOW);
    expect(value).toBeUndefined();
    expect(problems).toEqual([{ path: '(body)', message, allowed: expect.stringContaining('a referral') }]);
  });

  test('an empty object lists every required property', () => {
    const { problems } = validateReferral({}, NOW);
    expect(problems.map((p) => p.path)).toEqual([
      'referralId',
      'createdAt',
      'status',
      'kind',
      'step',
      'urgency',
      'primaryCondition',
      'patient',
      'referrer',
      'recipient',
    ]);
    expect(new Set(problems.map((p) => p.message))).toEqual(new Set(['required property is missing']));
  });

  test('the input is never modified', () => {
    const input = withChange(base, 'step', '3') as NativeReferral;
    const before = JSON.stringify(input);
    validateReferral(input, NOW);
    expect(JSON.stringify(input)).toBe(before);
  });
});
