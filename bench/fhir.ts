// The FHIR front door benchmarks (issue 3): run by `npm run bench` after the native ones, or alone with
// `npx tsx bench/fhir.ts`. Load: POST /fhir transactions (fresh identifiers) and $validate of one
// ServiceRequest, each against the adapter in one process and with WORKERS=2, at 32 and 8 connections.
// Then where a transaction's time goes (bench/fhir-micro.ts). Figures go by hand into bench/README.md.
import { cpus, loadavg, totalmem } from 'node:os';
import { pathToFileURL } from 'node:url';
import { cpuProfileArgs, failures, row, transactionLoad, validateLoad, type FhirLoadResult } from './fhir-load.js';
import { breakdown } from './fhir-micro.js';
import type { Target } from './servers.js';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 20);
const CONNECTIONS = (process.env.BENCH_FHIR_CONNECTIONS ?? '32,8').split(',').map(Number);
/** BENCH_FHIR_PROFILE=<dir>: the one-process transaction runs also write a CPU profile there. */
const PROFILE_DIR = process.env.BENCH_FHIR_PROFILE;
const TARGETS: [Target, string][] = [
  ['adapter', '1 process'],
  ['adapter-2-workers', 'WORKERS=2'],
];

/** Runs every FHIR benchmark and prints its figures; false when any request failed (the figures then do not count). */
export async function runFhirBenchmarks(): Promise<boolean> {
  const results: FhirLoadResult[] = [];
  // Other work on the machine changes every figure: say how busy it was.
  console.log(`\nload average before the FHIR runs: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`\nFHIR load: ${DURATION_S} s per run; POST /fhir = transaction Bundle of a GP referral (8 entries, fresh identifiers every request)`);
  for (const connections of CONNECTIONS) {
    for (const [kind, name] of TARGETS) {
      const nodeArgs = PROFILE_DIR && kind === 'adapter' ? cpuProfileArgs(PROFILE_DIR) : [];
      const r = await transactionLoad(kind, { connections, durationS: DURATION_S, nodeArgs });
      results.push(r);
      console.log(row(`POST /fhir, ${name}, ${connections} conn`, r, 'Bundles/s'));
    }
  }
  for (const connections of [...CONNECTIONS, 1]) {
    for (const [kind, name] of TARGETS) {
      const r = await validateLoad(kind, { connections, durationS: DURATION_S });
      results.push(r);
      console.log(row(`$validate SR, ${name}, ${connections} conn`, r));
    }
  }
  const b = await breakdown();
  console.log(`\nFHIR micro: where one transaction's time goes (mean of ${b.rounds} rounds, one process, SQLite)`);
  for (const step of b.steps) console.log(`  ${step.name.padEnd(58)} ${step.us.toFixed(0).padStart(6)} µs`);
  console.log(`  (of the other checks: the 2 QuestionnaireResponses against their Questionnaires, timed alone: ${b.questionnaireChecksUs.toFixed(0)} µs)`);
  console.log(`  wall time inside the write transaction (with what runs in it): ${b.insideTransactionUs.toFixed(0)} µs → at most ${(1e6 / b.insideTransactionUs).toFixed(0)} transactions/s with one SQLite writer`);
  const bad = results.reduce((n, r) => n + failures(r), 0);
  if (bad > 0) console.error(`${bad} FHIR requests failed or answered wrongly: the FHIR figures above are not valid`);
  return bad === 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);
  if (!(await runFhirBenchmarks())) process.exitCode = 1;
}
