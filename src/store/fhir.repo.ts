// FHIR resources received at /fhir: current version, history, the identifier key that refuses
// duplicates, and the search index. Every write runs inside a transaction the caller opens with
// `transaction()`, so a whole Bundle is stored or none of it.
import { sql, type ExpressionBuilder, type Expression, type Kysely, type SqlBool, type Transaction } from 'kysely';
import type { Database } from './schema.js';
import { isUniqueViolation, type Dialect } from './db.js';
import { VersionConflictError } from './referrals.repo.js';
import { identifierIndexParam, indexResource, type DateValue, type SearchCriterion, type TokenValue } from '../fhir/search-params.js';

export { VersionConflictError };

export interface StoredResource {
  resourceType: string;
  id: string;
  versionId: number;
  lastUpdated: string;
  /** the resource as stored, with id, meta.versionId and meta.lastUpdated set */
  resource: Record<string, unknown>;
}

export interface ResourceWrite {
  resourceType: string;
  id: string;
  resource: Record<string, unknown>;
}

/** The identifier key refused an insert: another resource of this type already has system|value. */
export class DuplicateIdentifierError extends Error {
  constructor(
    readonly resourceType: string,
    readonly system: string,
    readonly value: string,
  ) {
    super(`a ${resourceType} with identifier ${system}|${value} already exists`);
    this.name = 'DuplicateIdentifierError';
  }
}

/** create() of a type and id that already exist (ids are assigned by the caller). */
export class ResourceExistsError extends Error {
  constructor(
    readonly resourceType: string,
    readonly id: string,
  ) {
    super(`${resourceType}/${id} already exists`);
    this.name = 'ResourceExistsError';
  }
}

export interface FhirTx {
  /** the Kysely transaction, so that native referral rows can be written in the same transaction */
  readonly trx: Transaction<Database>;
  read(type: string, id: string): Promise<StoredResource | undefined>;
  findByIdentifier(type: string, system: string, value: string): Promise<StoredResource | undefined>;
  /**
   * Version 1: the resource, its version row, its identifiers (the duplicate key) and its search
   * index rows. A taken identifier → DuplicateIdentifierError; on PostgreSQL the transaction is then
   * aborted, so let it propagate (the caller retries the whole transaction if it wants to).
   */
  create(write: ResourceWrite, now: string): Promise<StoredResource>;
  /**
   * The next version (version 1 when the resource does not exist: update as create). Identifiers
   * and index rows are replaced. `expectedVersion` not current → VersionConflictError.
   */
  update(write: ResourceWrite, now: string, expectedVersion?: number): Promise<StoredResource>;
}

interface ResourceRow {
  resource_type: string;
  id: string;
  version_id: number;
  last_updated: string;
  resource_json: string;
}

function toStored(row: ResourceRow): StoredResource {
  return {
    resourceType: row.resource_type,
    id: row.id,
    versionId: Number(row.version_id),
    lastUpdated: row.last_updated,
    resource: JSON.parse(row.resource_json) as Record<string, unknown>,
  };
}

/** Identifiers with both system and value, once each (a resource repeating one must not collide with itself). */
function keyIdentifiers(resource: Record<string, unknown>): { system: string; value: string }[] {
  const raw = resource.identifier;
  const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
  const out = new Map<string, { system: string; value: string }>();
  for (const id of list as { system?: unknown; value?: unknown }[]) {
    if (typeof id?.system === 'string' && typeof id.value === 'string' && id.system !== '' && id.value !== '') {
      out.set(`${id.system}|${id.value}`, { system: id.system, value: id.value });
    }
  }
  return [...out.values()];
}

type Reader = Kysely<Database> | Transaction<Database>;

async function readIn(db: Reader, type: string, id: string): Promise<StoredResource | undefined> {
  const row = await db.selectFrom('fhir_resources').selectAll().where('resource_type', '=', type).where('id', '=', id).executeTakeFirst();
  return row ? toStored(row) : undefined;
}

async function findByIdentifierIn(db: Reader, type: string, system: string, value: string): Promise<StoredResource | undefined> {
  const row = await db
    .selectFrom('fhir_identifiers as k')
    .innerJoin('fhir_resources as r', (join) => join.onRef('r.resource_type', '=', 'k.resource_type').onRef('r.id', '=', 'k.id'))
    .selectAll('r')
    .where('k.resource_type', '=', type)
    .where('k.system', '=', system)
    .where('k.value', '=', value)
    .executeTakeFirst();
  return row ? toStored(row) : undefined;
}

class Tx implements FhirTx {
  constructor(readonly trx: Transaction<Database>) {}

  read(type: string, id: string) {
    return readIn(this.trx, type, id);
  }

  findByIdentifier(type: string, system: string, value: string) {
    return findByIdentifierIn(this.trx, type, system, value);
  }

  async create(write: ResourceWrite, now: string): Promise<StoredResource> {
    const stored = withMeta(write, 1, now);
    // The identifier key first: a duplicate is refused before anything else is written.
    await this.insertIdentifiers(stored);
    try {
      await this.trx.insertInto('fhir_resources').values(resourceRow(stored)).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new ResourceExistsError(stored.resourceType, stored.id);
      throw err;
    }
    await this.trx.insertInto('fhir_resource_versions').values(resourceRow(stored)).execute();
    await this.insertIndex(stored);
    return stored;
  }

  async update(write: ResourceWrite, now: string, expectedVersion?: number): Promise<StoredResource> {
    const current = await this.trx
      .selectFrom('fhir_resources')
      .select('version_id')
      .where('resource_type', '=', write.resourceType)
      .where('id', '=', write.id)
      .executeTakeFirst();
    const currentVersion = current ? Number(current.version_id) : 0;
    if (expectedVersion !== undefined && expectedVersion !== currentVersion) throw new VersionConflictError(currentVersion);
    if (!current) return this.create(write, now);

    const stored = withMeta(write, currentVersion + 1, now);
    // Guarded by the version read above, so that two concurrent updates cannot both write version n+1.
    const result = await this.trx
      .updateTable('fhir_resources')
      .set({ version_id: stored.versionId, last_updated: now, resource_json: JSON.stringify(stored.resource) })
      .where('resource_type', '=', stored.resourceType)
      .where('id', '=', stored.id)
      .where('version_id', '=', currentVersion)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) {
      const latest = await readIn(this.trx, stored.resourceType, stored.id);
      throw new VersionConflictError(latest?.versionId ?? 0);
    }
    await this.trx.insertInto('fhir_resource_versions').values(resourceRow(stored)).execute();
    await this.trx.deleteFrom('fhir_identifiers').where('resource_type', '=', stored.resourceType).where('id', '=', stored.id).execute();
    await this.trx.deleteFrom('fhir_search_index').where('resource_type', '=', stored.resourceType).where('id', '=', stored.id).execute();
    await this.insertIdentifiers(stored);
    await this.insertIndex(stored);
    return stored;
  }

  private async insertIdentifiers(stored: StoredResource): Promise<void> {
    for (const { system, value } of keyIdentifiers(stored.resource)) {
      try {
        await this.trx.insertInto('fhir_identifiers').values({ resource_type: stored.resourceType, system, value, id: stored.id }).execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new DuplicateIdentifierError(stored.resourceType, system, value);
        throw err;
      }
    }
  }

  private async insertIndex(stored: StoredResource): Promise<void> {
    const entries = indexResource(stored.resource);
    if (entries.length === 0) return;
    await this.trx
      .insertInto('fhir_search_index')
      .values(entries.map((e) => ({ resource_type: stored.resourceType, id: stored.id, ...e })))
      .execute();
  }
}

/** The resource as stored: id and meta.versionId / meta.lastUpdated set, the rest of meta kept. */
function withMeta(write: ResourceWrite, versionId: number, now: string): StoredResource {
  const meta = { ...((write.resource.meta as Record<string, unknown> | undefined) ?? {}), versionId: String(versionId), lastUpdated: now };
  const resource = { ...write.resource, resourceType: write.resourceType, id: write.id, meta };
  return { resourceType: write.resourceType, id: write.id, versionId, lastUpdated: now, resource };
}

function resourceRow(s: StoredResource): ResourceRow {
  return { resource_type: s.resourceType, id: s.id, version_id: s.versionId, last_updated: s.lastUpdated, resource_json: JSON.stringify(s.resource) };
}

export class FhirRepository {
  constructor(
    private readonly db: Kysely<Database>,
    readonly dialect: Dialect,
  ) {}

  /** Runs fn in one database transaction: everything it writes is stored, or (if it throws) nothing. */
  transaction<T>(fn: (tx: FhirTx) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) => fn(new Tx(trx)));
  }

  read(type: string, id: string): Promise<StoredResource | undefined> {
    return readIn(this.db, type, id);
  }

  async vread(type: string, id: string, versionId: number): Promise<StoredResource | undefined> {
    const row = await this.db
      .selectFrom('fhir_resource_versions')
      .selectAll()
      .where('resource_type', '=', type)
      .where('id', '=', id)
      .where('version_id', '=', versionId)
      .executeTakeFirst();
    return row ? toStored(row) : undefined;
  }

  /** Every version, newest first (empty when the resource does not exist). */
  async history(type: string, id: string): Promise<StoredResource[]> {
    const rows = await this.db
      .selectFrom('fhir_resource_versions')
      .selectAll()
      .where('resource_type', '=', type)
      .where('id', '=', id)
      .orderBy('version_id', 'desc')
      .execute();
    return rows.map(toStored);
  }

  findByIdentifier(type: string, system: string, value: string): Promise<StoredResource | undefined> {
    return findByIdentifierIn(this.db, type, system, value);
  }

  /** Current resources matching every criterion, newest _lastUpdated first (then by id), with the total. */
  async search(
    type: string,
    criteria: readonly SearchCriterion[],
    page: { count: number; offset: number },
  ): Promise<{ resources: StoredResource[]; total: number }> {
    let query = this.db.selectFrom('fhir_resources as r').where('r.resource_type', '=', type);
    for (const c of criteria) query = query.where((eb) => matches(eb, type, c));
    const counted = await query.select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow();
    const total = Number(counted.n);
    if (page.count === 0 || page.offset >= total) return { resources: [], total };
    const rows = await query.selectAll('r').orderBy('r.last_updated', 'desc').orderBy('r.id').limit(page.count).offset(page.offset).execute();
    return { resources: rows.map(toStored), total };
  }
}

// ---- search SQL -----------------------------------------------------------------------------------

type ResourceEb = ExpressionBuilder<Database & { r: Database['fhir_resources'] }, 'r'>;
type IndexEb = ExpressionBuilder<Database & { i: Database['fhir_search_index'] }, 'i'>;

/** r.id is among the resources with an index row for `param` that satisfies `match`. */
function indexed(eb: ResourceEb, type: string, param: string, match: (i: IndexEb) => Expression<SqlBool>) {
  return eb(
    'r.id',
    'in',
    eb
      .selectFrom('fhir_search_index as i')
      .select('i.id')
      .where('i.resource_type', '=', type)
      .where('i.param', '=', param)
      .where((i) => match(i as unknown as IndexEb)),
  );
}

/** A token against the index rows under `alias` (`i` for the searched type, `t` for a chained target). */
function tokenMatch(eb: IndexEb, t: TokenValue, alias = 'i'): Expression<SqlBool> {
  const e = eb as unknown as ExpressionBuilder<any, any>;
  const parts: Expression<SqlBool>[] = [];
  if (t.system === null) parts.push(e(`${alias}.system`, 'is', null));
  else if (t.system !== undefined) parts.push(e(`${alias}.system`, '=', t.system));
  if (t.code !== undefined) parts.push(e(`${alias}.value`, '=', t.code));
  return e.and(parts);
}

/** FHIR date search on ranges: the resource's [low, high] against the parameter's [pl, ph]. */
function dateMatch(eb: IndexEb, d: DateValue, lowColumn = 'i.low', highColumn = 'i.high'): Expression<SqlBool> {
  const i = eb as unknown as ExpressionBuilder<any, any>;
  const low = lowColumn;
  const high = highColumn;
  switch (d.prefix) {
    case 'eq':
      return i.and([i(low, '>=', d.low), i(high, '<=', d.high)]);
    case 'ne':
      return i.or([i(low, '<', d.low), i(high, '>', d.high)]);
    case 'gt':
      return i(high, '>', d.high);
    case 'lt':
      return i(low, '<', d.low);
    case 'ge':
      return i(high, '>=', d.low);
    case 'le':
      return i(low, '<=', d.high);
    case 'sa':
      return i(low, '>', d.high);
    case 'eb':
      return i(high, '<', d.low);
    case 'ap':
      // Approximately: the ranges overlap.
      return i.and([i(low, '<=', d.high), i(high, '>=', d.low)]);
  }
}

/** r.id is among the resources whose key identifiers (fhir_identifiers) match one of the tokens. */
function keyed(eb: ResourceEb, type: string, values: readonly TokenValue[]) {
  return eb(
    'r.id',
    'in',
    eb
      .selectFrom('fhir_identifiers as k')
      .select('k.id')
      .where('k.resource_type', '=', type)
      .where((k) => k.or(values.map((t) => tokenMatch(k as unknown as IndexEb, t, 'k')))),
  );
}

function matches(eb: ResourceEb, type: string, c: SearchCriterion): Expression<SqlBool> {
  switch (c.kind) {
    case 'id':
      return eb('r.id', 'in', c.ids);
    case 'token':
      if (c.param === 'identifier') return eb.or([keyed(eb, type, c.values), indexed(eb, type, c.param, (i) => i.or(c.values.map((t) => tokenMatch(i, t))))]);
      return indexed(eb, type, c.param, (i) => i.or(c.values.map((t) => tokenMatch(i, t))));
    case 'reference':
      return indexed(eb, type, c.param, (i) => i('i.value', 'in', c.values));
    case 'date':
      if (c.param === '_lastUpdated') {
        // The row's own timestamp: an instant, so its range is that one value.
        const at = eb as unknown as IndexEb;
        return eb.or(c.values.map((d) => dateMatch(at, d, 'r.last_updated', 'r.last_updated')));
      }
      return indexed(eb, type, c.param, (i) => i.or(c.values.map((d) => dateMatch(i, d))));
    case 'identifier-of-reference': {
      // Either the reference itself carries the identifier (logical or contained), or it points at a
      // stored resource of the target type that has it.
      const byLogical = indexed(eb, type, identifierIndexParam(c.param), (i) => i.or(c.values.map((t) => tokenMatch(i, t))));
      const targets = eb
        .selectFrom('fhir_identifiers as t')
        .select(sql<string>`cast(${c.target + '/'} as text) || t.id`.as('key'))
        .where('t.resource_type', '=', c.target)
        .where((t) => t.or(c.values.map((v) => tokenMatch(t as unknown as IndexEb, v, 't'))))
        .union(
          eb
            .selectFrom('fhir_search_index as u')
            .select(sql<string>`cast(${c.target + '/'} as text) || u.id`.as('key'))
            .where('u.resource_type', '=', c.target)
            .where('u.param', '=', 'identifier')
            .where((u) => u.or(c.values.map((v) => tokenMatch(u as unknown as IndexEb, v, 'u')))),
        );
      const byStored = indexed(eb, type, c.param, (i) => i('i.value', 'in', targets as never));
      return eb.or([byLogical, byStored]);
    }
  }
}
