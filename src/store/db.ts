import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { CompiledQuery, type Driver, Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import type { Database } from './schema.js';
import { migrationNames, migrationProvider } from './migrations.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  /** true when the database answers and every migration has been applied */
  isReady(): Promise<boolean>;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** PostgreSQL only: work inside this schema (created if absent); tests use one per suite. */
  schema?: string;
}

/** Opens the store named by DATABASE_URL and applies pending migrations before returning. */
export async function openStore(databaseUrl: string, options: OpenStoreOptions = {}): Promise<Store> {
  let store: Store | undefined;
  try {
    store = databaseUrl.startsWith('sqlite:') ? openSqlite(databaseUrl.slice('sqlite:'.length)) : await openPostgres(databaseUrl, options.schema);
    await sql`select 1`.execute(store.db);
  } catch (err) {
    await store?.close().catch(() => undefined);
    const reason = (err as { code?: string }).code ?? (err as Error).message;
    throw new Error(`cannot open the database named by DATABASE_URL (${withoutPassword(databaseUrl)}): ${reason}`);
  }
  try {
    await migrate(store.db, options.schema);
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/** The URL for a message: a password never reaches a log. */
function withoutPassword(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

function openSqlite(file: string): Store {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new BetterSqlite3(file);
  // WAL lets readers run beside the writer; synchronous=FULL makes every commit durable before
  // the 201 is sent (NORMAL could lose the last commits on power loss).
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: withStatementCache(sqlite) }) });
  return {
    db,
    dialect: 'sqlite',
    isReady: () => checkReady(db),
    close: () => db.destroy(),
  };
}

/**
 * Every write transaction starts with BEGIN IMMEDIATE. kysely's plain BEGIN is deferred: a transaction
 * that reads (identifier lookups, the current version) before it writes cannot upgrade its read
 * snapshot when another process (WORKERS > 1) committed in between, and SQLite then fails at once with
 * "database is locked", whatever busy_timeout says. Taking the write lock first makes the second writer
 * wait (busy_timeout) instead.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  override createDriver(): Driver {
    const driver = super.createDriver();
    driver.beginTransaction = async (connection) => {
      await connection.executeQuery(CompiledQuery.raw('begin immediate'));
    };
    return driver;
  }
}

/**
 * kysely asks better-sqlite3 to prepare every statement on every call; the queries are a small fixed
 * set, so each is compiled once and reused.
 */
function withStatementCache(sqlite: BetterSqlite3.Database) {
  const statements = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(query: string) {
      let statement = statements.get(query);
      if (!statement) {
        statement = sqlite.prepare(query);
        if (statements.size < 500) statements.set(query, statement);
      }
      return statement;
    },
  };
}

async function openPostgres(url: string, schema?: string): Promise<Store> {
  if (schema && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid schema name ${schema}`);
  if (schema) {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    } finally {
      await admin.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: 5000,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // A broken idle connection must not crash the process; the next query gets a fresh one.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    dialect: 'postgres',
    isReady: () => checkReady(db, schema),
    close: () => db.destroy(),
  };
}

// The migration tables live in the working schema; without naming it, kysely looks for them in
// every schema and may find another suite's.
function migratorFor(db: Kysely<Database>, schema?: string): Migrator {
  return new Migrator({ db, provider: migrationProvider, ...(schema ? { migrationTableSchema: schema } : {}) });
}

async function migrate(db: Kysely<Database>, schema?: string): Promise<void> {
  const migrator = migratorFor(db, schema);
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function checkReady(db: Kysely<Database>, schema?: string): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    const migrator = migratorFor(db, schema);
    const applied = await migrator.getMigrations();
    return migrationNames.every((name) => applied.some((m) => m.name === name && m.executedAt !== undefined));
  } catch {
    return false;
  }
}

/** True when err is a primary-key or unique-constraint violation, in either dialect. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}
