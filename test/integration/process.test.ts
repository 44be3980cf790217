import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { openStore } from '../../src/store/db.js';
import { ReferralRepository } from '../../src/store/referrals.repo.js';
import { freshReferral, projectRoot } from '../support/app.js';
import { freshIds, freshInbound } from '../support/fhir.js';

// The real process, as `npm start` runs it: configuration errors stop it, and a referral answered
// with 201 survives the process being killed at once (the row is committed before the answer).

const children: ChildProcess[] = [];

/** A scratch copy of the project's data folders (mappings read Questionnaires from ../profiles), to break one on purpose. */
function copyOf(folder: 'mappings' | 'profiles'): string {
  const root = mkdtempSync(join(tmpdir(), 'pp-data-'));
  for (const f of ['mappings', 'profiles']) cpSync(join(projectRoot, f), join(root, f), { recursive: true });
  return join(root, folder);
}
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

function startProcess(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/index.ts'], {
    cwd: projectRoot,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', () => {
      const m = /"uri":"(http:\/\/[^"]+)"/.exec(stdout);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  listening.catch(() => undefined); // awaited only by tests that expect the process to listen
  return { child, exited, listening, output: () => ({ stdout, stderr }) };
}

describe('the service process', () => {
  test.each([
    ['PORT', 'not-a-port'],
    ['DATABASE_URL', 'mysql://localhost/x'],
    ['LOG_LEVEL', 'loud'],
  ])('a bad %s stops start-up with a message naming it', async (name, value) => {
    const p = startProcess({ [name]: value, DATABASE_URL: name === 'DATABASE_URL' ? value : 'sqlite::memory:' });
    const code = await p.exited;
    expect(code).toBe(2);
    expect(p.output().stderr).toContain(name);
  });

  test.each(['1', '2'])('a bad mapping rule stops start-up naming the file and the rule (WORKERS=%s)', async (workers) => {
    const dir = copyOf('mappings');
    const file = join(dir, 'referral-to-bundle.json');
    const mapping = JSON.parse(readFileSync(file, 'utf8'));
    mapping.rules.find((r: { id: string }) => r.id === 'sr-status').conceptMap = 'no-such-map';
    writeFileSync(file, JSON.stringify(mapping));
    const p = startProcess({ DATABASE_URL: 'sqlite::memory:', MAPPINGS_DIR: dir, WORKERS: workers });
    expect(await p.exited).toBe(1);
    expect(p.output().stderr).toMatch(/referral-to-bundle\.json/);
    expect(p.output().stderr).toMatch(/sr-status/);
  }, 30_000);

  test('an unreachable database stops start-up naming DATABASE_URL, without its password', async () => {
    const p = startProcess({ DATABASE_URL: 'postgres://someone:hunter2@127.0.0.1:1/none' });
    expect(await p.exited).toBe(1);
    expect(p.output().stderr).toContain('DATABASE_URL');
    expect(p.output().stderr).not.toContain('hunter2');
  }, 30_000);

  test('a broken profile stops start-up naming the file', async () => {
    const dir = copyOf('profiles');
    writeFileSync(join(dir, 'StructureDefinition-PainPlatform-Patient.json'), '{ "resourceType": "StructureDefinition", ');
    const p = startProcess({ DATABASE_URL: 'sqlite::memory:', PROFILES_DIR: dir });
    expect(await p.exited).toBe(1);
    expect(p.output().stderr).toMatch(/StructureDefinition-PainPlatform-Patient\.json/);
  }, 30_000);

  test('with WORKERS=2 the workers share the port and the store: a referral sent to both is stored once', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pp-cluster-')), 'adapter.db');
    const p = startProcess({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: `sqlite:${file}`, WORKERS: '2' });
    const uri = await p.listening;
    // wait until both workers have logged that they listen
    for (let i = 0; i < 50 && (p.output().stdout.match(/adapter listening/g) ?? []).length < 2; i++) await new Promise((r) => setTimeout(r, 200));
    expect((p.output().stdout.match(/adapter listening/g) ?? []).length).toBe(2);
    const referral = freshReferral();
    const send = () => fetch(`${uri}/referrals`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(referral) }).then((r) => r.status);
    const codes = (await Promise.all(Array.from({ length: 16 }, send))).sort();
    expect(codes.filter((c) => c === 201)).toHaveLength(1);
    expect(codes.filter((c) => c === 200)).toHaveLength(15);
    p.child.kill('SIGTERM');
    await p.exited;
    const store = await openStore(`sqlite:${file}`);
    try {
      expect(await new ReferralRepository(store.db).countVersions(referral.referralId)).toBe(1);
    } finally {
      await store.close();
    }
  }, 60_000);

  test('with WORKERS=2, 40 concurrent FHIR transactions (read-then-write) are all stored: none fails with "database is locked"', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pp-cluster-fhir-')), 'adapter.db');
    const p = startProcess({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: `sqlite:${file}`, WORKERS: '2' });
    const uri = await p.listening;
    for (let i = 0; i < 50 && (p.output().stdout.match(/adapter listening/g) ?? []).length < 2; i++) await new Promise((r) => setTimeout(r, 200));
    const bundles = Array.from({ length: 40 }, () => freshInbound('gp-referral.transaction.json', freshIds()));
    const send = (b: unknown) => fetch(`${uri}/fhir`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(b) }).then((r) => r.status);
    const codes = await Promise.all(bundles.map(send));
    expect(codes.filter((c) => c !== 200)).toEqual([]);
    const list = await (await fetch(`${uri}/referrals?direction=inbound&limit=100`)).json();
    expect(list.items).toHaveLength(40);
    p.child.kill('SIGTERM');
    await p.exited;
  }, 90_000);

  test('a 201 survives an immediate kill -9: the referral was committed before the answer', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pp-crash-')), 'adapter.db');
    const p = startProcess({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: `sqlite:${file}` });
    const uri = await p.listening;
    const referral = freshReferral();
    const res = await fetch(`${uri}/referrals`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(referral) });
    expect(res.status).toBe(201);
    // a search by NHS number must not put the number in the request log either
    expect((await fetch(`${uri}/referrals?nhsNumber=${referral.patient.nhsNumber}`)).status).toBe(200);
    p.child.kill('SIGKILL');
    await p.exited;

    const store = await openStore(`sqlite:${file}`);
    try {
      const stored = await new ReferralRepository(store.db).get(referral.referralId);
      expect(stored?.native).toEqual(referral);
    } finally {
      await store.close();
    }
    // Nothing patient-identifiable reached the log.
    const log = p.output().stdout + p.output().stderr;
    expect(log).not.toContain(referral.patient.nhsNumber);
    expect(log).not.toContain(referral.patient.name.family);
  }, 60_000);
});
