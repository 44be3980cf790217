// joi 18 schemas for the Pain Platform native JSON (../shared/spec/native-format.md, version 1) and the
// validators the routes call. Pure: no hapi, no I/O, no logging.
//
// What is checked where:
// - the joi schemas: types, required and unknown properties, patterns, codes, ranges, lengths, date and
//   date-time formats, createdAt / birthDate not in the future, riskFlags and assessmentIds unique;
// - `assessmentRules` (after joi, because the allowed answer keys depend on `instrument` and `status`):
//   answer keys per instrument, integer answers in range, completed/amended answer every scored item,
//   in-progress carries no totalScore, an inline referralId equals the parent referral's.
// - NOT here: a totalScore that differs from the computed one. That is a 422, not a 400
//   (native-format.md), so it is `checkTotals` in ../questionnaires/scoring.ts, run after this.
//
// Every problem is collected (abortEarly false). Nothing is converted or defaulted (convert false,
// noDefaults): `value` is the very object that was passed in, so the stored raw JSON round-trips.

import Joi from 'joi';
import { isValidNhsNumber } from '../fhir/nhs-number.js';
import {
  BCP47_PATTERN,
  ID_PATTERN,
  ODS_PATTERN,
  PHONE_PATTERN,
  SDS_USER_ID_PATTERN,
  UK_POSTCODE_PATTERN,
  isRealDate,
  parseDateTime,
  ukDate,
} from './formats.js';
import { INSTRUMENTS, INSTRUMENT_CODES, isInstrument } from './instruments.js';
import { formatPath, isPlainObject, showTyped, showValue, type Problem } from './problem.js';
import type { NativeAssessment, NativeReferral } from './types.js';

export type { Problem } from './problem.js';

export interface ValidationResult<T> {
  /** the input itself (not a copy, not converted), present only when there is no problem */
  value?: T;
  problems: Problem[];
}

/** How far in the future `createdAt` may be (clock skew between the platform and the adapter). */
export const CREATED_AT_MAX_FUTURE_MS = 5 * 60_000;
export const MAX_ASSESSMENTS = 20;
export const MAX_CLINICAL_SUMMARY = 10_000;
export const MAX_AVAILABILITY = 500;

// ---------------------------------------------------------------------------------------------
// Building blocks. Each schema's `.description()` is the `allowed` text of its problems.

const A = {
  id: 'a letter or digit, then 2 to 63 letters, digits, ".", "_" or "-" (pattern ^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$)',
  dateTime: 'a date-time with seconds and a timezone offset, e.g. 2026-11-20T10:15:00+00:00 or 2026-11-20T10:15:00Z',
  ods: 'an ODS code: 3 to 6 capital letters or digits, e.g. RM3 or P88001',
  text: 'a non-empty string (not only spaces)',
} as const;

const codes = (values: readonly string[]): string => `one of: ${values.join(', ')}`;

/** Any string that is not empty and not only whitespace (the spec: strings must not be empty). */
const text = (allowed: string = A.text) => Joi.string().pattern(/\S/, 'nonBlank').description(allowed);

const code = (values: readonly string[]) => Joi.string().valid(...values).description(codes(values));

const id = (allowed: string = A.id) => Joi.string().pattern(ID_PATTERN, 'identifier').description(allowed);

const ods = () => Joi.string().pattern(ODS_PATTERN, 'ODS code').description(A.ods);

const integer = (min: number, max: number, allowed?: string) =>
  Joi.number()
    .integer()
    .min(min)
    .max(max)
    .description(allowed ?? `an integer from ${min} to ${max}`);

interface Ctx {
  now: Date;
  today: string;
}

function ctxOf(prefs: Joi.ValidationOptions): Ctx {
  const c = prefs.context as Partial<Ctx> | undefined;
  const now = c?.now instanceof Date ? c.now : new Date();
  return { now, today: c?.today ?? ukDate(now) };
}

/** A date-time with offset; `maxFutureMs` also forbids it being later than now + maxFutureMs. */
function dateTime(allowed: string, maxFutureMs?: number) {
  return Joi.string()
    .custom((value: string, helpers) => {
      const parsed = parseDateTime(value);
      if (!parsed.ok) return helpers.error(`dateTime.${parsed.reason}`);
      if (maxFutureMs !== undefined) {
        const { now } = ctxOf(helpers.prefs);
        if (parsed.epochMs > now.getTime() + maxFutureMs) return helpers.error('dateTime.future', { now: now.toISOString() });
      }
      return value;
    })
    .messages({
      'dateTime.no-offset': '{{#label}} has no timezone offset',
      'dateTime.format': '{{#label}} is not a date-time with offset',
      'dateTime.not-real': '{{#label}} is not a real date and time',
      'dateTime.future': '{{#label}} is too far in the future',
    })
    .description(allowed);
}

const birthDate = Joi.string()
  .custom((value: string, helpers) => {
    if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(value)) return helpers.error('date.format');
    if (!isRealDate(value)) return helpers.error('date.not-real');
    const { today } = ctxOf(helpers.prefs);
    if (value > today) return helpers.error('date.future', { today });
    return value;
  })
  .messages({
    'date.format': '{{#label}} is not a date in the form YYYY-MM-DD',
    'date.not-real': '{{#label}} is not a real calendar date',
    'date.future': '{{#label}} is in the future',
  })
  .description('a real calendar date written YYYY-MM-DD (e.g. 2001-09-30), not in the future (UK date)');

const nhsNumber = Joi.string()
  .custom((value: string, helpers) => {
    if (!/^[0-9]{10}$/.test(value)) return helpers.error('nhsNumber.format');
    if (!isValidNhsNumber(value)) return helpers.error('nhsNumber.checkDigit');
    return value;
  })
  .messages({
    'nhsNumber.format': '{{#label}} is not 10 digits',
    'nhsNumber.checkDigit': '{{#label}} fails the NHS number Modulus 11 check digit',
  })
  .description('10 digits with a valid Modulus 11 check digit');

const personName = (who: string) =>
  Joi.object({
    given: Joi.array()
      .items(text())
      .min(1)
      .required()
      .description('an array of at least one given name, each a non-empty string'),
    family: text().required(),
    prefix: text(),
  }).description(`the ${who}'s name: { "given": [string, …] (at least one), "family": string, "prefix"?: string }`);

const odsRef = (what: string) => Joi.object({ odsCode: ods().required() }).description(`${what}: { "odsCode": ODS code }`);

const REFERRAL_STATUSES = ['active', 'on-hold', 'completed', 'cancelled', 'entered-in-error'] as const;
const REFERRAL_KINDS = ['new', 'step-up', 'step-down'] as const;
const URGENCIES = ['routine', 'urgent'] as const;
const PRIMARY_CONDITIONS = ['chronic-widespread-pain', 'fibromyalgia', 'chronic-pain-other'] as const;
const GENDERS = ['male', 'female', 'other', 'unknown'] as const;
const REFERRER_ROLES = ['gp', 'pwp', 'pain-consultant', 'physiotherapist', 'nurse'] as const;
const CONTACT_METHODS = ['telephone', 'video', 'face-to-face'] as const;
const RISK_FLAGS = ['self-harm', 'safeguarding', 'lone-worker-risk'] as const;
const ASSESSMENT_STATUSES = ['completed', 'in-progress', 'amended', 'entered-in-error'] as const;
const ASSESSMENT_MODES = ['telephone', 'online', 'paper', 'in-person'] as const;

function assessmentObject(inline: boolean) {
  return Joi.object({
    assessmentId: id().required(),
    referralId: inline
      ? id(`omit it, or give this referral's own referralId (${A.id})`)
      : id(`the referralId of an existing referral (${A.id})`).required(),
    instrument: code(INSTRUMENT_CODES).required(),
    status: code(ASSESSMENT_STATUSES),
    completedAt: dateTime(A.dateTime).required(),
    mode: code(ASSESSMENT_MODES),
    answers: Joi.object()
      .required()
      .description('an object mapping item numbers ("1", "2", …) to integer scores; the items depend on the instrument'),
    totalScore: Joi.number().description('a number equal to the computed score (left out for an in-progress assessment)'),
  }).description(
    'an assessment: { assessmentId, instrument, completedAt, answers, and optionally referralId, status, mode, totalScore }',
  );
}

/** A referral (POST /referrals, PUT /referrals/{referralId}). Rules depending on other fields: see `validateReferral`. */
export const referralSchema = Joi.object({
  referralId: id().required(),
  createdAt: dateTime(`${A.dateTime}, not more than 5 minutes in the future`, CREATED_AT_MAX_FUTURE_MS).required(),
  status: code(REFERRAL_STATUSES).required(),
  kind: code(REFERRAL_KINDS).required(),
  step: integer(1, 3, 'the integer 1, 2 or 3 (1 guided self-management, 2 telephone CBT, 3 specialist pain management)').required(),
  urgency: code(URGENCIES).required(),
  primaryCondition: code(PRIMARY_CONDITIONS).required(),
  symptomDurationMonths: integer(0, 600),
  clinicalSummary: text(`a non-empty string of at most ${MAX_CLINICAL_SUMMARY} characters`).max(MAX_CLINICAL_SUMMARY),
  patient: Joi.object({
    nhsNumber: nhsNumber.required(),
    name: personName('patient').required(),
    birthDate: birthDate.required(),
    gender: code(GENDERS).required(),
    address: Joi.object({
      lines: Joi.array().items(text()).required().description('an array of address lines, each a non-empty string'),
      city: text(),
      postcode: Joi.string()
        .pattern(UK_POSTCODE_PATTERN, 'UK postcode')
        .required()
        .description('a UK postcode in capital letters, e.g. SW1A 1AA or B33 8TH (the space is optional)'),
    }).description('{ "lines": [string, …], "city"?: string, "postcode": UK postcode }'),
    phone: Joi.string()
      .pattern(PHONE_PATTERN, 'telephone number')
      .description('a telephone number of digits and spaces, optionally starting with +, e.g. 0161 496 0000 or +44 7700 900000'),
    email: Joi.string().email().description('an email address, e.g. name@example.org'),
    gpPractice: odsRef("the patient's GP practice"),
  })
    .required()
    .description('the patient: { nhsNumber, name, birthDate, gender, and optionally address, phone, email, gpPractice }'),
  referrer: Joi.object({
    sdsUserId: Joi.string().pattern(SDS_USER_ID_PATTERN, 'SDS user id').required().description('an SDS user id: 6 to 12 digits'),
    name: personName('referrer').required(),
    odsCode: ods().required(),
    role: code(REFERRER_ROLES),
  })
    .required()
    .description('the referring clinician: { sdsUserId, name, odsCode, and optionally role }'),
  recipient: odsRef('the receiving organisation').required(),
  preferences: Joi.object({
    contactMethod: code(CONTACT_METHODS),
    language: Joi.string()
      .pattern(BCP47_PATTERN, 'BCP-47 language tag')
      .description('a BCP-47 language tag, e.g. en, pl, ur, pt-BR'),
    interpreterRequired: Joi.boolean().description('true or false (a JSON boolean, not a string)'),
    availability: text(`a non-empty string of at most ${MAX_AVAILABILITY} characters`).max(MAX_AVAILABILITY),
  }).description('{ "contactMethod"?, "language"?, "interpreterRequired"?, "availability"? }'),
  riskFlags: Joi.array()
    .items(code(RISK_FLAGS))
    .unique()
    .description(`an array of distinct risk flags, each ${codes(RISK_FLAGS)}`),
  assessments: Joi.array()
    .items(assessmentObject(true))
    .max(MAX_ASSESSMENTS)
    .unique('assessmentId', { ignoreUndefined: true })
    .description(`an array of at most ${MAX_ASSESSMENTS} assessments, each with a different assessmentId`),
})
  .required()
  .description('a referral: a JSON object with the properties listed in native-format.md');

/** An assessment on its own (POST /assessments): `referralId` is required. */
export const assessmentSchema = assessmentObject(false).required();

/** An assessment inside a referral's `assessments` (`referralId` optional; equality checked by `assessmentRules`). */
export const inlineAssessmentSchema = assessmentObject(true);

// ---------------------------------------------------------------------------------------------
// Problems from joi details.

interface SchemaInfo {
  /** normalised path (`assessments[].answers`) → allowed text */
  allowed: Map<string, string>;
  /** normalised path of an object → its property names */
  keys: Map<string, string[]>;
}

function normPath(segments: ReadonlyArray<string | number>): string {
  return segments.map((s) => (typeof s === 'number' ? '[]' : `.${s}`)).join('').replace(/^\./, '');
}

function collectInfo(schema: Joi.Schema): SchemaInfo {
  const info: SchemaInfo = { allowed: new Map(), keys: new Map() };
  const walk = (d: Joi.Description & { keys?: Record<string, Joi.Description>; items?: Joi.Description[] }, at: string) => {
    const desc = (d.flags as { description?: string } | undefined)?.description;
    if (desc !== undefined) info.allowed.set(at, desc);
    if (d.keys) {
      info.keys.set(at, Object.keys(d.keys));
      for (const [k, child] of Object.entries(d.keys)) walk(child, at === '' ? k : `${at}.${k}`);
    }
    if (d.items?.[0]) walk(d.items[0], `${at}[]`);
  };
  walk(schema.describe(), '');
  return info;
}

const REFERRAL_INFO = collectInfo(referralSchema);
const ASSESSMENT_INFO = collectInfo(assessmentSchema);

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

const EXPECTED: Record<string, string> = {
  'string.base': 'a string',
  'number.base': 'a number',
  'boolean.base': 'a boolean (true or false)',
  'object.base': 'a JSON object',
  'array.base': 'an array',
};

function problemFromDetail(d: Joi.ValidationErrorItem, info: SchemaInfo): Problem {
  const ctx = (d.context ?? {}) as Record<string, unknown>;
  const value = ctx.value;
  const at = normPath(d.path);
  const allowedHere = info.allowed.get(at) ?? 'see native-format.md';
  const problem = (message: string, allowed: string = allowedHere, path: string = formatPath(d.path)): Problem => ({
    path,
    message,
    allowed,
  });
  const limit = ctx.limit as number;

  if (d.type in EXPECTED) return problem(`expected ${EXPECTED[d.type]}, got ${showTyped(value)}`);
  switch (d.type) {
    case 'any.required':
      return problem(d.path.length === 0 ? 'nothing was sent' : 'required property is missing');
    case 'object.unknown': {
      const parentKeys = info.keys.get(normPath(d.path.slice(0, -1))) ?? [];
      return problem(
        `unknown property ${showValue(String(ctx.child ?? d.path[d.path.length - 1]))}: it is not part of the native format (a typo?)`,
        `only the properties ${parentKeys.join(', ')}`,
      );
    }
    case 'any.only':
      return problem(`${showValue(value)} is not an allowed value`);
    case 'string.empty':
      return problem('is an empty string');
    case 'string.pattern.name':
      return ctx.name === 'nonBlank'
        ? problem('contains only whitespace')
        : problem(`${showValue(value)} is not a valid ${String(ctx.name)}`);
    case 'string.pattern.base':
      return problem(`${showValue(value)} does not have the required format`);
    case 'string.max':
      return problem(`is ${plural((value as string).length, 'character')} long, more than the limit of ${limit}`);
    case 'string.email':
      return problem(`${showValue(value)} is not a valid email address`);
    case 'number.integer':
      return problem(`${showValue(value)} is not a whole number`);
    case 'number.min':
      return problem(`${showValue(value)} is less than the minimum ${limit}`);
    case 'number.max':
      return problem(`${showValue(value)} is more than the maximum ${limit}`);
    case 'number.infinity':
    case 'number.unsafe':
      return problem(`${showValue(value)} is not a usable number`);
    case 'array.max':
      return problem(`has ${plural((value as unknown[]).length, 'item')}, more than the limit of ${limit}`);
    case 'array.min':
      return problem(`has ${plural((value as unknown[]).length, 'item')}, fewer than the minimum of ${limit}`);
    case 'array.unique': {
      const parent = d.path.slice(0, -1);
      const first = formatPath([...parent, ctx.dupePos as number]);
      if (typeof ctx.path === 'string') {
        const key = ctx.path;
        const dupe = (value as Record<string, unknown>)[key];
        return problem(
          `${key} ${showValue(dupe)} is used more than once (also by ${first})`,
          `${/^[aeiou]/i.test(key) ? 'an' : 'a'} ${key} that no other item of ${formatPath(parent)} has`,
          formatPath([...d.path, key]),
        );
      }
      return problem(`${showValue(value)} appears more than once (also at ${first})`, info.allowed.get(normPath(parent)) ?? allowedHere);
    }
    case 'nhsNumber.format':
      return problem(`${showValue(value)} is not 10 digits`);
    case 'nhsNumber.checkDigit':
      return problem(`${showValue(value)} fails the NHS number Modulus 11 check digit`);
    case 'dateTime.no-offset':
      return problem(`${showValue(value)} has no timezone offset (add Z or ±hh:mm, e.g. +00:00)`);
    case 'dateTime.format':
      return problem(`${showValue(value)} is not a date-time in the form YYYY-MM-DDThh:mm:ss±hh:mm`);
    case 'dateTime.not-real':
      return problem(`${showValue(value)} is not a real date and time (check the month, day, hours, minutes and offset)`);
    case 'dateTime.future':
      return problem(`${showValue(value)} is more than 5 minutes in the future (the adapter's clock says ${String(ctx.now)})`);
    case 'date.format':
      return problem(`${showValue(value)} is not a date in the form YYYY-MM-DD`);
    case 'date.not-real':
      return problem(`${showValue(value)} is not a real calendar date`);
    case 'date.future':
      return problem(`${showValue(value)} is in the future (today is ${String(ctx.today)} in the UK)`);
    default:
      return problem(d.message);
  }
}

// ---------------------------------------------------------------------------------------------
// Rules after joi: answers per instrument and status, in-progress total, inline referralId.

const STATUS_PHRASE: Record<string, string> = {
  completed: 'a completed assessment',
  amended: 'an amended assessment',
};

/**
 * The assessment rules joi does not express, for one assessment object at `at` (path segments, `[]` for a
 * standalone one). `parentReferralId` is the enclosing referral's referralId for an inline assessment.
 * Skips whatever joi already reports (unknown instrument, answers not an object).
 */
export function assessmentRules(
  a: Record<string, unknown>,
  at: ReadonlyArray<string | number>,
  parentReferralId?: unknown,
): Problem[] {
  const problems: Problem[] = [];
  const path = (...more: Array<string | number>) => formatPath([...at, ...more]);

  if (
    parentReferralId !== undefined &&
    typeof a.referralId === 'string' &&
    ID_PATTERN.test(a.referralId) &&
    a.referralId !== parentReferralId
  ) {
    problems.push({
      path: path('referralId'),
      message: `${showValue(a.referralId)} differs from the referral's own referralId ${showValue(parentReferralId)}`,
      allowed: "omit referralId in an inline assessment, or give the enclosing referral's referralId",
    });
  }

  if (a.status === 'in-progress' && a.totalScore !== undefined) {
    problems.push({
      path: path('totalScore'),
      message: 'an in-progress assessment must not carry a totalScore',
      allowed: 'no totalScore until the assessment is completed',
    });
  }

  if (!isInstrument(a.instrument) || !isPlainObject(a.answers)) return problems;
  const def = INSTRUMENTS[a.instrument];
  const allowedAnswer = `an integer from ${def.min} to ${def.max}`;
  const known = new Set([...def.scored, ...def.unscored]);

  for (const [key, answer] of Object.entries(a.answers)) {
    if (!known.has(key)) {
      problems.push({
        path: path('answers', key),
        message: `${showValue(key)} is not an item of ${def.instrument}`,
        allowed: `only ${def.itemsText}`,
      });
    } else if (typeof answer !== 'number') {
      problems.push({
        path: path('answers', key),
        message: `expected an integer answer, got ${showTyped(answer)}`,
        allowed: allowedAnswer,
      });
    } else if (!Number.isInteger(answer)) {
      problems.push({ path: path('answers', key), message: `${showValue(answer)} is not a whole number`, allowed: allowedAnswer });
    } else if (answer < def.min || answer > def.max) {
      problems.push({
        path: path('answers', key),
        message: `${showValue(answer)} is out of range for a ${def.instrument} answer`,
        allowed: allowedAnswer,
      });
    }
  }

  const mustBeComplete = a.status === undefined || a.status === 'completed' || a.status === 'amended';
  if (mustBeComplete) {
    const who = a.status === undefined ? 'an assessment without status (completed by default)' : STATUS_PHRASE[a.status as string];
    for (const item of def.scored) {
      if (!Object.prototype.hasOwnProperty.call(a.answers, item)) {
        problems.push({
          path: path('answers', item),
          message: `${def.instrument} item ${showValue(item)} is not answered, but ${who} must answer every scored item`,
          allowed: `${allowedAnswer}; only an in-progress assessment may leave items out`,
        });
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// The validators.

function options(now: Date): Joi.ValidationOptions {
  return {
    abortEarly: false,
    convert: false,
    noDefaults: true,
    allowUnknown: false,
    context: { now, today: ukDate(now) } satisfies Ctx,
  };
}

/**
 * Validates a referral body against every rule of native-format.md except the totalScore match (422,
 * see `checkTotals`). `value` is `input` itself when there is no problem. `now` is for "not in the future".
 */
export function validateReferral(input: unknown, now: Date = new Date()): ValidationResult<NativeReferral> {
  const { error } = referralSchema.validate(input, options(now));
  const problems = (error?.details ?? []).map((d) => problemFromDetail(d, REFERRAL_INFO));
  if (isPlainObject(input) && Array.isArray(input.assessments)) {
    input.assessments.forEach((a: unknown, i) => {
      if (isPlainObject(a)) problems.push(...assessmentRules(a, ['assessments', i], input.referralId));
    });
  }
  return problems.length === 0 ? { value: input as NativeReferral, problems } : { problems };
}

/**
 * Validates a standalone assessment body (POST /assessments; `referralId` required). Whether that
 * referral exists (404) and the totalScore match (422) are for the caller.
 */
export function validateAssessment(input: unknown, now: Date = new Date()): ValidationResult<NativeAssessment> {
  const { error } = assessmentSchema.validate(input, options(now));
  const problems = (error?.details ?? []).map((d) => problemFromDetail(d, ASSESSMENT_INFO));
  if (isPlainObject(input)) problems.push(...assessmentRules(input, []));
  return problems.length === 0 ? { value: input as NativeAssessment, problems } : { problems };
}
