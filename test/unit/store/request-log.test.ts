import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuplicateRequestIdError, RequestLog, type LoggedResponse } from '../../../src/store/request-log.repo.js';
import { FhirRepository } from '../../../src/store/fhir.repo.js';
import type { Store } from '../../../src/store/db.js';
import { dialects, openTestStore } from './store-fixture.js';

const entry = (requestId: string, overrides: Partial<LoggedResponse> = {}): LoggedResponse => ({
  requestId,
  bodyHash: 'sha256:abc',
  method: 'POST',
  url: '/fhir/ServiceRequest',
  status: 201,
  headers: { location: 'ServiceRequest/x/_history/1', etag: 'W/"1"' },
  body: '{"resourceType":"ServiceRequest","id":"x"}',
  contentType: 'application/fhir+json; charset=utf-8',
  createdAt: '2026-11-21T10:00:00.000Z',
  ...overrides,
});

describe.each(dialects)('RequestLog on %s', (dialect) => {
  let store: Store;
  let log: RequestLog;

  beforeAll(async () => {
    store = await openTestStore(dialect);
    log = new RequestLog(store.db);
  });
  afterAll(async () => {
    await store.close();
  });

  it('returns what was recorded, exactly', async () => {
    await log.record(entry('req-1'));
    expect(await log.get('req-1')).toEqual(entry('req-1'));
    expect(await log.get('req-unknown')).toBeUndefined();
  });

  it('refuses a second record of one request id and keeps the first', async () => {
    await expect(log.record(entry('req-1', { bodyHash: 'sha256:other', status: 400 }))).rejects.toBeInstanceOf(DuplicateRequestIdError);
    expect(await log.get('req-1')).toEqual(entry('req-1'));
  });

  it('records inside a transaction: rolled back with it', async () => {
    const repo = new FhirRepository(store.db, store.dialect);
    const attempt = repo.transaction(async (tx) => {
      await log.record(entry('req-2'), tx.trx);
      throw new Error('the writes failed');
    });
    await expect(attempt).rejects.toThrow('the writes failed');
    expect(await log.get('req-2')).toBeUndefined();

    await repo.transaction(async (tx) => {
      await log.record(entry('req-3'), tx.trx);
    });
    expect(await log.get('req-3')).toEqual(entry('req-3'));
  });

  it('lets exactly one of concurrent records of one id through', async () => {
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => log.record(entry('req-race', { status: 200 + i }))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(DuplicateRequestIdError);
  });
});
