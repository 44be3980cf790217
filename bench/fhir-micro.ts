// Where the time of one POST /fhir transaction goes, measured in one process on a fresh SQLite file
// without touching src/: the intake service is built as src/server.ts builds it, but its collaborators
// (validator, mappers, repository) are wrapped in timers, so each step's own time is known. Requests run
// one at a time, so the timers nest properly and each bucket is self time (a wrapper's children are
// taken out of it). The HTTP share is a whole POST /fhir through hapi (server.inject) minus the service.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Bundle, Questionnaire, QuestionnaireResponse } from 'fhir/r4.js';
import { loadConfig } from '../src/config/index.js';
import { parseFhirBody } from '../src/fhir/format.js';
import { validateResponse } from '../src/questionnaires/response-validator.js';
import { createServer, loadDomain } from '../src/server.js';
import { FhirIntakeService } from '../src/services/fhir/intake.service.js';
import { FhirRepository } from '../src/store/fhir.repo.js';
import { ReferralRepository } from '../src/store/referrals.repo.js';
import { freshTransactionBody } from './fhir-bodies.js';

const WARM_UP = Number(process.env.BENCH_FHIR_MICRO_WARMUP ?? 150);
const ROUNDS = Number(process.env.BENCH_FHIR_MICRO_ROUNDS ?? 400);

/** Self-time accounting: each timed call adds its time minus its timed children's to its bucket. */
class Clock {
  readonly self = new Map<string, number>();
  /** time including timed children (e.g. the whole write transaction, with the mapping run inside it) */
  readonly inclusive = new Map<string, number>();
  private readonly stack: { children: number }[] = [];

  private enter(): { start: number; frame: { children: number } } {
    const frame = { children: 0 };
    this.stack.push(frame);
    return { start: performance.now(), frame };
  }

  private leave(bucket: string, start: number, frame: { children: number }): void {
    const elapsed = performance.now() - start;
    this.stack.pop();
    this.self.set(bucket, (this.self.get(bucket) ?? 0) + elapsed - frame.children);
    this.inclusive.set(bucket, (this.inclusive.get(bucket) ?? 0) + elapsed);
    const parent = this.stack[this.stack.length - 1];
    if (parent) parent.children += elapsed;
  }

  sync<T>(bucket: string, fn: () => T): T {
    const { start, frame } = this.enter();
    try {
      return fn();
    } finally {
      this.leave(bucket, start, frame);
    }
  }

  async async<T>(bucket: string, fn: () => Promise<T>): Promise<T> {
    const { start, frame } = this.enter();
    try {
      return await fn();
    } finally {
      this.leave(bucket, start, frame);
    }
  }

  reset(): void {
    this.self.clear();
    this.inclusive.clear();
  }
}

/** A view of `target` whose listed methods are timed into the bucket `bucketOf` names for the call. */
function timed<T extends object>(clock: Clock, target: T, methods: Record<string, (args: unknown[]) => string>, isAsync: boolean): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver);
      const bucketOf = typeof prop === 'string' ? methods[prop] : undefined;
      if (typeof value !== 'function') return value;
      if (!bucketOf) return value.bind(obj);
      return (...args: unknown[]) => (isAsync ? clock.async(bucketOf(args), () => value.apply(obj, args)) : clock.sync(bucketOf(args), () => value.apply(obj, args)));
    },
  });
}

const B = {
  parse: 'parse the JSON body (with line/column map)',
  validateInbound: 'inbound profile validation of the 8 resources',
  restOfChecks: 'other checks: QR vs Questionnaire, references, shape',
  toNative: 'reverse mapping FHIR → native (inbound.toNative)',
  mapper: 'native → FHIR Bundle (deriveReferral mapping)',
  validateNative: 'validation of that Bundle (deriveReferral)',
  reads: 'store reads before the transaction (If-None-Exist, refs)',
  write: 'write transaction (SQL, reference rewriting, hashing)',
  http: 'hapi around it (routing, payload, sha256, serialize)',
} as const;

export interface Breakdown {
  rounds: number;
  steps: { name: string; us: number }[];
  /** of the "other checks": the two QuestionnaireResponses against their Questionnaires, timed alone */
  questionnaireChecksUs: number;
  serviceUs: number;
  httpTotalUs: number;
  /**
   * Wall time inside the write transaction, with the mapping and validation that run in it. SQLite has
   * one writer at a time (one connection per process, one write lock across WORKERS), so this bounds
   * the transactions per second of the whole service.
   */
  insideTransactionUs: number;
}

export async function breakdown(): Promise<Breakdown> {
  const databaseUrl = `sqlite:${join(mkdtempSync(join(tmpdir(), 'pp-bench-micro-')), 'adapter.db')}`;
  const config = loadConfig({ ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', DATABASE_URL: databaseUrl });
  const app = await createServer(config);
  try {
    const domain = loadDomain(config);
    const clock = new Clock();
    const validator = timed(clock, domain.validator, { validate: (a) => ((a[0] as { resourceType?: string })?.resourceType === 'Bundle' ? B.validateNative : B.validateInbound) }, false);
    const intake = new FhirIntakeService({
      repo: timed(clock, new FhirRepository(app.store.db, app.store.dialect), { transaction: () => B.write, search: () => B.reads, findByIdentifier: () => B.reads, read: () => B.reads }, true),
      referrals: timed(clock, new ReferralRepository(app.store.db), { get: () => B.reads }, true),
      mapper: timed(clock, domain.mapper, { referralToBundle: () => B.mapper }, false),
      assessments: domain.mapper,
      validator,
      inbound: timed(clock, domain.inbound, { toNative: () => B.toNative }, false),
      questionnaires: domain.questionnaires,
      messageRules: domain.messageRules,
      defaultRecipientOds: config.platformOdsCode,
      now: () => new Date(),
    });

    const service = async (raw: string) => {
      const parsed = clock.sync(B.parse, () => parseFhirBody(raw, 'json'));
      await clock.async(B.restOfChecks, () => intake.bundle(parsed.resource as unknown as Bundle, raw));
    };
    // The same request through hapi (the app's own, unwrapped service). The two kinds of round
    // alternate, so that a growing database or a busy machine weighs on both alike.
    const inject = async () => {
      const r = await app.server.inject({ method: 'POST', url: '/fhir', headers: { 'content-type': 'application/fhir+json' }, payload: freshTransactionBody() });
      if (r.statusCode !== 200) throw new Error(`POST /fhir answered ${r.statusCode}: ${r.payload.slice(0, 500)}`);
    };
    for (let i = 0; i < WARM_UP; i++) {
      await service(freshTransactionBody());
      await inject();
    }
    clock.reset();
    let serviceMs = 0;
    let httpMs = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const body = freshTransactionBody();
      const t0 = performance.now();
      await service(body);
      const t1 = performance.now();
      await inject();
      httpMs += performance.now() - t1;
      serviceMs += t1 - t0;
    }
    const serviceUs = (serviceMs * 1000) / ROUNDS;
    const httpTotalUs = (httpMs * 1000) / ROUNDS;

    // The QuestionnaireResponse checks are a plain function the service imports, so they are timed alone.
    const bundle = JSON.parse(freshTransactionBody()) as Bundle;
    const qrs = bundle.entry!.map((e) => e.resource).filter((r): r is QuestionnaireResponse => r?.resourceType === 'QuestionnaireResponse');
    const pairs = qrs.map((qr) => [qr, domain.questionnaires.resolve(qr.questionnaire!) as Questionnaire] as const);
    for (let i = 0; i < WARM_UP; i++) for (const [qr, q] of pairs) validateResponse(qr, q);
    const t2 = performance.now();
    for (let i = 0; i < ROUNDS; i++) for (const [qr, q] of pairs) validateResponse(qr, q);
    const questionnaireChecksUs = ((performance.now() - t2) * 1000) / ROUNDS;

    const us = (bucket: string) => ((clock.self.get(bucket) ?? 0) * 1000) / ROUNDS;
    const steps: { name: string; us: number }[] = [B.parse, B.validateInbound, B.restOfChecks, B.reads, B.toNative, B.mapper, B.validateNative, B.write].map((name) => ({ name, us: us(name) }));
    steps.push({ name: B.http, us: Math.max(0, httpTotalUs - serviceUs) });
    steps.push({ name: 'total: one POST /fhir through hapi, one at a time', us: httpTotalUs });
    const insideTransactionUs = ((clock.inclusive.get(B.write) ?? 0) * 1000) / ROUNDS;
    return { rounds: ROUNDS, steps, questionnaireChecksUs, serviceUs, httpTotalUs, insideTransactionUs };
  } finally {
    await app.stop();
  }
}
