import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { DuplicateIdentifierError, FhirRepository, ResourceExistsError, VersionConflictError, type StoredResource } from '../../../src/store/fhir.repo.js';
import { parseSearchQuery } from '../../../src/fhir/search-params.js';
import type { Store } from '../../../src/store/db.js';
import { dialects, openTestStore } from './store-fixture.js';

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const R = 'https://fhir.painplatform.uk/Id/referral-id';
const A = 'https://fhir.painplatform.uk/Id/assessment-id';
const PHQ9 = 'https://fhir.painplatform.uk/Questionnaire/phq-9';
const GAD7 = 'https://fhir.painplatform.uk/Questionnaire/gad-7';

const patient = (nhs: string) => ({ resourceType: 'Patient', identifier: [{ system: NHS, value: nhs }] });

describe.each(dialects)('FhirRepository on %s', (dialect) => {
  let store: Store;
  let repo: FhirRepository;

  beforeAll(async () => {
    store = await openTestStore(dialect);
    repo = new FhirRepository(store.db, store.dialect);
  });
  afterAll(async () => {
    await store.close();
  });

  const create = (resourceType: string, id: string, resource: Record<string, unknown>, now = new Date().toISOString()) =>
    repo.transaction((tx) => tx.create({ resourceType, id, resource: { resourceType, ...resource } }, now));

  const count = async (table: 'fhir_resources' | 'fhir_resource_versions' | 'fhir_identifiers' | 'fhir_search_index', type: string) => {
    const row = await store.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where('resource_type', '=', type)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };

  describe('create, read, vread, history, update', () => {
    it('stores version 1 with meta set and the rest of meta kept', async () => {
      const stored = await create('Patient', 'crud-1', { ...patient('9000000001'), meta: { profile: ['urn:p'] } }, '2026-11-21T10:00:00.000Z');
      expect(stored).toMatchObject({ resourceType: 'Patient', id: 'crud-1', versionId: 1, lastUpdated: '2026-11-21T10:00:00.000Z' });
      const read = await repo.read('Patient', 'crud-1');
      expect(read?.resource).toEqual({
        resourceType: 'Patient',
        id: 'crud-1',
        meta: { profile: ['urn:p'], versionId: '1', lastUpdated: '2026-11-21T10:00:00.000Z' },
        identifier: [{ system: NHS, value: '9000000001' }],
      });
      expect(await repo.findByIdentifier('Patient', NHS, '9000000001')).toEqual(read);
      expect(await repo.read('Patient', 'missing')).toBeUndefined();
      expect(await repo.read('Practitioner', 'crud-1')).toBeUndefined();
    });

    it('updates to version 2, keeps version 1 for vread and history (newest first)', async () => {
      const v2 = await repo.transaction((tx) =>
        tx.update({ resourceType: 'Patient', id: 'crud-1', resource: { ...patient('9000000001'), gender: 'female' } }, '2026-11-21T11:00:00.000Z', 1),
      );
      expect(v2).toMatchObject({ versionId: 2, lastUpdated: '2026-11-21T11:00:00.000Z' });
      expect((await repo.read('Patient', 'crud-1'))?.resource).toMatchObject({ gender: 'female', meta: { versionId: '2' } });
      expect((await repo.vread('Patient', 'crud-1', 1))?.resource.gender).toBeUndefined();
      expect((await repo.vread('Patient', 'crud-1', 2))?.resource.gender).toBe('female');
      expect(await repo.vread('Patient', 'crud-1', 3)).toBeUndefined();
      expect((await repo.history('Patient', 'crud-1')).map((h) => h.versionId)).toEqual([2, 1]);
      expect(await repo.history('Patient', 'missing')).toEqual([]);
    });

    it('refuses an update whose expected version is not current, writing nothing', async () => {
      const attempt = repo.transaction((tx) => tx.update({ resourceType: 'Patient', id: 'crud-1', resource: patient('9000000001') }, new Date().toISOString(), 1));
      await expect(attempt).rejects.toBeInstanceOf(VersionConflictError);
      await expect(attempt).rejects.toMatchObject({ currentVersion: 2 });
      expect((await repo.read('Patient', 'crud-1'))?.versionId).toBe(2);
      expect(await repo.history('Patient', 'crud-1')).toHaveLength(2);
    });

    it('creates on update of a resource that does not exist (update as create)', async () => {
      const stored = await repo.transaction((tx) => tx.update({ resourceType: 'Patient', id: 'crud-new', resource: patient('9000000002') }, new Date().toISOString()));
      expect(stored.versionId).toBe(1);
      await expect(
        repo.transaction((tx) => tx.update({ resourceType: 'Patient', id: 'crud-new-2', resource: patient('9000000003') }, new Date().toISOString(), 4)),
      ).rejects.toMatchObject({ currentVersion: 0 });
    });

    it('replaces identifiers on update: the old one is free again, the new one is found', async () => {
      await repo.transaction((tx) => tx.update({ resourceType: 'Patient', id: 'crud-new', resource: patient('9000000004') }, new Date().toISOString()));
      expect(await repo.findByIdentifier('Patient', NHS, '9000000002')).toBeUndefined();
      expect((await repo.findByIdentifier('Patient', NHS, '9000000004'))?.id).toBe('crud-new');
      await create('Patient', 'crud-takes-old', patient('9000000002'));
      expect((await repo.findByIdentifier('Patient', NHS, '9000000002'))?.id).toBe('crud-takes-old');
    });

    it('refuses create of an id that exists', async () => {
      await expect(create('Patient', 'crud-1', patient('9000000099'))).rejects.toBeInstanceOf(ResourceExistsError);
      expect(await repo.findByIdentifier('Patient', NHS, '9000000099')).toBeUndefined();
    });
  });

  describe('identifier key', () => {
    it('refuses a second resource of one type with the same system|value', async () => {
      await create('Patient', 'dup-1', patient('9100000001'));
      const attempt = create('Patient', 'dup-2', patient('9100000001'));
      await expect(attempt).rejects.toBeInstanceOf(DuplicateIdentifierError);
      await expect(attempt).rejects.toMatchObject({ resourceType: 'Patient', system: NHS, value: '9100000001' });
      expect(await repo.read('Patient', 'dup-2')).toBeUndefined();
    });

    it('allows the same identifier on another type, and a resource repeating its own identifier', async () => {
      await create('Practitioner', 'dup-1', patient('9100000001'));
      await create('Organization', 'dup-self', { identifier: [{ system: 'ods', value: 'X1' }, { system: 'ods', value: 'X1' }] });
      expect((await repo.findByIdentifier('Organization', 'ods', 'X1'))?.id).toBe('dup-self');
    });

    it('rolls back the whole transaction when one create is refused: nothing of it is visible', async () => {
      const attempt = repo.transaction(async (tx) => {
        await tx.create({ resourceType: 'Patient', id: 'tx-p', resource: patient('9100000002') }, new Date().toISOString());
        await tx.create(
          { resourceType: 'ServiceRequest', id: 'tx-sr', resource: { resourceType: 'ServiceRequest', identifier: [{ system: R, value: 'TX-1' }], status: 'active' } },
          new Date().toISOString(),
        );
        // Written in the same transaction, it is visible inside it…
        expect((await tx.read('Patient', 'tx-p'))?.id).toBe('tx-p');
        expect((await tx.findByIdentifier('ServiceRequest', R, 'TX-1'))?.id).toBe('tx-sr');
        await tx.create({ resourceType: 'Patient', id: 'tx-p2', resource: patient('9100000001') }, new Date().toISOString());
      });
      await expect(attempt).rejects.toBeInstanceOf(DuplicateIdentifierError);
      // …and gone after the rollback, with its versions, identifiers and index rows.
      expect(await repo.read('Patient', 'tx-p')).toBeUndefined();
      expect(await repo.read('ServiceRequest', 'tx-sr')).toBeUndefined();
      expect(await repo.history('ServiceRequest', 'tx-sr')).toEqual([]);
      expect(await repo.findByIdentifier('Patient', NHS, '9100000002')).toBeUndefined();
      expect(await repo.findByIdentifier('ServiceRequest', R, 'TX-1')).toBeUndefined();
      expect(await count('fhir_search_index', 'ServiceRequest')).toBe(0);
      // The identifiers it would have taken are free.
      await create('Patient', 'tx-p', patient('9100000002'));
    });

    it('refuses an update that takes another resource’s identifier and keeps the old version', async () => {
      await create('Patient', 'dup-upd', patient('9100000003'));
      const attempt = repo.transaction((tx) => tx.update({ resourceType: 'Patient', id: 'dup-upd', resource: patient('9100000001') }, new Date().toISOString()));
      await expect(attempt).rejects.toBeInstanceOf(DuplicateIdentifierError);
      expect((await repo.read('Patient', 'dup-upd'))?.versionId).toBe(1);
      expect((await repo.findByIdentifier('Patient', NHS, '9100000003'))?.id).toBe('dup-upd');
    });

    // Each attempt is its own transaction; on PostgreSQL they run on the pool's connections at once.
    // A loser retries by looking the identifier up, as the front door does, so every caller ends up
    // pointing at the one stored resource.
    async function createOrFind(id: string, nhs: string): Promise<{ stored: StoredResource; created: boolean }> {
      try {
        return { stored: await create('Patient', id, patient(nhs)), created: true };
      } catch (err) {
        if (!(err instanceof DuplicateIdentifierError)) throw err;
        const existing = await repo.findByIdentifier('Patient', NHS, nhs);
        if (!existing) throw new Error('duplicate refused but nothing found');
        return { stored: existing, created: false };
      }
    }

    it('50 concurrent creates with one identifier and fresh ids → exactly one stored', async () => {
      const before = await count('fhir_resources', 'Patient');
      const results = await Promise.all(Array.from({ length: 50 }, () => createOrFind(randomUUID(), '9200000001')));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.stored.id)).size).toBe(1);
      expect(await count('fhir_resources', 'Patient')).toBe(before + 1);
    });

    it('50 concurrent creates with one identifier and the same id → exactly one stored', async () => {
      const before = await count('fhir_resource_versions', 'Patient');
      const results = await Promise.allSettled(Array.from({ length: 50 }, () => create('Patient', 'same-id', patient('9200000002'))));
      const rejected = results.filter((r) => r.status === 'rejected');
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(rejected).toHaveLength(49);
      for (const r of rejected) expect(r.reason).toBeInstanceOf(DuplicateIdentifierError);
      expect(await count('fhir_resource_versions', 'Patient')).toBe(before + 1);
    });
  });

  describe('search', () => {
    const ids = (resources: StoredResource[]) => resources.map((r) => r.id).sort();
    const search = async (type: string, query: Record<string, string | string[]>) => {
      const { criteria, count, offset } = parseSearchQuery(type, query);
      return repo.search(type, criteria, { count, offset });
    };

    beforeAll(async () => {
      await create('Patient', 'P1', patient('1111111111'), '2026-11-01T00:00:00.000Z');
      await create('Patient', 'P2', patient('2222222222'), '2026-11-01T00:00:01.000Z');
      const sr = (n: string, fields: Record<string, unknown>, now: string) =>
        create('ServiceRequest', `sr${n}`, { identifier: [{ system: R, value: n }], intent: 'order', ...fields }, now);
      await sr('1', { status: 'active', subject: { reference: 'Patient/P1' }, authoredOn: '2026-11-21T10:00:00+00:00' }, '2026-11-21T12:00:00.000Z');
      await sr('2', { status: 'revoked', subject: { reference: 'Patient/P2' }, authoredOn: '2026-11-20' }, '2026-11-21T11:00:00.000Z');
      await sr('3', { status: 'active', subject: { identifier: { system: NHS, value: '2222222222' } }, authoredOn: '2025-06-15T23:30:00-02:00' }, '2026-11-20T00:00:00.000Z');
      await sr(
        '4',
        { status: 'on-hold', contained: [{ resourceType: 'Patient', id: 'p', identifier: [{ system: NHS, value: '1111111111' }] }], subject: { reference: '#p' }, authoredOn: '2026' },
        '2026-11-19T00:00:00.000Z',
      );
      await create('ServiceRequest', 'sr5', { identifier: [{ value: 'loose' }], status: 'active', subject: { reference: 'Group/g' } }, '2026-11-18T00:00:00.000Z');
      await create('QuestionnaireResponse', 'qr1', {
        identifier: { system: A, value: '1' },
        questionnaire: `${PHQ9}|1.0.0`,
        status: 'completed',
        subject: { reference: 'Patient/P1' },
        authored: '2026-11-21T09:00:00Z',
      });
      await create('QuestionnaireResponse', 'qr2', {
        identifier: { system: A, value: '2' },
        questionnaire: GAD7,
        status: 'amended',
        subject: { reference: 'Patient/P2' },
        authored: '2026-11-19',
      });
    });

    it.each<[string, Record<string, string | string[]>, string[]]>([
      // token
      ['identifier system|code', { identifier: `${R}|1` }, ['sr1']],
      ['identifier code only', { identifier: '1' }, ['sr1']],
      ['identifier system| (any code)', { identifier: `${R}|` }, ['sr1', 'sr2', 'sr3', 'sr4']],
      ['identifier |code (no system)', { identifier: '|loose' }, ['sr5']],
      ['identifier |code does not match a code with a system', { identifier: '|1' }, []],
      ['identifier other system', { identifier: 'urn:other|1' }, []],
      ['identifier OR', { identifier: `${R}|1,${R}|2` }, ['sr1', 'sr2']],
      ['status', { status: 'active' }, ['sr1', 'sr3', 'sr5']],
      ['status OR', { status: 'active,on-hold' }, ['sr1', 'sr3', 'sr4', 'sr5']],
      ['status with its system', { status: 'http://hl7.org/fhir/request-status|revoked' }, ['sr2']],
      ['status AND (repeated)', { status: ['active,revoked', 'revoked,on-hold'] }, ['sr2']],
      ['_id', { _id: 'sr1,sr2,nope' }, ['sr1', 'sr2']],
      // reference
      ['patient Type/id', { patient: 'Patient/P1' }, ['sr1']],
      ['patient bare id', { patient: 'P2' }, ['sr2']],
      ['patient OR', { patient: 'P1,Patient/P2' }, ['sr1', 'sr2']],
      ['subject', { subject: 'Patient/P1' }, ['sr1']],
      // chained identifier: a stored Patient, a logical reference, a contained Patient
      ['patient:identifier (stored + contained)', { 'patient:identifier': `${NHS}|1111111111` }, ['sr1', 'sr4']],
      ['patient.identifier (stored + logical)', { 'patient.identifier': `${NHS}|2222222222` }, ['sr2', 'sr3']],
      ['patient:identifier without system', { 'patient:identifier': '2222222222' }, ['sr2', 'sr3']],
      ['patient:identifier OR', { 'patient:identifier': `${NHS}|1111111111,${NHS}|2222222222` }, ['sr1', 'sr2', 'sr3', 'sr4']],
      ['patient:identifier unknown', { 'patient:identifier': `${NHS}|9999999999` }, []],
      ['subject:identifier', { 'subject:identifier': `${NHS}|1111111111` }, ['sr1', 'sr4']],
      // dates: precision ranges
      ['authored day', { authored: '2026-11-21' }, ['sr1']],
      ['authored month', { authored: '2026-11' }, ['sr1', 'sr2']],
      ['authored year', { authored: '2026' }, ['sr1', 'sr2', 'sr4']],
      ['authored instant', { authored: 'eq2026-11-21T10:00:00Z' }, ['sr1']],
      ['authored offset normalised to UTC day', { authored: '2025-06-16' }, ['sr3']],
      ['authored local day is not the UTC day', { authored: '2025-06-15' }, []],
      // dates: prefixes
      ['authored gt', { authored: 'gt2026-11-20' }, ['sr1', 'sr4']],
      ['authored lt', { authored: 'lt2026-11-21' }, ['sr2', 'sr3', 'sr4']],
      ['authored ge', { authored: 'ge2026-11-21' }, ['sr1', 'sr4']],
      ['authored le', { authored: 'le2026-11-20' }, ['sr2', 'sr3', 'sr4']],
      ['authored sa', { authored: 'sa2026-11-20' }, ['sr1']],
      ['authored eb', { authored: 'eb2026-11-21' }, ['sr2', 'sr3']],
      ['authored ne', { authored: 'ne2026-11-21' }, ['sr2', 'sr3', 'sr4']],
      ['authored ap', { authored: 'ap2026-11' }, ['sr1', 'sr2', 'sr4']],
      ['authored lt with offset (before 10:00Z)', { authored: 'lt2026-11-21T10:30:00+01:00' }, ['sr2', 'sr3', 'sr4']],
      ['authored lt with offset (after 10:00Z)', { authored: 'lt2026-11-21T11:30:00+01:00' }, ['sr1', 'sr2', 'sr3', 'sr4']],
      // dates: exactly on a boundary (sr1 covers 10:00:00.000–10:00:00.999Z)
      ['authored gt at its end', { authored: 'gt2026-11-21T10:00:00Z' }, ['sr4']],
      ['authored ge at its last millisecond', { authored: 'ge2026-11-21T10:00:00.999Z' }, ['sr1', 'sr4']],
      ['authored lt at its start', { authored: 'lt2026-11-21T10:00:00Z' }, ['sr2', 'sr3', 'sr4']],
      ['authored le at its start', { authored: 'le2026-11-21T10:00:00.000Z' }, ['sr1', 'sr2', 'sr3', 'sr4']],
      ['authored sa at its end', { authored: 'sa2026-11-21T09:59:59Z' }, ['sr1']],
      ['authored eb at its start', { authored: 'eb2026-11-21T10:00:00Z' }, ['sr2', 'sr3']],
      ['authored OR', { authored: '2026-11-20,2026-11-21' }, ['sr1', 'sr2']],
      ['authored AND', { authored: ['ge2026-01-01', 'lt2026-11-21'] }, ['sr2', 'sr4']],
      ['_lastUpdated gt', { _lastUpdated: 'gt2026-11-21T11:30:00Z' }, ['sr1']],
      ['_lastUpdated day', { _lastUpdated: '2026-11-21' }, ['sr1', 'sr2']],
      ['_lastUpdated le', { _lastUpdated: 'le2026-11-19' }, ['sr4', 'sr5']],
      // combined
      ['status AND patient:identifier', { status: 'active', 'patient:identifier': `${NHS}|1111111111` }, ['sr1']],
      ['nothing', {}, ['sr1', 'sr2', 'sr3', 'sr4', 'sr5']],
    ])('ServiceRequest by %s', async (_name, query, expected) => {
      expect(ids((await search('ServiceRequest', query)).resources)).toEqual(expected);
    });

    it.each<[string, Record<string, string | string[]>, string[]]>([
      ['identifier', { identifier: `${A}|2` }, ['qr2']],
      ['questionnaire without version matches a versioned canonical', { questionnaire: PHQ9 }, ['qr1']],
      ['questionnaire with its version', { questionnaire: `${PHQ9}|1.0.0` }, ['qr1']],
      ['questionnaire with another version', { questionnaire: `${PHQ9}|2.0.0` }, []],
      ['questionnaire unversioned', { questionnaire: GAD7 }, ['qr2']],
      ['questionnaire version the stored one lacks', { questionnaire: `${GAD7}|1.0.0` }, []],
      ['questionnaire OR', { questionnaire: `${PHQ9},${GAD7}` }, ['qr1', 'qr2']],
      ['subject', { subject: 'Patient/P2' }, ['qr2']],
      ['patient', { patient: 'P1' }, ['qr1']],
      ['patient:identifier', { 'patient:identifier': `${NHS}|1111111111` }, ['qr1']],
      ['subject:identifier', { 'subject:identifier': `${NHS}|2222222222` }, ['qr2']],
      ['authored day', { authored: '2026-11-21' }, ['qr1']],
      ['authored lt', { authored: 'lt2026-11-21' }, ['qr2']],
      ['status', { status: 'completed' }, ['qr1']],
    ])('QuestionnaireResponse by %s', async (_name, query, expected) => {
      expect(ids((await search('QuestionnaireResponse', query)).resources)).toEqual(expected);
    });

    it('finds a Patient by identifier and _id', async () => {
      expect(ids((await search('Patient', { identifier: `${NHS}|1111111111` })).resources)).toEqual(['P1']);
      expect(ids((await search('Patient', { _id: 'P2' })).resources)).toEqual(['P2']);
    });

    it('sorts by _lastUpdated, newest first', async () => {
      expect((await search('ServiceRequest', {})).resources.map((r) => r.id)).toEqual(['sr1', 'sr2', 'sr3', 'sr4', 'sr5']);
    });

    it('follows an update: old index rows gone, new ones found', async () => {
      const current = await repo.read('ServiceRequest', 'sr3');
      await repo.transaction((tx) =>
        tx.update({ resourceType: 'ServiceRequest', id: 'sr3', resource: { ...current!.resource, status: 'completed' } }, '2026-11-17T00:00:00.000Z', current!.versionId),
      );
      expect(ids((await search('ServiceRequest', { status: 'active' })).resources)).toEqual(['sr1', 'sr5']);
      expect(ids((await search('ServiceRequest', { status: 'completed' })).resources)).toEqual(['sr3']);
      expect(ids((await search('ServiceRequest', { 'patient:identifier': `${NHS}|2222222222` })).resources)).toEqual(['sr2', 'sr3']);
    });

    it('pages with a total: every resource once, newest first', async () => {
      for (let i = 0; i < 25; i++) {
        await create('Practitioner', `page-${String(i).padStart(2, '0')}`, { identifier: [{ system: 'sds', value: `S${i}` }] }, `2026-10-01T00:00:${String(i).padStart(2, '0')}.000Z`);
      }
      const criteria = parseSearchQuery('Practitioner', { identifier: 'sds|' }).criteria;
      const pages = [];
      for (let offset = 0; offset < 30; offset += 10) pages.push(await repo.search('Practitioner', criteria, { count: 10, offset }));
      expect(pages.map((p) => p.total)).toEqual([25, 25, 25]);
      expect(pages.map((p) => p.resources.length)).toEqual([10, 10, 5]);
      const seen = pages.flatMap((p) => p.resources.map((r) => r.id));
      expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `page-${String(24 - i).padStart(2, '0')}`));
      expect(await repo.search('Practitioner', criteria, { count: 0, offset: 0 })).toEqual({ resources: [], total: 25 });
      expect(await repo.search('Practitioner', criteria, { count: 10, offset: 100 })).toEqual({ resources: [], total: 25 });
    });
  });
});
