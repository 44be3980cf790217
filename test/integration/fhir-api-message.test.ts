// $process-message through the whole service (SQLite and PostgreSQL): BaRS-style new and cancellation
// messages answered with a response message, the MessageDefinition's rules, and what the Pain Platform
// sees of an accepted inbound referral (GET /referrals), the self-harm risk rule included.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, startApp } from '../support/app.js';
import { countOf, entryOf, fhir, freshIds, freshInbound, inboundReferralsFor, lineAt, UBRN_SYSTEM, type FreshIds } from '../support/fhir.js';
import type { App } from '../../src/server.js';

const REASONS = 'https://fhir.nhs.uk/CodeSystem/message-reason-bars';

async function nativeView(app: App, referralId: string): Promise<any> {
  const res = await app.server.inject({ url: `/referrals/${encodeURIComponent(referralId)}` });
  expect(res.statusCode).toBe(200);
  return JSON.parse(res.payload);
}

/** The response message's MessageHeader and OperationOutcome, checked for shape. */
function responseParts(body: any, requestHeaderId: string): { header: any; outcome: any } {
  expect(body.resourceType).toBe('Bundle');
  expect(body.type).toBe('message');
  const header = body.entry[0].resource;
  expect(header.resourceType).toBe('MessageHeader');
  expect(header.eventCoding).toEqual({ system: 'https://fhir.nhs.uk/CodeSystem/message-events-bars', code: 'servicerequest-response' });
  expect(header.response.identifier).toBe(requestHeaderId);
  const outcomeEntry = body.entry.find((e: any) => e.fullUrl === header.response.details.reference);
  expect(outcomeEntry?.resource.resourceType).toBe('OperationOutcome');
  return { header, outcome: outcomeEntry.resource };
}

function cancellation(ids: FreshIds, reason: 'update' | 'delete', status = 'revoked'): any {
  const message = freshInbound('gp-cancellation.message.json', ids);
  message.entry[0].resource.reason.coding = [{ system: REASONS, code: reason }];
  entryOf(message, 'ServiceRequest').resource.status = status;
  return message;
}

/** PHQ-9 item 9 ("thoughts that you would be better off dead …") answered "Several days", total adjusted. */
function withSelfHarmAnswer(bundle: any): any {
  const phq = bundle.entry.find((e: any) => e.resource?.questionnaire?.includes('phq-9')).resource;
  const item9 = phq.item.find((i: any) => i.linkId === '44260-8');
  item9.answer[0].valueCoding = { system: 'http://loinc.org', code: 'LA6569-3', display: 'Several days' };
  phq.item.find((i: any) => i.linkId === '44261-6').answer[0].valueInteger = 14;
  return bundle;
}

describe.each(dialects)('$process-message and the native view on %s', (dialect) => {
  let app: App;
  beforeAll(async () => {
    app = await startApp(dialect);
  });
  afterAll(async () => {
    await app?.stop();
  });

  describe('a new referral', () => {
    const ids = freshIds();
    let referral: any;

    it('answers 200 with a response message: code ok, naming the request MessageHeader, with an OperationOutcome', async () => {
      const message = freshInbound('gp-referral.message.json', ids);
      const res = await fhir(app, 'POST', '/fhir/$process-message', message);
      expect(res.status).toBe(200);
      const { header, outcome } = responseParts(res.body, message.entry[0].resource.id);
      expect(header.response.code).toBe('ok');
      expect(outcome.issue.filter((i: any) => i.severity === 'error' || i.severity === 'fatal')).toEqual([]);
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${ids.ubrn}`)).toBe(1);
    });

    it('shows in GET /referrals?direction=inbound and GET /referrals/{referralId} in the native shape', async () => {
      const items = await inboundReferralsFor(app, ids.nhsNumber);
      expect(items).toHaveLength(1);
      referral = await nativeView(app, items[0].referralId);
      expect(referral.referralId).toMatch(/^PP-IN-/);
      expect(referral).toMatchObject({
        direction: 'inbound',
        version: 1,
        status: 'active',
        kind: 'new',
        step: 3,
        urgency: 'routine',
        primaryCondition: 'fibromyalgia',
        patient: { nhsNumber: ids.nhsNumber },
        referrer: { sdsUserId: ids.sdsId, odsCode: ids.gpOds },
        risk: { selfHarm: false, escalated: false },
      });
      expect(referral.inbound.senderIdentifiers).toEqual(expect.arrayContaining([expect.objectContaining({ resourceType: 'ServiceRequest', system: UBRN_SYSTEM, value: ids.ubrn })]));
      expect(referral.scores).toEqual(
        expect.arrayContaining([expect.objectContaining({ instrument: 'PHQ-9', total: 13, band: 'moderate' }), expect.objectContaining({ instrument: 'GAD-7', total: 8, band: 'mild' })]),
      );
      const sr = await fhir(app, 'GET', `/fhir/${referral.fhir.serviceRequest}`);
      expect(sr.body.identifier).toEqual(expect.arrayContaining([{ system: 'https://fhir.painplatform.uk/Id/referral-id', value: referral.referralId }]));
    });

    it('a resend of the same message stores nothing new', async () => {
      const res = await fhir(app, 'POST', '/fhir/$process-message', freshInbound('gp-referral.message.json', ids));
      expect(res.status).toBe(200);
      expect(res.body.entry[0].resource.response.code).toBe('ok');
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${ids.ubrn}`)).toBe(1);
      expect((await nativeView(app, referral.referralId)).version).toBe(1);
    });
  });

  describe.each(['update', 'delete'] as const)('a cancellation with reason %s', (reason) => {
    const ids = freshIds();

    it('cancels the received referral: native status cancelled (version 2), ServiceRequest revoked with 2 versions', async () => {
      expect((await fhir(app, 'POST', '/fhir/$process-message', freshInbound('gp-referral.message.json', ids))).status).toBe(200);
      const message = cancellation(ids, reason);
      const res = await fhir(app, 'POST', '/fhir/$process-message', message);
      expect(res.status).toBe(200);
      const { header } = responseParts(res.body, message.entry[0].resource.id);
      expect(header.response.code).toBe('ok');

      const [item] = await inboundReferralsFor(app, ids.nhsNumber);
      const view = await nativeView(app, item.referralId);
      expect(view.status).toBe('cancelled');
      expect(view.version).toBe(2);
      const sr = await fhir(app, 'GET', `/fhir/${view.fhir.serviceRequest}`);
      expect(sr.body.status).toBe('revoked');
      expect(sr.body.meta.versionId).toBe('2');
      const history = await fhir(app, 'GET', `/fhir/${view.fhir.serviceRequest}/_history`);
      expect(history.status).toBe(200);
      expect(history.body.type).toBe('history');
      expect(history.body.entry).toHaveLength(2);
      expect(history.body.entry.map((e: any) => e.resource.status).sort()).toEqual(['active', 'revoked']);
    });
  });

  describe('refusals', () => {
    it('reason update for a referral never received → 422 response message, fatal-error, nothing stored', async () => {
      const ids = freshIds();
      const message = cancellation(ids, 'update');
      const text = JSON.stringify(message, null, 2);
      const res = await fhir(app, 'POST', '/fhir/$process-message', text);
      expect(res.status).toBe(422);
      const { header, outcome } = responseParts(res.body, message.entry[0].resource.id);
      expect(header.response.code).toBe('fatal-error');
      expect(outcome.issue).toHaveLength(1);
      expect(outcome.issue[0]).toMatchObject({ severity: 'error', code: 'not-found', expression: ['Bundle.entry[8].resource.identifier'] });
      expect(outcome.issue[0].details.text).toContain('no ServiceRequest with these identifiers is stored here; send it first with reason "new"');
      expect(lineAt(text, outcome.issue[0].diagnostics)).toContain('"identifier"');
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${ids.ubrn}`)).toBe(0);
      expect(await inboundReferralsFor(app, ids.nhsNumber)).toHaveLength(0);
    });

    it('reason delete with status active → 422 naming ServiceRequest.status, the referral unchanged', async () => {
      const ids = freshIds();
      expect((await fhir(app, 'POST', '/fhir/$process-message', freshInbound('gp-referral.message.json', ids))).status).toBe(200);
      const message = cancellation(ids, 'delete', 'active');
      const res = await fhir(app, 'POST', '/fhir/$process-message', message);
      expect(res.status).toBe(422);
      const { header, outcome } = responseParts(res.body, message.entry[0].resource.id);
      expect(header.response.code).toBe('fatal-error');
      expect(outcome.issue).toHaveLength(1);
      expect(outcome.issue[0]).toMatchObject({ severity: 'error', code: 'business-rule', expression: ['Bundle.entry[8].resource.status'] });
      expect(outcome.issue[0].details.text).toMatch(/delete.*status must be revoked.*not active/);
      const [item] = await inboundReferralsFor(app, ids.nhsNumber);
      expect((await nativeView(app, item.referralId)).version).toBe(1);
    });

    it('a Bundle that is not a message → 422 OperationOutcome naming Bundle.type', async () => {
      const ids = freshIds();
      const text = JSON.stringify(freshInbound('gp-referral.transaction.json', ids), null, 2);
      const res = await fhir(app, 'POST', '/fhir/$process-message', text);
      expect(res.status).toBe(422);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0]).toMatchObject({ severity: 'error', code: 'value', expression: ['Bundle.type'] });
      expect(res.body.issue[0].details.text).toContain('$process-message takes a Bundle of type message');
      expect(lineAt(text, res.body.issue[0].diagnostics)).toContain('"type": "transaction"');
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${ids.ubrn}`)).toBe(0);
    });

    it('a second ServiceRequest (the MessageDefinition allows one, the focus) → 422 fatal-error, nothing stored', async () => {
      const ids = freshIds();
      const message = freshInbound('gp-referral.message.json', ids);
      const second = structuredClone(entryOf(message, 'ServiceRequest'));
      second.fullUrl = 'urn:uuid:0f4e2a10-0000-4000-8000-000000000001';
      second.resource.identifier = [{ system: UBRN_SYSTEM, value: `${ids.ubrn.slice(0, 11)}9` }];
      message.entry.push(second);
      const res = await fhir(app, 'POST', '/fhir/$process-message', message);
      expect(res.status).toBe(422);
      const { header, outcome } = responseParts(res.body, message.entry[0].resource.id);
      expect(header.response.code).toBe('fatal-error');
      expect(outcome.issue[0]).toMatchObject({ severity: 'error', code: 'structure', expression: [`Bundle.entry[${message.entry.length - 1}].resource`] });
      expect(outcome.issue[0].details.text).toContain("is not the MessageHeader's focus");
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${ids.ubrn}`)).toBe(0);
      expect(await inboundReferralsFor(app, ids.nhsNumber)).toHaveLength(0);
    });

    it('a resource type the MessageDefinition does not allow (Observation) → 422 listing the allowed types', async () => {
      const ids = freshIds();
      const message = freshInbound('gp-referral.message.json', ids);
      message.entry.push({ fullUrl: 'urn:uuid:0f4e2a10-0000-4000-8000-000000000002', resource: { resourceType: 'Observation', status: 'final', code: { text: 'pain score' } } });
      const res = await fhir(app, 'POST', '/fhir/$process-message', message);
      expect(res.status).toBe(422);
      const { header, outcome } = responseParts(res.body, message.entry[0].resource.id);
      expect(header.response.code).toBe('fatal-error');
      expect(outcome.issue[0]).toMatchObject({ severity: 'error', code: 'not-supported', expression: [`Bundle.entry[${message.entry.length - 1}].resource`] });
      expect(outcome.issue[0].details.text).toMatch(/Observation is not allowed in this message; allowed: .*ServiceRequest/);
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${ids.ubrn}`)).toBe(0);
    });
  });

  describe('the self-harm risk rule on inbound referrals', () => {
    it('PHQ-9 item 9 > 0 in a transaction → risk.selfHarm, escalated, and a warning on the ServiceRequest entry', async () => {
      const ids = freshIds();
      const res = await fhir(app, 'POST', '/fhir', withSelfHarmAnswer(freshInbound('gp-referral.transaction.json', ids)));
      expect(res.status).toBe(200);
      const srEntry = entryOf(res.body, 'ServiceRequest');
      expect(srEntry.response.status).toBe('201 Created');
      const warnings = srEntry.response.outcome?.issue ?? [];
      expect(warnings).toEqual([expect.objectContaining({ severity: 'warning', code: 'business-rule' })]);
      expect(warnings[0].details.text).toContain('Self-harm risk found (PHQ-9 item 9 = 1');
      expect(warnings[0].details.text).toContain('raised its urgency from routine to urgent');
      const [item] = await inboundReferralsFor(app, ids.nhsNumber);
      const view = await nativeView(app, item.referralId);
      expect(view.risk).toMatchObject({ selfHarm: true, escalated: true });
      expect(view.risk.source[0]).toContain('PHQ-9 item 9 = 1');
      expect(view.scores).toEqual(expect.arrayContaining([expect.objectContaining({ instrument: 'PHQ-9', total: 14 })]));
    });

    it('PHQ-9 item 9 > 0 in a message → the response message\'s OperationOutcome carries the warning', async () => {
      const ids = freshIds();
      const message = withSelfHarmAnswer(freshInbound('gp-referral.message.json', ids));
      const res = await fhir(app, 'POST', '/fhir/$process-message', message);
      expect(res.status).toBe(200);
      const { header, outcome } = responseParts(res.body, message.entry[0].resource.id);
      expect(header.response.code).toBe('ok');
      const warning = outcome.issue.find((i: any) => i.severity === 'warning');
      expect(warning?.details.text).toContain('Self-harm risk found');
      const [item] = await inboundReferralsFor(app, ids.nhsNumber);
      expect((await nativeView(app, item.referralId)).risk).toMatchObject({ selfHarm: true, escalated: true });
    });
  });
});
