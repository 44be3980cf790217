// The /fhir HTTP plugin on a small real Hapi server with throwaway routes: negotiation before the
// handler, XML in and out, every error an OperationOutcome, request ids echoed, native paths untouched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Hapi from '@hapi/hapi';
import { Fhir } from 'fhir';
import { fhirHttpPlugin, readFhirBody } from '../../src/plugins/fhir-http.js';
import { errorsPlugin } from '../../src/plugins/errors.js';
import { badRequest, OutcomeError } from '../../src/fhir/outcomes.js';
import { withLocations } from '../../src/fhir/format.js';
import { NativeApiError } from '../../src/services/errors.js';

const patient = { resourceType: 'Patient', id: 'p1', active: true, birthDate: '1970-01-01' };
const handled: string[] = [];
const logged: unknown[] = [];
let server: Hapi.Server;

beforeAll(async () => {
  server = Hapi.server({ router: { stripTrailingSlash: true } });
  // the order of src/server.ts: the native errors plugin first, so its skipping of /fhir is what is tested
  await server.register([{ plugin: errorsPlugin }, { plugin: fhirHttpPlugin }]);
  server.events.on({ name: 'request', channels: 'app' }, (_request, event) => {
    if (event.tags.includes('error')) logged.push(event.data);
  });
  server.route([
    {
      method: 'GET',
      path: '/fhir/Patient/{id}',
      handler: (request, h) => {
        handled.push(request.path);
        if (request.params.id !== 'p1') throw new OutcomeError(badRequest('No such patient here', 'Patient.id'), 404);
        return h.response(patient).code(200).header('ETag', 'W/"3"').header('Last-Modified', 'Thu, 26 Nov 2026 10:00:00 GMT');
      },
    },
    {
      method: 'POST',
      path: '/fhir/Patient',
      options: { payload: { parse: false, output: 'data', maxBytes: 2048 } },
      handler: (request, h) => {
        handled.push(request.path);
        const body = readFhirBody(request);
        if (body.resource.active === false) {
          throw new OutcomeError(withLocations(badRequest('Only active patients are taken here; send active true', 'Patient.active'), body), 422);
        }
        if (body.resource.gender === 'mal') {
          // no withLocations here: the plugin adds the location to any error answer to a parsed body
          throw new OutcomeError(badRequest('gender must be male, female, other or unknown', 'Patient.gender'), 422);
        }
        if (body.resource.resourceType !== 'Patient') {
          throw new OutcomeError(withLocations(badRequest('Only Patient is taken here', 'Patient.resourceType'), body), 400);
        }
        return h.response({ ...body.resource, id: 'new1' }).code(201).header('Location', '/fhir/Patient/new1/_history/1');
      },
    },
    {
      method: 'GET',
      path: '/fhir/boom',
      handler: () => {
        handled.push('/fhir/boom');
        throw new Error('secret internal detail: table fhir_resources is locked');
      },
    },
    {
      method: 'GET',
      path: '/fhir/Unwritable',
      // not a resource the fhir package knows: it cannot be written as XML
      handler: () => ({ resourceType: 'NoSuchType', id: 'x' }),
    },
    { method: 'GET', path: '/native/thing', handler: () => { throw new NativeApiError(404, 'No such thing', [{ path: 'id', message: 'unknown', allowed: 'an existing id' }]); } },
  ]);
  await server.initialize();
});

afterAll(async () => {
  await server.stop();
});

const xml = (resource: object) => new Fhir().objToXml(resource);

describe('content negotiation', () => {
  it.each([
    { accept: undefined, format: undefined, type: 'application/fhir+json' },
    { accept: 'application/fhir+xml', format: undefined, type: 'application/fhir+xml' },
    { accept: 'application/xml;q=0.5, application/json', format: undefined, type: 'application/fhir+json' },
    { accept: 'application/fhir+json', format: 'xml', type: 'application/fhir+xml' },
    { accept: undefined, format: 'application/fhir+xml', type: 'application/fhir+xml' },
    { accept: '*/*', format: undefined, type: 'application/fhir+json' },
  ])('Accept $accept, _format $format → $type', async ({ accept, format, type }) => {
    const res = await server.inject({ url: `/fhir/Patient/p1${format ? `?_format=${encodeURIComponent(format)}` : ''}`, headers: accept ? { accept } : {} });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(`${type}; charset=utf-8`);
    expect(res.headers.etag).toBe('W/"3"');
    expect(res.headers['last-modified']).toBe('Thu, 26 Nov 2026 10:00:00 GMT');
    const body = type.endsWith('xml') ? new Fhir().xmlToObj(res.payload) : JSON.parse(res.payload);
    expect(body).toEqual(patient);
  });

  it.each([
    { headers: { accept: 'text/html' }, url: '/fhir/Patient/p1' },
    { headers: { accept: 'application/fhir+json;q=0, application/fhir+xml;q=0, application/xml;q=0, text/xml;q=0, application/json;q=0' }, url: '/fhir/Patient/p1' },
    { headers: {}, url: '/fhir/Patient/p1?_format=html' },
    { headers: { 'content-type': 'application/fhir+json' }, url: '/fhir/Patient?_format=turtle', method: 'POST', payload: JSON.stringify(patient) },
  ])('406 before the handler runs: %j', async ({ headers, url, method, payload }) => {
    handled.length = 0;
    const res = await server.inject({ method: method ?? 'GET', url, headers, payload });
    expect(res.statusCode).toBe(406);
    expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    const outcome = JSON.parse(res.payload);
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0].code).toBe('not-supported');
    expect(outcome.issue[0].details.text).toMatch(/application\/fhir\+json/);
    expect(outcome.issue[0].details.coding).toEqual([{ system: 'https://fhir.nhs.uk/Codesystem/http-error-codes', code: 'REC_NOT_ACCEPTABLE' }]);
    expect(handled).toEqual([]);
  });

  it('answers in the format the body came in when Accept says nothing', async () => {
    const res = await server.inject({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': 'application/fhir+xml' }, payload: xml(patient) });
    expect(res.statusCode).toBe(201);
    expect(res.headers['content-type']).toBe('application/fhir+xml; charset=utf-8');
    expect(res.headers.location).toBe('/fhir/Patient/new1/_history/1');
    expect(new Fhir().xmlToObj(res.payload)).toEqual({ ...patient, id: 'new1' });
  });

  it('takes XML in and answers JSON when asked', async () => {
    const res = await server.inject({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': 'application/xml', accept: 'application/fhir+json' }, payload: xml(patient) });
    expect(res.statusCode).toBe(201);
    expect(JSON.parse(res.payload)).toEqual({ ...patient, id: 'new1' });
  });
});

describe('errors are OperationOutcomes', () => {
  it('415 for a body that is not FHIR JSON or XML, naming what is accepted', async () => {
    const res = await server.inject({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
    expect(res.statusCode).toBe(415);
    const outcome = JSON.parse(res.payload);
    expect(outcome.issue[0].details.text).toContain('text/plain');
    expect(outcome.issue[0].details.text).toContain('application/fhir+xml');
  });

  it('400 with line and column for broken JSON, in the format asked for', async () => {
    const res = await server.inject({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+xml' }, payload: '{\n  "resourceType": "Patient",\n  "active": tru\n}' });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toBe('application/fhir+xml; charset=utf-8');
    const outcome = new Fhir().xmlToObj(res.payload) as any;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0].diagnostics).toBe('line 3, column 13');
  });

  it('a handler outcome with an expression gets the line and column of that element', async () => {
    const located = await server.inject({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': 'application/fhir+json' }, payload: '{\n  "resourceType": "Patient",\n    "active": false\n}' });
    expect(located.statusCode).toBe(422);
    expect(JSON.parse(located.payload).issue[0]).toMatchObject({ expression: ['Patient.active'], diagnostics: 'line 3, column 5' });
    const automatic = await server.inject({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': 'application/fhir+json' }, payload: '{\n  "resourceType": "Patient",\n  "active": true,\n\n      "gender": "mal"\n}' });
    expect(automatic.statusCode).toBe(422);
    expect(JSON.parse(automatic.payload).issue[0]).toMatchObject({ expression: ['Patient.gender'], diagnostics: 'line 5, column 7' });
    const res = await server.inject({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': 'application/fhir+json' }, payload: '{\n  "resourceType": "Practitioner",\n  "active": true\n}' });
    expect(res.statusCode).toBe(400);
    // the expression names Patient, the body is a Practitioner: no location is invented
    expect(JSON.parse(res.payload).issue[0].diagnostics).toBeUndefined();
  });

  it('413 above the route maxBytes', async () => {
    const res = await server.inject({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': 'application/fhir+json' }, payload: JSON.stringify({ ...patient, text: 'x'.repeat(5000) }) });
    expect(res.statusCode).toBe(413);
    const outcome = JSON.parse(res.payload);
    expect(outcome.issue[0].code).toBe('too-costly');
    expect(outcome.issue[0].details.text).toContain('2048');
  });

  it('404 for an unknown /fhir path names the path', async () => {
    const res = await server.inject({ url: '/fhir/Nonsense/1' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    const outcome = JSON.parse(res.payload);
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0].code).toBe('not-found');
    expect(outcome.issue[0].details.text).toContain('GET /fhir/Nonsense/1');
  });

  it('405 naming the allowed methods for a known path and another method', async () => {
    handled.length = 0;
    const res = await server.inject({ method: 'DELETE', url: '/fhir/Patient' });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe('POST');
    const outcome = JSON.parse(res.payload);
    expect(outcome.issue[0].code).toBe('not-supported');
    expect(outcome.issue[0].details.text).toBe('DELETE is not supported on /fhir/Patient; allowed: POST');
    expect(handled).toEqual([]);
  });

  it('an OutcomeError keeps its status and issues', async () => {
    const res = await server.inject({ url: '/fhir/Patient/other' });
    expect(res.statusCode).toBe(404);
    const outcome = JSON.parse(res.payload);
    expect(outcome.issue[0].details.text).toBe('No such patient here');
    expect(outcome.issue[0].expression).toEqual(['Patient.id']);
    expect(outcome.issue[0].details.coding[0].code).toBe('REC_NOT_FOUND');
  });

  it('500 says nothing internal, carries the request id, and logs the error', async () => {
    logged.length = 0;
    const res = await server.inject({ url: '/fhir/boom', headers: { 'x-request-id': '9f1c2d3e-1111-4222-8333-444455556666' } });
    expect(res.statusCode).toBe(500);
    expect(res.payload).not.toContain('secret');
    expect(res.payload).not.toContain('fhir_resources');
    const outcome = JSON.parse(res.payload);
    expect(outcome.issue[0].code).toBe('exception');
    expect(outcome.issue[0].details.text).toContain('9f1c2d3e-1111-4222-8333-444455556666');
    expect(JSON.stringify(logged)).toContain('secret internal detail');
  });

  it('a resource that cannot be written in the asked format is a logged 500 in JSON', async () => {
    logged.length = 0;
    const res = await server.inject({ url: '/fhir/Unwritable', headers: { accept: 'application/fhir+xml' } });
    expect(res.statusCode).toBe(500);
    expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    expect(JSON.parse(res.payload).issue[0].code).toBe('exception');
    expect(logged).toHaveLength(1);
  });

  it('native paths keep the native error body', async () => {
    const res = await server.inject({ url: '/native/thing' });
    expect(res.statusCode).toBe(404);
    expect(JSON.parse(res.payload)).toEqual({ statusCode: 404, error: 'Not Found', message: 'No such thing', problems: [{ path: 'id', message: 'unknown', allowed: 'an existing id' }] });
    const unknown = await server.inject({ url: '/nowhere' });
    expect(JSON.parse(unknown.payload)).toMatchObject({ statusCode: 404, error: 'Not Found' });
    expect(unknown.headers['x-request-id']).toBeUndefined();
  });
});

describe('request ids (BaRS)', () => {
  it('echoes X-Request-ID and X-Correlation-ID', async () => {
    const res = await server.inject({ url: '/fhir/Patient/p1', headers: { 'x-request-id': 'a1b2', 'x-correlation-id': 'c3d4' } });
    expect(res.headers['x-request-id']).toBe('a1b2');
    expect(res.headers['x-correlation-id']).toBe('c3d4');
  });

  it('assigns a UUID when X-Request-ID is absent, on errors too', async () => {
    for (const url of ['/fhir/Patient/p1', '/fhir/Nope', '/fhir/Patient/p1?_format=html']) {
      const res = await server.inject({ url });
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(res.headers['x-correlation-id']).toBeUndefined();
    }
  });
});
