import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../../src/config/index.js';
import { createServer, type App } from '../../src/server.js';

export const projectRoot = new URL('../../', import.meta.url).pathname;

/** PostgreSQL of this machine (and CI); the PostgreSQL suites fail, never skip, when it is absent. */
export const postgresUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type DialectName = 'sqlite' | 'postgres';
export const dialects: DialectName[] = ['sqlite', 'postgres'];

/** A whole service on a fresh database: a new SQLite file, or a new PostgreSQL schema. */
export async function startApp(dialect: DialectName, env: Record<string, string> = {}): Promise<App> {
  const databaseUrl = dialect === 'sqlite' ? `sqlite:${join(mkdtempSync(join(tmpdir(), 'pp-adapter-')), 'adapter.db')}` : postgresUrl;
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    PROFILES_DIR: join(projectRoot, 'profiles'),
    MAPPINGS_DIR: join(projectRoot, 'mappings'),
    ...env,
  });
  const schema = dialect === 'postgres' ? `t_${randomBytes(6).toString('hex')}` : undefined;
  const app = await createServer(config, { schema });
  if (!schema) return app;
  // Each PostgreSQL suite works in its own schema and drops it afterwards.
  return {
    ...app,
    async stop() {
      await app.stop();
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}

export function fixture<T = any>(name: string): T {
  return JSON.parse(readFileSync(join(projectRoot, 'fixtures', 'native', name), 'utf8')) as T;
}

let counter = 0;
/** A unique suffix so that tests sharing one database never collide on ids. */
export function uniqueSuffix(): string {
  counter += 1;
  return `${Date.now().toString(36)}${counter}${randomBytes(2).toString('hex')}`;
}

/** The step-up example with fresh referral and assessment ids. */
export function freshReferral(name = 'referral-step-up.json'): any {
  const referral = fixture(name);
  const s = uniqueSuffix();
  referral.referralId = `PP-T-${s}`;
  for (const [i, a] of (referral.assessments ?? []).entries()) a.assessmentId = `PP-A-${s}-${i}`;
  return referral;
}
