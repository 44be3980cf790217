// Micro-benchmark of the validator alone: µs per validate() on the mapping goldens (the step-up and
// at-risk referral Bundles, the follow-up QuestionnaireResponse), for the fast engine (the default)
// and the medplum engine it replaced. Speed is measured here, never asserted in tests.
//   npx tsx bench/validate-micro.ts            both engines
//   npx tsx bench/validate-micro.ts fast       one engine (fast | medplum)
//   N=2000 ROUNDS=9 npx tsx bench/validate-micro.ts
// Each round validates N fresh parses (as the service hands the validator a newly mapped Bundle);
// the median and the best round are printed. Figures go by hand into bench/README.md.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createValidator, type ValidatorEngine } from '../src/fhir/validator.js';

const root = new URL('../', import.meta.url).pathname;
const GOLDENS = ['referral-step-up.bundle.json', 'referral-new-at-risk.bundle.json', 'assessment-follow-up.questionnaire-response.json'];
const ENGINES: ValidatorEngine[] = process.argv[2] ? [process.argv[2] as ValidatorEngine] : ['fast', 'medplum'];
const ROUNDS = Number(process.env.ROUNDS ?? 9);

console.log(`${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}; ${ROUNDS} rounds`);
for (const engine of ENGINES) {
  const started = performance.now();
  const validator = createValidator({ profilesDir: `${root}profiles`, engine });
  console.log(`engine ${engine}: createValidator ${(performance.now() - started).toFixed(0)} ms`);
  const n = Number(process.env.N ?? (engine === 'medplum' ? 300 : 2000));
  for (const file of GOLDENS) {
    const text = readFileSync(`${root}fixtures/fhir/${file}`, 'utf8');
    const errors = validator.validate(JSON.parse(text)).filter((i) => i.severity === 'error' || i.severity === 'fatal');
    if (errors.length) throw new Error(`${file}: ${JSON.stringify(errors)}`);
    for (let i = 0; i < Math.min(300, n); i++) validator.validate(JSON.parse(text)); // warm-up
    const times: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const inputs = Array.from({ length: n }, () => JSON.parse(text) as unknown);
      const t = performance.now();
      for (const x of inputs) validator.validate(x);
      times.push(((performance.now() - t) * 1000) / n);
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    console.log(`  ${file.padEnd(50)} median ${median.toFixed(0).padStart(6)} µs   best ${times[0].toFixed(0).padStart(6)} µs`);
  }
}
