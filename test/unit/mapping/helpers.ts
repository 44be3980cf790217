// Shared by the mapping tests: the project root, the compiled mappings, fixture scenarios.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMappings, type CompiledMappings, type ReferralMappingOptions } from '../../../src/mapping/index.js';
import type { NativeReferral } from '../../../src/native/types.js';
import { applyRiskRule } from '../../../src/questionnaires/risk.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const MAPPINGS_DIR = join(ROOT, 'mappings');
export const PROFILES_DIR = join(ROOT, 'profiles');
export const FIXTURES_DIR = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const UPDATE_GOLDEN = process.env.UPDATE_GOLDEN === '1';

let cached: CompiledMappings | undefined;
export function mappings(): CompiledMappings {
  cached ??= loadMappings(MAPPINGS_DIR);
  return cached;
}

export function readJson<T = unknown>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

export function writeJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

export interface Scenario {
  name: string;
  dir: string;
  kind: 'referral' | 'assessment';
}

/** Every fixtures/<scenario>/ with an input.json; an assessment scenario has a context.json. */
export function scenarios(): Scenario[] {
  return readdirSync(FIXTURES_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(FIXTURES_DIR, d.name, 'input.json')))
    .map((d) => ({
      name: d.name,
      dir: join(FIXTURES_DIR, d.name),
      kind: existsSync(join(FIXTURES_DIR, d.name, 'context.json')) ? ('assessment' as const) : ('referral' as const),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** What the mapping is told about risk: computed by the risk rule (src/questionnaires/risk.ts). */
export function decisionOf(referral: NativeReferral): ReferralMappingOptions {
  const risk = applyRiskRule(referral);
  return {
    urgency: risk.urgency,
    ...(risk.note !== undefined ? { riskNote: risk.note } : {}),
    selfHarmFromRule: risk.finding.selfHarm,
  };
}
