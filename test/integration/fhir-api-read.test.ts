// Reads at /fhir through the whole service (SQLite and PostgreSQL): read, vread, _history, search by
// every parameter issue 3 names (with paging followed to the end), the platform's definitions served
// read-only, and GET /fhir/metadata (checked against base R4 with the project's validator).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, projectRoot, startApp } from '../support/app.js';
import { entryOf, fhir, freshIds, freshInbound, freshUbrn, NHS_NUMBER_SYSTEM, UBRN_SYSTEM, type FreshIds } from '../support/fhir.js';
import { createValidator } from '../../src/fhir/validator.js';
import type { App } from '../../src/server.js';

const PHQ9 = 'https://fhir.painplatform.uk/Questionnaire/phq-9';

/** The GP transaction of `ids` with every date moved to `day` (YYYY-MM-DD). */
function transactionOn(ids: FreshIds, day: string): any {
  const bundle = freshInbound('gp-referral.transaction.json', ids);
  for (const e of bundle.entry) {
    if (e.resource.authoredOn) e.resource.authoredOn = `${day}T09:30:00+00:00`;
    if (e.resource.authored) e.resource.authored = `${day}T09:12:00+00:00`;
  }
  return bundle;
}

/** path + query of an absolute link, for app.server.inject. */
const local = (url: string) => {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
};

describe.each(dialects)('FHIR reads on %s', (dialect) => {
  let app: App;
  const ids = freshIds();
  // the same patient's second referral, two years earlier, with its own answers
  const older = { ...ids, ubrn: freshUbrn(), phqId: `${ids.phqId}-old`, gadId: `${ids.gadId}-old` };
  const byNhs = `patient:identifier=${NHS_NUMBER_SYSTEM}|${ids.nhsNumber}`;
  let startedAt: string;
  let recent: any;
  let patientRef: string;

  beforeAll(async () => {
    app = await startApp(dialect);
    startedAt = new Date(Date.now() - 1000).toISOString();
    const a = await fhir(app, 'POST', '/fhir', transactionOn(ids, '2026-11-20'));
    expect(a.status).toBe(200);
    recent = a.body;
    patientRef = entryOf(recent, 'Patient').response.location.replace(/\/_history\/1$/, '');
    const b = await fhir(app, 'POST', '/fhir', transactionOn(older, '2024-06-03'));
    expect(b.status).toBe(200);
  });
  afterAll(async () => {
    await app?.stop();
  });

  describe('read, vread, _history', () => {
    it('reads a ServiceRequest with ETag and Last-Modified', async () => {
      const sr = entryOf(recent, 'ServiceRequest');
      const res = await fhir(app, 'GET', `/fhir/${sr.fullUrl}`);
      expect(res.status).toBe(200);
      expect(res.body.resourceType).toBe('ServiceRequest');
      expect(res.headers.etag).toBe('W/"1"');
      expect(new Date(String(res.headers['last-modified'])).toUTCString()).toBe(new Date(sr.response.lastModified).toUTCString());
      expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    });

    it('vread of version 1 → 200; of a version that does not exist → 404 saying which exist', async () => {
      const sr = entryOf(recent, 'ServiceRequest');
      const v1 = await fhir(app, 'GET', `/fhir/${sr.fullUrl}/_history/1`);
      expect(v1.status).toBe(200);
      expect(v1.body.meta.versionId).toBe('1');
      const v9 = await fhir(app, 'GET', `/fhir/${sr.fullUrl}/_history/9`);
      expect(v9.status).toBe(404);
      expect(v9.body.issue[0]).toMatchObject({ severity: 'error', code: 'not-found' });
      expect(v9.body.issue[0].details.text).toContain('versions 1 to 1 exist');
    });

    it('_history is a history Bundle of the versions', async () => {
      const res = await fhir(app, 'GET', `/fhir/${patientRef}/_history`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ resourceType: 'Bundle', type: 'history', total: 1 });
      expect(res.body.entry[0].resource.id).toBe(patientRef.split('/')[1]);
    });

    it('read of an unknown id → 404 OperationOutcome', async () => {
      const res = await fhir(app, 'GET', '/fhir/ServiceRequest/no-such-id');
      expect(res.status).toBe(404);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0]).toMatchObject({ severity: 'error', code: 'not-found' });
      expect(res.body.issue[0].details.text).toContain('ServiceRequest/no-such-id');
    });
  });

  describe('search', () => {
    const ubrnOf = (r: any) => r.identifier.find((i: any) => i.system === UBRN_SYSTEM)?.value;

    it.each([
      ['identifier', () => `identifier=${UBRN_SYSTEM}|${ids.ubrn}`, () => [ids.ubrn]],
      ['patient:identifier', () => byNhs, () => [ids.ubrn, older.ubrn]],
      ['status=active', () => `${byNhs}&status=active`, () => [ids.ubrn, older.ubrn]],
      ['status=revoked', () => `${byNhs}&status=revoked`, () => []],
      ['authored ge', () => `${byNhs}&authored=ge2026-01-01`, () => [ids.ubrn]],
      ['authored lt', () => `${byNhs}&authored=lt2026-01-01`, () => [older.ubrn]],
      ['authored ge and lt', () => `${byNhs}&authored=ge2024-06-03&authored=lt2024-06-04`, () => [older.ubrn]],
      ['_lastUpdated ge', () => `${byNhs}&_lastUpdated=ge${startedAt}`, () => [ids.ubrn, older.ubrn]],
      ['_lastUpdated lt', () => `${byNhs}&_lastUpdated=lt${startedAt}`, () => []],
    ])('ServiceRequest by %s', async (_name, query, expected) => {
      const res = await fhir(app, 'GET', `/fhir/ServiceRequest?${query()}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
      expect(res.body.total).toBe(expected().length);
      expect((res.body.entry ?? []).map((e: any) => ubrnOf(e.resource)).sort()).toEqual(expected().sort());
      expect(res.body.link.find((l: any) => l.relation === 'self')?.url).toContain('/fhir/ServiceRequest?');
    });

    it.each([
      ['subject', () => `subject=${patientRef}`, 4],
      ['patient:identifier', () => byNhs, 4],
      ['questionnaire', () => `${byNhs}&questionnaire=${PHQ9}`, 2],
      ['authored ge', () => `${byNhs}&authored=ge2026-01-01`, 2],
      ['authored lt and questionnaire', () => `${byNhs}&authored=lt2026-01-01&questionnaire=${PHQ9}`, 1],
    ])('QuestionnaireResponse by %s', async (_name, query, total) => {
      const res = await fhir(app, 'GET', `/fhir/QuestionnaireResponse?${query()}`);
      expect(res.status).toBe(200);
      expect(res.body.total).toBe(total);
      expect(res.body.entry).toHaveLength(total);
      for (const e of res.body.entry) expect(e.resource.resourceType).toBe('QuestionnaireResponse');
    });

    it('_count pages: the next links, followed to the end, give every match once', async () => {
      let url: string | undefined = `/fhir/QuestionnaireResponse?${byNhs}&_count=1`;
      const seen: string[] = [];
      let pages = 0;
      while (url && pages < 10) {
        const res = await fhir(app, 'GET', url);
        expect(res.status).toBe(200);
        expect(res.body.total).toBe(4);
        expect(res.body.entry).toHaveLength(1);
        seen.push(res.body.entry[0].resource.id);
        const next = res.body.link.find((l: any) => l.relation === 'next')?.url;
        url = next ? local(next) : undefined;
        pages += 1;
      }
      expect(pages).toBe(4);
      expect(new Set(seen).size).toBe(4);
    });

    it('an unknown search parameter → 400 naming it and listing the supported ones', async () => {
      const res = await fhir(app, 'GET', '/fhir/ServiceRequest?colour=blue');
      expect(res.status).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0].severity).toBe('error');
      expect(res.body.issue[0].details.text).toContain('Unknown search parameter "colour"');
      expect(res.body.issue[0].details.text).toContain('supported:');
    });
  });

  describe('the platform\'s definitions, read-only', () => {
    it.each([
      ['StructureDefinition', 'PainPlatform-Inbound-ServiceRequest'],
      ['Questionnaire', 'phq-9'],
      ['ValueSet', 'care-step'],
      ['CodeSystem', 'care-step'],
      ['ConceptMap', 'care-step'],
      ['MessageDefinition', 'referral-request'],
    ])('GET /fhir/%s/%s → 200 with ETag; POST to the type → 405 with Allow', async (type, id) => {
      const res = await fhir(app, 'GET', `/fhir/${type}/${id}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ resourceType: type, id });
      expect(res.headers.etag).toMatch(/^W\/"[^"]+"$/);
      const post = await fhir(app, 'POST', `/fhir/${type}`, { resourceType: type, id: 'mine', status: 'draft' });
      expect(post.status).toBe(405);
      expect(post.body.resourceType).toBe('OperationOutcome');
      expect(post.body.issue[0]).toMatchObject({ severity: 'error', code: 'not-supported' });
      expect(post.body.issue[0].details.text).toContain(`POST is not supported on /fhir/${type}`);
      // RFC 9110 §15.5.6: a 405 MUST carry Allow
      expect(String(post.headers.allow ?? '')).toMatch(/^GET(, HEAD)?$/);
    });

    it('Questionnaire search by url finds the PHQ-9', async () => {
      const res = await fhir(app, 'GET', `/fhir/Questionnaire?url=${encodeURIComponent(PHQ9)}`);
      expect(res.status).toBe(200);
      expect(res.body.total).toBe(1);
      expect(res.body.entry[0].resource.url).toBe(PHQ9);
    });
  });

  describe('GET /fhir/metadata', () => {
    let statement: any;

    it('is a CapabilityStatement listing ServiceRequest with its search parameters, the operations, transaction and batch', async () => {
      const res = await fhir(app, 'GET', '/fhir/metadata');
      expect(res.status).toBe(200);
      statement = res.body;
      expect(statement.resourceType).toBe('CapabilityStatement');
      expect(statement.fhirVersion).toBe('4.0.1');
      const rest = statement.rest[0];
      expect(rest.mode).toBe('server');
      const sr = rest.resource.find((r: any) => r.type === 'ServiceRequest');
      expect(sr.interaction.map((i: any) => i.code)).toEqual(expect.arrayContaining(['create', 'read', 'vread', 'history-instance', 'search-type']));
      expect(sr.conditionalCreate).toBe(true);
      expect(sr.searchParam.map((p: any) => p.name)).toEqual(expect.arrayContaining(['identifier', 'patient', 'status', 'authored', '_lastUpdated']));
      expect(sr.searchParam.find((p: any) => p.name === 'authored').type).toBe('date');
      const qr = rest.resource.find((r: any) => r.type === 'QuestionnaireResponse');
      expect(qr.searchParam.map((p: any) => p.name)).toEqual(expect.arrayContaining(['subject', 'patient', 'questionnaire', 'authored']));
      const operations = [...(rest.operation ?? []), ...rest.resource.flatMap((r: any) => r.operation ?? [])].map((o: any) => o.name);
      expect(operations).toEqual(expect.arrayContaining(['validate', 'process-message']));
      expect(rest.interaction.map((i: any) => i.code)).toEqual(expect.arrayContaining(['transaction', 'batch']));
      expect(rest.resource.find((r: any) => r.type === 'Observation')).toBeUndefined();
    });

    it('validates against base R4 with the project\'s validator', () => {
      const validator = createValidator({ profilesDir: join(projectRoot, 'profiles') });
      const errors = validator.validate(statement).filter((i) => i.severity === 'error' || i.severity === 'fatal');
      expect(errors).toEqual([]);
    });
  });
});
