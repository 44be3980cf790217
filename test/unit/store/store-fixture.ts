// A fresh store for a repository test: a new SQLite file, or a new PostgreSQL schema dropped afterwards
// (as test/support/app.ts does for a whole service).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore, type Store } from '../../../src/store/db.js';

// As in test/support/app.ts, restated so that store tests do not load the whole server.
export const postgresUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export type DialectName = 'sqlite' | 'postgres';
export const dialects: DialectName[] = ['sqlite', 'postgres'];

export async function openTestStore(dialect: DialectName): Promise<Store> {
  if (dialect === 'sqlite') return openStore(`sqlite:${join(mkdtempSync(join(tmpdir(), 'pp-store-')), 'store.db')}`);
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const store = await openStore(postgresUrl, { schema });
  return {
    ...store,
    async close() {
      await store.close();
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}
