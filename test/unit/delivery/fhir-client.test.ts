// The wrapped FHIR client against an undici MockAgent (the one place a mock HTTP server is allowed):
// the requests it sends, what it answers, the FhirClientError of each kind of failure, and which
// failures it retries. The real server is driven in test/integration/fhir-client.test.ts.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { MockAgent } from 'undici';
import type { Bundle, MessageHeader, OperationOutcome } from 'fhir/r4.js';
import { FhirClient, FhirClientError, outcomeOf } from '../../../src/delivery/fhir-client.js';

const ORIGIN = 'http://fhir.test';
const BASE = `${ORIGIN}/fhir`;
const json = { headers: { 'content-type': 'application/fhir+json' } };
const outcome: OperationOutcome = {
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: 'value', details: { text: 'status "bogus" is not allowed; allowed: active, revoked' }, expression: ['ServiceRequest.status'] }],
};

interface Seen {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: unknown;
}

let mock: MockAgent;
let seen: Seen[];

beforeEach(() => {
  mock = new MockAgent();
  mock.disableNetConnect();
  seen = [];
});
afterEach(async () => {
  await mock.close();
});

/** Answers the next request to `path` with `status` and `body`, recording what was sent. */
function answer(method: string, path: string, status: number, body: unknown, headers: Record<string, string> = {}) {
  return mock
    .get(ORIGIN)
    .intercept({ method, path })
    .reply((opts) => {
      const text = typeof opts.body === 'string' ? opts.body : undefined;
      seen.push({ method: opts.method, path: opts.path, headers: opts.headers as Record<string, string>, body: text ? JSON.parse(text) : undefined });
      return { statusCode: status, data: typeof body === 'string' ? body : JSON.stringify(body), responseOptions: { headers: { ...json.headers, ...headers } } };
    });
}

function client(options: Partial<ConstructorParameters<typeof FhirClient>[0]> = {}) {
  return new FhirClient({ baseUrl: `${BASE}/`, dispatcher: mock, retries: 2, retryDelayMs: 1, ...options });
}

async function failure(call: Promise<unknown>): Promise<FhirClientError> {
  try {
    await call;
  } catch (err) {
    expect(err).toBeInstanceOf(FhirClientError);
    return err as FhirClientError;
  }
  throw new Error('expected the call to fail, it succeeded');
}

const sr = { resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: { reference: 'Patient/1' } } as const;
const message: Bundle = { resourceType: 'Bundle', type: 'message', entry: [] };

describe('requests', () => {
  test.each([
    { name: 'capabilityStatement', call: (c: FhirClient) => c.capabilityStatement(), method: 'GET', path: '/fhir/metadata' },
    { name: 'read', call: (c: FhirClient) => c.read('Patient', 'p1'), method: 'GET', path: '/fhir/Patient/p1' },
    { name: 'vread', call: (c: FhirClient) => c.vread('Patient', 'p1', '2'), method: 'GET', path: '/fhir/Patient/p1/_history/2' },
    { name: 'history', call: (c: FhirClient) => c.history('Patient', 'p1'), method: 'GET', path: '/fhir/Patient/p1/_history' },
    {
      name: 'search',
      call: (c: FhirClient) => c.search('ServiceRequest', { 'patient:identifier': 'https://fhir.nhs.uk/Id/nhs-number|9990000018', _count: 2 }),
      method: 'GET',
      path: `/fhir/ServiceRequest?patient%3Aidentifier=${encodeURIComponent('https://fhir.nhs.uk/Id/nhs-number|9990000018')}&_count=2`,
    },
    { name: 'transaction', call: (c: FhirClient) => c.transaction({ resourceType: 'Bundle', type: 'transaction' }, 'tx-1'), method: 'POST', path: '/fhir/', requestId: 'tx-1', body: { resourceType: 'Bundle', type: 'transaction' } },
    { name: 'batch', call: (c: FhirClient) => c.batch({ resourceType: 'Bundle', type: 'batch' }, 'b-1'), method: 'POST', path: '/fhir/', requestId: 'b-1', body: { resourceType: 'Bundle', type: 'batch' } },
    { name: 'processMessage', call: (c: FhirClient) => c.processMessage(message, 'm-1'), method: 'POST', path: '/fhir/$process-message', requestId: 'm-1', body: message },
    {
      name: 'validate',
      call: (c: FhirClient) => c.validate(sr as never, 'https://example.org/StructureDefinition/x'),
      method: 'POST',
      path: '/fhir/ServiceRequest/$validate',
      body: { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: sr }, { name: 'profile', valueUri: 'https://example.org/StructureDefinition/x' }] },
    },
  ])('$name → $method $path', async ({ call, method, path, requestId, body }) => {
    answer(method, path, 200, { resourceType: 'Bundle', type: 'searchset' });
    await call(client({ headers: { authorization: 'Bearer t' } }));
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers.accept).toBe('application/fhir+json');
    expect(seen[0]!.headers.authorization).toBe('Bearer t');
    if (method === 'POST') expect(seen[0]!.headers['content-type']).toBe('application/fhir+json');
    if (requestId) expect(seen[0]!.headers['x-request-id']).toBe(requestId);
    if (body) expect(seen[0]!.body).toEqual(body);
  });

  test('create: the answer with its status, Location and ETag; If-None-Exist and a fresh X-Request-ID sent', async () => {
    answer('POST', '/fhir/ServiceRequest', 200, { ...sr, id: 's1' }, { location: `${BASE}/ServiceRequest/s1/_history/1`, etag: 'W/"1"' });
    answer('POST', '/fhir/ServiceRequest', 201, { ...sr, id: 's2' }, { location: `${BASE}/ServiceRequest/s2/_history/1`, etag: 'W/"1"' });
    const c = client();
    const matched = await c.create(sr as never, { ifNoneExist: 'identifier=https://fhir.nhs.uk/Id/UBRN|000012345678' });
    expect(matched).toEqual({ status: 200, resource: { ...sr, id: 's1' }, location: `${BASE}/ServiceRequest/s1/_history/1`, etag: 'W/"1"' });
    const created = await c.create(sr as never);
    expect(created.status).toBe(201);
    expect(seen[0]!.headers['if-none-exist']).toBe('identifier=https://fhir.nhs.uk/Id/UBRN|000012345678');
    expect(seen[1]!.headers['if-none-exist']).toBeUndefined();
    expect(seen[0]!.body).toEqual(sr);
    // each call its own idempotency key
    expect(seen[0]!.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[1]!.headers['x-request-id']).not.toBe(seen[0]!.headers['x-request-id']);
  });

  test('searchAll follows next links (absolute URLs) to the last page', async () => {
    const page = (ids: string[], next?: string): Bundle => ({
      resourceType: 'Bundle',
      type: 'searchset',
      link: next ? [{ relation: 'next', url: next }] : [],
      entry: ids.map((id) => ({ resource: { resourceType: 'Patient', id } })),
    });
    answer('GET', '/fhir/Patient?_count=2', 200, page(['a', 'b'], `${BASE}/Patient?_count=2&_offset=2`));
    answer('GET', '/fhir/Patient?_count=2&_offset=2', 200, page(['c', 'd'], `${BASE}/Patient?_count=2&_offset=4`));
    answer('GET', '/fhir/Patient?_count=2&_offset=4', 200, page(['e']));
    const all = await client().searchAll('Patient', { _count: 2 });
    expect(all.map((p) => p.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(await client().nextPage(page([]))).toBeUndefined();
  });
});

describe('failures are FhirClientErrors', () => {
  test('a 422 OperationOutcome: status, outcome and its text in the message; not retried', async () => {
    answer('POST', '/fhir/ServiceRequest', 422, outcome);
    const err = await failure(client().create(sr as never));
    expect(err).toMatchObject({ kind: 'http', status: 422, method: 'POST', url: `${BASE}/ServiceRequest`, attempts: 1 });
    expect(err.outcome).toEqual(outcome);
    expect(err.body).toEqual(outcome);
    expect(err.message).toBe(`POST ${BASE}/ServiceRequest answered 422: status "bogus" is not allowed; allowed: active, revoked`);
    expect(err.issueTexts()).toEqual(['status "bogus" is not allowed; allowed: active, revoked']);
    expect(seen).toHaveLength(1);
  });

  test('a refused message: the OperationOutcome inside the response message Bundle', async () => {
    const response: Bundle = {
      resourceType: 'Bundle',
      type: 'message',
      entry: [{ resource: { resourceType: 'MessageHeader', eventCoding: { code: 'x' }, source: { endpoint: 'e' }, response: { identifier: 'm', code: 'fatal-error' } } as MessageHeader }, { resource: outcome }],
    };
    answer('POST', '/fhir/$process-message', 422, response);
    const err = await failure(client().processMessage(message));
    expect(err.status).toBe(422);
    expect(err.body).toEqual(response);
    expect(err.outcome).toEqual(outcome);
  });

  test.each([
    { body: '<html>Bad gateway</html>', status: 400 },
    { body: { resourceType: 'Patient', id: 'p' }, status: 404 },
  ])('an answer that is no OperationOutcome ($status): status and body, no outcome', async ({ body, status }) => {
    answer('GET', '/fhir/Patient/p', status, body);
    const err = await failure(client().read('Patient', 'p'));
    expect(err.status).toBe(status);
    expect(err.body).toEqual(body);
    expect(err.outcome).toBeUndefined();
    expect(err.issueTexts()).toEqual([]);
  });

  test('no answer in time: kind timeout', async () => {
    answer('GET', '/fhir/metadata', 200, {}).delay(2_000);
    const err = await failure(client({ timeoutMs: 20, retries: 0 }).capabilityStatement());
    expect(err).toMatchObject({ kind: 'timeout', status: undefined, method: 'GET', url: `${BASE}/metadata` });
    expect(err.message).toContain('timed out after 20 ms');
  });

  test('a connection failure: kind network, retried, then given up', async () => {
    for (let i = 0; i < 3; i++) mock.get(ORIGIN).intercept({ method: 'GET', path: '/fhir/Patient/p' }).replyWithError(new Error('connection reset'));
    const err = await failure(client({ retries: 2 }).read('Patient', 'p'));
    expect(err.kind).toBe('network');
    expect(err.attempts).toBe(3);
    expect(mock.pendingInterceptors()).toEqual([]);
  });
});

describe('retries', () => {
  test.each([408, 429, 502, 503, 504])('a GET answered %i is tried again', async (status) => {
    answer('GET', '/fhir/Patient/p', status, outcome, { 'retry-after': '0' });
    answer('GET', '/fhir/Patient/p', 200, { resourceType: 'Patient', id: 'p' });
    expect(await client().read('Patient', 'p')).toEqual({ resourceType: 'Patient', id: 'p' });
    expect(seen).toHaveLength(2);
  });

  test.each([400, 401, 404, 409, 412, 422, 500])('a %i is final', async (status) => {
    answer('GET', '/fhir/Patient/p', status, outcome);
    answer('GET', '/fhir/Patient/p', 200, { resourceType: 'Patient', id: 'p' });
    const err = await failure(client().read('Patient', 'p'));
    expect(err.status).toBe(status);
    expect(seen).toHaveLength(1);
  });

  test('a retried POST resends the same X-Request-ID, so the server can tell it is a retry', async () => {
    answer('POST', '/fhir/', 503, outcome);
    answer('POST', '/fhir/', 200, { resourceType: 'Bundle', type: 'transaction-response' });
    await client().transaction({ resourceType: 'Bundle', type: 'transaction' });
    expect(seen).toHaveLength(2);
    expect(seen[1]!.headers['x-request-id']).toBe(seen[0]!.headers['x-request-id']);
    expect(seen[1]!.body).toEqual(seen[0]!.body);
  });

  test('retries: 0 gives the first failure', async () => {
    answer('GET', '/fhir/metadata', 503, outcome);
    const err = await failure(client({ retries: 0 }).capabilityStatement());
    expect(err).toMatchObject({ status: 503, attempts: 1 });
  });

  test('after the last retry, the last failure', async () => {
    for (let i = 0; i < 3; i++) answer('GET', '/fhir/metadata', 503, outcome);
    const err = await failure(client({ retries: 2 }).capabilityStatement());
    expect(err).toMatchObject({ status: 503, attempts: 3, outcome });
    expect(seen).toHaveLength(3);
  });
});

test('outcomeOf: the body, the OperationOutcome in a Bundle, or nothing', () => {
  expect(outcomeOf(outcome)).toBe(outcome);
  expect(outcomeOf({ resourceType: 'Bundle', entry: [{ resource: { resourceType: 'MessageHeader' } }, { resource: outcome }] })).toBe(outcome);
  expect(outcomeOf({ resourceType: 'Bundle', entry: [] })).toBeUndefined();
  expect(outcomeOf('text')).toBeUndefined();
  expect(outcomeOf(undefined)).toBeUndefined();
});

test('close() leaves a dispatcher it was given open', async () => {
  const c = client();
  await c.close();
  answer('GET', '/fhir/metadata', 200, { resourceType: 'CapabilityStatement' });
  expect(await c.capabilityStatement()).toEqual({ resourceType: 'CapabilityStatement' });
});
