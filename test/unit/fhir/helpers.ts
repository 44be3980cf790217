import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Issue } from '../../../src/fhir/outcomes.js';
import { createValidator, type FhirValidator } from '../../../src/fhir/validator.js';

const here = dirname(fileURLToPath(import.meta.url));
export const PROJECT_ROOT = resolve(here, '../../..');
export const PROFILES_DIR = resolve(PROJECT_ROOT, 'profiles');

let shared: FhirValidator | undefined;

/** One validator over the project's profiles per test file (loading takes about a second). */
export function projectValidator(): FhirValidator {
  shared ??= createValidator({ profilesDir: PROFILES_DIR });
  return shared;
}

/** [severity, code, expression] per issue, in order: what a table row states. */
export function summary(issues: readonly Issue[]): [string, string, string | undefined][] {
  return issues.map((i) => [i.severity, i.code, i.expression?.join(' | ')]);
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}
