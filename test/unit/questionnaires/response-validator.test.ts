// validateResponse and computeTotals on our PHQ-9, GAD-7 and PEG Questionnaires (profiles/): a valid
// completed response built from fixtures/fhir, then one change per case (to the response, and where a
// rule needs a feature our Questionnaires do not use — enableWhen, maxLength, groups, answerValueSet —
// to the Questionnaire too).
import { readFileSync } from 'node:fs';
import type { Bundle, Questionnaire, QuestionnaireItem, QuestionnaireResponse, QuestionnaireResponseItem, ValueSet } from 'fhir/r4.js';
import { describe, expect, it, test } from 'vitest';
import { QuestionnaireRegistry } from '../../../src/questionnaires/questionnaire-registry.js';
import { validateQuestionnaire } from '../../../src/questionnaires/questionnaire-checks.js';
import { computeTotals, unresolvedQuestionnaire, validateResponse } from '../../../src/questionnaires/response-validator.js';

const root = new URL('../../../', import.meta.url);
const read = <T>(path: string): T => JSON.parse(readFileSync(new URL(path, root), 'utf8')) as T;

const QUESTIONNAIRES = {
  phq9: read<Questionnaire>('profiles/Questionnaire-phq-9.json'),
  gad7: read<Questionnaire>('profiles/Questionnaire-gad-7.json'),
  peg: read<Questionnaire>('profiles/Questionnaire-peg.json'),
};
type Instrument = keyof typeof QUESTIONNAIRES;

const stepUp = read<Bundle>('fixtures/fhir/referral-step-up.bundle.json');
const responses = (stepUp.entry ?? []).map((e) => e.resource).filter((r): r is QuestionnaireResponse => r?.resourceType === 'QuestionnaireResponse');
const FIXTURES: Record<Instrument, QuestionnaireResponse> = {
  // PHQ-9 answers 1,1,2,2,0,1,1,0,0 with its total 8 (items[10]); difficulty at items[9]
  phq9: responses.find((r) => r.questionnaire?.includes('phq-9')) as QuestionnaireResponse,
  // GAD-7 answers 2,3,2,2,1,2,1, difficulty (items[7]) and its total 13 (items[8])
  gad7: read<QuestionnaireResponse>('fixtures/fhir/assessment-follow-up.questionnaire-response.json'),
  // PEG answers 7, 6, 8; no score given
  peg: responses.find((r) => r.questionnaire?.includes('peg')) as QuestionnaireResponse,
};

const loinc = (code: string) => ({ system: 'http://loinc.org', code });
const item = (qr: QuestionnaireResponse, i: number): QuestionnaireResponseItem => (qr.item ?? [])[i];
const qItem = (q: Questionnaire, linkId: string): QuestionnaireItem => (q.item ?? []).find((i) => i.linkId === linkId) as QuestionnaireItem;

interface Case {
  name: string;
  on: Instrument;
  change: (qr: QuestionnaireResponse, q: Questionnaire) => void;
  /** [severity, code, expression] of every error and warning expected (information is ignored) */
  expected: [string, string, string][];
  /** words the first issue's text must hold (what is wrong and what is allowed) */
  says?: string[];
}

const QR = 'QuestionnaireResponse';
const cases: Case[] = [
  { name: 'valid PHQ-9 with its total', on: 'phq9', change: () => {}, expected: [] },
  { name: 'valid GAD-7', on: 'gad7', change: () => {}, expected: [] },
  { name: 'valid PEG', on: 'peg', change: () => {}, expected: [] },
  {
    name: 'unknown linkId',
    on: 'gad7',
    change: (qr) => qr.item?.push({ linkId: '99999-9', answer: [{ valueInteger: 1 }] }),
    expected: [['error', 'not-found', `${QR}.item[9]`]],
    says: ['99999-9', '69725-0', 'gad-7-difficulty'],
  },
  {
    name: 'answer type not matching the item type (choice answered with a boolean)',
    on: 'phq9',
    change: (qr) => (item(qr, 0).answer = [{ valueBoolean: true }]),
    expected: [['error', 'value', `${QR}.item[0].answer[0].value`]],
    says: ['choice', 'valueCoding', 'valueBoolean'],
  },
  {
    name: 'answer type not matching the item type (integer answered with a string)',
    on: 'peg',
    change: (qr) => (item(qr, 1).answer = [{ valueString: '6' }]),
    expected: [['error', 'value', `${QR}.item[1].answer[0].value`]],
    says: ['integer', 'valueInteger', 'valueString'],
  },
  {
    name: 'a primitive answer to a coded item that has no options of that type',
    on: 'phq9',
    change: (qr) => (item(qr, 0).answer = [{ valueInteger: 1 }]),
    expected: [['error', 'value', `${QR}.item[0].answer[0].value`]],
    says: ['Integer', 'LA6568-5'],
  },
  {
    name: 'required item missing from a completed response',
    on: 'gad7',
    change: (qr) => qr.item?.splice(1, 1),
    expected: [['error', 'required', QR]],
    says: ['68509-9', 'missing', 'completed'],
  },
  {
    name: 'required item missing from an in-progress response is a warning',
    on: 'gad7',
    change: (qr) => {
      qr.status = 'in-progress';
      qr.item?.splice(1, 1);
    },
    expected: [['warning', 'required', QR]],
  },
  {
    name: 'required item present without an answer (amended)',
    on: 'peg',
    change: (qr) => {
      qr.status = 'amended';
      delete item(qr, 2).answer;
    },
    expected: [['error', 'required', `${QR}.item[2]`]],
  },
  {
    name: 'several answers to a non-repeating item',
    on: 'phq9',
    change: (qr) => item(qr, 3).answer?.push({ valueCoding: { ...loinc('LA6568-5'), display: 'Not at all' } }),
    expected: [['error', 'structure', `${QR}.item[3].answer[1]`]],
    says: ['2 answers', 'one answer'],
  },
  {
    name: 'the same non-repeating item twice',
    on: 'peg',
    change: (qr) => qr.item?.splice(1, 0, structuredClone(item(qr, 0))),
    expected: [['error', 'structure', `${QR}.item[1]`]],
    says: ['appears 2 times'],
  },
  {
    name: 'answer not in answerOption',
    on: 'gad7',
    change: (qr) => (item(qr, 2).answer = [{ valueCoding: { ...loinc('LA6575-0'), display: 'Never' } }]),
    expected: [['error', 'code-invalid', `${QR}.item[2].answer[0].value`]],
    says: ['LA6575-0', 'LA6568-5', 'LA6571-9'],
  },
  {
    name: 'answerOption matched by system as well as code',
    on: 'gad7',
    change: (qr) => (item(qr, 2).answer = [{ valueCoding: { system: 'http://snomed.info/sct', code: 'LA6570-1' } }]),
    expected: [['error', 'code-invalid', `${QR}.item[2].answer[0].value`]],
  },
  {
    name: 'answer above maxValue',
    on: 'peg',
    change: (qr) => (item(qr, 0).answer = [{ valueInteger: 11 }]),
    expected: [['error', 'value', `${QR}.item[0].answer[0].value`]],
    says: ['11', 'maximum 10', '0 to 10'],
  },
  {
    name: 'answer below minValue',
    on: 'peg',
    change: (qr) => (item(qr, 2).answer = [{ valueInteger: -1 }]),
    expected: [['error', 'value', `${QR}.item[2].answer[0].value`]],
    says: ['-1', 'minimum 0'],
  },
  {
    name: 'string longer than maxLength',
    on: 'peg',
    change: (qr, q) => {
      Object.assign(qItem(q, '91145-3'), { type: 'string', maxLength: 3, extension: [] });
      item(qr, 1).answer = [{ valueString: 'four' }];
    },
    expected: [['error', 'value', `${QR}.item[1].answer[0].value`]],
    says: ['4 characters', 'at most 3'],
  },
  {
    name: 'item present although its enableWhen is false (Coding, !=)',
    on: 'phq9',
    change: (qr, q) => {
      // "If you checked off any problems": the difficulty item only when item 1 is not "Not at all".
      qItem(q, '44256-6').enableWhen = [{ question: '44250-9', operator: '!=', answerCoding: loinc('LA6568-5') }];
      item(qr, 0).answer = [{ valueCoding: { ...loinc('LA6568-5'), display: 'Not at all' } }];
      const total = item(qr, 10).answer?.[0];
      if (total) total.valueInteger = 7;
    },
    expected: [['error', 'business-rule', `${QR}.item[9]`]],
    says: ['44256-6', 'enableWhen is false', '"44250-9" != http://loinc.org|LA6568-5'],
  },
  {
    name: 'item present although its enableWhen is false (Coding, =)',
    on: 'phq9',
    change: (_qr, q) => {
      qItem(q, '44256-6').enableWhen = [{ question: '44250-9', operator: '=', answerCoding: loinc('LA6571-9') }];
    },
    expected: [['error', 'business-rule', `${QR}.item[9]`]],
  },
  {
    name: 'valueString answer outside the string answerOptions',
    on: 'peg',
    change: (qr, q) => {
      Object.assign(qItem(q, '75893-8'), { type: 'string', extension: [], answerOption: [{ valueString: 'mild' }, { valueString: 'severe' }] });
      item(qr, 0).answer = [{ valueString: 'moderate' }];
    },
    expected: [['error', 'value', `${QR}.item[0].answer[0].value`]],
    says: ['"moderate"', '"mild", "severe"'],
  },
  {
    name: 'valueDate answer outside the date answerOptions, and before minValue',
    on: 'peg',
    change: (qr, q) => {
      Object.assign(qItem(q, '75893-8'), {
        type: 'date',
        extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/minValue', valueDate: '2026-01-01' }],
        answerOption: [{ valueDate: '2026-01-01' }, { valueDate: '2026-02-01' }],
      });
      item(qr, 0).answer = [{ valueDate: '2025-12-31' }];
    },
    expected: [
      ['error', 'value', `${QR}.item[0].answer[0].value`],
      ['error', 'value', `${QR}.item[0].answer[0].value`],
    ],
    says: ['2025-12-31', 'minimum 2026-01-01'],
  },
  {
    name: 'item enabled by its enableWhen (Coding, !=) is accepted',
    on: 'phq9',
    change: (_qr, q) => {
      qItem(q, '44256-6').enableWhen = [{ question: '44250-9', operator: '!=', answerCoding: loinc('LA6568-5') }];
    },
    expected: [],
  },
  {
    name: 'enableWhen with integer > and enableBehavior all',
    on: 'peg',
    change: (_qr, q) => {
      const i = qItem(q, '91146-1');
      i.enableWhen = [
        { question: '75893-8', operator: '>', answerInteger: 7 },
        { question: '91145-3', operator: 'exists', answerBoolean: true },
      ];
      i.enableBehavior = 'all';
      i.required = false;
    },
    expected: [['error', 'business-rule', `${QR}.item[2]`]],
  },
  {
    name: 'enableWhen with enableBehavior any',
    on: 'peg',
    change: (_qr, q) => {
      const i = qItem(q, '91146-1');
      i.enableWhen = [
        { question: '75893-8', operator: '>', answerInteger: 7 },
        { question: '91145-3', operator: '<=', answerInteger: 6 },
      ];
      i.enableBehavior = 'any';
    },
    expected: [],
  },
  {
    name: 'a disabled required item may be left out',
    on: 'peg',
    change: (qr, q) => {
      qItem(q, '91146-1').enableWhen = [{ question: '75893-8', operator: '>=', answerInteger: 8 }];
      qr.item?.splice(2, 1);
    },
    expected: [],
  },
  {
    name: 'item text differing from the Questionnaire',
    on: 'gad7',
    change: (qr) => (item(qr, 0).text = 'Feeling nervous'),
    expected: [['error', 'value', `${QR}.item[0].text`]],
    says: ['Feeling nervous', 'Feeling nervous, anxious, or on edge'],
  },
  {
    name: 'items out of order',
    on: 'gad7',
    change: (qr) => {
      const items = qr.item ?? [];
      [items[0], items[1]] = [items[1], items[0]];
    },
    expected: [['error', 'structure', `${QR}.item[1]`]],
    says: ['out of order'],
  },
  {
    name: 'nested item under item on a question (qrs-1: under answer or item, never item for a question)',
    on: 'peg',
    change: (qr) => (item(qr, 0).item = [{ linkId: 'x' }]),
    expected: [['error', 'structure', `${QR}.item[0].item[0]`]],
    says: ['answer[].item'],
  },
  {
    name: 'answer to a display item',
    on: 'phq9',
    change: (qr) => qr.item?.unshift({ linkId: 'phq-9-stem', answer: [{ valueString: 'x' }] }),
    expected: [['error', 'structure', `${QR}.item[0].answer[0]`]],
    says: ['display', 'no answers'],
  },
  {
    name: 'required group without answered items',
    on: 'peg',
    change: (qr, q) => {
      q.item = [{ linkId: 'g', type: 'group', required: true, item: (q.item ?? []).map((i) => ({ ...i, required: false })) }];
      qr.item = [{ linkId: 'g', item: [{ linkId: '75893-8' }] }];
    },
    expected: [['error', 'required', `${QR}.item[0]`]],
  },
  {
    name: 'group answered as if it were a question',
    on: 'peg',
    change: (qr, q) => {
      q.item = [{ linkId: 'g', type: 'group', item: q.item }];
      qr.item = [{ linkId: 'g', answer: [{ item: qr.item }] }];
    },
    expected: [
      ['error', 'structure', `${QR}.item[0].answer[0]`],
      ['error', 'required', `${QR}.item[0]`],
      ['error', 'required', `${QR}.item[0]`],
      ['error', 'required', `${QR}.item[0]`],
    ],
  },
  {
    name: 'answerValueSet contained in the Questionnaire',
    on: 'gad7',
    change: (qr, q) => {
      const freq: ValueSet = {
        resourceType: 'ValueSet',
        id: 'freq',
        status: 'active',
        compose: { include: [{ system: 'http://loinc.org', concept: [{ code: 'LA6568-5' }, { code: 'LA6569-3' }] }] },
      };
      q.contained = [freq];
      const i = qItem(q, '69725-0');
      delete i.answerOption;
      i.answerValueSet = '#freq';
      item(qr, 0).answer = [{ valueCoding: loinc('LA6571-9') }];
      // the item's weights went with its answerOptions: the submitted total no longer applies
      qr.item?.splice(8, 1);
    },
    expected: [['error', 'code-invalid', `${QR}.item[0].answer[0].value`]],
    says: ['LA6571-9', 'LA6568-5'],
  },
  {
    name: 'answerValueSet that is neither contained nor known: a warning that it was not checked',
    on: 'gad7',
    change: (qr, q) => {
      const i = qItem(q, '69725-0');
      delete i.answerOption;
      i.answerValueSet = 'http://example.org/ValueSet/elsewhere';
      qr.item?.splice(8, 1);
    },
    expected: [['warning', 'not-supported', `${QR}.item[0].answer[0].value`]],
  },
  {
    name: 'submitted PHQ-9 total differing from the answers',
    on: 'phq9',
    change: (qr) => {
      const total = item(qr, 10).answer?.[0];
      if (total) total.valueInteger = 9;
    },
    expected: [['error', 'business-rule', `${QR}.item[10].answer[0].value`]],
    says: ['submitted total 9', 'computed from the answers, 8'],
  },
  {
    name: 'submitted GAD-7 total differing from the answers',
    on: 'gad7',
    change: (qr) => (item(qr, 8).answer = [{ valueInteger: 12 }]),
    expected: [['error', 'business-rule', `${QR}.item[8].answer[0].value`]],
    says: ['submitted total 12', 'computed from the answers, 13'],
  },
  {
    name: 'submitted PEG score differing from the mean of its items',
    on: 'peg',
    change: (qr) => qr.item?.push({ linkId: 'peg-score', text: 'PEG score (mean of the three items, 0-10)', answer: [{ valueDecimal: 6.5 }] }),
    expected: [['error', 'business-rule', `${QR}.item[3].answer[0].value`]],
    says: ['6.5', '7'],
  },
  {
    name: 'submitted PEG score equal to the mean of its items',
    on: 'peg',
    change: (qr) => qr.item?.push({ linkId: 'peg-score', text: 'PEG score (mean of the three items, 0-10)', answer: [{ valueDecimal: 7 }] }),
    expected: [],
  },
];

describe('validateResponse on our Questionnaires', () => {
  test.each(cases)('$on: $name', ({ on, change, expected, says }) => {
    const qr = structuredClone(FIXTURES[on]);
    const q = structuredClone(QUESTIONNAIRES[on]);
    change(qr, q);
    const issues = validateResponse(qr, q).filter((i) => i.severity !== 'information');
    expect(issues.map((i) => [i.severity, i.code, i.expression?.[0]])).toEqual(expected);
    for (const word of says ?? []) expect(issues[0].details?.text).toContain(word);
  });

  it('prefixes every expression with base (a QuestionnaireResponse inside a Bundle)', () => {
    const qr = structuredClone(FIXTURES.peg);
    (qr.item ?? [])[0].answer = [{ valueInteger: 12 }];
    const issues = validateResponse(qr, QUESTIONNAIRES.peg, { base: 'Bundle.entry[4].resource' });
    expect(issues.map((i) => i.expression?.[0])).toEqual(['Bundle.entry[4].resource.item[0].answer[0].value']);
  });

  it('reports a retired or draft Questionnaire as information only', () => {
    const q = { ...structuredClone(QUESTIONNAIRES.gad7), status: 'retired' as const };
    const issues = validateResponse(structuredClone(FIXTURES.gad7), q);
    expect(issues.map((i) => [i.severity, i.code])).toEqual([['information', 'business-rule']]);
  });

  it('answerValueSet resolved through expandValueSet (one of ours)', () => {
    const q = structuredClone(QUESTIONNAIRES.phq9);
    const difficulty = qItem(q, '44256-6');
    delete difficulty.answerOption;
    difficulty.answerValueSet = 'https://fhir.painplatform.uk/ValueSet/difficulty';
    const codes = new Set(['0', '1', '2', '3'].map((c) => `https://fhir.painplatform.uk/CodeSystem/difficulty|${c}`));
    const qr = structuredClone(FIXTURES.phq9);
    const expandValueSet = (url: string) => (url === difficulty.answerValueSet ? codes : undefined);
    expect(validateResponse(qr, q, { expandValueSet })).toEqual([]);
    const answer = item(qr, 9).answer?.[0];
    if (answer?.valueCoding) answer.valueCoding.code = '4';
    expect(validateResponse(qr, q, { expandValueSet }).map((i) => [i.severity, i.code])).toEqual([['error', 'code-invalid']]);
  });

  it('unresolvedQuestionnaire: not found (warning by default, error on request), and a canonical of another type', () => {
    expect(unresolvedQuestionnaire('https://fhir.painplatform.uk/Questionnaire/phq-8').map((i) => [i.severity, i.code])).toEqual([['warning', 'not-found']]);
    expect(
      unresolvedQuestionnaire('https://fhir.painplatform.uk/Questionnaire/phq-8', { severity: 'error', known: ['a', 'b'], base: 'Bundle.entry[1].resource' }),
    ).toEqual([
      {
        severity: 'error',
        code: 'not-found',
        details: { text: expect.stringContaining('known Questionnaires: a, b') },
        expression: ['Bundle.entry[1].resource.questionnaire'],
      },
    ]);
    expect(unresolvedQuestionnaire('http://hl7.org/fhir/ValueSet/example').map((i) => [i.severity, i.code])).toEqual([
      ['error', 'invalid'],
      ['warning', 'not-found'],
    ]);
  });
});

describe('computeTotals', () => {
  it('sums the ordinalValue weights of PHQ-9 and GAD-7 answers, and means the PEG items', () => {
    expect(computeTotals(FIXTURES.phq9, QUESTIONNAIRES.phq9)).toEqual([{ linkId: '44261-6', value: 8 }]);
    expect(computeTotals(FIXTURES.gad7, QUESTIONNAIRES.gad7)).toEqual([{ linkId: '70274-6', value: 13 }]);
    expect(computeTotals(FIXTURES.peg, QUESTIONNAIRES.peg)).toEqual([{ linkId: 'peg-score', value: 7 }]);
  });

  it('rounds the PEG mean half up to one decimal', () => {
    const qr = structuredClone(FIXTURES.peg);
    (qr.item ?? []).forEach((i, k) => (i.answer = [{ valueInteger: [7, 6, 6][k] }]));
    expect(computeTotals(qr, QUESTIONNAIRES.peg)).toEqual([{ linkId: 'peg-score', value: 6.3 }]);
  });

  it('gives no total for an incomplete response', () => {
    const qr = structuredClone(FIXTURES.gad7);
    qr.item?.splice(3, 1);
    expect(computeTotals(qr, QUESTIONNAIRES.gad7)).toEqual([]);
  });

  it('reads itemWeight as well as ordinalValue, on the option or on its valueCoding, for any Questionnaire with a calculated total', () => {
    const q: Questionnaire = {
      resourceType: 'Questionnaire',
      status: 'active',
      url: 'http://example.org/Questionnaire/w',
      item: [
        {
          linkId: 'a',
          type: 'choice',
          answerOption: [
            { valueCoding: { code: 'x', extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/itemWeight', valueDecimal: 2.5 }] } },
          ],
        },
        {
          linkId: 'b',
          type: 'choice',
          answerOption: [{ valueCoding: { code: 'y' }, extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/ordinalValue', valueDecimal: 1 }] }],
        },
        {
          linkId: 'total',
          type: 'decimal',
          readOnly: true,
          extension: [
            {
              url: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression',
              valueExpression: { language: 'text/fhirpath', expression: 'the sum' },
            },
          ],
        },
      ],
    };
    const qr: QuestionnaireResponse = {
      resourceType: 'QuestionnaireResponse',
      status: 'completed',
      item: [
        { linkId: 'a', answer: [{ valueCoding: { code: 'x' } }] },
        { linkId: 'b', answer: [{ valueCoding: { code: 'y' } }] },
        { linkId: 'total', answer: [{ valueDecimal: 3 }] },
      ],
    };
    expect(computeTotals(qr, q)).toEqual([{ linkId: 'total', value: 3.5 }]);
    expect(validateResponse(qr, q).map((i) => [i.code, i.expression?.[0]])).toEqual([['business-rule', 'QuestionnaireResponse.item[2].answer[0].value']]);
  });
});

describe('QuestionnaireRegistry', () => {
  const v2 = { ...QUESTIONNAIRES.peg, version: '2.0.0' };
  const registry = new QuestionnaireRegistry([QUESTIONNAIRES.phq9, QUESTIONNAIRES.peg, v2]);

  it('resolves url|version exactly and a bare url to the highest version', () => {
    expect(registry.resolve('https://fhir.painplatform.uk/Questionnaire/phq-9|1.0.0')).toBe(QUESTIONNAIRES.phq9);
    expect(registry.resolve('https://fhir.painplatform.uk/Questionnaire/peg|1.0.0')).toBe(QUESTIONNAIRES.peg);
    expect(registry.resolve('https://fhir.painplatform.uk/Questionnaire/peg')).toBe(v2);
    expect(registry.resolve('https://fhir.painplatform.uk/Questionnaire/phq-9|9.9.9')).toBeUndefined();
    expect(registry.resolve('https://fhir.painplatform.uk/Questionnaire/gad-7')).toBeUndefined();
    expect(registry.list()).toHaveLength(3);
  });
});

describe('validateQuestionnaire', () => {
  it('finds nothing wrong with our Questionnaires', () => {
    for (const q of Object.values(QUESTIONNAIRES)) expect(validateQuestionnaire(q)).toEqual([]);
  });

  const peg = (change: (items: QuestionnaireItem[]) => void): Questionnaire => {
    const q = structuredClone(QUESTIONNAIRES.peg);
    change(q.item ?? []);
    return q;
  };
  test.each<[string, Questionnaire, [string, string, string][]]>([
    [
      'two enableWhen without enableBehavior (que-12 as intended)',
      peg((items) => {
        items[2].enableWhen = [
          { question: '75893-8', operator: 'exists', answerBoolean: true },
          { question: '91145-3', operator: 'exists', answerBoolean: true },
        ];
      }),
      [['error', 'invariant', 'Questionnaire.item[2]']],
    ],
    [
      'a condition on an unknown item',
      peg((items) => (items[1].enableWhen = [{ question: 'nope', operator: 'exists', answerBoolean: true }])),
      [['error', 'business-rule', 'Questionnaire.item[1].enableWhen[0].question']],
    ],
    [
      'a condition on a later item (warning)',
      peg((items) => (items[0].enableWhen = [{ question: '91146-1', operator: '>', answerInteger: 2 }])),
      [['warning', 'business-rule', 'Questionnaire.item[0].enableWhen[0].question']],
    ],
    [
      'a condition whose answer type does not fit the question',
      peg((items) => (items[1].enableWhen = [{ question: '75893-8', operator: '=', answerCoding: loinc('LA6568-5') }])),
      [['error', 'business-rule', 'Questionnaire.item[1].enableWhen[0].answerCoding']],
    ],
    [
      'a group enabled by an item inside it',
      peg((items) => {
        const inner = items.splice(0, 3);
        items.unshift({ linkId: 'g', type: 'group', item: inner, enableWhen: [{ question: '75893-8', operator: 'exists', answerBoolean: true }] });
      }),
      [['error', 'business-rule', 'Questionnaire.item[0].enableWhen[0].question']],
    ],
  ])('%s', (_name, q, expected) => {
    expect(validateQuestionnaire(q).map((i) => [i.severity, i.code, i.expression?.[0]])).toEqual(expected);
  });
});
