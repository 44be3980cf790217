// Micro-benchmark of the validator alone: µs per validate() on the mapping goldens (step-up and
// at-risk referral Bundles, the follow-up QuestionnaireResponse). Speed is measured here, never
// asserted in tests. Usage: npx tsx bench/validate-micro.ts [engine] (fast | medplum; default: the
// validator's default engine).
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createValidator } from '../src/fhir/validator.js';

const root = new URL('../', import.meta.url).pathname;
const engine = process.argv[2];
const goldens = ['referral-step-up.bundle.json', 'referral-new-at-risk.bundle.json', 'assessment-follow-up.questionnaire-response.json'];

const started = performance.now();
// biome-ignore lint: engine is only known to some versions of the validator
const validator = createValidator({ profilesDir: `${root}profiles`, ...(engine ? { engine } : {}) } as never);
console.log(`createValidator${engine ? ` (${engine})` : ''}: ${(performance.now() - started).toFixed(0)} ms`);

for (const file of goldens) {
  const text = readFileSync(`${root}fixtures/fhir/${file}`, 'utf8');
  // fresh objects per call, as the service hands the validator a newly mapped Bundle each time
  const n = Number(process.env.N ?? 2000);
  const inputs = Array.from({ length: n }, () => JSON.parse(text) as unknown);
  const errors = validator.validate(inputs[0]).filter((i) => i.severity === 'error' || i.severity === 'fatal');
  if (errors.length) throw new Error(`${file}: ${JSON.stringify(errors)}`);
  for (let i = 0; i < Math.min(300, n); i++) validator.validate(inputs[i]); // warm-up
  const times: number[] = [];
  for (let round = 0; round < 5; round++) {
    const t = performance.now();
    for (const x of inputs) validator.validate(x);
    times.push(((performance.now() - t) * 1000) / n);
  }
  times.sort((a, b) => a - b);
  console.log(`${file.padEnd(50)} median ${times[2].toFixed(1).padStart(8)} µs   best ${times[0].toFixed(1).padStart(8)} µs`);
}
