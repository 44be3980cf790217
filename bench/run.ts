// npm run bench: load test of POST /referrals against the adapter and a bare hapi route, then a
// micro-benchmark of mapping + validation, then the FHIR benchmarks (bench/fhir.ts). Figures go by hand
// into bench/README.md with the machine.
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { loadMappings } from '../src/mapping/index.js';
import { createValidator } from '../src/fhir/validator.js';
import { applyRiskRule } from '../src/questionnaires/risk.js';
import { runFhirBenchmarks } from './fhir.js';
import { startTarget, stopTarget, type Target } from './servers.js';
import type { NativeReferral } from '../src/native/types.js';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 20);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const root = new URL('../', import.meta.url).pathname;
const stepUp = JSON.parse(readFileSync(`${root}fixtures/native/referral-step-up.json`, 'utf8')) as NativeReferral;

let sequence = 0;
/** The step-up example with a fresh referralId and assessmentIds, so every request is a new referral. */
function freshBody(): string {
  sequence += 1;
  const id = `PP-B-${process.pid}-${sequence}`;
  return JSON.stringify({ ...stepUp, referralId: id, assessments: stepUp.assessments!.map((a, i) => ({ ...a, assessmentId: `${id}-${i}` })) });
}

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  total: number;
}

async function load(kind: Target): Promise<LoadResult> {
  const target = await startTarget(kind);
  const { uri } = target;
  try {
    const result = await autocannon({
      url: `${uri}/referrals`,
      connections: CONNECTIONS,
      duration: DURATION_S,
      requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: freshBody() }) }],
    });
    return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors, total: result.requests.total };
  } finally {
    await stopTarget(target);
  }
}

function micro(): { mapUs: number; validateUs: number } {
  const mappings = loadMappings(`${root}mappings`);
  const validator = createValidator({ profilesDir: `${root}profiles` });
  const n = 2000;
  const referrals = Array.from({ length: n }, () => JSON.parse(freshBody()) as NativeReferral);
  const bundles = [];
  for (const r of referrals.slice(0, 200)) validator.validate(mappings.referralToBundle(r, decision(r))); // warm-up
  let t = performance.now();
  for (const r of referrals) bundles.push(mappings.referralToBundle(r, decision(r)));
  const mapUs = ((performance.now() - t) * 1000) / n;
  t = performance.now();
  for (const b of bundles) validator.validate(b);
  const validateUs = ((performance.now() - t) * 1000) / n;
  return { mapUs, validateUs };
}

function decision(r: NativeReferral) {
  const risk = applyRiskRule(r);
  return { urgency: risk.urgency, riskNote: risk.note, selfHarmFromRule: risk.finding.selfHarm && !(r.riskFlags ?? []).includes('self-harm') };
}

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
console.log(`machine: ${machine}`);
console.log(`load: ${DURATION_S} s at ${CONNECTIONS} connections, POST /referrals (step-up example, fresh ids per request)`);
const adapter = await load('adapter');
const clustered = await load('adapter-2-workers');
const bare = await load('bare');
const row = (name: string, r: LoadResult) =>
  `${name.padEnd(22)} ${r.rps.toFixed(0).padStart(7)} req/s   p50 ${String(r.p50).padStart(4)} ms   p99 ${String(r.p99).padStart(4)} ms   non-2xx ${r.non2xx}   errors ${r.errors}   total ${r.total}`;
console.log(row('adapter, 1 process', adapter));
console.log(row('adapter, WORKERS=2', clustered));
console.log(row('bare hapi parse+return', bare));
console.log(`ratio adapter / bare (1 process each): ${((adapter.rps / bare.rps) * 100).toFixed(1)} %`);
const m = micro();
console.log(`micro: mapping ${m.mapUs.toFixed(1)} µs/referral, validation ${m.validateUs.toFixed(1)} µs/referral, together ${(m.mapUs + m.validateUs).toFixed(1)} µs`);
if (adapter.non2xx + adapter.errors + clustered.non2xx + clustered.errors > 0) {
  console.error('the adapter answered some requests with errors: the figures above are not valid');
  process.exitCode = 1;
}
// Then the FHIR front door (issue 3): transactions, $validate and where a transaction's time goes.
if (!(await runFhirBenchmarks())) process.exitCode = 1;
