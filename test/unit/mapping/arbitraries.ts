// fast-check arbitraries of VALID native documents (native-format.md): NHS numbers with a correct Modulus 11
// check digit, ODS codes, optional fields present or absent (never undefined), 0–4 assessments answering
// their instrument's items, unique risk flags, totals absent or equal to the computed score.

import fc from 'fast-check';
import type { ReferralMappingOptions } from '../../../src/mapping/index.js';
import type { NativeAssessment, NativeReferral, PersonName } from '../../../src/native/types.js';

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** A non-empty string that is not only whitespace (the native rule), unicode included. */
export const text = (maxLength = 40) =>
  fc.string({ unit: 'grapheme', minLength: 1, maxLength }).filter((s) => /\S/.test(s));

export const idString = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/);

export const odsCode = fc.oneof(fc.constantFrom('P88001', 'P88002', 'NQ9X1', 'RM3'), fc.stringMatching(/^[A-Z0-9]{3,6}$/));

export const nhsNumber = fc
  .array(fc.integer({ min: 0, max: 9 }), { minLength: 9, maxLength: 9 })
  .map((d) => {
    const sum = d.reduce((s, x, i) => s + x * (10 - i), 0);
    const check = 11 - (sum % 11);
    return check === 10 ? undefined : d.join('') + String(check === 11 ? 0 : check);
  })
  .filter((s): s is string => s !== undefined);

export const date = fc
  .record({ y: fc.integer({ min: 1900, max: 2025 }), m: fc.integer({ min: 1, max: 12 }), d: fc.integer({ min: 1, max: 28 }) })
  .map(({ y, m, d }) => `${y}-${pad(m)}-${pad(d)}`);

export const dateTime = fc
  .record({
    date: date.filter((s) => s >= '2000-01-01'),
    h: fc.integer({ min: 0, max: 23 }),
    mi: fc.integer({ min: 0, max: 59 }),
    s: fc.integer({ min: 0, max: 59 }),
    frac: fc.option(fc.stringMatching(/^[0-9]{1,6}$/), { nil: undefined }),
    tz: fc.constantFrom('Z', '+00:00', '+01:00', '-05:30', '+14:00'),
  })
  .map((x) => `${x.date}T${pad(x.h)}:${pad(x.mi)}:${pad(x.s)}${x.frac ? `.${x.frac}` : ''}${x.tz}`);

const name: fc.Arbitrary<PersonName> = fc.record(
  { given: fc.array(text(20), { minLength: 1, maxLength: 3 }), family: text(30), prefix: text(6) },
  { requiredKeys: ['given', 'family'] },
);

const postcode = fc.stringMatching(/^(?:[A-Z]{1,2}[0-9][A-Z0-9]?|GIR) ?[0-9][A-Z]{2}$/);

const patient = fc.record(
  {
    nhsNumber,
    name,
    birthDate: date,
    gender: fc.constantFrom('male', 'female', 'other', 'unknown'),
    address: fc.record(
      { lines: fc.array(text(30), { maxLength: 3 }), city: text(20), postcode },
      { requiredKeys: ['lines', 'postcode'] },
    ),
    phone: fc.stringMatching(/^\+?[0-9 ]*[0-9][0-9 ]*$/).filter((s) => s.length <= 20),
    email: fc
      .tuple(fc.stringMatching(/^[a-z0-9]{1,8}([._-][a-z0-9]{1,8}){0,2}$/), fc.constantFrom('example.org', 'nhs.net', 'example.co.uk'))
      .map(([local, domain]) => `${local}@${domain}`),
    gpPractice: fc.record({ odsCode }),
  },
  { requiredKeys: ['nhsNumber', 'name', 'birthDate', 'gender'] },
);

const referrer = fc.record(
  {
    sdsUserId: fc.stringMatching(/^[0-9]{6,12}$/),
    name,
    odsCode,
    role: fc.constantFrom('gp', 'pwp', 'pain-consultant', 'physiotherapist', 'nurse'),
  },
  { requiredKeys: ['sdsUserId', 'name', 'odsCode'] },
);

const preferences = fc.record(
  {
    contactMethod: fc.constantFrom('telephone', 'video', 'face-to-face'),
    language: fc.constantFrom('en', 'pl', 'ur', 'pt-BR', 'zh-Hant-TW', 'cy'),
    interpreterRequired: fc.boolean(),
    availability: text(100),
  },
  { requiredKeys: [] },
);

const ITEMS = {
  'PHQ-9': { scored: ['1', '2', '3', '4', '5', '6', '7', '8', '9'], extra: '10', max: 3 },
  'GAD-7': { scored: ['1', '2', '3', '4', '5', '6', '7'], extra: '8', max: 3 },
  PEG: { scored: ['1', '2', '3'], extra: undefined, max: 10 },
} as const;

/** The score the spec defines: PHQ-9/GAD-7 the sum of the scored items, PEG their mean to one decimal. */
export function expectedTotal(instrument: keyof typeof ITEMS, answers: Record<string, number>): number {
  const xs = ITEMS[instrument].scored.map((k) => answers[k]!);
  const sum = xs.reduce((s, x) => s + x, 0);
  return instrument === 'PEG' ? Math.round((sum * 10) / 3) / 10 : sum;
}

export function assessment(referralId?: string): fc.Arbitrary<NativeAssessment> {
  return fc
    .record({
      assessmentId: idString,
      instrument: fc.constantFrom('PHQ-9', 'GAD-7', 'PEG') as fc.Arbitrary<keyof typeof ITEMS>,
      status: fc.option(fc.constantFrom('completed', 'in-progress', 'amended', 'entered-in-error'), { nil: undefined }),
      completedAt: dateTime,
      mode: fc.option(fc.constantFrom('telephone', 'online', 'paper', 'in-person'), { nil: undefined }),
      withReferralId: fc.boolean(),
      withTotal: fc.boolean(),
      withExtra: fc.boolean(),
      scores: fc.array(fc.integer({ min: 0, max: 10 }), { minLength: 10, maxLength: 10 }),
      keep: fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
    })
    .map((x) => {
      const def = ITEMS[x.instrument];
      const inProgress = x.status === 'in-progress';
      const answers: Record<string, number> = {};
      def.scored.forEach((k, i) => {
        if (!inProgress || x.keep[i]) answers[k] = x.scores[i]! % (def.max + 1);
      });
      if (def.extra && x.withExtra) answers[def.extra] = x.scores[9]! % 4;
      const a: NativeAssessment = { assessmentId: x.assessmentId, instrument: x.instrument, completedAt: x.completedAt, answers };
      if (referralId && x.withReferralId) a.referralId = referralId;
      if (x.status) a.status = x.status;
      if (x.mode) a.mode = x.mode;
      if (!inProgress && x.withTotal) a.totalScore = expectedTotal(x.instrument, answers);
      // key order as a client would send it
      return Object.fromEntries(
        ['assessmentId', 'referralId', 'instrument', 'status', 'completedAt', 'mode', 'answers', 'totalScore']
          .filter((k) => k in a)
          .map((k) => [k, a[k as keyof NativeAssessment]]),
      ) as unknown as NativeAssessment;
    });
}

export const referral: fc.Arbitrary<NativeReferral> = idString.chain((referralId) =>
  fc
    .record(
      {
        referralId: fc.constant(referralId),
        createdAt: dateTime,
        status: fc.constantFrom('active', 'on-hold', 'completed', 'cancelled', 'entered-in-error'),
        kind: fc.constantFrom('new', 'step-up', 'step-down'),
        step: fc.constantFrom(1, 2, 3),
        urgency: fc.constantFrom('routine', 'urgent'),
        primaryCondition: fc.constantFrom('chronic-widespread-pain', 'fibromyalgia', 'chronic-pain-other'),
        symptomDurationMonths: fc.integer({ min: 0, max: 600 }),
        clinicalSummary: fc.oneof(text(200), fc.constant('Risk rule: this is the GP’s own text, not the rule’s')),
        patient,
        referrer,
        recipient: fc.record({ odsCode }),
        preferences,
        riskFlags: fc.shuffledSubarray(['self-harm', 'safeguarding', 'lone-worker-risk'] as const),
        assessments: fc.uniqueArray(assessment(referralId), { maxLength: 4, selector: (a) => a.assessmentId }),
      },
      { requiredKeys: ['referralId', 'createdAt', 'status', 'kind', 'step', 'urgency', 'primaryCondition', 'patient', 'referrer', 'recipient'] },
    )
    // as parsed from a request body (fast-check records have no prototype)
    .map((r) => JSON.parse(JSON.stringify(r)) as NativeReferral),
);

/** Any decision the risk rule could hand over: urgency never lowered, with or without a note. */
export function decision(r: NativeReferral): fc.Arbitrary<ReferralMappingOptions> {
  return fc.record(
    {
      urgency: r.urgency === 'urgent' ? fc.constant('urgent' as const) : fc.constantFrom('routine' as const, 'urgent' as const),
      riskNote: fc.oneof(text(80), fc.constant('Risk rule: urgency raised because PHQ-9 item 9 = 2.')),
      selfHarmFromRule: fc.boolean(),
    },
    { requiredKeys: ['urgency', 'selfHarmFromRule'] },
  );
}
