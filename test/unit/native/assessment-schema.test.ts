import { describe, expect, test } from 'vitest';
import { validateAssessment } from '../../../src/native/schema.js';
import { NOW, REMOVE, followUp, withChange } from './fixtures.js';

const base = followUp();

describe('the spec example assessment-follow-up.json', () => {
  test('validates with no problem (completedAt after now is allowed: only createdAt and birthDate are limited)', () => {
    const input = followUp();
    const before = JSON.stringify(input);
    const result = validateAssessment(input, NOW);
    expect(result.problems).toEqual([]);
    expect(result.value).toBe(input);
    expect(JSON.stringify(input)).toBe(before);
  });
});

// [what, path changed, new value, expected problem path, fragment of message, fragment of allowed]
const invalid: Array<[string, string, unknown, string, string, string]> = [
  ['referralId missing (required on its own)', 'referralId', REMOVE, 'referralId', 'required property is missing', 'the referralId of an existing referral'],
  ['referralId bad pattern', 'referralId', 'PP', 'referralId', '"PP" is not a valid identifier', 'the referralId of an existing referral'],
  ['assessmentId missing', 'assessmentId', REMOVE, 'assessmentId', 'required property is missing', 'a letter or digit'],
  ['unknown field', 'patientName', 'x', 'patientName', 'unknown property "patientName"', 'assessmentId, referralId, instrument, status, completedAt, mode, answers, totalScore'],
  ['instrument unknown', 'instrument', 'GAD7', 'instrument', '"GAD7" is not an allowed value', 'one of: PHQ-9, GAD-7, PEG'],
  ['status unknown', 'status', 'complete', 'status', '"complete" is not an allowed value', 'in-progress'],
  ['completedAt without offset', 'completedAt', '2026-12-05T11:00:00', 'completedAt', '"2026-12-05T11:00:00" has no timezone offset', 'timezone offset'],
  ['mode unknown', 'mode', 'video', 'mode', '"video" is not an allowed value', 'one of: telephone, online, paper, in-person'],
  ['GAD-7 item missing', 'answers.4', REMOVE, 'answers.4', 'GAD-7 item "4" is not answered, but a completed assessment must answer every scored item', 'only an in-progress assessment'],
  ['GAD-7 unknown item', 'answers.9', 1, 'answers.9', '"9" is not an item of GAD-7', 'GAD-7 items "1" to "7"'],
  ['GAD-7 answer out of range', 'answers.2', 4, 'answers.2', '4 is out of range for a GAD-7 answer', 'an integer from 0 to 3'],
  ['GAD-7 answer a boolean', 'answers.2', true, 'answers.2', 'expected an integer answer, got the boolean true', 'an integer from 0 to 3'],
  ['in-progress with totalScore', 'status', 'in-progress', 'totalScore', 'an in-progress assessment must not carry a totalScore', 'no totalScore'],
  ['totalScore a string', 'totalScore', '13', 'totalScore', 'expected a number, got the string "13"', 'computed score'],
];

describe('a standalone assessment with ONE field wrong gives exactly one problem, at that path', () => {
  test.each(invalid)('%s', (_what, path, value, problemPath, message, allowed) => {
    const result = validateAssessment(withChange(base, path, value), NOW);
    expect(result.value).toBeUndefined();
    expect(result.problems.map((p) => p.path)).toEqual([problemPath]);
    expect(result.problems[0]!.message).toContain(message);
    expect(result.problems[0]!.allowed).toContain(allowed);
  });
});

describe('a standalone assessment with ONE field changed to another allowed value validates', () => {
  test.each([
    ['no status (completed by default)', 'status', REMOVE],
    ['no mode', 'mode', REMOVE],
    ['no totalScore', 'totalScore', REMOVE],
    ['no difficulty item', 'answers.8', REMOVE],
    ['a wrong totalScore (a 422 for checkTotals, not a 400 here)', 'totalScore', 14],
  ])('%s', (_what, path, value) => {
    const input = withChange(base, path, value);
    expect(validateAssessment(input, NOW)).toEqual({ value: input, problems: [] });
  });
});

test('a body that is not an object', () => {
  expect(validateAssessment([], NOW).problems).toEqual([
    { path: '(body)', message: 'expected a JSON object, got an array', allowed: expect.stringContaining('an assessment') },
  ]);
});
