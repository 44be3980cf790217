// Load runs of the FHIR front door with autocannon: POST /fhir with a fresh GP referral transaction on
// every request, and POST /fhir/ServiceRequest/$validate of one ServiceRequest. Besides the HTTP status,
// every answer's body is checked: a transaction must answer 201 for all of its entries (a 200 entry
// would mean an identifier was not fresh and nothing was created), and $validate must find no error.
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { freshTransactionBody, validateBody } from './fhir-bodies.js';
import { startTarget, stopTarget, type Target } from './servers.js';

const root = new URL('../', import.meta.url).pathname;
const FHIR_JSON = { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' };
/** Entries in the benchmark's transaction Bundle, each of which must be created. */
const ENTRIES = (JSON.parse(freshTransactionBody()) as { entry: unknown[] }).entry.length;

export interface FhirLoadResult {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** 2xx answers whose body was not what it must be (see the file comment) */
  wrongBody: number;
  /** non-2xx answers by status and the first issue's code, e.g. `503 transient` (codes only: no patient data) */
  refusals: Record<string, number>;
}

/** Counts one answer that was not 2xx under its status and first issue code. */
function countRefusal(refusals: Record<string, number>, status: number, body: string): void {
  const code = /"code":"([a-z-]+)"/.exec(body)?.[1] ?? 'no-outcome';
  const key = `${status} ${code}`;
  refusals[key] = (refusals[key] ?? 0) + 1;
}

export interface LoadOptions {
  connections: number;
  durationS: number;
  /** node options for a one-process target, e.g. ['--cpu-prof', ...] */
  nodeArgs?: string[];
}

function summary(result: autocannon.Result, wrongBody: number, refusals: Record<string, number>): FhirLoadResult {
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    wrongBody,
    refusals,
  };
}

/** The number of entries answered "201 Created" in a transaction-response. */
function createdEntries(body: string): number {
  return body.split('"201 Created"').length - 1;
}

/** POST /fhir, a transaction Bundle of a whole GP referral with fresh identifiers each time. */
export async function transactionLoad(kind: Target, opts: LoadOptions): Promise<FhirLoadResult> {
  const target = await startTarget(kind, opts.nodeArgs);
  let wrongBody = 0;
  const refusals: Record<string, number> = {};
  try {
    const result = await autocannon({
      url: `${target.uri}/fhir`,
      connections: opts.connections,
      duration: opts.durationS,
      requests: [
        {
          method: 'POST',
          headers: FHIR_JSON,
          setupRequest: (req) => ({ ...req, body: freshTransactionBody() }),
          onResponse: (status, body) => {
            if (status === 200 && createdEntries(body) !== ENTRIES) wrongBody += 1;
            if (status >= 300) countRefusal(refusals, status, body);
          },
        },
      ],
    });
    return summary(result, wrongBody, refusals);
  } finally {
    await stopTarget(target);
  }
}

/**
 * POST /fhir/ServiceRequest/$validate of the same ServiceRequest every time. The server first receives
 * the fixture's transaction, so that the Practitioner the ServiceRequest names by SDS id is known.
 */
export async function validateLoad(kind: Target, opts: LoadOptions): Promise<FhirLoadResult> {
  const target = await startTarget(kind, opts.nodeArgs);
  let wrongBody = 0;
  const refusals: Record<string, number> = {};
  try {
    const seed = await fetch(`${target.uri}/fhir`, {
      method: 'POST',
      headers: FHIR_JSON,
      body: readFileSync(`${root}fixtures/fhir-inbound/gp-referral.transaction.json`),
    });
    if (seed.status !== 200) throw new Error(`seeding the $validate benchmark answered ${seed.status}: ${await seed.text()}`);
    const result = await autocannon({
      url: `${target.uri}/fhir/ServiceRequest/$validate`,
      connections: opts.connections,
      duration: opts.durationS,
      requests: [
        {
          method: 'POST',
          headers: FHIR_JSON,
          body: validateBody,
          onResponse: (status, body) => {
            if (status === 200 && (body.includes('"severity":"error"') || body.includes('"severity":"fatal"'))) wrongBody += 1;
            if (status >= 300) countRefusal(refusals, status, body);
          },
        },
      ],
    });
    return summary(result, wrongBody, refusals);
  } finally {
    await stopTarget(target);
  }
}

/**
 * Node options that write a CPU profile of a one-process target into `dir` when it is stopped
 * (--cpu-prof writes on a normal exit only, so SIGTERM is turned into one). Read it with
 * `npx tsx bench/profile-summary.ts <file>`.
 */
export function cpuProfileArgs(dir: string): string[] {
  return ['--cpu-prof', '--cpu-prof-dir', dir, '--import', 'data:text/javascript,process.once("SIGTERM",()=>process.exit(0))'];
}

/** A result counts only when every request was answered 2xx with the body it must have. */
export function failures(r: FhirLoadResult): number {
  return r.non2xx + r.errors + r.timeouts + r.wrongBody;
}

export function row(name: string, r: FhirLoadResult, unit = 'req/s'): string {
  return (
    `${name.padEnd(34)} ${r.rps.toFixed(0).padStart(6)} ${unit}   p50 ${String(r.p50).padStart(4)} ms   p90 ${String(r.p90).padStart(4)} ms   p99 ${String(r.p99).padStart(4)} ms   ` +
    `max ${String(r.max).padStart(5)} ms   total ${r.total}   non-2xx ${r.non2xx}   errors ${r.errors}   timeouts ${r.timeouts}   wrong body ${r.wrongBody}` +
    (Object.keys(r.refusals).length > 0 ? `   refusals ${JSON.stringify(r.refusals)}` : '')
  );
}
