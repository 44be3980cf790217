// The FHIR front door's writes through the whole service (real SQLite file, real PostgreSQL schema):
// transaction and batch Bundles, single creates with each kind of subject, conditional create,
// 50 concurrent identical creates, and X-Request-ID replay. Every refusal is checked down to its
// OperationOutcome issue (severity, code, text, FHIRPath, line and column), and for every refusal
// that nothing was stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, startApp } from '../support/app.js';
import { countOf, entryOf, fhir, freshIds, freshInbound, freshNhsNumber, freshUbrn, inboundReferralsFor, lineAt, NHS_NUMBER_SYSTEM, QR_ID_SYSTEM, UBRN_SYSTEM, type FreshIds } from '../support/fhir.js';
import type { App } from '../../src/server.js';

const LOCATION = /^(Patient|Organization|Practitioner|PractitionerRole|QuestionnaireResponse|ServiceRequest)\/[A-Za-z0-9\-.]{1,64}\/_history\/1$/;

const pretty = (x: unknown) => JSON.stringify(x, null, 2);

/** `Type/id` of a transaction-response entry (its location without the version). */
const refOf = (e: any) => String(e.response.location).replace(/\/_history\/\d+$/, '');

/** The Practitioner of `ids` stored, so that a single ServiceRequest may name its requester by SDS id. */
async function receivePractitioner(app: App, ids: FreshIds): Promise<void> {
  const practitioner = entryOf(freshInbound('gp-referral.transaction.json', ids), 'Practitioner').resource;
  const res = await fhir(app, 'POST', '/fhir/Practitioner', practitioner);
  expect([200, 201]).toContain(res.status);
}

/** The Patient of `ids` stored on its own (its GP named by ODS code only). */
async function receivePatient(app: App, ids: FreshIds): Promise<string> {
  const patient = entryOf(freshInbound('gp-referral.transaction.json', ids), 'Patient').resource;
  delete patient.generalPractitioner[0].reference;
  const res = await fhir(app, 'POST', '/fhir/Patient', patient);
  expect(res.status).toBe(201);
  return res.body.id;
}

describe.each(dialects)('FHIR writes on %s', (dialect) => {
  let app: App;
  beforeAll(async () => {
    app = await startApp(dialect);
  });
  afterAll(async () => {
    await app?.stop();
  });

  describe('transaction', () => {
    const ids = freshIds();
    let first: any;

    it('stores the GP transaction: 200 transaction-response, each entry 201 with Type/id/_history/1', async () => {
      const sent = freshInbound('gp-referral.transaction.json', ids);
      const res = await fhir(app, 'POST', '/fhir', sent);
      expect(res.status).toBe(200);
      expect(res.body.resourceType).toBe('Bundle');
      expect(res.body.type).toBe('transaction-response');
      expect(res.body.entry).toHaveLength(sent.entry.length);
      res.body.entry.forEach((e: any, i: number) => {
        expect(e.response.status).toBe('201 Created');
        expect(e.response.location).toMatch(LOCATION);
        expect(e.response.location.startsWith(`${sent.entry[i].resource.resourceType}/`)).toBe(true);
        expect(e.response.etag).toBe('W/"1"');
      });
      first = res.body;
    });

    it('rewrites every urn:uuid reference to the stored Type/id', async () => {
      const byType = (t: string) => first.entry.filter((e: any) => e.response.location.startsWith(`${t}/`)).map(refOf);
      const [patient] = byType('Patient');
      const [role] = byType('PractitionerRole');
      const [practitioner] = byType('Practitioner');
      const [gpPractice, service] = byType('Organization');
      const qrs = byType('QuestionnaireResponse');
      const [sr] = byType('ServiceRequest');

      const stored = await fhir(app, 'GET', `/fhir/${sr}`);
      expect(stored.status).toBe(200);
      expect(stored.body.subject.reference).toBe(patient);
      expect(stored.body.requester.reference).toBe(role);
      expect(stored.body.performer[0].reference).toBe(service);
      expect(stored.body.supportingInfo.map((s: any) => s.reference)).toEqual(qrs);
      const storedRole = await fhir(app, 'GET', `/fhir/${role}`);
      expect(storedRole.body.practitioner.reference).toBe(practitioner);
      expect(storedRole.body.organization.reference).toBe(gpPractice);
      for (const qr of qrs) {
        const q = await fhir(app, 'GET', `/fhir/${qr}`);
        expect(q.body.subject.reference).toBe(patient);
        expect(q.body.basedOn[0].reference).toBe(sr);
      }
      for (const e of first.entry) {
        const r = await fhir(app, 'GET', `/fhir/${refOf(e)}`);
        expect(r.text).not.toContain('urn:uuid:');
      }
    });

    it('answers a resend with every entry 200 and the same locations, storing nothing new', async () => {
      const res = await fhir(app, 'POST', '/fhir', freshInbound('gp-referral.transaction.json', ids));
      expect(res.status).toBe(200);
      expect(res.body.entry.map((e: any) => e.response.status)).toEqual(first.entry.map(() => '200 OK'));
      expect(res.body.entry.map((e: any) => e.response.location)).toEqual(first.entry.map((e: any) => e.response.location));
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${ids.ubrn}`)).toBe(1);
      expect(await countOf(app, 'Patient', `identifier=${NHS_NUMBER_SYSTEM}|${ids.nhsNumber}`)).toBe(1);
      expect(await countOf(app, 'QuestionnaireResponse', `patient:identifier=${NHS_NUMBER_SYSTEM}|${ids.nhsNumber}`)).toBe(2);
      expect(await countOf(app, 'PractitionerRole', '_count=100')).toBe(1);
      expect(await inboundReferralsFor(app, ids.nhsNumber)).toHaveLength(1);
    });

    it('stores nothing of a transaction with one bad entry (an answer outside answerOption): 422 naming it', async () => {
      const bad = freshIds();
      const sent = freshInbound('gp-referral.transaction.json', bad);
      sent.entry[5].resource.item[0].answer[0].valueCoding.code = 'LA9999-9';
      const text = pretty(sent);
      const before = (await fhir(app, 'GET', '/referrals?direction=inbound&limit=100')).text;
      const res = await fhir(app, 'POST', '/fhir', text);
      expect(res.status).toBe(422);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue).toHaveLength(1);
      const [i] = res.body.issue;
      expect(i.severity).toBe('error');
      expect(i.code).toBe('code-invalid');
      expect(i.details.text).toContain('LA9999-9');
      expect(i.details.text).toContain('is not an answer option of item "44250-9"; allowed: http://loinc.org|LA6568-5');
      expect(i.expression).toEqual(['Bundle.entry[5].resource.item[0].answer[0].value']);
      expect(lineAt(text, i.diagnostics)).toContain('"valueCoding"');
      for (const [type, query] of [
        ['ServiceRequest', `identifier=${UBRN_SYSTEM}|${bad.ubrn}`],
        ['Patient', `identifier=${NHS_NUMBER_SYSTEM}|${bad.nhsNumber}`],
        ['Practitioner', `identifier=https://fhir.nhs.uk/Id/sds-user-id|${bad.sdsId}`],
        ['Organization', `identifier=https://fhir.nhs.uk/Id/ods-organization-code|${bad.gpOds}`],
        ['QuestionnaireResponse', `identifier=${QR_ID_SYSTEM}|${bad.gadId}`],
      ]) {
        expect(await countOf(app, type!, query!), `${type}?${query}`).toBe(0);
      }
      expect(await countOf(app, 'PractitionerRole', '_count=100')).toBe(1);
      expect((await fhir(app, 'GET', '/referrals?direction=inbound&limit=100')).text).toBe(before);
    });

    it('takes ifNoneExist of a transaction entry: the matched ServiceRequest answers as it is stored, nothing is changed', async () => {
      const sent = freshInbound('gp-referral.transaction.json', ids);
      const srEntry = entryOf(sent, 'ServiceRequest');
      srEntry.resource.note = [{ text: 'a different note: a conditional create does not change what it matches' }];
      srEntry.request.ifNoneExist = `identifier=${UBRN_SYSTEM}|${ids.ubrn}`;
      const res = await fhir(app, 'POST', '/fhir', sent);
      expect(res.status).toBe(200);
      const answered = res.body.entry[sent.entry.indexOf(srEntry)];
      expect(answered.response.status).toBe('200 OK');
      expect(answered.response.location).toBe(entryOf(first, 'ServiceRequest').response.location);
      expect(answered.resource.note).not.toEqual(srEntry.resource.note);
      expect(await inboundReferralsFor(app, ids.nhsNumber)).toHaveLength(1);
    });

    it('an ifNoneExist that matches a ServiceRequest with another identifier → 412: the new referral is not silently dropped', async () => {
      const sent = freshInbound('gp-referral.transaction.json', { ...ids, ubrn: freshUbrn() });
      const srEntry = entryOf(sent, 'ServiceRequest');
      srEntry.request.ifNoneExist = `identifier=${UBRN_SYSTEM}|${ids.ubrn}`;
      const res = await fhir(app, 'POST', '/fhir', sent);
      expect(res.status).toBe(412);
      expect(res.body.issue[0]).toMatchObject({ severity: 'error', code: 'conflict', expression: [`Bundle.entry[${sent.entry.indexOf(srEntry)}].request.ifNoneExist`] });
      expect(res.body.issue[0].details.text).toContain(`whose ${UBRN_SYSTEM} identifier differs from the one sent`);
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${srEntry.resource.identifier[0].value}`)).toBe(0);
    });

    it('an ifNoneExist with no search criterion → 400, nothing stored', async () => {
      const sent = freshInbound('gp-referral.transaction.json', { ...ids, ubrn: freshUbrn() });
      const srEntry = entryOf(sent, 'ServiceRequest');
      srEntry.request.ifNoneExist = '_count=1';
      const res = await fhir(app, 'POST', '/fhir', sent);
      expect(res.status).toBe(400);
      expect(res.body.issue[0].details.text).toContain('holds no search criterion');
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${srEntry.resource.identifier[0].value}`)).toBe(0);
    });
  });

  describe('batch', () => {
    it('answers each entry on its own: 201 for the good one, 422 with its OperationOutcome for the bad one', async () => {
      const ids = freshIds();
      const tx = freshInbound('gp-referral.transaction.json', ids);
      const patient = entryOf(tx, 'Patient');
      delete patient.resource.generalPractitioner[0].reference;
      const qr = structuredClone(tx.entry[5]);
      delete qr.resource.basedOn;
      qr.resource.subject = { type: 'Patient', identifier: { system: NHS_NUMBER_SYSTEM, value: ids.nhsNumber } };
      qr.resource.item[0].answer[0].valueCoding.code = 'LA9999-9';
      const batch = { resourceType: 'Bundle', type: 'batch', entry: [patient, qr] };
      const text = pretty(batch);
      const res = await fhir(app, 'POST', '/fhir', text);
      expect(res.status).toBe(200);
      expect(res.body.type).toBe('batch-response');
      expect(res.body.entry).toHaveLength(2);
      expect(res.body.entry[0].response.status).toBe('201 Created');
      expect(res.body.entry[0].response.location).toMatch(/^Patient\/[^/]+\/_history\/1$/);
      expect(res.body.entry[1].response.status).toMatch(/^422/);
      const outcome = res.body.entry[1].response.outcome;
      expect(outcome.resourceType).toBe('OperationOutcome');
      expect(outcome.issue).toHaveLength(1);
      expect(outcome.issue[0]).toMatchObject({ severity: 'error', code: 'code-invalid', expression: ['Bundle.entry[1].resource.item[0].answer[0].value'] });
      expect(outcome.issue[0].details.text).toContain('is not an answer option');
      expect(lineAt(text, outcome.issue[0].diagnostics)).toContain('"valueCoding"');
      expect(await countOf(app, 'Patient', `identifier=${NHS_NUMBER_SYSTEM}|${ids.nhsNumber}`)).toBe(1);
      expect(await countOf(app, 'QuestionnaireResponse', `identifier=${QR_ID_SYSTEM}|${ids.phqId}`)).toBe(0);
    });
  });

  describe('create', () => {
    const ids = freshIds();
    let containedId: string;

    it('POST /fhir/ServiceRequest with a contained Patient → 201, Location, the adapter\'s referral id added', async () => {
      await receivePractitioner(app, ids);
      const res = await fhir(app, 'POST', '/fhir/ServiceRequest', freshInbound('gp-referral-contained-patient.service-request.json', ids));
      expect(res.status).toBe(201);
      expect(res.body.resourceType).toBe('ServiceRequest');
      expect(res.headers.location).toMatch(new RegExp(`/fhir/ServiceRequest/${res.body.id}/_history/1$`));
      expect(res.headers.etag).toBe('W/"1"');
      expect(res.body.identifier).toEqual(
        expect.arrayContaining([{ system: UBRN_SYSTEM, value: ids.ubrn }, { system: 'https://fhir.painplatform.uk/Id/referral-id', value: `PP-IN-${res.body.id}` }]),
      );
      expect(res.body.contained[0].resourceType).toBe('Patient');
      containedId = res.body.id;
    });

    it('a logical subject (NHS number) of a Patient received before → 201, subject resolved to Patient/id', async () => {
      const patientId = await receivePatient(app, ids);
      const res = await fhir(app, 'POST', '/fhir/ServiceRequest', freshInbound('gp-referral-logical-subject.service-request.json', { ...ids, ubrn: freshUbrn() }));
      expect(res.status).toBe(201);
      expect(res.body.subject.reference).toBe(`Patient/${patientId}`);
      expect(res.body.subject.identifier).toEqual({ system: NHS_NUMBER_SYSTEM, value: ids.nhsNumber });
    });

    it('a logical subject never received → 422 saying to send the Patient, nothing stored', async () => {
      const other = { ...ids, nhsNumber: freshNhsNumber(), ubrn: freshUbrn() };
      const text = pretty(freshInbound('gp-referral-logical-subject.service-request.json', other));
      const res = await fhir(app, 'POST', '/fhir/ServiceRequest', text);
      expect(res.status).toBe(422);
      expect(res.body.issue).toHaveLength(1);
      const [i] = res.body.issue;
      expect(i).toMatchObject({ severity: 'error', code: 'not-found', expression: ['ServiceRequest.subject.identifier'] });
      expect(i.details.text).toContain(`No Patient with identifier ${NHS_NUMBER_SYSTEM}|${other.nhsNumber} has been received`);
      expect(i.details.text).toContain('send the Patient');
      expect(lineAt(text, i.diagnostics)).toContain('"identifier"');
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${other.ubrn}`)).toBe(0);
      expect(await inboundReferralsFor(app, other.nhsNumber)).toHaveLength(0);
    });

    it('POST /fhir/QuestionnaireResponse about a received Patient → 201, searchable by its identifier', async () => {
      const qr = entryOf(freshInbound('gp-referral.transaction.json', ids), 'QuestionnaireResponse').resource;
      delete qr.basedOn;
      qr.subject = { type: 'Patient', identifier: { system: NHS_NUMBER_SYSTEM, value: ids.nhsNumber } };
      const res = await fhir(app, 'POST', '/fhir/QuestionnaireResponse', qr);
      expect(res.status).toBe(201);
      expect(res.headers.location).toMatch(new RegExp(`/fhir/QuestionnaireResponse/${res.body.id}/_history/1$`));
      expect(res.body.subject.reference).toMatch(/^Patient\//);
      expect(await countOf(app, 'QuestionnaireResponse', `identifier=${QR_ID_SYSTEM}|${ids.phqId}`)).toBe(1);
    });

    it('If-None-Exist with one match → 200 with the match, the new body not stored', async () => {
      const res = await fhir(app, 'POST', '/fhir/ServiceRequest', freshInbound('gp-referral-logical-subject.service-request.json', ids), {
        'if-none-exist': `identifier=${UBRN_SYSTEM}|${ids.ubrn}`,
      });
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(containedId);
      expect(res.body.meta.versionId).toBe('1');
      expect(res.body.contained).toBeDefined();
    });

    it('If-None-Exist matching a ServiceRequest with another identifier → 412, the new referral not dropped silently', async () => {
      const ubrn = freshUbrn();
      const res = await fhir(app, 'POST', '/fhir/ServiceRequest', freshInbound('gp-referral-logical-subject.service-request.json', { ...ids, ubrn }), {
        'if-none-exist': `identifier=${UBRN_SYSTEM}|${ids.ubrn}`,
      });
      expect(res.status).toBe(412);
      expect(res.body.issue[0].details.text).toContain('make the condition name this resource');
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${ubrn}`)).toBe(0);
    });

    it.each([['?'], ['_count=1'], ['_format=json']])('If-None-Exist %j names nothing → 400', async (condition) => {
      const ubrn = freshUbrn();
      const res = await fhir(app, 'POST', '/fhir/ServiceRequest', freshInbound('gp-referral-logical-subject.service-request.json', { ...ids, ubrn }), { 'if-none-exist': condition });
      expect(res.status).toBe(400);
      expect(res.body.issue[0].details.text).toContain('holds no search criterion');
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${ubrn}`)).toBe(0);
    });

    it('If-None-Exist matching several (status=active after two referrals) → 412, nothing stored', async () => {
      const ubrn = freshUbrn();
      const res = await fhir(app, 'POST', '/fhir/ServiceRequest', freshInbound('gp-referral-logical-subject.service-request.json', { ...ids, ubrn }), {
        'if-none-exist': 'status=active',
      });
      expect(res.status).toBe(412);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0].severity).toBe('error');
      expect(res.body.issue[0].code).toBe('multiple-matches');
      expect(res.body.issue[0].details.text).toMatch(/If-None-Exist status=active matches \d+ ServiceRequest resources/);
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${ubrn}`)).toBe(0);
    });
  });

  describe('50 concurrent identical creates', () => {
    it('a transaction: exactly one referral stored, every answer pointing at it', async () => {
      const ids = freshIds();
      const body = JSON.stringify(freshInbound('gp-referral.transaction.json', ids));
      const answers = await Promise.all(Array.from({ length: 50 }, () => fhir(app, 'POST', '/fhir', body)));
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
      const srLocations = answers.map((a) => entryOf(a.body, 'ServiceRequest').response);
      expect(new Set(srLocations.map((r) => r.location)).size).toBe(1);
      expect(srLocations.filter((r) => r.status === '201 Created')).toHaveLength(1);
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${ids.ubrn}`)).toBe(1);
      expect(await countOf(app, 'Patient', `identifier=${NHS_NUMBER_SYSTEM}|${ids.nhsNumber}`)).toBe(1);
      expect(await countOf(app, 'QuestionnaireResponse', `patient:identifier=${NHS_NUMBER_SYSTEM}|${ids.nhsNumber}`)).toBe(2);
      expect(await inboundReferralsFor(app, ids.nhsNumber)).toHaveLength(1);
    });

    it('50 conditional creates of one Patient with its NHS number as If-None-Exist, each a different version of it: one 201, 49 × 200, never changed', async () => {
      const nhsNumber = freshNhsNumber();
      const bodies = Array.from({ length: 50 }, (_, i) =>
        JSON.stringify({ resourceType: 'Patient', identifier: [{ system: NHS_NUMBER_SYSTEM, value: nhsNumber }], name: [{ family: `Family${i}`, given: ['Sam'] }], birthDate: '1970-01-01', gender: 'unknown' }),
      );
      const answers = await Promise.all(bodies.map((b) => fhir(app, 'POST', '/fhir/Patient', b, { 'if-none-exist': `identifier=${NHS_NUMBER_SYSTEM}|${nhsNumber}` })));
      expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
      expect(answers.filter((a) => a.status === 200)).toHaveLength(49);
      expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
      const first = answers.find((a) => a.status === 201)!;
      for (const a of answers) expect(a.body).toEqual(first.body);
      expect(await countOf(app, 'Patient', `identifier=${NHS_NUMBER_SYSTEM}|${nhsNumber}`)).toBe(1);
      expect((await fhir(app, 'GET', `/fhir/Patient/${first.body.id}/_history`)).body.total).toBe(1);
    });

    it('POST /fhir/ServiceRequest with a contained Patient: one 201, 49 × 200, one Location', async () => {
      const ids = freshIds();
      await receivePractitioner(app, ids);
      const body = JSON.stringify(freshInbound('gp-referral-contained-patient.service-request.json', ids));
      const answers = await Promise.all(Array.from({ length: 50 }, () => fhir(app, 'POST', '/fhir/ServiceRequest', body)));
      expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
      expect(answers.filter((a) => a.status === 200)).toHaveLength(49);
      expect(new Set(answers.map((a) => a.headers.location)).size).toBe(1);
      expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
      const search = await fhir(app, 'GET', `/fhir/ServiceRequest?identifier=${UBRN_SYSTEM}|${ids.ubrn}`);
      expect(search.body.total).toBe(1);
      expect(search.body.entry[0].resource.id).toBe(answers[0]!.body.id);
    });
  });

  describe('X-Request-ID', () => {
    const ids = freshIds();
    let body: string;
    let original: Awaited<ReturnType<typeof fhir>>;

    it('the same id and body again → the original answer replayed, marked X-Replayed', async () => {
      await receivePractitioner(app, ids);
      body = JSON.stringify(freshInbound('gp-referral-contained-patient.service-request.json', ids));
      const requestId = `req-${ids.ubrn}`;
      original = await fhir(app, 'POST', '/fhir/ServiceRequest', body, { 'x-request-id': requestId });
      expect(original.status).toBe(201);
      expect(original.headers['x-replayed']).toBeUndefined();
      const replayed = await fhir(app, 'POST', '/fhir/ServiceRequest', body, { 'x-request-id': requestId });
      expect(replayed.status).toBe(201);
      expect(replayed.headers['x-replayed']).toBe('true');
      expect(replayed.body).toEqual(original.body);
      expect(replayed.headers.location).toBe(original.headers.location);
      expect(replayed.headers['x-request-id']).toBe(requestId);
    });

    it('the same id with a different body → 409, nothing stored', async () => {
      const changed = freshInbound('gp-referral-contained-patient.service-request.json', { ...ids, ubrn: freshUbrn() });
      const res = await fhir(app, 'POST', '/fhir/ServiceRequest', changed, { 'x-request-id': `req-${ids.ubrn}` });
      expect(res.status).toBe(409);
      expect(res.body.issue[0]).toMatchObject({ severity: 'error', code: 'duplicate' });
      expect(res.body.issue[0].details.text).toContain('X-Request-ID was already used for a different request');
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${changed.identifier[0].value}`)).toBe(0);
    });

    it('another id with the same body → 200 with the stored referral (kept single by its identifier)', async () => {
      const res = await fhir(app, 'POST', '/fhir/ServiceRequest', body, { 'x-request-id': `req-other-${ids.ubrn}` });
      expect(res.status).toBe(200);
      expect(res.headers['x-replayed']).toBeUndefined();
      expect(res.body.id).toBe(original.body.id);
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${ids.ubrn}`)).toBe(1);
    });

    it('a transaction retried with its X-Request-ID is replayed too', async () => {
      const bundle = JSON.stringify(freshInbound('gp-referral.transaction.json'));
      const requestId = `tx-${freshUbrn()}`;
      const first = await fhir(app, 'POST', '/fhir', bundle, { 'x-request-id': requestId });
      expect(first.status).toBe(200);
      const again = await fhir(app, 'POST', '/fhir', bundle, { 'x-request-id': requestId });
      expect(again.headers['x-replayed']).toBe('true');
      expect(again.body).toEqual(first.body);
      expect(again.body.entry.map((e: any) => e.response.status)).toContain('201 Created');
    });

    it.each([['a space', 'a b'], ['too long', 'x'.repeat(129)], ['a slash', 'a/b']])('an X-Request-ID with %s → 400 naming the rule, nothing stored', async (_name, requestId) => {
      const res = await fhir(app, 'POST', '/fhir/ServiceRequest', JSON.stringify(freshInbound('gp-referral-contained-patient.service-request.json')), { 'x-request-id': requestId });
      expect(res.status).toBe(400);
      expect(res.body.issue[0].details.text).toContain('X-Request-ID must be 1 to 128 characters');
    });
  });
});
