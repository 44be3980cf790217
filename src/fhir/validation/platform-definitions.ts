// Reads the platform's StructureDefinitions, ValueSets and CodeSystems from profiles/. Every problem
// found is collected and reported together, naming the file, so one failed start shows them all.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CodeSystem, StructureDefinition, ValueSet } from 'fhir/r4.js';

export const PLATFORM_CANONICAL_BASE = 'https://fhir.painplatform.uk/';

export interface PlatformFile<T> {
  readonly file: string;
  readonly resource: T;
}

export interface PlatformDefinitions {
  readonly structures: readonly PlatformFile<StructureDefinition>[];
  readonly valueSets: readonly PlatformFile<ValueSet>[];
  readonly codeSystems: readonly PlatformFile<CodeSystem>[];
}

/** Start-up failure: the profiles cannot be trusted, so nothing may be validated against them. */
export class ProfileLoadError extends Error {
  readonly problems: readonly string[];

  constructor(dir: string, problems: readonly string[]) {
    super(
      `Cannot load FHIR profiles from ${dir}: ${problems.length} problem(s)\n` + problems.map((p) => `  - ${p}`).join('\n'),
    );
    this.name = 'ProfileLoadError';
    this.problems = problems;
  }
}

const KINDS = ['StructureDefinition', 'ValueSet', 'CodeSystem'] as const;
type Kind = (typeof KINDS)[number];

/** Files named `<Kind>-*.json`; other files (Questionnaires, CapabilityStatement …) are not ours to read. */
function kindOf(file: string): Kind | undefined {
  if (!file.endsWith('.json')) return undefined;
  return KINDS.find((k) => file.startsWith(`${k}-`));
}

export function readPlatformDefinitions(dir: string, problems: string[]): PlatformDefinitions {
  let files: string[];
  try {
    files = readdirSync(dir).sort();
  } catch (e) {
    throw new ProfileLoadError(dir, [`cannot read directory: ${(e as Error).message}`]);
  }
  const structures: PlatformFile<StructureDefinition>[] = [];
  const valueSets: PlatformFile<ValueSet>[] = [];
  const codeSystems: PlatformFile<CodeSystem>[] = [];
  const urls = new Map<string, string>();
  for (const file of files) {
    const kind = kindOf(file);
    if (!kind) continue;
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    } catch (e) {
      problems.push(`${file}: not valid JSON (${(e as Error).message})`);
      continue;
    }
    const r = json as { resourceType?: unknown; url?: unknown };
    if (typeof json !== 'object' || json === null || r.resourceType !== kind) {
      problems.push(`${file}: expected resourceType "${kind}", found ${JSON.stringify(r?.resourceType)}`);
      continue;
    }
    if (typeof r.url !== 'string' || r.url.length === 0) {
      problems.push(`${file}: ${kind} has no url`);
      continue;
    }
    const key = `${kind} ${r.url}`;
    const earlier = urls.get(key);
    if (earlier) {
      problems.push(`${file}: ${kind} url ${r.url} is also defined in ${earlier}`);
      continue;
    }
    urls.set(key, file);
    if (kind === 'StructureDefinition') structures.push({ file, resource: json as StructureDefinition });
    else if (kind === 'ValueSet') valueSets.push({ file, resource: json as ValueSet });
    else codeSystems.push({ file, resource: json as CodeSystem });
  }
  return { structures, valueSets, codeSystems };
}

/** A definition handed to the validator in memory rather than read from the profiles folder. */
export type ExtraDefinition = StructureDefinition | ValueSet | CodeSystem;

/**
 * The folder's definitions plus `extra`, each extra named `extra[<i>] <url>` in problems. Same checks
 * as for files: resourceType, url, and no canonical URL defined twice (across both sources).
 */
export function withExtraDefinitions(
  platform: PlatformDefinitions,
  extra: readonly ExtraDefinition[],
  problems: string[],
): PlatformDefinitions {
  if (extra.length === 0) return platform;
  const structures = [...platform.structures];
  const valueSets = [...platform.valueSets];
  const codeSystems = [...platform.codeSystems];
  const urls = new Map<string, string>();
  for (const list of [structures, valueSets, codeSystems]) {
    for (const { file, resource } of list) urls.set(`${resource.resourceType} ${resource.url}`, file);
  }
  extra.forEach((resource, i) => {
    const kind = (resource as { resourceType?: unknown }).resourceType;
    const name = `extra[${i}] ${String(resource.url)}`;
    if (!KINDS.includes(kind as Kind)) {
      problems.push(`${name}: expected a StructureDefinition, ValueSet or CodeSystem, found ${JSON.stringify(kind)}`);
      return;
    }
    if (typeof resource.url !== 'string' || resource.url.length === 0) {
      problems.push(`${name}: ${String(kind)} has no url`);
      return;
    }
    const key = `${String(kind)} ${resource.url}`;
    const earlier = urls.get(key);
    if (earlier) {
      problems.push(`${name}: ${String(kind)} url ${resource.url} is also defined in ${earlier}`);
      return;
    }
    urls.set(key, name);
    if (resource.resourceType === 'StructureDefinition') structures.push({ file: name, resource });
    else if (resource.resourceType === 'ValueSet') valueSets.push({ file: name, resource });
    else codeSystems.push({ file: name, resource });
  });
  return { structures, valueSets, codeSystems };
}
