import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { App } from '../../src/server.js';
import { dialects, fixture, freshReferral, startApp } from '../support/app.js';

// The same suite runs against SQLite and PostgreSQL: one schema, one set of queries.
describe.each(dialects)('native API on %s', (dialect) => {
  let app: App;
  beforeAll(async () => {
    app = await startApp(dialect);
  });
  afterAll(async () => {
    await app?.stop();
  });

  const withJson = async <R extends { payload: string }>(pending: Promise<R>) => {
    const res = await pending;
    return Object.assign(res, { json: () => JSON.parse(res.payload) });
  };
  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
    withJson(app.server.inject({ method: 'POST', url, payload: typeof payload === 'string' ? payload : JSON.stringify(payload), headers: { 'content-type': 'application/json', ...headers } }));
  const put = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
    withJson(app.server.inject({ method: 'PUT', url, payload: JSON.stringify(payload), headers: { 'content-type': 'application/json', ...headers } }));
  const get = (url: string) => withJson(app.server.inject({ method: 'GET', url }));

  async function rowCounts() {
    const count = async (table: 'referrals' | 'referral_versions' | 'assessments') =>
      Number((await app.store.db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
    return { referrals: await count('referrals'), versions: await count('referral_versions'), assessments: await count('assessments') };
  }

  test('health: live and ready', async () => {
    expect((await get('/health/live')).statusCode).toBe(200);
    const ready = await get('/health/ready');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ok', store: dialect });
  });

  test('POST /referrals stores the referral and answers 201 with the native view', async () => {
    const referral = freshReferral();
    const res = await post('/referrals', referral);
    expect(res.statusCode).toBe(201);
    expect(res.headers.location).toBe(`/referrals/${referral.referralId}`);
    const view = res.json();
    expect(view).toMatchObject({ ...referral, version: 1, direction: 'outbound', delivery: [] });
    expect(view.risk).toEqual({ selfHarm: false, source: [], escalated: false });
    expect(view.scores).toEqual([
      { assessmentId: referral.assessments[0].assessmentId, instrument: 'PHQ-9', total: 8, band: 'mild' },
      { assessmentId: referral.assessments[1].assessmentId, instrument: 'GAD-7', total: 6, band: 'mild' },
      { assessmentId: referral.assessments[2].assessmentId, instrument: 'PEG', total: 7, band: null },
    ]);

    const read = await get(`/referrals/${referral.referralId}`);
    expect(read.statusCode).toBe(200);
    expect(read.json()).toEqual(view);

    const stored = await app.store.db.selectFrom('referral_versions').selectAll().where('referral_id', '=', referral.referralId).execute();
    expect(stored).toHaveLength(1);
    expect(stored[0].raw_body).toBe(JSON.stringify(referral));

    const assessment = await get(`/assessments/${referral.assessments[2].assessmentId}`);
    expect(assessment.statusCode).toBe(200);
    expect(assessment.json()).toMatchObject({ ...referral.assessments[2], referralId: referral.referralId, source: 'inline', score: { total: 7 } });
  });

  test('GET /referrals/{id}/fhir answers the transaction Bundle that was validated and stored', async () => {
    const referral = freshReferral();
    expect((await post('/referrals', referral)).statusCode).toBe(201);
    const res = await get(`/referrals/${referral.referralId}/fhir`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('application/fhir+json');
    const bundle = res.json();
    expect(bundle.resourceType).toBe('Bundle');
    expect(bundle.type).toBe('transaction');
    const types = bundle.entry.map((e: any) => e.resource.resourceType);
    expect(types).toEqual(expect.arrayContaining(['Patient', 'Practitioner', 'PractitionerRole', 'Organization', 'ServiceRequest', 'QuestionnaireResponse']));
    expect(types.filter((t: string) => t === 'QuestionnaireResponse')).toHaveLength(3);
    for (const entry of bundle.entry) {
      expect(entry.request.method).toBe('POST');
      expect(entry.request.ifNoneExist).toMatch(/^identifier=/);
      expect(entry.fullUrl).toBe(`urn:uuid:${entry.resource.id}`);
    }
    const patient = bundle.entry.find((e: any) => e.resource.resourceType === 'Patient').resource;
    expect(patient.identifier[0]).toEqual({ system: 'https://fhir.nhs.uk/Id/nhs-number', value: referral.patient.nhsNumber });
  });

  test('the same POST repeated is answered 200 with the stored record; different content is 409', async () => {
    const referral = freshReferral();
    const first = await post('/referrals', referral);
    expect(first.statusCode).toBe(201);
    const before = await rowCounts();
    const again = await post('/referrals', referral);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());
    const changed = await post('/referrals', { ...referral, urgency: 'urgent' });
    expect(changed.statusCode).toBe(409);
    expect(changed.json().problems[0].path).toBe('referralId');
    expect(await rowCounts()).toEqual(before);
  });

  test('concurrent identical creates store exactly one referral', async () => {
    const referral = freshReferral();
    const results = await Promise.all(Array.from({ length: 20 }, () => post('/referrals', referral)));
    const codes = results.map((r) => r.statusCode).sort();
    expect(codes.filter((c) => c === 201)).toHaveLength(1);
    expect(codes.filter((c) => c === 200)).toHaveLength(19);
    const rows = await app.store.db.selectFrom('referral_versions').selectAll().where('referral_id', '=', referral.referralId).execute();
    expect(rows).toHaveLength(1);
  });

  test('an assessment id already used by another referral is 409 and nothing is stored', async () => {
    const first = freshReferral();
    expect((await post('/referrals', first)).statusCode).toBe(201);
    const before = await rowCounts();
    const second = freshReferral();
    second.assessments[1].assessmentId = first.assessments[1].assessmentId;
    const res = await post('/referrals', second);
    expect(res.statusCode).toBe(409);
    expect(res.json().problems[0].path).toBe('assessments[1].assessmentId');
    expect(await rowCounts()).toEqual(before);
  });

  test('the risk rule raises urgency, adds the Flag and shows risk in the native view', async () => {
    const referral = freshReferral('referral-new-at-risk.json');
    const res = await post('/referrals', referral);
    expect(res.statusCode).toBe(201);
    const view = res.json();
    expect(view.urgency).toBe('routine'); // as sent
    expect(view.risk).toMatchObject({ selfHarm: true, escalated: true });
    expect(view.risk.source.join(' ')).toContain('item 9');
    const bundle = (await get(`/referrals/${referral.referralId}/fhir`)).json();
    const sr = bundle.entry.find((e: any) => e.resource.resourceType === 'ServiceRequest').resource;
    expect(sr.priority).toBe('urgent');
    expect(sr.note.map((n: any) => n.text).join(' ')).toMatch(/item 9/);
    const flag = bundle.entry.find((e: any) => e.resource.resourceType === 'Flag').resource;
    expect(flag.code.coding).toContainEqual(expect.objectContaining({ system: 'http://snomed.info/sct', code: '401206008' }));
  });

  test('PUT writes a new version and keeps the history', async () => {
    const referral = freshReferral();
    expect((await post('/referrals', referral)).statusCode).toBe(201);
    const changed = { ...referral, status: 'on-hold', clinicalSummary: 'Patient asked to pause.' };
    const res = await put(`/referrals/${referral.referralId}`, changed, { 'if-match': '"1"' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ version: 2, status: 'on-hold', clinicalSummary: 'Patient asked to pause.' });
    expect(res.headers.etag).toBe('"2"');

    const same = await put(`/referrals/${referral.referralId}`, changed);
    expect(same.statusCode).toBe(200);
    expect(same.json().version).toBe(2);

    const stale = await put(`/referrals/${referral.referralId}`, { ...changed, status: 'active' }, { 'if-match': '"1"' });
    expect(stale.statusCode).toBe(412);

    const versions = await app.store.db.selectFrom('referral_versions').selectAll().where('referral_id', '=', referral.referralId).orderBy('version').execute();
    expect(versions.map((v) => v.version)).toEqual([1, 2]);
    expect(JSON.parse(versions[0].native_json).status).toBe('active');
    expect(JSON.parse(versions[1].native_json).status).toBe('on-hold');
    const fhir = (await get(`/referrals/${referral.referralId}/fhir`)).json();
    expect(fhir.entry.find((e: any) => e.resource.resourceType === 'ServiceRequest').resource.status).toBe('on-hold');
  });

  test('PUT of an unknown referral is 404; a body id differing from the path is 400', async () => {
    const referral = freshReferral();
    expect((await put(`/referrals/${referral.referralId}`, referral)).statusCode).toBe(404);
    const mismatch = await put('/referrals/PP-OTHER-1', referral);
    expect(mismatch.statusCode).toBe(400);
    expect(mismatch.json().problems[0].path).toBe('referralId');
  });

  test('GET of unknown ids is 404', async () => {
    expect((await get('/referrals/PP-NOPE-404')).statusCode).toBe(404);
    expect((await get('/referrals/PP-NOPE-404/fhir')).statusCode).toBe(404);
    expect((await get('/assessments/PP-NOPE-404')).statusCode).toBe(404);
  });

  test('GET /referrals filters and pages newest first with a cursor', async () => {
    const nhsNumber = '9000000009';
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const referral = freshReferral();
      referral.patient.nhsNumber = nhsNumber;
      referral.kind = i % 2 === 0 ? 'step-up' : 'step-down';
      ids.push(referral.referralId);
      expect((await post('/referrals', referral)).statusCode).toBe(201);
    }
    const seen: string[] = [];
    let url = `/referrals?nhsNumber=${nhsNumber}&limit=2`;
    for (let page = 0; page < 5; page++) {
      const res = await get(url);
      expect(res.statusCode).toBe(200);
      const body = res.json();
      seen.push(...body.items.map((r: any) => r.referralId));
      if (!body.next) break;
      url = `/referrals?nhsNumber=${nhsNumber}&limit=2&cursor=${body.next}`;
    }
    expect(seen).toEqual([...ids].reverse());
    const stepDown = (await get(`/referrals?nhsNumber=${nhsNumber}&kind=step-down`)).json();
    expect(stepDown.items.map((r: any) => r.referralId)).toEqual([ids[3], ids[1]]);
    const since = (await get(`/referrals?nhsNumber=${nhsNumber}&since=2999-01-01T00:00:00Z`)).json();
    expect(since.items).toEqual([]);
  });

  test.each([
    ['limit over 100', 'limit=101', 'limit'],
    ['unknown status', 'status=open', 'status'],
    ['NHS number failing its check digit', 'nhsNumber=9000000008', 'nhsNumber'],
    ['since without a timezone', 'since=2026-01-01T00:00:00', 'since'],
    ['a cursor not given out', 'cursor=bm9wZQ', 'cursor'],
  ])('GET /referrals with %s is 400 naming the parameter', async (_name, query, path) => {
    const res = await get(`/referrals?${query}`);
    expect(res.statusCode).toBe(400);
    expect(res.json().problems.map((p: any) => p.path)).toContain(path);
  });

  test('POST /assessments adds an assessment to a stored referral', async () => {
    const referral = freshReferral();
    expect((await post('/referrals', referral)).statusCode).toBe(201);
    const assessment = { ...fixture('assessment-follow-up.json'), referralId: referral.referralId, assessmentId: `${referral.referralId}-GAD` };
    const res = await post('/assessments', assessment);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ ...assessment, source: 'standalone', score: { total: 13, band: 'moderate' } });
    expect((await post('/assessments', assessment)).statusCode).toBe(200);
    expect((await post('/assessments', { ...assessment, mode: 'online' })).statusCode).toBe(409);
    const read = await get(`/assessments/${assessment.assessmentId}`);
    expect(read.json().fhir.referralBundle).toBe(`/referrals/${referral.referralId}/fhir`);
    const stored = await app.store.db.selectFrom('assessments').selectAll().where('assessment_id', '=', assessment.assessmentId).executeTakeFirstOrThrow();
    expect(JSON.parse(stored.fhir_json).resourceType).toBe('QuestionnaireResponse');
    expect(stored.raw_body).toBe(JSON.stringify(assessment));

    // The referral now carries it: a new version whose Bundle has its QuestionnaireResponse in supportingInfo.
    const view = (await get(`/referrals/${referral.referralId}`)).json();
    expect(view.version).toBe(2);
    expect(view.scores.map((s: any) => s.assessmentId)).toContain(assessment.assessmentId);
    const bundle = (await get(`/referrals/${referral.referralId}/fhir`)).json();
    const qrEntry = bundle.entry.find((e: any) => e.resource.resourceType === 'QuestionnaireResponse' && e.resource.identifier.value === assessment.assessmentId);
    expect(qrEntry).toBeDefined();
    const sr = bundle.entry.find((e: any) => e.resource.resourceType === 'ServiceRequest').resource;
    expect(sr.supportingInfo.map((r: any) => r.reference)).toContain(qrEntry.fullUrl);
    const version2 = await app.store.db.selectFrom('referral_versions').selectAll().where('referral_id', '=', referral.referralId).where('version', '=', 2).executeTakeFirstOrThrow();
    expect(version2.cause).toBe(`POST /assessments ${assessment.assessmentId}`);
    expect(version2.raw_body).toBe(JSON.stringify(referral));
  });

  test('a PUT that drops or corrects the PHQ-9 that fired the risk rule keeps the Flag and the raised urgency', async () => {
    const referral = freshReferral('referral-new-at-risk.json');
    expect((await post('/referrals', referral)).json().risk).toMatchObject({ selfHarm: true, escalated: true });
    const source = `PHQ-9 item 9 = 1 in assessment ${referral.assessments[0].assessmentId}`;

    const withoutAssessments = { ...referral, status: 'on-hold' };
    delete withoutAssessments.assessments;
    const dropped = await put(`/referrals/${referral.referralId}`, withoutAssessments);
    expect(dropped.statusCode).toBe(200);
    expect(dropped.json().risk).toEqual({ selfHarm: true, source: [source], escalated: true });
    const bundle = (await get(`/referrals/${referral.referralId}/fhir`)).json();
    const sr = bundle.entry.find((e: any) => e.resource.resourceType === 'ServiceRequest').resource;
    expect(sr.priority).toBe('urgent');
    expect(bundle.entry.filter((e: any) => e.resource.resourceType === 'Flag')).toHaveLength(1);

    // The assessment left out is shown as withdrawn, not as current.
    expect((await get(`/assessments/${referral.assessments[0].assessmentId}`)).json().withdrawnInVersion).toBe(2);

    const corrected = structuredClone(referral);
    corrected.assessments[0].answers['9'] = 0;
    corrected.assessments[0].totalScore = 11;
    const res = await put(`/referrals/${referral.referralId}`, corrected);
    expect(res.statusCode).toBe(200);
    expect(res.json().risk).toMatchObject({ selfHarm: true, source: [source], escalated: true });
    expect((await get(`/assessments/${referral.assessments[0].assessmentId}`)).json().withdrawnInVersion).toBeUndefined();
  });

  test('a PUT cannot overwrite an assessment posted on its own', async () => {
    const referral = freshReferral();
    expect((await post('/referrals', referral)).statusCode).toBe(201);
    const phq9 = {
      assessmentId: `${referral.referralId}-OWN`,
      referralId: referral.referralId,
      instrument: 'PHQ-9',
      completedAt: '2026-11-25T10:00:00+00:00',
      answers: { '1': 1, '2': 1, '3': 1, '4': 1, '5': 1, '6': 1, '7': 1, '8': 1, '9': 3 },
    };
    expect((await post('/assessments', phq9)).statusCode).toBe(201);
    const overwrite = { ...referral, assessments: [...referral.assessments, { ...phq9, answers: { ...phq9.answers, '9': 0 } }] };
    const res = await put(`/referrals/${referral.referralId}`, overwrite);
    expect(res.statusCode).toBe(409);
    expect(res.json().problems[0].path).toBe('assessments[3].assessmentId');
    const stored = (await get(`/assessments/${phq9.assessmentId}`)).json();
    expect(stored).toMatchObject({ source: 'standalone', answers: { '9': 3 } });
  });

  test('concurrent PUTs of different content are all stored as successive versions', async () => {
    const referral = freshReferral();
    expect((await post('/referrals', referral)).statusCode).toBe(201);
    const summaries = Array.from({ length: 6 }, (_, i) => `Update ${i}`);
    const results = await Promise.all(summaries.map((clinicalSummary) => put(`/referrals/${referral.referralId}`, { ...referral, clinicalSummary })));
    expect(results.map((r) => r.statusCode)).toEqual(summaries.map(() => 200));
    const versions = await app.store.db.selectFrom('referral_versions').selectAll().where('referral_id', '=', referral.referralId).orderBy('version').execute();
    expect(versions.map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(versions.slice(1).map((v) => JSON.parse(v.native_json).clinicalSummary).sort()).toEqual(summaries);
  });

  test('a resent conditional PUT whose first answer was lost is answered 200, not 412', async () => {
    const referral = freshReferral();
    expect((await post('/referrals', referral)).statusCode).toBe(201);
    const changed = { ...referral, status: 'on-hold' };
    expect((await put(`/referrals/${referral.referralId}`, changed, { 'if-match': '"1"' })).statusCode).toBe(200);
    const resent = await put(`/referrals/${referral.referralId}`, changed, { 'if-match': '"1"' });
    expect(resent.statusCode).toBe(200);
    expect(resent.json().version).toBe(2);
    expect((await put(`/referrals/${referral.referralId}`, { ...changed, status: 'active' }, { 'if-match': '*' })).json().version).toBe(3);
  });

  test('a PHQ-9 posted on its own with item 9 above 0 escalates its referral, and a later PUT cannot lower it', async () => {
    const referral = freshReferral();
    expect((await post('/referrals', referral)).statusCode).toBe(201);
    const phq9 = {
      assessmentId: `${referral.referralId}-PHQ`,
      referralId: referral.referralId,
      instrument: 'PHQ-9',
      completedAt: '2026-11-25T10:00:00+00:00',
      answers: { '1': 1, '2': 1, '3': 1, '4': 1, '5': 1, '6': 1, '7': 1, '8': 1, '9': 2 },
    };
    const res = await post('/assessments', phq9);
    expect(res.statusCode).toBe(201);
    expect(res.json().risk).toEqual({ selfHarm: true, source: [`PHQ-9 item 9 = 2 in assessment ${phq9.assessmentId}`] });

    const view = (await get(`/referrals/${referral.referralId}`)).json();
    expect(view).toMatchObject({ version: 2, urgency: 'routine', risk: { selfHarm: true, escalated: true } });
    const sr = (await get(`/referrals/${referral.referralId}/fhir`)).json().entry.find((e: any) => e.resource.resourceType === 'ServiceRequest').resource;
    expect(sr.priority).toBe('urgent');

    const replaced = await put(`/referrals/${referral.referralId}`, { ...referral, clinicalSummary: 'Updated summary.' });
    expect(replaced.statusCode).toBe(200);
    expect(replaced.json()).toMatchObject({ version: 3, risk: { selfHarm: true, escalated: true } });
    const after = (await get(`/referrals/${referral.referralId}/fhir`)).json();
    expect(after.entry.find((e: any) => e.resource.resourceType === 'ServiceRequest').resource.priority).toBe('urgent');
    expect(after.entry.some((e: any) => e.resource.resourceType === 'Flag')).toBe(true);
  });

  test('POST /assessments for an unknown referral is 404; a wrong total is 422 naming both numbers', async () => {
    const before = await rowCounts();
    const orphan = { ...fixture('assessment-follow-up.json'), referralId: 'PP-NOPE-1', assessmentId: 'PP-A-ORPHAN' };
    expect((await post('/assessments', orphan)).statusCode).toBe(404);
    const referral = freshReferral();
    expect((await post('/referrals', referral)).statusCode).toBe(201);
    const afterReferral = await rowCounts();
    const wrong = { ...fixture('assessment-follow-up.json'), referralId: referral.referralId, assessmentId: `${referral.referralId}-W`, totalScore: 14 };
    const res = await post('/assessments', wrong);
    expect(res.statusCode).toBe(422);
    expect(res.json().problems[0].path).toBe('totalScore');
    expect(res.json().problems[0].message).toMatch(/14/);
    expect(res.json().problems[0].message).toMatch(/13/);
    expect(await rowCounts()).toEqual(afterReferral);
    expect(afterReferral.referrals).toBe(before.referrals + 1);
  });

  // Bad input: each gets its status and a body naming the field and the rule, and the store is unchanged.
  const badInputs: Array<[string, (r: any) => { body: string; headers?: Record<string, string> }, number, string]> = [
    ['malformed JSON', (r) => ({ body: JSON.stringify(r).slice(0, 40) }), 400, '(body)'],
    ['a syntax error mid-document', (r) => ({ body: JSON.stringify(r, null, 2).replace('"kind"', 'kind') }), 400, '(body)'],
    ['a wrong type', (r) => ({ body: JSON.stringify({ ...r, step: '3' }) }), 400, 'step'],
    ['an unknown field', (r) => ({ body: JSON.stringify({ ...r, priority: 'high' }) }), 400, 'priority'],
    ['an invalid NHS number', (r) => ({ body: JSON.stringify({ ...r, patient: { ...r.patient, nhsNumber: '9990000019' } }) }), 400, 'patient.nhsNumber'],
    ['a future birth date', (r) => ({ body: JSON.stringify({ ...r, patient: { ...r.patient, birthDate: '2999-01-01' } }) }), 400, 'patient.birthDate'],
    [
      'an assessment missing a scored item',
      (r) => {
        const { '4': _dropped, ...answers } = r.assessments[0].answers;
        return { body: JSON.stringify({ ...r, assessments: [{ ...r.assessments[0], answers }, ...r.assessments.slice(1)] }) };
      },
      400,
      'assessments[0].answers',
    ],
    ['a wrong total', (r) => ({ body: JSON.stringify({ ...r, assessments: [{ ...r.assessments[0], totalScore: 9 }, ...r.assessments.slice(1)] }) }), 422, 'assessments[0].totalScore'],
    ['a 2 MiB body', (r) => ({ body: JSON.stringify({ ...r, clinicalSummary: 'x'.repeat(2 * 1024 * 1024) }) }), 413, '(body)'],
    ['a text/plain body', (r) => ({ body: JSON.stringify(r), headers: { 'content-type': 'text/plain' } }), 415, '(header) Content-Type'],
    ['a repeated key', (r) => ({ body: JSON.stringify(r).replace('"urgency":"routine"', '"urgency":"urgent","urgency":"routine"') }), 400, 'urgency'],
    ['a body nested 200,000 deep', () => ({ body: `{"x":${'['.repeat(200_000)}${']'.repeat(200_000)}}` }), 400, '(body)'],
  ];

  test.each(badInputs)('%s is refused and nothing is stored', async (_name, make, status, path) => {
    const referral = freshReferral();
    const { body, headers } = make(referral);
    const before = await rowCounts();
    const res = await post('/referrals', body, headers);
    expect(res.statusCode).toBe(status);
    const answer = res.json();
    expect(answer.statusCode).toBe(status);
    expect(answer.message).toEqual(expect.any(String));
    const paths = answer.problems.map((p: any) => p.path);
    expect(paths.some((p: string) => p === path || p.startsWith(`${path}.`) || p.startsWith(`${path}[`))).toBe(true);
    for (const p of answer.problems) expect(p.allowed).toEqual(expect.any(String));
    expect(await rowCounts()).toEqual(before);
    expect((await get(`/referrals/${referral.referralId}`)).statusCode).toBe(404);
  });

  test('a body that is not UTF-8 is refused, not stored with replacement characters', async () => {
    const referral = freshReferral();
    const before = await rowCounts();
    const text = JSON.stringify(referral).replace('"Hughes"', '"Hugh\u00ebs"');
    const latin1 = Buffer.from(text, 'latin1');
    const res = await withJson(app.server.inject({ method: 'POST', url: '/referrals', payload: latin1, headers: { 'content-type': 'application/json' } }));
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/UTF-8/);
    expect(await rowCounts()).toEqual(before);
  });

  test('a JSON syntax error is located by line and column and the body is not echoed', async () => {
    const referral = freshReferral();
    const text = JSON.stringify(referral, null, 2).replace('"kind"', 'kind');
    const res = await post('/referrals', text);
    expect(res.statusCode).toBe(400);
    const message = res.json().problems[0].message;
    expect(message).toMatch(/line 5, column \d+/);
    expect(res.payload).not.toContain(referral.patient.nhsNumber);
  });
});
