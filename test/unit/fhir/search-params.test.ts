import { describe, expect, it } from 'vitest';
import { dateRange, indexResource, parseSearchQuery, SEARCH_PARAMS, MAX_COUNT } from '../../../src/fhir/search-params.js';
import { OutcomeError } from '../../../src/fhir/outcomes.js';

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const REFERRAL_ID = 'https://fhir.painplatform.uk/Id/referral-id';

describe('dateRange', () => {
  it.each([
    ['2026', '2026-01-01T00:00:00.000Z', '2026-12-31T23:59:59.999Z'],
    ['2026-02', '2026-02-01T00:00:00.000Z', '2026-02-28T23:59:59.999Z'],
    ['2028-02', '2028-02-01T00:00:00.000Z', '2028-02-29T23:59:59.999Z'],
    ['2026-12', '2026-12-01T00:00:00.000Z', '2026-12-31T23:59:59.999Z'],
    ['2026-11-21', '2026-11-21T00:00:00.000Z', '2026-11-21T23:59:59.999Z'],
    ['2026-11-21T10:15', '2026-11-21T10:15:00.000Z', '2026-11-21T10:15:59.999Z'],
    ['2026-11-21T10:15:30Z', '2026-11-21T10:15:30.000Z', '2026-11-21T10:15:30.999Z'],
    ['2026-11-21T10:15:30+01:00', '2026-11-21T09:15:30.000Z', '2026-11-21T09:15:30.999Z'],
    ['2026-11-21T23:30:00-05:30', '2026-11-22T05:00:00.000Z', '2026-11-22T05:00:00.999Z'],
    ['2026-11-21T10:15:30.25Z', '2026-11-21T10:15:30.250Z', '2026-11-21T10:15:30.250Z'],
    ['0999-01-01', '0999-01-01T00:00:00.000Z', '0999-01-01T23:59:59.999Z'],
  ])('%s covers [%s, %s]', (text, low, high) => {
    expect(dateRange(text)).toEqual({ low, high });
  });

  it.each(['', '26', '2026-13', '2026-02-30', '2026-11-21T25:00', '2026-11-21T10', '2026/11/21', '2026-11-21T10:00:00+15:00', 'today'])(
    'refuses %j',
    (text) => {
      expect(dateRange(text)).toBeUndefined();
    },
  );
});

describe('indexResource', () => {
  it('indexes a ServiceRequest: identifiers the key table cannot hold, status, subject, patient, logical patient identifier, authored (no _lastUpdated: the row has it)', () => {
    const entries = indexResource({
      resourceType: 'ServiceRequest',
      meta: { lastUpdated: '2026-11-21T10:00:00.000Z' },
      identifier: [{ system: REFERRAL_ID, value: 'PP-1' }, { value: 'no-system' }, { system: 'x' }],
      status: 'active',
      subject: { reference: 'Patient/p1', identifier: { system: NHS, value: '9990000018' } },
      authoredOn: '2026-11-20T09:00:00+01:00',
    });
    expect(entries).toEqual(
      expect.arrayContaining([
        { param: 'identifier', system: null, value: 'no-system', low: null, high: null },
        { param: 'status', system: 'http://hl7.org/fhir/request-status', value: 'active', low: null, high: null },
        { param: 'subject', system: null, value: 'Patient/p1', low: null, high: null },
        { param: 'patient', system: null, value: 'Patient/p1', low: null, high: null },
        { param: 'patient:identifier', system: NHS, value: '9990000018', low: null, high: null },
        { param: 'authored', system: null, value: '2026-11-20T09:00:00+01:00', low: '2026-11-20T08:00:00.000Z', high: '2026-11-20T08:00:00.999Z' },
      ]),
    );
    // system|value identifiers are searched in fhir_identifiers (the duplicate key), _lastUpdated on the resource row
    expect(entries.filter((e) => e.param === 'identifier')).toHaveLength(1);
    expect(entries.some((e) => e.param === '_lastUpdated')).toBe(false);
  });

  it('takes the patient identifier from a contained Patient', () => {
    const entries = indexResource({
      resourceType: 'ServiceRequest',
      contained: [{ resourceType: 'Patient', id: 'p', identifier: [{ system: NHS, value: '9990000026' }] }],
      subject: { reference: '#p' },
    });
    expect(entries).toContainEqual({ param: 'patient:identifier', system: NHS, value: '9990000026', low: null, high: null });
    expect(entries.some((e) => e.param === 'patient')).toBe(false);
  });

  it('does not index a Group subject as patient', () => {
    const entries = indexResource({ resourceType: 'ServiceRequest', subject: { reference: 'Group/g1' } });
    expect(entries.filter((e) => e.param === 'patient' || e.param === 'subject')).toEqual([]);
  });

  it('normalises absolute and versioned references to Type/id', () => {
    const entries = indexResource({ resourceType: 'QuestionnaireResponse', subject: { reference: 'https://x.example/fhir/Patient/p2/_history/3' } });
    expect(entries).toContainEqual({ param: 'subject', system: null, value: 'Patient/p2', low: null, high: null });
  });

  it('indexes a QuestionnaireResponse: questionnaire with and without version, authored date (its system|value identifier is in the key table)', () => {
    const entries = indexResource({
      resourceType: 'QuestionnaireResponse',
      identifier: { system: 'https://fhir.painplatform.uk/Id/assessment-id', value: 'A-1' },
      questionnaire: 'https://fhir.painplatform.uk/Questionnaire/phq-9|1.0.0',
      authored: '2026-11-20',
      status: 'completed',
    });
    const pick = (param: string) => entries.filter((e) => e.param === param).map((e) => e.value);
    expect(pick('identifier')).toEqual([]);
    expect(pick('questionnaire').sort()).toEqual(['https://fhir.painplatform.uk/Questionnaire/phq-9', 'https://fhir.painplatform.uk/Questionnaire/phq-9|1.0.0']);
    expect(entries).toContainEqual({ param: 'authored', system: null, value: '2026-11-20', low: '2026-11-20T00:00:00.000Z', high: '2026-11-20T23:59:59.999Z' });
    expect(pick('status')).toEqual(['completed']);
  });

  it('indexes only the Patient identifiers the key table cannot hold, and nothing for an unknown type', () => {
    expect(indexResource({ resourceType: 'Patient', identifier: [{ system: NHS, value: '9990000018' }, { value: 'local-only' }] })).toEqual([
      { param: 'identifier', system: null, value: 'local-only', low: null, high: null },
    ]);
    expect(indexResource({ resourceType: 'Basic', identifier: [{ system: NHS, value: '1' }] })).toEqual([]);
  });

  it('skips an unparseable date rather than indexing garbage', () => {
    expect(indexResource({ resourceType: 'ServiceRequest', authoredOn: 'yesterday' }).some((e) => e.param === 'authored')).toBe(false);
  });
});

describe('parseSearchQuery', () => {
  it('parses tokens in every form', () => {
    const { criteria } = parseSearchQuery('ServiceRequest', { identifier: `${REFERRAL_ID}|PP-1,|bare,${REFERRAL_ID}|,plain` });
    expect(criteria).toEqual([
      {
        kind: 'token',
        param: 'identifier',
        values: [{ system: REFERRAL_ID, code: 'PP-1' }, { system: null, code: 'bare' }, { system: REFERRAL_ID }, { code: 'plain' }],
      },
    ]);
  });

  it('unescapes \\, and \\| inside a token', () => {
    const { criteria } = parseSearchQuery('Patient', { identifier: 'sys|a\\,b\\|c' });
    expect(criteria).toEqual([{ kind: 'token', param: 'identifier', values: [{ system: 'sys', code: 'a,b|c' }] }]);
  });

  it('makes repeated parameters separate criteria (AND) and commas alternatives (OR)', () => {
    const { criteria } = parseSearchQuery('ServiceRequest', { status: ['active,on-hold', 'active'] });
    expect(criteria).toHaveLength(2);
    expect(criteria[0]).toEqual({ kind: 'token', param: 'status', values: [{ code: 'active' }, { code: 'on-hold' }] });
  });

  it('parses references: Type/id, bare id, absolute URL', () => {
    const { criteria } = parseSearchQuery('ServiceRequest', { patient: 'Patient/a,b,https://x.example/fhir/Patient/c', subject: 'Patient/d' });
    expect(criteria).toEqual([
      { kind: 'reference', param: 'patient', values: ['Patient/a', 'Patient/b', 'Patient/c'] },
      { kind: 'reference', param: 'subject', values: ['Patient/d'] },
    ]);
  });

  it('keeps a canonical as written', () => {
    const { criteria } = parseSearchQuery('QuestionnaireResponse', { questionnaire: 'https://fhir.painplatform.uk/Questionnaire/phq-9|1.0.0' });
    expect(criteria).toEqual([{ kind: 'reference', param: 'questionnaire', values: ['https://fhir.painplatform.uk/Questionnaire/phq-9|1.0.0'] }]);
  });

  it.each(['patient:identifier', 'patient.identifier', 'subject:identifier'])('parses the chained %s', (key) => {
    const { criteria } = parseSearchQuery('QuestionnaireResponse', { [key]: `${NHS}|9990000018` });
    expect(criteria).toEqual([{ kind: 'identifier-of-reference', param: key.split(/[:.]/)[0], target: 'Patient', values: [{ system: NHS, code: '9990000018' }] }]);
  });

  it('parses dates with and without prefixes', () => {
    const { criteria } = parseSearchQuery('ServiceRequest', { authored: 'ge2026-11', _lastUpdated: '2026-11-21T10:00:00Z' });
    expect(criteria).toEqual([
      { kind: 'date', param: 'authored', values: [{ prefix: 'ge', low: '2026-11-01T00:00:00.000Z', high: '2026-11-30T23:59:59.999Z' }] },
      { kind: 'date', param: '_lastUpdated', values: [{ prefix: 'eq', low: '2026-11-21T10:00:00.000Z', high: '2026-11-21T10:00:00.999Z' }] },
    ]);
  });

  it('parses _id as a list of ids', () => {
    expect(parseSearchQuery('Patient', { _id: 'a,b' }).criteria).toEqual([{ kind: 'id', param: '_id', ids: ['a', 'b'] }]);
  });

  it.each([
    [{}, 20, 0],
    [{ _count: '5' }, 5, 0],
    [{ _count: '0' }, 0, 0],
    [{ _count: '1000' }, MAX_COUNT, 0],
    [{ _count: '10', _offset: '30' }, 10, 30],
    [{ _format: 'json', _pretty: 'true' }, 20, 0],
  ])('pages %j as count %i offset %i', (query, count, offset) => {
    expect(parseSearchQuery('ServiceRequest', query as Record<string, string>)).toMatchObject({ criteria: [], count, offset });
  });

  // Each case names the parameter (and what is accepted) in the issue text.
  it.each([
    ['ServiceRequest', { colour: 'red' }, /Unknown search parameter "colour".*supported: _id, _lastUpdated, identifier, subject, subject:identifier/],
    ['Patient', { name: 'Smith' }, /Unknown search parameter "name" for Patient; supported: _id, _lastUpdated, identifier/],
    ['ServiceRequest', { 'status:not': 'active' }, /"status:not" has an unsupported modifier/],
    ['ServiceRequest', { 'patient.name': 'x' }, /"patient.name" has an unsupported modifier or chain/],
    ['ServiceRequest', { 'patient.identifier.system': 'x' }, /unsupported modifier or chain/],
    ['ServiceRequest', { identifier: '' }, /identifier has an empty value/],
    ['ServiceRequest', { identifier: 'a,,b' }, /identifier has an empty value/],
    ['ServiceRequest', { identifier: 'a|b|c' }, /value "a\|b\|c" is not a token; give code, system\|code/],
    ['ServiceRequest', { identifier: '|' }, /is not a token/],
    ['ServiceRequest', { authored: '21/11/2026' }, /authored value "21\/11\/2026" is not a date; give \[prefix\]YYYY/],
    ['ServiceRequest', { authored: 'xx2026' }, /unknown date prefix "xx"; allowed prefixes: eq, ne, gt, lt, ge, le, sa, eb, ap/],
    ['ServiceRequest', { authored: 'ge2026-02-30' }, /is not a date/],
    ['ServiceRequest', { patient: 'Practitioner/x' }, /patient value "Practitioner\/x" is not a reference to Patient; give Patient\/\{id\}/],
    ['ServiceRequest', { _count: '-1' }, /_count value "-1" is not a whole number/],
    ['ServiceRequest', { _count: ['1', '2'] }, /_count is given more than once/],
    ['ServiceRequest', { _offset: 'next' }, /_offset value "next" is not a whole number/],
    ['Basic', { identifier: 'x' }, /Search is not supported on Basic; searchable types: ServiceRequest, QuestionnaireResponse, Patient/],
  ])('%s %j → 400 naming the parameter', (type, query, text) => {
    let caught: unknown;
    try {
      parseSearchQuery(type, query as Record<string, string | string[]>);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(OutcomeError);
    const e = caught as OutcomeError;
    expect(e.status).toBe(400);
    expect(e.outcome.issue[0].severity).toBe('error');
    expect(e.outcome.issue[0].details?.text).toMatch(text);
  });

  it('lists the parameters the brief asks for, with FHIR types', () => {
    const names = (type: string) => SEARCH_PARAMS[type].map((d) => `${d.name}:${d.type}`);
    expect(names('ServiceRequest')).toEqual(
      expect.arrayContaining(['identifier:token', 'patient:reference', 'subject:reference', 'status:token', 'authored:date', '_lastUpdated:date', '_id:token']),
    );
    expect(names('QuestionnaireResponse')).toEqual(
      expect.arrayContaining(['identifier:token', 'subject:reference', 'patient:reference', 'questionnaire:reference', 'authored:date', 'status:token']),
    );
    for (const type of ['Patient', 'Practitioner', 'Organization', 'PractitionerRole']) expect(names(type)).toContain('identifier:token');
  });
});
