// The FHIR front door's safety rules, each one a reviewer's reproduction of a hole that is now closed
// (SQLite and PostgreSQL): answers sent beside a referral already received, or naming it by identifier,
// join it and the self-harm rule runs; a self-harm PHQ-9 naming no referral is refused; answers the
// platform cannot read are refused; identifiers naming another stored patient are a conflict; an update
// cannot move a referral to another patient or reopen a cancelled one; If-None-Exist must name this
// resource; X-Request-ID is claimed before any work; malformed Bundles are 400/422, never 500.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, startApp, uniqueSuffix } from '../support/app.js';
import { countOf, entryOf, fhir, freshIds, freshInbound, freshNhsNumber, inboundReferralsFor, messageOutcome, NHS_NUMBER_SYSTEM, onlyReferralOf, QR_ID_SYSTEM, refOf, UBRN_SYSTEM, withSelfHarm, type FreshIds } from '../support/fhir.js';
import type { App } from '../../src/server.js';

const REASONS = 'https://fhir.nhs.uk/CodeSystem/message-reason-bars';
const MRN_SYSTEM = 'https://fhir.eccles-practice.example/Id/patient';

/** The GP transaction of `ids` stored; its ServiceRequest's `ServiceRequest/id`. */
async function receiveReferral(app: App, ids: FreshIds): Promise<string> {
  const res = await fhir(app, 'POST', '/fhir', freshInbound('gp-referral.transaction.json', ids));
  expect(res.status, res.text).toBe(200);
  return refOf(entryOf(res.body, 'ServiceRequest'));
}

/** The PHQ-9 of `ids` as a QuestionnaireResponse of its own: a new identifier, the patient named by NHS number. */
function standalonePhq(ids: FreshIds, basedOn: any[]): any {
  const qr = withSelfHarm(structuredClone(freshInbound('gp-referral.transaction.json', ids).entry[5].resource));
  qr.identifier.value = `${ids.phqId}-${uniqueSuffix()}`;
  qr.subject = { identifier: { system: NHS_NUMBER_SYSTEM, value: ids.nhsNumber } };
  qr.basedOn = basedOn;
  return qr;
}

/** The referral message of `ids` resent as an update (a new MessageHeader id), its ServiceRequest status `status`. */
function updateMessage(ids: FreshIds, status: string): any {
  const message = freshInbound('gp-referral.message.json', ids);
  message.entry[0].resource.id = `mh-update-${uniqueSuffix()}`;
  message.entry[0].resource.reason = { coding: [{ system: REASONS, code: 'update' }] };
  entryOf(message, 'ServiceRequest').resource.status = status;
  return message;
}

describe.each(dialects)('FHIR front door safety on %s', (dialect) => {
  let app: App;
  beforeAll(async () => {
    app = await startApp(dialect);
  });
  afterAll(async () => {
    await app?.stop();
  });

  describe('answers that come after the referral join it, and the self-harm rule runs', () => {
    it.each([
      ['unchanged', (_sr: any) => {}],
      ['matched by its ifNoneExist (its note changed)', (sr: any) => {
        sr.resource.note = [{ text: 'a different note: the conditional create matches the stored referral' }];
      }],
    ])('a transaction resent with the ServiceRequest %s and a new self-harm PHQ-9 → the PHQ-9 201 with a warning, the referral version 2 and escalated', async (_name, change) => {
      const ids = freshIds();
      const srRef = await receiveReferral(app, ids);
      expect((await onlyReferralOf(app, ids.nhsNumber)).risk).toMatchObject({ selfHarm: false, escalated: false });

      const sent = freshInbound('gp-referral.transaction.json', ids);
      const phq = withSelfHarm(sent.entry[5].resource);
      phq.identifier.value = `${ids.phqId}-followup`;
      const srEntry = entryOf(sent, 'ServiceRequest');
      change(srEntry);
      const res = await fhir(app, 'POST', '/fhir', sent);
      expect(res.status).toBe(200);
      expect(res.body.type).toBe('transaction-response');
      const phqAnswer = res.body.entry[5];
      expect(phqAnswer.response.status).toBe('201 Created');
      const warnings = phqAnswer.response.outcome.issue;
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ severity: 'warning', code: 'business-rule' });
      expect(warnings[0].details.text).toContain('Self-harm risk found (PHQ-9 item 9 = 3');
      expect(res.body.entry[sent.entry.indexOf(srEntry)].response.status).toBe('200 OK');
      expect(refOf(res.body.entry[sent.entry.indexOf(srEntry)])).toBe(srRef);

      const referral = await onlyReferralOf(app, ids.nhsNumber);
      expect(referral.version).toBe(2);
      expect(referral.risk).toMatchObject({ selfHarm: true, escalated: true });
      expect(referral.scores).toEqual(expect.arrayContaining([expect.objectContaining({ assessmentId: `QR-${refOf(phqAnswer).split('/')[1]}`, instrument: 'PHQ-9', total: 16 })]));
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${ids.ubrn}`)).toBe(1);
    });

    it.each([
      ['the sender\'s identifier (UBRN)', (ids: FreshIds, _sr: string) => ({ identifier: { system: UBRN_SYSTEM, value: ids.ubrn }, type: 'ServiceRequest' })],
      ['ServiceRequest/<id>', (_ids: FreshIds, sr: string) => ({ reference: sr })],
    ])('a self-harm PHQ-9 posted alone, basedOn %s → 201, joins the referral (version 2, escalated)', async (_name, basedOn) => {
      const ids = freshIds();
      const srRef = await receiveReferral(app, ids);
      const qr = standalonePhq(ids, [basedOn(ids, srRef)]);
      const res = await fhir(app, 'POST', '/fhir/QuestionnaireResponse', qr);
      expect(res.status).toBe(201);
      const referral = await onlyReferralOf(app, ids.nhsNumber);
      expect(referral.version).toBe(2);
      expect(referral.risk).toMatchObject({ selfHarm: true, escalated: true });
      expect(referral.risk.source).toEqual([expect.stringContaining(`QR-${res.body.id}`)]);
    });

    it('two new answers in one transaction, both basedOn the stored ServiceRequest → both 201, the referral version 3 with both scores', async () => {
      const ids = freshIds();
      const srRef = await receiveReferral(app, ids);
      const tx = freshInbound('gp-referral.transaction.json', ids);
      const phq = standalonePhq(ids, [{ reference: srRef }]);
      const gad = structuredClone(tx.entry[6].resource);
      gad.identifier.value = `${ids.gadId}-again`;
      gad.subject = phq.subject;
      gad.basedOn = [{ reference: srRef }];
      const bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [phq, gad].map((resource, i) => ({ fullUrl: `urn:uuid:5afe0000-0000-4000-8000-00000000000${i}`, resource, request: { method: 'POST', url: 'QuestionnaireResponse' } })),
      };
      const res = await fhir(app, 'POST', '/fhir', bundle);
      expect(res.status).toBe(200);
      expect(res.body.entry.map((e: any) => e.response.status)).toEqual(['201 Created', '201 Created']);
      const [phqId, gadId] = res.body.entry.map((e: any) => refOf(e).split('/')[1]);
      const referral = await onlyReferralOf(app, ids.nhsNumber);
      expect(referral.version).toBe(3);
      expect(referral.risk).toMatchObject({ selfHarm: true, escalated: true });
      expect(referral.scores).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ assessmentId: `QR-${phqId}`, instrument: 'PHQ-9', total: 16 }),
          expect.objectContaining({ assessmentId: `QR-${gadId}`, instrument: 'GAD-7', total: 8 }),
        ]),
      );
      expect(referral.scores).toHaveLength(4);
    });

    it('a transaction with the Patient and a PHQ-9 whose subject is that Patient\'s urn:uuid and basedOn a stored ServiceRequest → 200, joined', async () => {
      const ids = freshIds();
      const srRef = await receiveReferral(app, ids);
      const tx = freshInbound('gp-referral.transaction.json', ids);
      const patient = tx.entry[0];
      delete patient.resource.generalPractitioner;
      const phq = withSelfHarm(structuredClone(tx.entry[5].resource));
      phq.identifier.value = `${ids.phqId}-in-tx`;
      expect(phq.subject.reference).toBe(patient.fullUrl);
      phq.basedOn = [{ reference: srRef }];
      const bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [patient, { fullUrl: 'urn:uuid:5afe0000-0000-4000-8000-000000000011', resource: phq, request: { method: 'POST', url: 'QuestionnaireResponse' } }],
      };
      const res = await fhir(app, 'POST', '/fhir', bundle);
      expect(res.status).toBe(200);
      expect(res.body.entry.map((e: any) => e.response.status)).toEqual(['200 OK', '201 Created']);
      const stored = await fhir(app, 'GET', `/fhir/${refOf(res.body.entry[1])}`);
      expect(stored.body.subject.reference).toBe(refOf(res.body.entry[0]));
      expect(stored.body.basedOn[0].reference).toBe(srRef);
      const referral = await onlyReferralOf(app, ids.nhsNumber);
      expect(referral.version).toBe(2);
      expect(referral.risk).toMatchObject({ selfHarm: true, escalated: true });
    });
  });

  it('a self-harm PHQ-9 in the same transaction as its ServiceRequest, naming it only by its UBRN in basedOn → part of that referral (escalated)', async () => {
    const ids = freshIds();
    const sent = freshInbound('gp-referral.transaction.json', ids);
    const sr = entryOf(sent, 'ServiceRequest').resource;
    sr.supportingInfo = sr.supportingInfo.filter((s: any) => s.reference !== sent.entry[5].fullUrl);
    const phq = withSelfHarm(sent.entry[5].resource);
    phq.basedOn = [{ identifier: { system: UBRN_SYSTEM, value: ids.ubrn } }];
    const res = await fhir(app, 'POST', '/fhir', sent);
    expect(res.status).toBe(200);
    const referral = await onlyReferralOf(app, ids.nhsNumber);
    expect(referral.version).toBe(1);
    expect(referral.risk).toMatchObject({ selfHarm: true, escalated: true });
    expect(referral.scores.map((x: any) => x.instrument).sort()).toEqual(['GAD-7', 'PHQ-9']);
  });

  describe('answers the platform would never see are refused', () => {
    it('a transaction whose self-harm PHQ-9 names no referral (no basedOn, not in supportingInfo) → 422 at its basedOn, nothing stored', async () => {
      const ids = freshIds();
      const sent = freshInbound('gp-referral.transaction.json', ids);
      const sr = entryOf(sent, 'ServiceRequest').resource;
      sr.supportingInfo = sr.supportingInfo.filter((s: any) => s.reference !== sent.entry[5].fullUrl);
      const phq = withSelfHarm(sent.entry[5].resource);
      delete phq.basedOn;
      const res = await fhir(app, 'POST', '/fhir', sent);
      expect(res.status).toBe(422);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue).toHaveLength(1);
      expect(res.body.issue[0]).toMatchObject({ severity: 'error', code: 'business-rule', expression: ['Bundle.entry[5].resource.basedOn'] });
      expect(res.body.issue[0].details.text).toContain('names no referral');
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${ids.ubrn}`)).toBe(0);
      expect(await countOf(app, 'QuestionnaireResponse', `identifier=${QR_ID_SYSTEM}|${ids.phqId}`)).toBe(0);
      expect(await countOf(app, 'QuestionnaireResponse', `identifier=${QR_ID_SYSTEM}|${ids.gadId}`)).toBe(0);
      expect(await inboundReferralsFor(app, ids.nhsNumber)).toHaveLength(0);
    });

    it('a PHQ-9 with status stopped posted alone for a stored referral → 422 (the platform cannot read it), nothing stored', async () => {
      const ids = freshIds();
      const srRef = await receiveReferral(app, ids);
      const qr = standalonePhq(ids, [{ reference: srRef }]);
      qr.status = 'stopped';
      const res = await fhir(app, 'POST', '/fhir/QuestionnaireResponse', qr);
      expect(res.status).toBe(422);
      expect(res.body.issue).toHaveLength(1);
      expect(res.body.issue[0]).toMatchObject({ severity: 'error', code: 'business-rule' });
      expect(res.body.issue[0].details.text).toContain('"stopped" has no native counterpart');
      expect(await countOf(app, 'QuestionnaireResponse', `identifier=${QR_ID_SYSTEM}|${qr.identifier.value}`)).toBe(0);
      const referral = await onlyReferralOf(app, ids.nhsNumber);
      expect(referral.version).toBe(1);
      expect(referral.risk).toMatchObject({ selfHarm: false, escalated: false });
    });
  });

  describe('a Patient identifier that belongs to another stored patient → 409, the stored Patient unchanged', () => {
    it.each([
      ['a patient never received (new NHS number)', false],
      ['a patient received before with another NHS number', true],
    ])('sent for %s', async (_name, otherReceivedFirst) => {
      const mrn = `MRN-${uniqueSuffix()}`;
      const idsA = freshIds();
      const txA = freshInbound('gp-referral.transaction.json', idsA);
      txA.entry[0].resource.identifier.push({ system: MRN_SYSTEM, value: mrn });
      const resA = await fhir(app, 'POST', '/fhir', txA);
      expect(resA.status).toBe(200);
      const patientA = refOf(resA.body.entry[0]);

      const idsB = freshIds();
      if (otherReceivedFirst) await receiveReferral(app, idsB);
      // the second referral of B (when B was received first) carries its own UBRN and answers
      const idsB2 = otherReceivedFirst ? { ...freshIds(), nhsNumber: idsB.nhsNumber, sdsId: idsB.sdsId, gpOds: idsB.gpOds, serviceOds: idsB.serviceOds } : idsB;
      const txB = freshInbound('gp-referral.transaction.json', idsB2);
      txB.entry[0].resource.identifier.push({ system: MRN_SYSTEM, value: mrn });
      txB.entry[0].resource.name[0].family = 'Jones';
      delete txB.entry[0].request.ifNoneExist;
      const resB = await fhir(app, 'POST', '/fhir', txB);
      expect(resB.status).toBe(409);
      expect(resB.body.issue).toHaveLength(1);
      expect(resB.body.issue[0]).toMatchObject({ severity: 'error', code: 'conflict', expression: ['Bundle.entry[0].resource.identifier'] });
      expect(resB.body.issue[0].details.text).toContain(patientA);

      const storedA = await fhir(app, 'GET', `/fhir/${patientA}`);
      expect(storedA.status).toBe(200);
      expect(storedA.body.meta.versionId).toBe('1');
      expect(storedA.body.identifier).toEqual([{ system: NHS_NUMBER_SYSTEM, value: idsA.nhsNumber }, { system: MRN_SYSTEM, value: mrn }]);
      expect(storedA.body.name[0].family).toBe('Smith');
      expect(await countOf(app, 'Patient', `identifier=${NHS_NUMBER_SYSTEM}|${idsB.nhsNumber}`)).toBe(otherReceivedFirst ? 1 : 0);
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${txB.entry[7].resource.identifier[0].value}`)).toBe(0);
      expect(await inboundReferralsFor(app, idsB.nhsNumber)).toHaveLength(otherReceivedFirst ? 1 : 0);
      expect((await onlyReferralOf(app, idsA.nhsNumber)).patient.nhsNumber).toBe(idsA.nhsNumber);
    });
  });

  describe('$process-message updates', () => {
    it('an update naming another patient (same UBRN, another NHS number) → 422 fatal-error at its subject; the referral stays with the first patient', async () => {
      const ids = freshIds();
      expect((await fhir(app, 'POST', '/fhir/$process-message', freshInbound('gp-referral.message.json', ids))).status).toBe(200);
      const other = { ...ids, nhsNumber: freshNhsNumber(), phqId: `${ids.phqId}-o`, gadId: `${ids.gadId}-o` };
      const res = await fhir(app, 'POST', '/fhir/$process-message', updateMessage(other, 'active'));
      expect(res.status).toBe(422);
      const { code, outcome } = messageOutcome(res.body);
      expect(code).toBe('fatal-error');
      expect(outcome.issue).toHaveLength(1);
      expect(outcome.issue[0]).toMatchObject({ severity: 'error', code: 'business-rule', expression: ['Bundle.entry[8].resource.subject'] });
      expect(outcome.issue[0].details.text).toContain('cannot move a referral to another patient');
      const referral = await onlyReferralOf(app, ids.nhsNumber);
      expect(referral.version).toBe(1);
      expect(referral.patient.nhsNumber).toBe(ids.nhsNumber);
      expect(await inboundReferralsFor(app, other.nhsNumber)).toHaveLength(0);
      expect(await countOf(app, 'Patient', `identifier=${NHS_NUMBER_SYSTEM}|${other.nhsNumber}`)).toBe(0);
    });

    it('after a cancellation, a late update with status active → 422 at its status (already revoked), still cancelled at version 2; an update to entered-in-error → 200 ok', async () => {
      const ids = freshIds();
      expect((await fhir(app, 'POST', '/fhir/$process-message', freshInbound('gp-referral.message.json', ids))).status).toBe(200);
      const cancel = await fhir(app, 'POST', '/fhir/$process-message', freshInbound('gp-cancellation.message.json', ids));
      expect(cancel.status).toBe(200);
      expect(messageOutcome(cancel.body).code).toBe('ok');
      expect(await onlyReferralOf(app, ids.nhsNumber)).toMatchObject({ status: 'cancelled', version: 2 });

      const late = await fhir(app, 'POST', '/fhir/$process-message', updateMessage(ids, 'active'));
      expect(late.status).toBe(422);
      const { code, outcome } = messageOutcome(late.body);
      expect(code).toBe('fatal-error');
      expect(outcome.issue).toHaveLength(1);
      expect(outcome.issue[0]).toMatchObject({ severity: 'error', code: 'business-rule', expression: ['Bundle.entry[8].resource.status'] });
      expect(outcome.issue[0].details.text).toContain('already revoked');
      expect(await onlyReferralOf(app, ids.nhsNumber)).toMatchObject({ status: 'cancelled', version: 2 });
      const sr = await fhir(app, 'GET', `/fhir/ServiceRequest?identifier=${UBRN_SYSTEM}|${ids.ubrn}`);
      expect(sr.body.entry[0].resource.status).toBe('revoked');

      const withdrawn = await fhir(app, 'POST', '/fhir/$process-message', updateMessage(ids, 'entered-in-error'));
      expect(withdrawn.status).toBe(200);
      expect(messageOutcome(withdrawn.body).code).toBe('ok');
      expect((await onlyReferralOf(app, ids.nhsNumber)).status).not.toBe('active');
    });
  });

  describe('If-None-Exist must name this resource', () => {
    it.each([['?'], ['_count=1']])('If-None-Exist %j → 400, nothing stored', async (condition) => {
      const ids = freshIds();
      await receiveReferral(app, ids);
      const ubrn = freshIds().ubrn;
      const res = await fhir(app, 'POST', '/fhir/ServiceRequest', freshInbound('gp-referral-contained-patient.service-request.json', { ...freshIds(), ubrn, sdsId: ids.sdsId, gpOds: ids.gpOds, serviceOds: ids.serviceOds }), {
        'if-none-exist': condition,
      });
      expect(res.status).toBe(400);
      expect(res.body.issue[0]).toMatchObject({ severity: 'error', code: 'invalid' });
      expect(res.body.issue[0].details.text).toContain('holds no search criterion');
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${ubrn}`)).toBe(0);
    });

    it('If-None-Exist _lastUpdated=gt2000-01-01 matching the one other patient\'s referral → 412, the new referral not stored', async () => {
      // A database of its own holding exactly one referral, so that the condition matches one resource (not several).
      const alone = await startApp(dialect);
      try {
        const ids = freshIds();
        const storedSr = await receiveReferral(alone, ids);
        const other = { ...freshIds(), sdsId: ids.sdsId, gpOds: ids.gpOds, serviceOds: ids.serviceOds };
        const res = await fhir(alone, 'POST', '/fhir/ServiceRequest', freshInbound('gp-referral-contained-patient.service-request.json', other), {
          'if-none-exist': '_lastUpdated=gt2000-01-01',
        });
        expect(res.status).toBe(412);
        expect(res.body.resourceType).toBe('OperationOutcome');
        expect(res.body.issue).toHaveLength(1);
        expect(res.body.issue[0]).toMatchObject({ severity: 'error', code: 'conflict' });
        expect(res.body.issue[0].details.text).toContain(`matches ${storedSr}, whose ${UBRN_SYSTEM} identifier differs from the one sent`);
        expect(await countOf(alone, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${other.ubrn}`)).toBe(0);
        expect(await countOf(alone, 'ServiceRequest', '_count=100')).toBe(1);
        expect(await inboundReferralsFor(alone, other.nhsNumber)).toHaveLength(0);
      } finally {
        await alone.stop();
      }
    });
  });

  it('ten pairs of different transactions, all sent at once, one X-Request-ID per pair: exactly the 2xx answers are stored', async () => {
    const pairs = Array.from({ length: 10 }, (_, k) => ({
      requestId: `pair-${k}-${uniqueSuffix()}`,
      bundles: [freshInbound('gp-referral.transaction.json'), freshInbound('gp-referral.transaction.json')],
    }));
    const answers = await Promise.all(pairs.map((p) => Promise.all(p.bundles.map((b) => fhir(app, 'POST', '/fhir', b, { 'x-request-id': p.requestId })))));
    for (const [k, p] of pairs.entries()) {
      for (const [i, b] of p.bundles.entries()) {
        const status = answers[k]![i]!.status;
        const stored = await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${entryOf(b, 'ServiceRequest').resource.identifier[0].value}`);
        // never "stored and answered 409" (nor answered 2xx and not stored)
        expect({ pair: k, status, stored }).toEqual({ pair: k, status, stored: status >= 200 && status < 300 ? 1 : 0 });
      }
      // one of the pair claims the id; the other, a different body under the same id, is refused. The claimer is
      // stored (200), unless the store was too busy (503, nothing stored: checked above).
      const statuses = answers[k]!.map((a) => a.status);
      expect(statuses.filter((s) => s === 409)).toHaveLength(1);
      expect([200, 503]).toContain(statuses.find((s) => s !== 409));
      const refused = answers[k]!.find((a) => a.status === 409)!;
      expect(refused.body.issue[0]).toMatchObject({ severity: 'error', code: 'duplicate' });
    }
  });

  describe('malformed requests are 400/422 OperationOutcomes, never 500', () => {
    const sr = () => freshInbound('gp-referral-logical-subject.service-request.json');
    it.each([
      { name: 'a transaction whose entry is an object', url: '/fhir', body: () => ({ resourceType: 'Bundle', type: 'transaction', entry: {} }), status: 422, code: 'structure', expression: 'Bundle.entry' },
      { name: 'a transaction whose entry is [null]', url: '/fhir', body: () => ({ resourceType: 'Bundle', type: 'transaction', entry: [null] }), status: 422, code: 'structure', expression: 'Bundle.entry[0]' },
      {
        name: '$validate with Parameters whose resource is a string',
        url: '/fhir/ServiceRequest/$validate',
        body: () => ({ resourceType: 'Parameters', parameter: [{ name: 'resource', resource: 'x' }] }),
        status: 400,
        code: 'invalid',
        expression: 'Parameters.parameter',
      },
      {
        name: '$validate with Parameters whose profile valueUri is a number',
        url: '/fhir/ServiceRequest/$validate',
        body: () => ({ resourceType: 'Parameters', parameter: [{ name: 'resource', resource: sr() }, { name: 'profile', valueUri: 5 }] }),
        status: 400,
        code: 'invalid',
        expression: "Parameters.parameter.where(name = 'profile')",
      },
      // $validate answers 200 with the validation's OperationOutcome: the error is its result, not a failure of the call.
      {
        name: '$validate of a message Bundle whose entry is "x"',
        url: '/fhir/Bundle/$validate',
        body: () => ({ resourceType: 'Bundle', type: 'message', entry: 'x' }),
        status: 200,
        code: 'structure',
        expression: 'Bundle.entry',
      },
    ])('$name → $status', async ({ url, body, status, code, expression }) => {
      const res = await fhir(app, 'POST', url, body());
      expect(res.status).toBe(status);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue).toHaveLength(1);
      expect(res.body.issue[0]).toMatchObject({ severity: 'error', code, expression: [expression] });
    });

    it('a batch whose one entry has a bad request.method → 200 batch-response: that entry 422, the other 201', async () => {
      const ids = freshIds();
      const tx = freshInbound('gp-referral.transaction.json', ids);
      const patient = tx.entry[0];
      delete patient.resource.generalPractitioner;
      const organization = { ...tx.entry[1], request: { ...tx.entry[1].request, method: 'FETCH' } };
      const res = await fhir(app, 'POST', '/fhir', { resourceType: 'Bundle', type: 'batch', entry: [patient, organization] });
      expect(res.status).toBe(200);
      expect(res.body.type).toBe('batch-response');
      expect(res.body.entry[0].response.status).toBe('201 Created');
      expect(res.body.entry[1].response.status).toMatch(/^422/);
      const outcome = res.body.entry[1].response.outcome;
      expect(outcome.issue).toHaveLength(1);
      expect(outcome.issue[0]).toMatchObject({ severity: 'error', code: 'not-supported', expression: ['Bundle.entry[1].request.method'] });
      expect(await countOf(app, 'Patient', `identifier=${NHS_NUMBER_SYSTEM}|${ids.nhsNumber}`)).toBe(1);
      expect(await countOf(app, 'Organization', `identifier=https://fhir.nhs.uk/Id/ods-organization-code|${ids.gpOds}`)).toBe(0);
    });
  });
});
