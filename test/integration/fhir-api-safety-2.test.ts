// The FHIR front door's safety rules found by the second review, each one a reviewer's reproduction of
// a hole that is now closed (SQLite and PostgreSQL): answers that joined earlier in a request stay in the
// referral's update; changed answers under an identifier already received are refused (409); a subject's
// reference and identifier must name one patient; a conditional create matches only on the identifier it
// names; the adapter's own identifier systems are taken off what comes in; an identifier repeated across
// entries is 422; odd MessageHeader and questionnaire values and NUL search values are 4xx, never 500;
// X-Request-ID covers If-None-Exist; identifier searches by value use their own index.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompiledQuery, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow } from 'kysely';
import { dialects, startApp, uniqueSuffix } from '../support/app.js';
import { countOf, entryOf, fhir, freshIds, freshInbound, inboundReferralsFor, messageOutcome, NHS_NUMBER_SYSTEM, onlyReferralOf, QR_ID_SYSTEM, refOf, UBRN_SYSTEM, withSelfHarm, type FreshIds } from '../support/fhir.js';
import { FhirRepository } from '../../src/store/fhir.repo.js';
import { parseSearchQuery } from '../../src/fhir/search-params.js';
import type { App } from '../../src/server.js';

const REASONS = 'https://fhir.nhs.uk/CodeSystem/message-reason-bars';
const REFERRAL_ID_SYSTEM = 'https://fhir.painplatform.uk/Id/referral-id';
const MRN_SYSTEM = 'https://hospital.example/Id/mrn';
const PHQ9_ITEM9 = '44260-8';

/** The stored ServiceRequest of `ids` (found by its UBRN). */
async function storedServiceRequest(app: App, ids: FreshIds): Promise<any> {
  const res = await fhir(app, 'GET', `/fhir/ServiceRequest?identifier=${UBRN_SYSTEM}|${ids.ubrn}`);
  expect(res.status).toBe(200);
  expect(res.body.total).toBe(1);
  return res.body.entry[0].resource;
}

const item9Code = (qr: any) => qr.item.find((i: any) => i.linkId === PHQ9_ITEM9).answer[0].valueCoding.code;

/** The PHQ-9 of `ids` as a QuestionnaireResponse of its own (a new identifier), basedOn `srRef`, the patient named by NHS number. */
function lonePhq(ids: FreshIds, srRef: string): any {
  const qr = structuredClone(freshInbound('gp-referral.transaction.json', ids).entry[5].resource);
  qr.identifier.value = `${ids.phqId}-${uniqueSuffix()}`;
  qr.subject = { identifier: { system: NHS_NUMBER_SYSTEM, value: ids.nhsNumber } };
  qr.basedOn = [{ reference: srRef }];
  return qr;
}

/** The referral message of `ids` resent as an update (a new MessageHeader id). */
function updateMessage(ids: FreshIds): any {
  const message = freshInbound('gp-referral.message.json', ids);
  message.entry[0].resource.id = `mh-update-${uniqueSuffix()}`;
  message.entry[0].resource.reason = { coding: [{ system: REASONS, code: 'update' }] };
  return message;
}

/** The index of the ServiceRequest entry in the GP message (the new entry goes before it). */
function insertBeforeServiceRequest(message: any, entry: any): number {
  const at = message.entry.indexOf(entryOf(message, 'ServiceRequest'));
  message.entry.splice(at, 0, entry);
  return at;
}

/** 4xx, or 200 with an OperationOutcome (or a response message carrying one): never a 5xx. */
function expectHandled(res: { status: number; body: any; text: string }): void {
  expect(res.status, res.text).toBeLessThan(500);
  expect(res.status, res.text).not.toBe(201);
  const outcome = res.body?.resourceType === 'Bundle' && res.body.type === 'message' ? messageOutcome(res.body).outcome : res.body;
  expect(outcome?.resourceType, res.text).toBe('OperationOutcome');
  if (res.status === 200) return;
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(outcome.issue.some((i: any) => i.severity === 'error' || i.severity === 'fatal')).toBe(true);
}

describe.each(dialects)('FHIR front door safety (second review) on %s', (dialect) => {
  let app: App;
  beforeAll(async () => {
    app = await startApp(dialect);
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('an update message with a changed note and a new self-harm PHQ-9 basedOn ServiceRequest/<id> → 200 ok; the latest version keeps its score and is escalated', async () => {
    const ids = freshIds();
    expect((await fhir(app, 'POST', '/fhir/$process-message', freshInbound('gp-referral.message.json', ids))).status).toBe(200);
    const sr = await storedServiceRequest(app, ids);
    const message = updateMessage(ids);
    entryOf(message, 'ServiceRequest').resource.note = [{ text: `a changed note ${uniqueSuffix()}` }];
    const phq = withSelfHarm(structuredClone(entryOf(message, 'QuestionnaireResponse').resource));
    phq.identifier.value = `${ids.phqId}-late`;
    phq.basedOn = [{ reference: `ServiceRequest/${sr.id}` }];
    insertBeforeServiceRequest(message, { fullUrl: 'urn:uuid:8a3e1f52-6c0d-4b7e-9f21-3d5c7a9b1eaa', resource: phq });

    const res = await fhir(app, 'POST', '/fhir/$process-message', message);
    expect(res.status, res.text).toBe(200);
    expect(messageOutcome(res.body).code).toBe('ok');
    const stored = await fhir(app, 'GET', `/fhir/QuestionnaireResponse?identifier=${QR_ID_SYSTEM}|${phq.identifier.value}`);
    expect(stored.body.total).toBe(1);
    const referral = await onlyReferralOf(app, ids.nhsNumber);
    expect(referral.version).toBeGreaterThanOrEqual(2);
    // Before the fix the referral's update was derived from the version before the answer joined: the score and the flag were lost.
    expect(referral.risk).toMatchObject({ selfHarm: true, escalated: true });
    expect(referral.scores).toEqual(expect.arrayContaining([expect.objectContaining({ assessmentId: `QR-${stored.body.entry[0].resource.id}`, instrument: 'PHQ-9', total: 16 })]));
  });

  describe('changed answers under an identifier already received → 409, nothing changed', () => {
    it.each([
      ['the ServiceRequest unchanged', (_m: any) => {}],
      ['the ServiceRequest changed', (m: any) => {
        entryOf(m, 'ServiceRequest').resource.note = [{ text: 'a changed note' }];
      }],
    ])('an update message with %s carrying the referral\'s own PHQ-9 with changed answers → 409 fatal-error at its identifier', async (_name, change) => {
      const ids = freshIds();
      expect((await fhir(app, 'POST', '/fhir/$process-message', freshInbound('gp-referral.message.json', ids))).status).toBe(200);
      const message = updateMessage(ids);
      change(message);
      const phqEntry = entryOf(message, 'QuestionnaireResponse');
      withSelfHarm(phqEntry.resource);

      const res = await fhir(app, 'POST', '/fhir/$process-message', message);
      expect(res.status, res.text).toBe(409);
      const { code, outcome } = messageOutcome(res.body);
      expect(code).toBe('fatal-error');
      expect(outcome.issue).toHaveLength(1);
      expect(outcome.issue[0]).toMatchObject({ severity: 'error', code: 'conflict', expression: [`Bundle.entry[${message.entry.indexOf(phqEntry)}].resource.identifier`] });
      expect(outcome.issue[0].details.text).toContain('answers already received are not changed');

      const stored = await fhir(app, 'GET', `/fhir/QuestionnaireResponse?identifier=${QR_ID_SYSTEM}|${ids.phqId}`);
      expect(stored.body.entry[0].resource.meta.versionId).toBe('1');
      expect(item9Code(stored.body.entry[0].resource)).toBe('LA6568-5');
      const referral = await onlyReferralOf(app, ids.nhsNumber);
      expect(referral.version).toBe(1);
      expect(referral.risk).toMatchObject({ selfHarm: false, escalated: false });
      expect(referral.scores.map((s: any) => s.total).sort()).toEqual([13, 8].sort());
    });

    it.each([['unchanged'], ['changed']])('a PHQ-9 that joined on its own, resent changed in an update message with the ServiceRequest %s → 409; stored version 1, the referral as it was', async (variant) => {
      const ids = freshIds();
      expect((await fhir(app, 'POST', '/fhir/$process-message', freshInbound('gp-referral.message.json', ids))).status).toBe(200);
      const sr = await storedServiceRequest(app, ids);
      const joined = lonePhq(ids, `ServiceRequest/${sr.id}`);
      const first = await fhir(app, 'POST', '/fhir/QuestionnaireResponse', joined);
      expect(first.status, first.text).toBe(201);
      const before = await onlyReferralOf(app, ids.nhsNumber);
      expect(before.version).toBe(2);

      const message = updateMessage(ids);
      if (variant === 'changed') entryOf(message, 'ServiceRequest').resource.note = [{ text: 'a changed note' }];
      const resent = withSelfHarm(structuredClone(joined));
      if (variant === 'changed') resent.authored = '2026-01-02T10:00:00+00:00';
      const at = insertBeforeServiceRequest(message, { fullUrl: 'urn:uuid:8a3e1f52-6c0d-4b7e-9f21-3d5c7a9b1eab', resource: resent });

      const res = await fhir(app, 'POST', '/fhir/$process-message', message);
      expect(res.status, res.text).toBe(409);
      const { code, outcome } = messageOutcome(res.body);
      expect(code).toBe('fatal-error');
      expect(outcome.issue).toHaveLength(1);
      expect(outcome.issue[0]).toMatchObject({ severity: 'error', code: 'conflict', expression: [`Bundle.entry[${at}].resource.identifier`] });
      expect(outcome.issue[0].details.text).toContain('answers already received are not changed');

      const stored = await fhir(app, 'GET', `/fhir/QuestionnaireResponse/${first.body.id}`);
      expect(stored.body.meta.versionId).toBe('1');
      expect(item9Code(stored.body)).toBe('LA6568-5');
      const after = await onlyReferralOf(app, ids.nhsNumber);
      expect(after.version).toBe(2);
      expect(after.risk).toMatchObject({ selfHarm: false, escalated: false });
    });

    it('a PHQ-9 that joined on its own, resent alone with changed answers → 409 at its identifier, stored version 1', async () => {
      const ids = freshIds();
      expect((await fhir(app, 'POST', '/fhir/$process-message', freshInbound('gp-referral.message.json', ids))).status).toBe(200);
      const sr = await storedServiceRequest(app, ids);
      const joined = lonePhq(ids, `ServiceRequest/${sr.id}`);
      const first = await fhir(app, 'POST', '/fhir/QuestionnaireResponse', joined);
      expect(first.status, first.text).toBe(201);

      const res = await fhir(app, 'POST', '/fhir/QuestionnaireResponse', withSelfHarm(structuredClone(joined)));
      expect(res.status, res.text).toBe(409);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0]).toMatchObject({ severity: 'error', code: 'conflict' });
      expect(res.body.issue[0].details.text).toContain('answers already received are not changed');
      expect((await fhir(app, 'GET', `/fhir/QuestionnaireResponse/${first.body.id}`)).body.meta.versionId).toBe('1');
      expect((await onlyReferralOf(app, ids.nhsNumber)).risk).toMatchObject({ selfHarm: false, escalated: false });
    });
  });

  it('a QuestionnaireResponse alone whose subject references patient B but names A by NHS number, basedOn A\'s referral → 422 at its subject; A\'s referral unchanged', async () => {
    const A = freshIds();
    const B = freshIds();
    const ra = await fhir(app, 'POST', '/fhir', freshInbound('gp-referral.transaction.json', A));
    const rb = await fhir(app, 'POST', '/fhir', freshInbound('gp-referral.transaction.json', B));
    expect([ra.status, rb.status]).toEqual([200, 200]);
    const srA = refOf(entryOf(ra.body, 'ServiceRequest'));
    const patientB = refOf(entryOf(rb.body, 'Patient'));
    const qr = withSelfHarm(lonePhq(A, srA));
    qr.subject = { reference: patientB, identifier: { system: NHS_NUMBER_SYSTEM, value: A.nhsNumber } };

    const res = await fhir(app, 'POST', '/fhir/QuestionnaireResponse', qr);
    expect(res.status, res.text).toBe(422);
    expect(res.body.issue).toEqual([expect.objectContaining({ severity: 'error', code: 'business-rule', expression: ['QuestionnaireResponse.subject'] })]);
    expect(res.body.issue[0].details.text).toContain('must name the same patient');
    expect(await countOf(app, 'QuestionnaireResponse', `identifier=${QR_ID_SYSTEM}|${qr.identifier.value}`)).toBe(0);
    expect(await onlyReferralOf(app, A.nhsNumber)).toMatchObject({ version: 1, risk: { selfHarm: false, escalated: false } });
  });

  it('a conditional create of a Patient whose If-None-Exist names a new MRN (it also carries a stored NHS number) → stored as a new version: 200, the new name, both identifiers', async () => {
    const ids = freshIds();
    const tx = freshInbound('gp-referral.transaction.json', ids);
    const first = await fhir(app, 'POST', '/fhir', tx);
    expect(first.status).toBe(200);
    const patientRef = refOf(entryOf(first.body, 'Patient'));
    const patient = structuredClone(entryOf(tx, 'Patient').resource);
    delete patient.generalPractitioner;
    const mrn = `MRN-${uniqueSuffix()}`;
    patient.identifier.push({ system: MRN_SYSTEM, value: mrn });
    patient.name[0].family = 'Changed';

    const res = await fhir(app, 'POST', '/fhir/Patient', patient, { 'if-none-exist': `identifier=${MRN_SYSTEM}|${mrn}` });
    expect(res.status, res.text).toBe(200);
    expect(`Patient/${res.body.id}`).toBe(patientRef);
    expect(res.body.meta.versionId).toBe('2');
    expect(res.body.name[0].family).toBe('Changed');
    expect(res.body.identifier).toEqual(expect.arrayContaining([{ system: NHS_NUMBER_SYSTEM, value: ids.nhsNumber }, { system: MRN_SYSTEM, value: mrn }]));
    const byMrn = await fhir(app, 'GET', `/fhir/Patient?identifier=${MRN_SYSTEM}|${mrn}`);
    expect(byMrn.body.total).toBe(1);
    expect(byMrn.body.entry[0].resource.id).toBe(res.body.id);
    expect(byMrn.body.entry[0].resource.name[0].family).toBe('Changed');
  });

  describe('the adapter\'s own referral-id identifier is taken off what comes in', () => {
    it('a transaction whose ServiceRequest carries a forged referral id → stored with only the adapter\'s PP-IN-… one; a self-harm PHQ-9 basedOn it joins', async () => {
      const ids = freshIds();
      const tx = freshInbound('gp-referral.transaction.json', ids);
      entryOf(tx, 'ServiceRequest').resource.identifier.push({ system: REFERRAL_ID_SYSTEM, value: `PP-IN-made-up-${uniqueSuffix()}` });
      const res = await fhir(app, 'POST', '/fhir', tx);
      expect(res.status, res.text).toBe(200);
      const sr = await storedServiceRequest(app, ids);
      const ours = sr.identifier.filter((i: any) => i.system === REFERRAL_ID_SYSTEM);
      expect(ours).toHaveLength(1);
      const referral = await onlyReferralOf(app, ids.nhsNumber);
      expect(ours[0].value).toBe(referral.referralId);
      expect(ours[0].value).toMatch(/^PP-IN-[0-9a-f-]{36}$/);

      const joined = await fhir(app, 'POST', '/fhir/QuestionnaireResponse', withSelfHarm(lonePhq(ids, `ServiceRequest/${sr.id}`)));
      expect(joined.status, joined.text).toBe(201);
      expect(await onlyReferralOf(app, ids.nhsNumber)).toMatchObject({ version: 2, risk: { selfHarm: true, escalated: true } });
    });

    it('a referral message whose ServiceRequest carries a forged referral id, then its cancellation → 200 ok, cancelled at version 2', async () => {
      const ids = freshIds();
      const message = freshInbound('gp-referral.message.json', ids);
      entryOf(message, 'ServiceRequest').resource.identifier.push({ system: REFERRAL_ID_SYSTEM, value: `PP-IN-made-up-${uniqueSuffix()}` });
      const res = await fhir(app, 'POST', '/fhir/$process-message', message);
      expect(res.status, res.text).toBe(200);
      expect((await storedServiceRequest(app, ids)).identifier.filter((i: any) => i.system === REFERRAL_ID_SYSTEM)).toHaveLength(1);

      const cancel = await fhir(app, 'POST', '/fhir/$process-message', freshInbound('gp-cancellation.message.json', ids));
      expect(cancel.status, cancel.text).toBe(200);
      expect(messageOutcome(cancel.body).code).toBe('ok');
      expect(await onlyReferralOf(app, ids.nhsNumber)).toMatchObject({ status: 'cancelled', version: 2 });
    });
  });

  describe('one identifier, one resource', () => {
    it('a transaction whose two QuestionnaireResponses share one identifier → 422 duplicate at the second\'s identifier, nothing stored', async () => {
      const ids = freshIds();
      const tx = freshInbound('gp-referral.transaction.json', ids);
      tx.entry[6].resource.identifier = structuredClone(tx.entry[5].resource.identifier);
      const res = await fhir(app, 'POST', '/fhir', tx);
      expect(res.status, res.text).toBe(422);
      expect(res.body.issue).toEqual([expect.objectContaining({ severity: 'error', code: 'duplicate', expression: ['Bundle.entry[6].resource.identifier'] })]);
      expect(res.body.issue[0].details.text).toContain('also on Bundle.entry[5].resource');
      expect(await countOf(app, 'QuestionnaireResponse', `identifier=${QR_ID_SYSTEM}|${ids.phqId}`)).toBe(0);
      expect(await countOf(app, 'Patient', `identifier=${NHS_NUMBER_SYSTEM}|${ids.nhsNumber}`)).toBe(0);
      expect(await inboundReferralsFor(app, ids.nhsNumber)).toHaveLength(0);
    });

    it('a transaction with two Patient entries of one NHS number → 422 duplicate at the second\'s identifier, nothing stored', async () => {
      const ids = freshIds();
      const tx = freshInbound('gp-referral.transaction.json', ids);
      const second = structuredClone(tx.entry[0]);
      second.fullUrl = 'urn:uuid:0d0d0d0d-0000-4000-8000-000000000001';
      second.resource.name[0].family = 'Other';
      tx.entry.push(second);
      const res = await fhir(app, 'POST', '/fhir', tx);
      expect(res.status, res.text).toBe(422);
      expect(res.body.issue).toEqual([expect.objectContaining({ severity: 'error', code: 'duplicate', expression: [`Bundle.entry[${tx.entry.length - 1}].resource.identifier`] })]);
      expect(await countOf(app, 'Patient', `identifier=${NHS_NUMBER_SYSTEM}|${ids.nhsNumber}`)).toBe(0);
      expect(await inboundReferralsFor(app, ids.nhsNumber)).toHaveLength(0);
    });

    it('two Patients of two transactions carrying one forged referral-id identifier → both accepted without it (never 503)', async () => {
      const shared = { system: REFERRAL_ID_SYSTEM, value: `X-shared-${uniqueSuffix()}` };
      for (const ids of [freshIds(), freshIds()]) {
        const tx = freshInbound('gp-referral.transaction.json', ids);
        entryOf(tx, 'Patient').resource.identifier.push(shared);
        const res = await fhir(app, 'POST', '/fhir', tx);
        expect(res.status, res.text).toBe(200);
        const patient = await fhir(app, 'GET', `/fhir/${refOf(entryOf(res.body, 'Patient'))}`);
        expect(patient.body.identifier.filter((i: any) => i.system === REFERRAL_ID_SYSTEM)).toEqual([]);
      }
      expect(await countOf(app, 'Patient', `identifier=${shared.system}|${shared.value}`)).toBe(0);
    });
  });

  describe('odd values are refused, never a 500', () => {
    const qrAlone = (questionnaire: unknown) => {
      const qr = structuredClone(freshInbound('gp-referral.transaction.json').entry[5].resource);
      qr.questionnaire = questionnaire;
      qr.subject = { identifier: { system: NHS_NUMBER_SYSTEM, value: freshIds().nhsNumber } };
      return qr;
    };
    const message = (change: (header: any) => void) => {
      const m = freshInbound('gp-referral.message.json');
      change(m.entry[0].resource);
      return m;
    };
    it.each([
      ['QuestionnaireResponse.questionnaire 5, POST', '/fhir/QuestionnaireResponse', () => qrAlone(5)],
      ['QuestionnaireResponse.questionnaire {}, POST', '/fhir/QuestionnaireResponse', () => qrAlone({})],
      ['QuestionnaireResponse.questionnaire 5, $validate', '/fhir/QuestionnaireResponse/$validate', () => qrAlone(5)],
      ['QuestionnaireResponse.questionnaire {}, $validate', '/fhir/QuestionnaireResponse/$validate', () => qrAlone({})],
      ['QuestionnaireResponse.questionnaire 5, transaction', '/fhir', () => {
        const tx = freshInbound('gp-referral.transaction.json');
        tx.entry[5].resource.questionnaire = 5;
        return tx;
      }],
      ['QuestionnaireResponse.questionnaire {}, transaction', '/fhir', () => {
        const tx = freshInbound('gp-referral.transaction.json');
        tx.entry[5].resource.questionnaire = {};
        return tx;
      }],
      ...(['/fhir/$process-message', '/fhir/Bundle/$validate'] as const).flatMap((url) => [
        [`MessageHeader.definition 5, ${url}`, url, () => message((h) => (h.definition = 5))],
        [`MessageHeader.definition {}, ${url}`, url, () => message((h) => (h.definition = { a: 1 }))],
        [`MessageHeader.reason.coding {}, ${url}`, url, () => message((h) => (h.reason = { coding: {} }))],
        [`MessageHeader.reason.coding [null], ${url}`, url, () => message((h) => (h.reason = { coding: [null] }))],
      ] as [string, string, () => any][]),
    ] as [string, string, () => any][])('%s → 4xx, or 200 with an OperationOutcome', async (_name, url, body) => {
      const res = await fhir(app, 'POST', url, body());
      expectHandled(res);
    });

    it.each([
      ['ServiceRequest', 'identifier=%00'],
      ['ServiceRequest', `identifier=${encodeURIComponent(UBRN_SYSTEM)}%7C%00`],
      ['ServiceRequest', 'patient:identifier=%00'],
      ['ServiceRequest', 'status=%00'],
      ['ServiceRequest', '_id=%00'],
      ['QuestionnaireResponse', 'identifier=a%7C%00'],
      ['QuestionnaireResponse', 'patient:identifier=%00'],
      ['QuestionnaireResponse', 'status=%00'],
      ['QuestionnaireResponse', '_id=%00'],
    ])('GET /fhir/%s?%s (a NUL in the value) → 400', async (type, query) => {
      const res = await fhir(app, 'GET', `/fhir/${type}?${query}`);
      expect(res.status, res.text).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0].details.text).toContain('control character');
    });

    it('a NUL in If-None-Exist (a transaction entry\'s ifNoneExist, and the header of a create) → 400, nothing stored', async () => {
      const ids = freshIds();
      const tx = freshInbound('gp-referral.transaction.json', ids);
      entryOf(tx, 'ServiceRequest').request.ifNoneExist = 'status=%00';
      const res = await fhir(app, 'POST', '/fhir', tx);
      expect(res.status, res.text).toBe(400);
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${ids.ubrn}`)).toBe(0);

      const other = freshIds();
      const patient = entryOf(freshInbound('gp-referral.transaction.json', other), 'Patient').resource;
      delete patient.generalPractitioner;
      const created = await fhir(app, 'POST', '/fhir/Patient', patient, { 'if-none-exist': 'identifier=x%7C%00' });
      expect(created.status, created.text).toBe(400);
      expect(await countOf(app, 'Patient', `identifier=${NHS_NUMBER_SYSTEM}|${other.nhsNumber}`)).toBe(0);
    });
  });

  it('one X-Request-ID, one body, first with If-None-Exist and then without → the second is refused 409, not replayed', async () => {
    const ids = freshIds();
    const tx = freshInbound('gp-referral.transaction.json', ids);
    expect((await fhir(app, 'POST', '/fhir', tx)).status).toBe(200);
    const patient = structuredClone(entryOf(tx, 'Patient').resource);
    delete patient.generalPractitioner;
    patient.name[0].family = 'NewName';
    const requestId = `ine-${uniqueSuffix()}`;

    const first = await fhir(app, 'POST', '/fhir/Patient', patient, { 'x-request-id': requestId, 'if-none-exist': `identifier=${NHS_NUMBER_SYSTEM}|${ids.nhsNumber}` });
    expect(first.status, first.text).toBe(200);
    expect(first.body.name[0].family).not.toBe('NewName');
    const second = await fhir(app, 'POST', '/fhir/Patient', patient, { 'x-request-id': requestId });
    expect(second.status, second.text).toBe(409);
    expect(second.body.resourceType).toBe('OperationOutcome');
    expect(second.headers['x-replayed']).toBeUndefined();
    const stored = await fhir(app, 'GET', `/fhir/Patient?identifier=${NHS_NUMBER_SYSTEM}|${ids.nhsNumber}`);
    expect(stored.body.entry[0].resource.name[0].family).not.toBe('NewName');
  });
});

describe('identifier searches by value on sqlite', () => {
  let app: App;
  beforeAll(async () => {
    app = await startApp('sqlite');
  });
  afterAll(async () => {
    await app?.stop();
  });

  it.each([['identifier=X-1'], ['patient:identifier=X-1']])('the SQL of a search %s reads fhir_identifiers by fhir_identifiers_value_idx', async (query) => {
    // The repository's own search, its queries caught as they go out, then explained.
    const caught: CompiledQuery[] = [];
    const db = app.store.db as any;
    const catcher: KyselyPlugin = {
      transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
        caught.push(db.getExecutor().compileQuery(args.node, args.queryId));
        return args.node;
      },
      async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
        return args.result;
      },
    };
    const type = query.startsWith('patient:') ? 'ServiceRequest' : 'Patient';
    const repo = new FhirRepository(db.withPlugin(catcher), 'sqlite');
    const [name, value] = query.split('=') as [string, string];
    await repo.search(type, parseSearchQuery(type, { [name]: value }).criteria, { count: 10, offset: 0 });
    expect(caught.length).toBeGreaterThan(0);
    const plan = await db.executeQuery(CompiledQuery.raw(`EXPLAIN QUERY PLAN ${caught[0]!.sql}`, [...caught[0]!.parameters]));
    expect(plan.rows.map((r: any) => r.detail).join('\n')).toContain('fhir_identifiers_value_idx');
  });
});

// Third review: a condition, a reference or a repeated answer must never make one patient's data another's.
describe.each(dialects)('FHIR front door safety (third review) on %s', (dialect) => {
  let app: App;
  beforeAll(async () => {
    app = await startApp(dialect);
  });
  afterAll(async () => {
    await app.stop();
  });
  const LOCAL_REFERRAL = 'https://fhir.eccles-practice.example/Id/referral';

  it('a conditional create on an MRN that another stored patient carries → 409, the new patient is not linked to the other one', async () => {
    const b = freshIds();
    const mrn = `M-${uniqueSuffix()}`;
    const tb = freshInbound('gp-referral.transaction.json', b);
    entryOf(tb, 'Patient').resource.identifier.push({ system: MRN_SYSTEM, value: mrn });
    expect((await fhir(app, 'POST', '/fhir', tb)).status).toBe(200);
    const a = freshIds();
    const ta = freshInbound('gp-referral.transaction.json', a);
    const patientEntry = entryOf(ta, 'Patient');
    patientEntry.resource.identifier.push({ system: MRN_SYSTEM, value: mrn });
    patientEntry.request.ifNoneExist = `identifier=${MRN_SYSTEM}|${mrn}`;
    const res = await fhir(app, 'POST', '/fhir', ta);
    expect([409, 412]).toContain(res.status);
    expect(await countOf(app, 'Patient', `identifier=${NHS_NUMBER_SYSTEM}|${a.nhsNumber}`)).toBe(0);
    expect(await inboundReferralsFor(app, a.nhsNumber)).toHaveLength(0);
  });

  it('a conditional create on a local referral id another patient\'s referral carries → 412; a self-harm answer sent with it does not flag that referral', async () => {
    const b = freshIds();
    const local = `REF-${uniqueSuffix()}`;
    const tb = freshInbound('gp-referral.transaction.json', b);
    entryOf(tb, 'ServiceRequest').resource.identifier.push({ system: LOCAL_REFERRAL, value: local });
    expect((await fhir(app, 'POST', '/fhir', tb)).status).toBe(200);
    const a = freshIds();
    const ta = freshInbound('gp-referral.transaction.json', a);
    const sr = entryOf(ta, 'ServiceRequest');
    sr.resource.identifier.push({ system: LOCAL_REFERRAL, value: local });
    sr.request.ifNoneExist = `identifier=${LOCAL_REFERRAL}|${local}`;
    const phq = withSelfHarm(ta.entry[5].resource);
    expect(item9Code(phq)).not.toBe('LA6568-5');
    const res = await fhir(app, 'POST', '/fhir', ta);
    expect(res.status).toBe(412);
    expect(res.body.issue[0].expression).toEqual([`Bundle.entry[${ta.entry.indexOf(sr)}].request.ifNoneExist`]);
    const referralB = await onlyReferralOf(app, b.nhsNumber);
    expect(referralB.version).toBe(1);
    expect(referralB.risk.selfHarm).toBe(false);
    expect(await inboundReferralsFor(app, a.nhsNumber)).toHaveLength(0);
  });

  it('a forged referral-id in a ServiceRequest and its If-None-Exist cannot answer with another referral → 412', async () => {
    const victim = freshIds();
    expect((await fhir(app, 'POST', '/fhir', freshInbound('gp-referral.transaction.json', victim))).status).toBe(200);
    const victimSr = await storedServiceRequest(app, victim);
    const victimId = victimSr.identifier.find((i: any) => i.system === REFERRAL_ID_SYSTEM).value;
    const x = freshIds();
    const tx = freshInbound('gp-referral.transaction.json', x);
    const sr = entryOf(tx, 'ServiceRequest');
    sr.resource.identifier.push({ system: REFERRAL_ID_SYSTEM, value: victimId });
    sr.request.ifNoneExist = `identifier=${REFERRAL_ID_SYSTEM}|${victimId}`;
    const res = await fhir(app, 'POST', '/fhir', tx);
    expect(res.status).toBe(412);
    expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${x.ubrn}`)).toBe(0);
    expect(await countOf(app, 'QuestionnaireResponse', `identifier=${QR_ID_SYSTEM}|${x.phqId}`)).toBe(0);
  });

  it('a cancellation whose repeated answers carry a regenerated authored → 200 ok, cancelled; the answers kept as first received', async () => {
    const ids = freshIds();
    expect(messageOutcome((await fhir(app, 'POST', '/fhir/$process-message', freshInbound('gp-referral.message.json', ids))).body).code).toBe('ok');
    const cancel = freshInbound('gp-cancellation.message.json', ids);
    const qrs = cancel.entry.filter((e: any) => e.resource.resourceType === 'QuestionnaireResponse');
    expect(qrs.length).toBeGreaterThan(0);
    for (const e of qrs) e.resource.authored = '2026-11-22T08:00:00+00:00';
    const res = await fhir(app, 'POST', '/fhir/$process-message', cancel);
    expect(res.status, res.text).toBe(200);
    expect(messageOutcome(res.body).code).toBe('ok');
    const referral = await onlyReferralOf(app, ids.nhsNumber);
    expect(referral.status).toBe('cancelled');
    const phq = await fhir(app, 'GET', `/fhir/QuestionnaireResponse?identifier=${QR_ID_SYSTEM}|${ids.phqId}`);
    expect(phq.body.entry[0].resource.meta.versionId).toBe('1');
    expect(phq.body.entry[0].resource.authored).not.toBe('2026-11-22T08:00:00+00:00');
  });

  it('a QuestionnaireResponse whose subject references a contained Patient without the NHS number it also names → 422; the referral named in basedOn unchanged', async () => {
    const victim = freshIds();
    expect((await fhir(app, 'POST', '/fhir', freshInbound('gp-referral.transaction.json', victim))).status).toBe(200);
    const victimSr = await storedServiceRequest(app, victim);
    const qr = lonePhq(victim, `ServiceRequest/${victimSr.id}`);
    qr.contained = [{ resourceType: 'Patient', id: 'p', identifier: [{ system: MRN_SYSTEM, value: `M-${uniqueSuffix()}` }], name: [{ family: 'Other' }] }];
    qr.subject = { reference: '#p', identifier: { system: NHS_NUMBER_SYSTEM, value: victim.nhsNumber } };
    const res = await fhir(app, 'POST', '/fhir/QuestionnaireResponse', qr);
    expect(res.status).toBe(422);
    expect(res.body.issue.some((i: any) => (i.expression ?? []).some((e: string) => e.startsWith('QuestionnaireResponse.subject')))).toBe(true);
    expect((await onlyReferralOf(app, victim.nhsNumber)).version).toBe(1);
  });

  it('a Patient with two hospital numbers of one system, resent with If-None-Exist on its NHS number, and a second referral for it → 200 both times, two referrals', async () => {
    const ids = freshIds();
    const mrns = [{ system: MRN_SYSTEM, value: `A-${uniqueSuffix()}` }, { system: MRN_SYSTEM, value: `B-${uniqueSuffix()}` }];
    const first = freshInbound('gp-referral.transaction.json', ids);
    entryOf(first, 'Patient').resource.identifier.push(...mrns);
    expect((await fhir(app, 'POST', '/fhir', first)).status).toBe(200);
    const resend = await fhir(app, 'POST', '/fhir', first);
    expect(resend.status, resend.text).toBe(200);
    const second = freshInbound('gp-referral.transaction.json', { ...ids, ubrn: freshIds().ubrn, phqId: `${ids.phqId}-2`, gadId: `${ids.gadId}-2` });
    entryOf(second, 'Patient').resource.identifier.push(...mrns);
    const res = await fhir(app, 'POST', '/fhir', second);
    expect(res.status, res.text).toBe(200);
    expect(await inboundReferralsFor(app, ids.nhsNumber)).toHaveLength(2);
  });

  it('a conditional create of a QuestionnaireResponse on an identifier another patient\'s answers carry → 412, nothing stored for the sender', async () => {
    const x = freshIds();
    expect((await fhir(app, 'POST', '/fhir', freshInbound('gp-referral.transaction.json', x))).status).toBe(200);
    const y = { ...freshIds(), phqId: x.phqId };
    const ty = freshInbound('gp-referral.transaction.json', y);
    ty.entry[5].request.ifNoneExist = `identifier=${QR_ID_SYSTEM}|${x.phqId}`;
    const res = await fhir(app, 'POST', '/fhir', ty);
    expect(res.status).toBe(412);
    expect(res.body.issue[0].expression).toEqual(['Bundle.entry[5].request.ifNoneExist']);
    expect(await inboundReferralsFor(app, y.nhsNumber)).toHaveLength(0);
  });

  it('a cancellation whose repeated answers differ keeps, in FHIR and in the referral, the answers first received (a self-harm finding stays), and says so', async () => {
    const ids = freshIds();
    const message = freshInbound('gp-referral.message.json', ids);
    const phqAt = message.entry.findIndex((e: any) => e.resource.resourceType === 'QuestionnaireResponse' && String(e.resource.questionnaire).includes('phq-9'));
    withSelfHarm(message.entry[phqAt].resource);
    expect(messageOutcome((await fhir(app, 'POST', '/fhir/$process-message', message)).body).code).toBe('ok');
    const cancel = freshInbound('gp-cancellation.message.json', ids);
    const res = await fhir(app, 'POST', '/fhir/$process-message', cancel);
    expect(res.status, res.text).toBe(200);
    const { code, outcome } = messageOutcome(res.body);
    expect(code).toBe('ok');
    expect(outcome.issue.some((i: any) => i.severity === 'warning' && /kept as first received/.test(i.details.text))).toBe(true);
    const referral = await onlyReferralOf(app, ids.nhsNumber);
    expect(referral.status).toBe('cancelled');
    expect(referral.risk).toMatchObject({ selfHarm: true });
    expect(referral.scores.find((x: any) => x.instrument === 'PHQ-9').total).toBe(16);
    expect(referral.assessments.find((a: any) => a.instrument === 'PHQ-9').answers['9']).toBe(3);
  });

  it('an update whose repeated answers carry a regenerated authored keeps the assessments as first received (completedAt unchanged)', async () => {
    const ids = freshIds();
    expect(messageOutcome((await fhir(app, 'POST', '/fhir/$process-message', freshInbound('gp-referral.message.json', ids))).body).code).toBe('ok');
    const before = await onlyReferralOf(app, ids.nhsNumber);
    const update = updateMessage(ids);
    for (const e of update.entry) if (e.resource.resourceType === 'QuestionnaireResponse') e.resource.authored = '2026-11-23T07:00:00+00:00';
    const res = await fhir(app, 'POST', '/fhir/$process-message', update);
    expect(res.status, res.text).toBe(200);
    const after = await onlyReferralOf(app, ids.nhsNumber);
    expect(after.assessments.map((a: any) => a.completedAt)).toEqual(before.assessments.map((a: any) => a.completedAt));
  });

  it('a cancellation that now discloses self-harm under answers received without it → 422 (send them as a new answer set); the referral stays as it was', async () => {
    const ids = freshIds();
    expect(messageOutcome((await fhir(app, 'POST', '/fhir/$process-message', freshInbound('gp-referral.message.json', ids))).body).code).toBe('ok');
    const cancel = freshInbound('gp-cancellation.message.json', ids);
    const phqAt = cancel.entry.findIndex((e: any) => e.resource.resourceType === 'QuestionnaireResponse' && String(e.resource.questionnaire).includes('phq-9'));
    withSelfHarm(cancel.entry[phqAt].resource);
    const res = await fhir(app, 'POST', '/fhir/$process-message', cancel);
    expect(res.status).toBe(422);
    const { code, outcome } = messageOutcome(res.body);
    expect(code).toBe('fatal-error');
    expect(outcome.issue[0].expression).toEqual([`Bundle.entry[${phqAt}].resource.item`]);
    expect(outcome.issue[0].details.text).toContain('new QuestionnaireResponse with its own identifier');
    const referral = await onlyReferralOf(app, ids.nhsNumber);
    expect(referral).toMatchObject({ version: 1, status: 'active' });
  });

  it('an update or cancellation of one referral carrying the answer identifier of another referral of the same patient → 409; neither referral changes', async () => {
    const r1 = freshIds();
    const r2 = { ...freshIds(), nhsNumber: r1.nhsNumber };
    expect(messageOutcome((await fhir(app, 'POST', '/fhir/$process-message', freshInbound('gp-referral.message.json', r1))).body).code).toBe('ok');
    expect(messageOutcome((await fhir(app, 'POST', '/fhir/$process-message', freshInbound('gp-referral.message.json', r2))).body).code).toBe('ok');
    for (const message of [updateMessage({ ...r1, phqId: r2.phqId }), freshInbound('gp-cancellation.message.json', { ...r1, phqId: r2.phqId })]) {
      const res = await fhir(app, 'POST', '/fhir/$process-message', message);
      expect(res.status).toBe(409);
      expect(messageOutcome(res.body).code).toBe('fatal-error');
    }
    const referrals = await inboundReferralsFor(app, r1.nhsNumber);
    expect(referrals).toHaveLength(2);
    for (const r of referrals) expect(r).toMatchObject({ version: 1, status: 'active' });
  });

  it('a message naming an answer set by the adapter\'s content-key identifier cannot take another referral\'s answers', async () => {
    const c1 = freshIds();
    const m1 = freshInbound('gp-referral.message.json', c1);
    const phqAt = m1.entry.findIndex((e: any) => e.resource.resourceType === 'QuestionnaireResponse' && String(e.resource.questionnaire).includes('phq-9'));
    delete m1.entry[phqAt].resource.identifier;
    withSelfHarm(m1.entry[phqAt].resource);
    expect(messageOutcome((await fhir(app, 'POST', '/fhir/$process-message', m1)).body).code).toBe('ok');
    const first = await onlyReferralOf(app, c1.nhsNumber);
    const stored = (await fhir(app, 'GET', `/fhir/${first.fhir.questionnaireResponses[0]}`)).body;
    expect(stored.identifier.system).toBe('https://fhir.painplatform.uk/Id/received-content-sha256');
    const c2 = { ...freshIds(), nhsNumber: c1.nhsNumber };
    expect(messageOutcome((await fhir(app, 'POST', '/fhir/$process-message', freshInbound('gp-referral.message.json', c2))).body).code).toBe('ok');
    const cancel = freshInbound('gp-cancellation.message.json', c2);
    cancel.entry[phqAt].resource.identifier = stored.identifier;
    const res = await fhir(app, 'POST', '/fhir/$process-message', cancel);
    expect(messageOutcome(res.body).code).toBe('ok');
    const referrals = await inboundReferralsFor(app, c1.nhsNumber);
    const second = referrals.find((r: any) => r.referralId !== first.referralId);
    expect(second.status).toBe('cancelled');
    expect(second.fhir.questionnaireResponses).not.toContain(first.fhir.questionnaireResponses[0]);
    expect(second.risk.selfHarm).toBe(false);
  });
});

