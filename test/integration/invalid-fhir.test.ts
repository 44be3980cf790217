import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { App } from '../../src/server.js';
import { dialects, freshReferral, projectRoot, startApp } from '../support/app.js';

// A mapping that produces FHIR our profiles refuse: the referral is answered 422 naming each
// FHIRPath, and nothing is stored. The mapping is real (a copy of mappings/ with one constant
// changed), so this is the path a faulty mapping release would take.
function mappingsEmittingIntent(intent: string): string {
  const root = mkdtempSync(join(tmpdir(), 'pp-badmap-'));
  for (const f of ['mappings', 'profiles']) cpSync(join(projectRoot, f), join(root, f), { recursive: true });
  const file = join(root, 'mappings', 'referral-to-bundle.json');
  const mapping = JSON.parse(readFileSync(file, 'utf8'));
  mapping.rules.find((r: { id: string }) => r.id === 'sr-intent').constant = intent;
  writeFileSync(file, JSON.stringify(mapping));
  return join(root, 'mappings');
}

describe.each(dialects)('a mapped referral that fails its profile, on %s', (dialect) => {
  let app: App;
  beforeAll(async () => {
    app = await startApp(dialect, { MAPPINGS_DIR: mappingsEmittingIntent('plan') });
  });
  afterAll(async () => {
    await app?.stop();
  });

  test('is refused with 422 naming the FHIRPath, and nothing is stored', async () => {
    const referral = freshReferral();
    const res = await app.server.inject({ method: 'POST', url: '/referrals', payload: JSON.stringify(referral), headers: { 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(422);
    const body = JSON.parse(res.payload);
    expect(body.message).toMatch(/profile/);
    const paths: string[] = body.problems.map((p: { path: string }) => p.path);
    expect(paths.some((p) => /ServiceRequest.*intent|intent/.test(p))).toBe(true);
    const count = await app.store.db.selectFrom('referral_versions').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(0);
    expect((await app.server.inject({ method: 'GET', url: `/referrals/${referral.referralId}` })).statusCode).toBe(404);
  });
});
