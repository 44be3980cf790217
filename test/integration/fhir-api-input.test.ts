// What comes in at /fhir, through the whole service (SQLite and PostgreSQL): $validate (nothing
// stored), XML in and out, and the bad input of issue 3 — each refused with its OperationOutcome and
// nothing of it stored.
import { Fhir } from 'fhir';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, startApp } from '../support/app.js';
import { countOf, entryOf, fhir, freshIds, freshInbound, lineAt, NHS_NUMBER_SYSTEM, QR_ID_SYSTEM, UBRN_SYSTEM, type FreshIds } from '../support/fhir.js';
import type { App } from '../../src/server.js';

const PROFILE = 'https://fhir.painplatform.uk/StructureDefinition/';
const xml = (resource: object) => new Fhir().objToXml(resource);
const errorsOf = (outcome: any) => (outcome.issue ?? []).filter((i: any) => i.severity === 'error' || i.severity === 'fatal');
const pretty = (x: unknown) => JSON.stringify(x, null, 2);

/** The single issue of `outcome` at `expression` (there must be exactly one). */
function issueAt(outcome: any, expression: string): any {
  const found = (outcome.issue ?? []).filter((i: any) => i.expression?.includes(expression));
  expect(found, `issues at ${expression} in ${JSON.stringify(outcome.issue)}`).toHaveLength(1);
  return found[0];
}

/** Nothing of the referral of `ids` is stored. */
async function expectNothingStored(app: App, ids: FreshIds): Promise<void> {
  expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${ids.ubrn}`)).toBe(0);
  expect(await countOf(app, 'Patient', `identifier=${NHS_NUMBER_SYSTEM}|${ids.nhsNumber}`)).toBe(0);
  expect(await countOf(app, 'QuestionnaireResponse', `identifier=${QR_ID_SYSTEM}|${ids.phqId}`)).toBe(0);
  expect(await countOf(app, 'Practitioner', `identifier=https://fhir.nhs.uk/Id/sds-user-id|${ids.sdsId}`)).toBe(0);
  const native = await app.server.inject({ url: `/referrals?direction=inbound&nhsNumber=${ids.nhsNumber}` });
  expect(JSON.parse(native.payload).items).toEqual([]);
}

describe.each(dialects)('FHIR input on %s', (dialect) => {
  let app: App;
  const known = freshIds(); // a referral received first, so that logical references resolve
  beforeAll(async () => {
    app = await startApp(dialect);
    expect((await fhir(app, 'POST', '/fhir', freshInbound('gp-referral.transaction.json', known))).status).toBe(200);
  });
  afterAll(async () => {
    await app?.stop();
  });

  describe('$validate', () => {
    /** A resource of the GP fixtures about the known patient, valid on its own. */
    const valid = {
      ServiceRequest: (ids: FreshIds) => freshInbound('gp-referral-logical-subject.service-request.json', ids),
      QuestionnaireResponse: (ids: FreshIds) => {
        const qr = entryOf(freshInbound('gp-referral.transaction.json', ids), 'QuestionnaireResponse').resource;
        delete qr.basedOn;
        qr.subject = { type: 'Patient', identifier: { system: NHS_NUMBER_SYSTEM, value: ids.nhsNumber } };
        return qr;
      },
      Patient: (ids: FreshIds) => {
        const p = entryOf(freshInbound('gp-referral.transaction.json', ids), 'Patient').resource;
        delete p.generalPractitioner[0].reference;
        return p;
      },
      transaction: (ids: FreshIds) => freshInbound('gp-referral.transaction.json', ids),
      message: (ids: FreshIds) => freshInbound('gp-referral.message.json', ids),
    };
    const typeOf = (kind: keyof typeof valid) => (kind === 'transaction' || kind === 'message' ? 'Bundle' : kind);

    it.each(Object.keys(valid) as (keyof typeof valid)[])('a valid %s → 200 OperationOutcome without errors, nothing stored', async (kind) => {
      const ids = { ...freshIds(), nhsNumber: known.nhsNumber, sdsId: known.sdsId, gpOds: known.gpOds, serviceOds: known.serviceOds };
      const res = await fhir(app, 'POST', `/fhir/${typeOf(kind)}/$validate`, valid[kind](ids));
      expect(res.status).toBe(200);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(errorsOf(res.body)).toEqual([]);
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${ids.ubrn}`)).toBe(0);
      expect(await countOf(app, 'QuestionnaireResponse', `identifier=${QR_ID_SYSTEM}|${ids.phqId}`)).toBe(0);
    });

    it.each([
      ['ServiceRequest', (ids: FreshIds) => ({ ...valid.ServiceRequest(ids), status: 'draft' }), 'ServiceRequest.status', '"status"'],
      [
        'QuestionnaireResponse',
        (ids: FreshIds) => {
          const qr = valid.QuestionnaireResponse(ids);
          qr.item[0].answer[0].valueCoding.code = 'LA9999-9';
          return qr;
        },
        'QuestionnaireResponse.item[0].answer[0].value',
        '"valueCoding"',
      ],
      [
        'Patient',
        (ids: FreshIds) => {
          const p = valid.Patient(ids);
          p.gender = 'femme';
          return p;
        },
        'Patient.gender',
        '"gender"',
      ],
      [
        'transaction',
        (ids: FreshIds) => {
          const b = valid.transaction(ids);
          b.entry[5].resource.item[0].answer[0].valueCoding.code = 'LA9999-9';
          return b;
        },
        'Bundle.entry[5].resource.item[0].answer[0].value',
        '"valueCoding"',
      ],
      [
        'message',
        (ids: FreshIds) => {
          const b = valid.message(ids);
          b.entry.push({ fullUrl: 'urn:uuid:0f4e2a10-0000-4000-8000-0000000000aa', resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' } } });
          return b;
        },
        'Bundle.entry[9].resource',
        '"resource"',
      ],
    ] as const)('an invalid %s → 200 OperationOutcome with the error located, nothing stored', async (kind, make, expression, key) => {
      const ids = freshIds();
      const text = pretty(make(ids));
      const res = await fhir(app, 'POST', `/fhir/${typeOf(kind as keyof typeof valid)}/$validate`, text);
      expect(res.status).toBe(200);
      expect(res.body.resourceType).toBe('OperationOutcome');
      const i = issueAt(res.body, expression);
      expect(i.severity).toBe('error');
      expect(String(i.details.text).length).toBeGreaterThan(10);
      expect(lineAt(text, i.diagnostics)).toContain(key);
      await expectNothingStored(app, ids);
    });

    it('takes Parameters with resource and profile: the Patient held to the outbound profile instead', async () => {
      const patient = valid.Patient(known);
      const inbound = await fhir(app, 'POST', '/fhir/Patient/$validate', patient);
      const body = { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: patient }, { name: 'profile', valueUri: `${PROFILE}PainPlatform-Patient` }] };
      const res = await fhir(app, 'POST', '/fhir/Patient/$validate', body);
      expect(res.status).toBe(200);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body).not.toEqual(inbound.body);
      const query = await fhir(app, 'POST', `/fhir/Patient/$validate?profile=${encodeURIComponent(`${PROFILE}PainPlatform-Patient`)}`, patient);
      expect(query.status).toBe(200);
      expect(query.body.issue.map((i: any) => [i.severity, i.code, i.expression])).toEqual(res.body.issue.map((i: any) => [i.severity, i.code, i.expression]));
    });

    it('an unknown profile → 400 saying where the profiles are listed', async () => {
      const res = await fhir(app, 'POST', `/fhir/Patient/$validate?profile=${encodeURIComponent('https://example.org/StructureDefinition/nope')}`, valid.Patient(known));
      expect(res.status).toBe(400);
      expect(res.body.issue[0].details.text).toContain('is not one this service validates against');
    });
  });

  describe('XML', () => {
    it('a transaction as application/fhir+xml → 200, answered in XML when Accept asks for it', async () => {
      const ids = freshIds();
      const res = await fhir(app, 'POST', '/fhir', xml(freshInbound('gp-referral.transaction.json', ids)), {
        'content-type': 'application/fhir+xml',
        accept: 'application/fhir+xml',
      });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/fhir+xml; charset=utf-8');
      const answer = new Fhir().xmlToObj(res.text) as any;
      expect(answer.type).toBe('transaction-response');
      expect(answer.entry.map((e: any) => e.response.status)).toEqual(answer.entry.map(() => '201 Created'));
      expect(await countOf(app, 'ServiceRequest', `identifier=${UBRN_SYSTEM}|${ids.ubrn}`)).toBe(1);
    });

    it('_format=json overrides Accept', async () => {
      const ids = freshIds();
      const res = await fhir(app, 'POST', '/fhir?_format=json', xml(freshInbound('gp-referral.transaction.json', ids)), {
        'content-type': 'application/fhir+xml',
        accept: 'application/fhir+xml',
      });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
      expect(res.body.type).toBe('transaction-response');
    });

    it('XML with a DOCTYPE and an ENTITY → 400, no expansion, nothing stored', async () => {
      const ids = freshIds();
      const body = xml(freshInbound('gp-referral.transaction.json', ids)).replace(/^(<\?xml[^>]*\?>)?/, '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE Bundle [<!ENTITY boom "boom">]>\n');
      const res = await fhir(app, 'POST', '/fhir', body, { 'content-type': 'application/fhir+xml', accept: 'application/fhir+json' });
      expect(res.status).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0].severity).toBe('error');
      expect(res.body.issue[0].details.text).toMatch(/DOCTYPE/);
      await expectNothingStored(app, ids);
    });
  });

  describe('bad input', () => {
    it('truncated JSON → 400 with the line and column where it ends', async () => {
      const text = pretty(freshInbound('gp-referral.transaction.json')).slice(0, 2000);
      const res = await fhir(app, 'POST', '/fhir', text);
      expect(res.status).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0]).toMatchObject({ severity: 'error', code: 'invalid' });
      expect(res.body.issue[0].details.text).toContain('not valid JSON');
      const m = /^line (\d+), column (\d+)$/.exec(res.body.issue[0].diagnostics);
      expect(Number(m?.[1])).toBe(text.split('\n').length);
    });

    it('a Bundle of 10,000 entries → refused whole (413 or 422, too-costly), nothing stored', async () => {
      const before = await countOf(app, 'Patient', '_count=1');
      // small entries, so that the body stays under MAX_BODY_BYTES and the entry count is what refuses it
      const entry = { request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient' } };
      const body = JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: Array.from({ length: 10_000 }, () => entry) });
      expect(body.length).toBeLessThan(1_048_576);
      const res = await fhir(app, 'POST', '/fhir', body);
      expect([413, 422]).toContain(res.status);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0]).toMatchObject({ severity: 'error', code: 'too-costly' });
      expect(res.body.issue[0].details.text).toMatch(/10000 entries; at most \d+ are taken in one request/);
      expect(await countOf(app, 'Patient', '_count=1')).toBe(before);
    });

    it('a body over MAX_BODY_BYTES → 413 OperationOutcome naming the limit, nothing stored', async () => {
      const before = await countOf(app, 'Patient', '_count=1');
      const entry = (i: number) => ({ fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', gender: 'unknown' } });
      const body = JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: Array.from({ length: 10_000 }, (_, i) => entry(i)) });
      expect(body.length).toBeGreaterThan(1_048_576);
      const res = await fhir(app, 'POST', '/fhir', body);
      expect(res.status).toBe(413);
      expect(res.body.issue[0]).toMatchObject({ severity: 'error', code: 'too-costly' });
      expect(res.body.issue[0].details.text).toContain('limit 1048576 bytes');
      expect(await countOf(app, 'Patient', '_count=1')).toBe(before);
    });

    /** A transaction of fresh ids changed by `change`, sent pretty-printed: 422 expected, nothing stored. */
    async function refused(change: (b: any, ids: FreshIds) => void): Promise<{ outcome: any; text: string }> {
      const ids = freshIds();
      const bundle = freshInbound('gp-referral.transaction.json', ids);
      change(bundle, ids);
      const text = pretty(bundle);
      const res = await fhir(app, 'POST', '/fhir', text);
      expect(res.status).toBe(422);
      expect(res.body.resourceType).toBe('OperationOutcome');
      await expectNothingStored(app, ids);
      return { outcome: res.body, text };
    }

    it('a reference to nothing (urn:uuid of no entry) → 422 naming the expression', async () => {
      const { outcome, text } = await refused((b) => {
        entryOf(b, 'ServiceRequest').resource.subject.reference = 'urn:uuid:00000000-dead-4000-8000-000000000000';
      });
      const i = issueAt(outcome, 'Bundle.entry[7].resource.subject.reference');
      expect(i).toMatchObject({ severity: 'error', code: 'not-found' });
      expect(i.details.text).toContain("urn:uuid:00000000-dead-4000-8000-000000000000 matches no entry's fullUrl");
      expect(lineAt(text, i.diagnostics)).toContain('urn:uuid:00000000-dead');
    });

    it('a resourceType the adapter does not take (Observation) → 422 listing what it takes', async () => {
      const { outcome } = await refused((b) => {
        b.entry.push({ fullUrl: 'urn:uuid:0f4e2a10-0000-4000-8000-0000000000bb', request: { method: 'POST', url: 'Observation' }, resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' } } });
      });
      const i = issueAt(outcome, 'Bundle.entry[8].resource.resourceType');
      expect(i).toMatchObject({ severity: 'error', code: 'not-supported' });
      expect(i.details.text).toMatch(/resourceType "Observation" is not taken here; allowed: .*ServiceRequest/);
    });

    it('a ServiceRequest for another patient than its Bundle\'s Patient → 422 at its subject', async () => {
      let at = '';
      const { outcome } = await refused((b) => {
        // only the Patient, the GP side and the ServiceRequest: the subject is the one thing that differs
        b.entry = b.entry.filter((e: any) => e.resource.resourceType !== 'QuestionnaireResponse');
        const sr = entryOf(b, 'ServiceRequest').resource;
        delete sr.supportingInfo;
        sr.subject = { type: 'Patient', identifier: { system: NHS_NUMBER_SYSTEM, value: known.nhsNumber } };
        at = `Bundle.entry[${b.entry.findIndex((e: any) => e.resource === sr)}].resource.subject`;
      });
      const i = issueAt(outcome, at);
      expect(i).toMatchObject({ severity: 'error', code: 'business-rule' });
      expect(i.details.text).toContain('another patient');
      expect(i.details.text).toContain('Bundle.entry[0]');
    });

    it('answers in the same Bundle about another patient than their ServiceRequest → 422 at each', async () => {
      const { outcome } = await refused((b) => {
        entryOf(b, 'ServiceRequest').resource.subject = { type: 'Patient', identifier: { system: NHS_NUMBER_SYSTEM, value: known.nhsNumber } };
      });
      for (const k of [5, 6]) {
        const i = issueAt(outcome, `Bundle.entry[${k}].resource.subject`);
        expect(i).toMatchObject({ severity: 'error', code: 'business-rule' });
        expect(i.details.text).toContain('about another patient than its ServiceRequest');
      }
    });

    it('an unknown Questionnaire → 422 listing the known ones', async () => {
      const { outcome } = await refused((b) => {
        b.entry[5].resource.questionnaire = 'https://example.org/Questionnaire/unknown';
      });
      const i = issueAt(outcome, 'Bundle.entry[5].resource.questionnaire');
      expect(i).toMatchObject({ severity: 'error', code: 'not-found' });
      expect(i.details.text).toContain('Questionnaire https://example.org/Questionnaire/unknown is not one this service knows; allowed:');
      expect(i.details.text).toContain('https://fhir.painplatform.uk/Questionnaire/phq-9');
    });

    it('a submitted total that differs from the answers → 422 naming both', async () => {
      const { outcome, text } = await refused((b) => {
        b.entry[5].resource.item[10].answer[0].valueInteger = 20;
      });
      const errors = errorsOf(outcome);
      expect(errors).toHaveLength(1);
      expect(errors[0].expression[0]).toMatch(/^Bundle\.entry\[5\]\.resource\.item\[10\]/);
      expect(errors[0].details.text).toMatch(/20/);
      expect(errors[0].details.text).toMatch(/13/);
      expect(lineAt(text, errors[0].diagnostics)).toMatch(/"valueInteger"|"answer"|"linkId"/);
    });

    it('PUT /fhir/ServiceRequest/x → 405 with Allow', async () => {
      const res = await fhir(app, 'PUT', '/fhir/ServiceRequest/x', { resourceType: 'ServiceRequest', id: 'x' });
      expect(res.status).toBe(405);
      expect(res.body.issue[0]).toMatchObject({ severity: 'error', code: 'not-supported' });
      expect(res.body.issue[0].details.text).toContain('PUT is not supported on /fhir/ServiceRequest/x');
      expect(String(res.headers.allow ?? '')).toMatch(/^GET(, HEAD)?$/);
    });

    it('GET /fhir/Observation → 404 OperationOutcome pointing at the CapabilityStatement', async () => {
      const res = await fhir(app, 'GET', '/fhir/Observation');
      expect(res.status).toBe(404);
      expect(res.body.issue[0]).toMatchObject({ severity: 'error', code: 'not-found' });
      expect(res.body.issue[0].details.text).toContain('GET /fhir/metadata');
    });
  });
});
