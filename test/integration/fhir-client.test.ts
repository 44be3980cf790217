// A real FHIR client drives the running server over HTTP, as a GP system would (issue 3 point 11):
// the server listens on a free port, and fhir-kit-client (through our wrapper, src/delivery/fhir-client.ts,
// and once bare) reads the CapabilityStatement, creates, conditionally creates, sends a transaction and
// BaRS messages, reads, vreads, reads history, searches page by page and validates. Refusals must reach
// the client as errors whose OperationOutcome it can read. Every test makes its own identifiers, so the
// tests do not depend on each other or on their order.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Client } from 'fhir-kit-client';
import type { Bundle, BundleEntry, CapabilityStatement, MessageHeader, OperationOutcome, QuestionnaireResponse, ServiceRequest } from 'fhir/r4.js';
import type { App } from '../../src/server.js';
import { FhirClient, FhirClientError } from '../../src/delivery/fhir-client.js';
import { nhsNumberCheckDigit } from '../../src/fhir/nhs-number.js';
import { dialects, projectRoot, startApp } from '../support/app.js';

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const UBRN = 'https://fhir.nhs.uk/Id/UBRN';
const PHQ9 = 'https://fhir.painplatform.uk/Questionnaire/phq-9';
const GAD7 = 'https://fhir.painplatform.uk/Questionnaire/gad-7';

function inbound(name: string): string {
  return readFileSync(join(projectRoot, 'fixtures', 'fhir-inbound', name), 'utf8');
}

function digits(n: number): string {
  let s = '';
  while (s.length < n) s += Math.floor(Math.random() * 10);
  return s;
}

/** A valid NHS number of the test range (999…), different each call. */
function freshNhsNumber(): string {
  for (;;) {
    const nine = `999${digits(6)}`;
    const check = nhsNumberCheckDigit(nine);
    if (check !== null) return `${nine}${check}`;
  }
}

interface Ids {
  nhs: string;
  ubrn: string;
  qr: string;
}

function freshIds(): Ids {
  return { nhs: freshNhsNumber(), ubrn: digits(12), qr: randomUUID().slice(0, 8) };
}

/**
 * A GP fixture with this test's patient, referral and response identifiers (and, for messages, its own
 * message ids), so that it is new to the server; everything else is as the fixture has it.
 */
function gp<T>(name: string, ids: Ids, messageId?: string): T {
  let text = inbound(name)
    .replaceAll('9000000009', ids.nhs)
    .replaceAll('000012345678', ids.ubrn)
    .replaceAll('000012345679', ids.ubrn)
    .replaceAll('EMP-QR-2026-0041', `EMP-QR-${ids.qr}`)
    .replaceAll('EMP QR 42 (GAD)', `EMP QR ${ids.qr} (GAD)`);
  if (messageId) text = text.replace(/3f0c2b7e-51a4-4f8e-b0a6-8d2c4e6f1a0[12]/g, messageId);
  return JSON.parse(text) as T;
}

const headerOf = (bundle: Bundle) => bundle.entry?.[0]?.resource as MessageHeader;
const outcomeIn = (bundle: Bundle) => bundle.entry?.find((e) => e.resource?.resourceType === 'OperationOutcome')?.resource as OperationOutcome;
const errors = (o: OperationOutcome) => o.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');
const idOf = (location: string | undefined) => /^(?:.*\/)?([A-Za-z]+)\/([^/]+)\/_history\/(\d+)$/.exec(location ?? '')?.slice(1) ?? [];

/** The FhirClientError a call fails with (the test fails if it does not fail). */
async function failure(call: Promise<unknown>): Promise<FhirClientError> {
  try {
    await call;
  } catch (err) {
    expect(err).toBeInstanceOf(FhirClientError);
    return err as FhirClientError;
  }
  throw new Error('expected the call to fail, it succeeded');
}

describe.each(dialects)('a GP system drives /fhir over HTTP with fhir-kit-client (%s)', (dialect) => {
  let app: App;
  let baseUrl: string;
  let client: FhirClient;

  beforeAll(async () => {
    app = await startApp(dialect, { PORT: '0', HOST: '127.0.0.1' });
    await app.server.start();
    baseUrl = `${app.server.info.uri}/fhir`;
    // No retries: a test must see the server's first answer.
    client = new FhirClient({ baseUrl, retries: 0, timeoutMs: 20_000 });
    // A referral names its requester and performer by SDS / ODS identifier; the server resolves those
    // against what it has received, so the GP system first sends the Practitioner and the Organizations
    // (conditionally: a second run of this would find them).
    const tx = JSON.parse(inbound('gp-referral.transaction.json')) as Bundle;
    for (const e of tx.entry!) {
      if (e.resource?.resourceType === 'Practitioner' || e.resource?.resourceType === 'Organization') {
        const created = await client.create(e.resource, { ifNoneExist: e.request!.ifNoneExist });
        expect(created.status).toBe(201);
      }
    }
  });

  afterAll(async () => {
    await client?.close();
    await app?.stop();
  });

  /** ServiceRequests stored under a UBRN, as the server reports them. */
  async function byUbrn(ubrn: string): Promise<Bundle> {
    return client.search('ServiceRequest', { identifier: `${UBRN}|${ubrn}` });
  }

  test('metadata: a CapabilityStatement of what is served', async () => {
    const cs: CapabilityStatement = await client.capabilityStatement();
    expect(cs.resourceType).toBe('CapabilityStatement');
    expect(cs.fhirVersion).toBe('4.0.1');
    expect(cs.kind).toBe('instance');
    expect(cs.implementation?.url).toBe(baseUrl);
    const rest = cs.rest![0]!;
    expect(rest.mode).toBe('server');
    expect(rest.interaction?.map((i) => i.code)).toEqual(expect.arrayContaining(['transaction', 'batch']));
    expect(rest.operation?.map((o) => o.name)).toContain('process-message');

    const sr = rest.resource!.find((r) => r.type === 'ServiceRequest')!;
    expect(sr.interaction!.map((i) => i.code).sort()).toEqual(['create', 'history-instance', 'read', 'search-type', 'vread']);
    expect(sr.conditionalCreate).toBe(true);
    expect(sr.searchParam!.map((p) => p.name)).toEqual(expect.arrayContaining(['identifier', 'patient', 'status', 'authored', '_lastUpdated']));
    expect(sr.searchParam!.find((p) => p.name === 'patient')!.type).toBe('reference');
    expect(sr.operation!.map((o) => o.name)).toContain('validate');
    expect(sr.supportedProfile?.length).toBeGreaterThan(0);

    const qr = rest.resource!.find((r) => r.type === 'QuestionnaireResponse')!;
    expect(qr.searchParam!.map((p) => p.name)).toEqual(expect.arrayContaining(['questionnaire', 'patient', 'subject', 'authored']));
    expect(cs.messaging?.[0]?.supportedMessage?.[0]?.definition).toMatch(/MessageDefinition\/referral-request/);
  });

  test('create: a ServiceRequest with a contained Patient → 201, Location, ETag; read gives it back', async () => {
    const ids = freshIds();
    const body = gp<ServiceRequest>('gp-referral-contained-patient.service-request.json', ids);
    const created = await client.create(body);
    expect(created.status).toBe(201);
    const sr = created.resource;
    expect(sr.resourceType).toBe('ServiceRequest');
    expect(sr.id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
    expect(sr.meta?.versionId).toBe('1');
    expect(created.location).toBe(`${baseUrl}/ServiceRequest/${sr.id}/_history/1`);
    expect(created.etag).toBe('W/"1"');
    expect(sr.identifier).toEqual(expect.arrayContaining([{ system: UBRN, value: ids.ubrn }]));
    expect(sr.status).toBe('active');
    expect(sr.priority).toBe('asap');

    const read = await client.read<ServiceRequest>('ServiceRequest', sr.id!);
    expect(read).toEqual(sr);
    // the contained Patient travelled with it, NHS number included
    const patient = read.contained?.find((r) => r.resourceType === 'Patient') as { identifier?: Array<{ system?: string; value?: string }> } | undefined;
    expect(patient?.identifier).toEqual(expect.arrayContaining([{ system: NHS, value: ids.nhs }]));
    expect((await byUbrn(ids.ubrn)).total).toBe(1);
  });

  test('conditional create (If-None-Exist) of the same referral → 200 with the stored one, nothing new', async () => {
    const ids = freshIds();
    const body = gp<ServiceRequest>('gp-referral-contained-patient.service-request.json', ids);
    const ifNoneExist = `identifier=${UBRN}|${ids.ubrn}`;
    const first = await client.create(body, { ifNoneExist });
    expect(first.status).toBe(201);
    const again = await client.create(body, { ifNoneExist });
    expect(again.status).toBe(200);
    expect(again.resource.id).toBe(first.resource.id);
    expect(again.resource.meta?.versionId).toBe('1');
    expect(again.location).toBe(first.location);
    const found = await byUbrn(ids.ubrn);
    expect(found.total).toBe(1);
    expect(found.entry?.[0]?.resource?.id).toBe(first.resource.id);
  });

  test('an invalid create → the client error, 422, with an OperationOutcome naming the field; nothing stored', async () => {
    const ids = freshIds();
    const body = gp<ServiceRequest>('gp-referral-contained-patient.service-request.json', ids);
    (body as { status: string }).status = 'bogus';
    const err = await failure(client.create(body));
    expect(err.kind).toBe('http');
    expect(err.status).toBe(422);
    expect(err.method).toBe('POST');
    expect(err.url).toBe(`${baseUrl}/ServiceRequest`);
    expect(err.outcome?.resourceType).toBe('OperationOutcome');
    const problems = errors(err.outcome!);
    expect(problems.length).toBeGreaterThan(0);
    const onStatus = problems.find((i) => i.expression?.some((e) => e.startsWith('ServiceRequest.status')));
    expect(onStatus, JSON.stringify(problems)).toBeDefined();
    expect(onStatus!.details?.text).toMatch(/bogus/);
    // JSON input: the line and column of the offending value
    expect(onStatus!.diagnostics).toMatch(/line \d+/i);
    expect(err.message).toContain('422');
    expect((await byUbrn(ids.ubrn)).total).toBe(0);
  });

  test('the bare fhir-kit-client sees the same refusal: an Error with response.status and the OperationOutcome', async () => {
    const kit = new Client({ baseUrl });
    const ids = freshIds();
    const body = gp<ServiceRequest>('gp-referral-contained-patient.service-request.json', ids);
    delete (body as { intent?: string }).intent;
    const thrown = await kit.create({ resourceType: 'ServiceRequest', body: body as never }).then(
      () => undefined,
      (e: unknown) => e as { response?: { status: number; data: OperationOutcome } },
    );
    expect(thrown?.response?.status).toBe(422);
    const problems = errors(thrown!.response!.data);
    expect(problems.some((i) => i.expression?.includes('ServiceRequest.intent')), JSON.stringify(problems)).toBe(true);
    // and a read of something that is not there is a 404 OperationOutcome
    const missing = await kit.read({ resourceType: 'ServiceRequest', id: 'no-such-id' }).then(
      () => undefined,
      (e: unknown) => e as { response?: { status: number; data: OperationOutcome } },
    );
    expect(missing?.response?.status).toBe(404);
    expect(missing?.response?.data.resourceType).toBe('OperationOutcome');
  });

  test('transaction: the GP package in one Bundle → transaction-response, urn:uuid references resolved', async () => {
    const ids = freshIds();
    const bundle = gp<Bundle>('gp-referral.transaction.json', ids);
    const response = await client.transaction(bundle);
    expect(response.resourceType).toBe('Bundle');
    expect(response.type).toBe('transaction-response');
    expect(response.entry).toHaveLength(bundle.entry!.length);
    // entries answer in request order, each with status, location and the stored resource
    const located = new Map<string, { type: string; id: string }>();
    response.entry!.forEach((e: BundleEntry, i) => {
      const sent = bundle.entry![i]!;
      expect(e.response?.status).toMatch(/^20[01] /);
      const [type, id, version] = idOf(e.response?.location);
      expect(type).toBe(sent.resource!.resourceType);
      expect(version).toBeDefined();
      expect(e.resource?.id).toBe(id);
      located.set(sent.fullUrl!, { type: type!, id: id! });
    });
    const srSent = bundle.entry!.find((e) => e.resource?.resourceType === 'ServiceRequest')!;
    const srAt = located.get(srSent.fullUrl!)!;
    expect(response.entry!.find((e) => e.resource?.id === srAt.id)?.response?.status).toBe('201 Created');

    const sr = await client.read<ServiceRequest>('ServiceRequest', srAt.id);
    expect(sr.identifier).toEqual(expect.arrayContaining([{ system: UBRN, value: ids.ubrn }]));
    const sentSr = srSent.resource as ServiceRequest;
    const resolved = (ref: string | undefined) => {
      const to = located.get(ref!);
      return to ? `${to.type}/${to.id}` : `unresolved ${ref}`;
    };
    expect(sr.subject.reference).toBe(resolved(sentSr.subject.reference));
    expect(sr.requester?.reference).toBe(resolved(sentSr.requester?.reference));
    expect(sr.supportingInfo?.map((r) => r.reference)).toEqual(sentSr.supportingInfo!.map((r) => resolved(r.reference)));
    expect(JSON.stringify(sr)).not.toContain('urn:uuid:');

    // the Patient it points at is the one sent, by NHS number
    const patient = await client.read<{ resourceType: 'Patient'; identifier?: Array<{ system?: string; value?: string }> }>('Patient', sr.subject.reference!.split('/')[1]!);
    expect(patient.identifier).toEqual(expect.arrayContaining([{ system: NHS, value: ids.nhs }]));
  });

  test('a refused transaction → 422 naming the entry; nothing of it stored', async () => {
    const ids = freshIds();
    const bundle = gp<Bundle>('gp-referral.transaction.json', ids);
    const at = bundle.entry!.findIndex((e) => e.resource?.resourceType === 'ServiceRequest');
    (bundle.entry![at]!.resource as ServiceRequest as { status: string }).status = 'bogus';
    const err = await failure(client.transaction(bundle));
    expect(err.status).toBe(422);
    const problems = errors(err.outcome!);
    expect(problems.some((i) => i.expression?.some((e) => e.startsWith(`Bundle.entry[${at}].resource.status`))), JSON.stringify(problems)).toBe(true);
    expect((await byUbrn(ids.ubrn)).total).toBe(0);
    expect((await client.search('Patient', { identifier: `${NHS}|${ids.nhs}` })).total).toBe(0);
    expect((await client.search('QuestionnaireResponse', { 'patient:identifier': `${NHS}|${ids.nhs}` })).total).toBe(0);
  });

  test('X-Request-ID: a retried create is answered as the first was; the same id with another body → 409', async () => {
    const ids = freshIds();
    const body = gp<ServiceRequest>('gp-referral-contained-patient.service-request.json', ids);
    const requestId = randomUUID();
    const first = await client.create(body, { requestId });
    const retry = await client.create(body, { requestId });
    expect(retry.status).toBe(first.status);
    expect(retry.resource).toEqual(first.resource);
    expect(retry.location).toBe(first.location);
    expect((await byUbrn(ids.ubrn)).total).toBe(1);

    const other = gp<ServiceRequest>('gp-referral-contained-patient.service-request.json', { ...ids, ubrn: digits(12) });
    const err = await failure(client.create(other, { requestId }));
    expect(err.status).toBe(409);
    expect(err.issueTexts()[0]).toMatch(/X-Request-ID/);
  });

  test('$process-message: a new referral (ok), then its cancellation (ok) → a second version; read, vread, history', async () => {
    const ids = freshIds();
    const message = gp<Bundle>('gp-referral.message.json', ids, randomUUID());
    const answer = await client.processMessage(message);
    expect(answer.resourceType).toBe('Bundle');
    expect(answer.type).toBe('message');
    const header = headerOf(answer);
    expect(header.resourceType).toBe('MessageHeader');
    expect(header.eventCoding).toEqual({ system: 'https://fhir.nhs.uk/CodeSystem/message-events-bars', code: 'servicerequest-response' });
    expect(header.response).toMatchObject({ identifier: headerOf(message).id, code: 'ok' });
    expect(errors(outcomeIn(answer))).toEqual([]);

    const stored = await byUbrn(ids.ubrn);
    expect(stored.total).toBe(1);
    const id = stored.entry![0]!.resource!.id!;
    const v1 = await client.read<ServiceRequest>('ServiceRequest', id);
    expect(v1.status).toBe('active');
    expect(v1.meta?.versionId).toBe('1');

    const cancellation = gp<Bundle>('gp-cancellation.message.json', ids, randomUUID());
    const cancelled = await client.processMessage(cancellation);
    expect(headerOf(cancelled).response).toMatchObject({ identifier: headerOf(cancellation).id, code: 'ok' });

    const v2 = await client.read<ServiceRequest>('ServiceRequest', id);
    expect(v2.status).toBe('revoked');
    expect(v2.meta?.versionId).toBe('2');
    expect((await byUbrn(ids.ubrn)).total).toBe(1);

    const old = await client.vread<ServiceRequest>('ServiceRequest', id, '1');
    expect(old.status).toBe('active');
    expect(old.meta?.versionId).toBe('1');

    const history = await client.history('ServiceRequest', id);
    expect(history.type).toBe('history');
    expect(history.total).toBe(2);
    expect(history.entry!.map((e) => [(e.resource as ServiceRequest).meta?.versionId, (e.resource as ServiceRequest).status])).toEqual([
      ['2', 'revoked'],
      ['1', 'active'],
    ]);

    const gone = await failure(client.vread('ServiceRequest', id, '3'));
    expect(gone.status).toBe(404);
    expect(gone.outcome?.issue[0]?.details?.text ?? gone.outcome?.issue[0]?.diagnostics).toMatch(/versions 1 to 2/);
  });

  test('$process-message refused: the client error carries the response message and its OperationOutcome', async () => {
    const ids = freshIds();
    // a cancellation of a referral never received
    const cancellation = gp<Bundle>('gp-cancellation.message.json', ids, randomUUID());
    const err = await failure(client.processMessage(cancellation));
    expect(err.status).toBe(422);
    const body = err.body as Bundle;
    expect(body.type).toBe('message');
    expect(headerOf(body).response).toMatchObject({ identifier: headerOf(cancellation).id, code: 'fatal-error' });
    expect(err.outcome).toEqual(outcomeIn(body));
    expect(err.issueTexts().join('\n')).toMatch(/send it first with reason "new"/);
    expect((await byUbrn(ids.ubrn)).total).toBe(0);
  });

  test('search: ServiceRequest by patient:identifier, page by page with _count and next links', async () => {
    const ids = freshIds();
    const created: string[] = [];
    for (let n = 0; n < 3; n++) {
      const body = gp<ServiceRequest>('gp-referral-contained-patient.service-request.json', { ...ids, ubrn: digits(12) });
      created.push((await client.create(body)).resource.id!);
    }
    const params = { 'patient:identifier': `${NHS}|${ids.nhs}`, _count: 2 };
    const first = await client.search('ServiceRequest', params);
    expect(first.type).toBe('searchset');
    expect(first.total).toBe(3);
    expect(first.entry).toHaveLength(2);
    expect(first.link?.find((l) => l.relation === 'self')?.url).toMatch(new RegExp(`^${baseUrl}/ServiceRequest\\?`));
    expect(first.link?.find((l) => l.relation === 'next')?.url).toMatch(new RegExp(`^${baseUrl}/ServiceRequest\\?`));
    const second = await client.nextPage(first);
    expect(second?.entry).toHaveLength(1);
    expect(await client.nextPage(second!)).toBeUndefined();
    const seen = [...first.entry!, ...second!.entry!].map((e) => e.resource!.id!);
    expect(seen.sort()).toEqual([...created].sort());
    for (const e of [...first.entry!, ...second!.entry!]) expect(e.fullUrl).toBe(`${baseUrl}/ServiceRequest/${e.resource!.id}`);

    // another patient's referrals are not among them
    expect((await client.search('ServiceRequest', { 'patient:identifier': `${NHS}|${freshNhsNumber()}` })).total).toBe(0);
  });

  test('search: QuestionnaireResponse by questionnaire, following nextPage to the end', async () => {
    const ids = freshIds();
    const response = await client.transaction(gp<Bundle>('gp-referral.transaction.json', ids));
    const qrIds = response.entry!.filter((e) => e.resource?.resourceType === 'QuestionnaireResponse').map((e) => e.resource as QuestionnaireResponse);
    const phq9 = qrIds.find((q) => q.questionnaire?.startsWith(PHQ9))!;
    const gad7 = qrIds.find((q) => q.questionnaire?.startsWith(GAD7))!;
    expect(phq9 && gad7).toBeTruthy();

    // this patient's PHQ-9 only
    const mine = await client.search('QuestionnaireResponse', { questionnaire: PHQ9, 'patient:identifier': `${NHS}|${ids.nhs}` });
    expect(mine.total).toBe(1);
    expect(mine.entry![0]!.resource!.id).toBe(phq9.id);
    // versioned canonical as sent (gad-7|1.0.0) is found by the bare URL
    const gad = await client.search('QuestionnaireResponse', { questionnaire: GAD7, 'patient:identifier': `${NHS}|${ids.nhs}` });
    expect(gad.entry?.map((e) => e.resource!.id)).toEqual([gad7.id]);

    // every PHQ-9 response stored, one per page: ours among them, no GAD-7
    const all = await client.searchAll<QuestionnaireResponse>('QuestionnaireResponse', { questionnaire: PHQ9, _count: 1 });
    const first = await client.search('QuestionnaireResponse', { questionnaire: PHQ9, _count: 1 });
    expect(all.length).toBeGreaterThanOrEqual(1);
    expect(all.length).toBe(first.total);
    expect(new Set(all.map((q) => q.id)).size).toBe(all.length);
    expect(all.map((q) => q.id)).toContain(phq9.id);
    for (const q of all) expect(q.questionnaire?.startsWith(PHQ9)).toBe(true);
  });

  test('$validate (type level): an invalid ServiceRequest → OperationOutcome with errors where they are; nothing stored', async () => {
    const ids = freshIds();
    const body = gp<ServiceRequest>('gp-referral-contained-patient.service-request.json', ids);
    (body as { status: string }).status = 'bogus';
    delete (body as { intent?: string }).intent;
    const outcome = await client.validate(body);
    expect(outcome.resourceType).toBe('OperationOutcome');
    const problems = errors(outcome);
    expect(problems.some((i) => i.expression?.some((e) => e.startsWith('ServiceRequest.status'))), JSON.stringify(problems)).toBe(true);
    expect(problems.some((i) => i.expression?.includes('ServiceRequest.intent')), JSON.stringify(problems)).toBe(true);
    for (const i of problems) expect(i.details?.text).toBeTruthy();
    expect((await byUbrn(ids.ubrn)).total).toBe(0);

    // the same referral, valid, passes without errors, and is not stored either
    const valid = gp<ServiceRequest>('gp-referral-contained-patient.service-request.json', ids);
    expect(errors(await client.validate(valid))).toEqual([]);
    expect((await byUbrn(ids.ubrn)).total).toBe(0);
  });
});
