// The structural pass hands medplum a profile parsed once at load (registered in its type map) instead
// of validateResource(r, { profile }), which re-parses the snapshot on every call. Prove that medplum
// then finds the same issues, on every valid and broken resource of the profile table.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { OperationOutcomeIssue, Resource, StructureDefinition } from 'fhir/r4.js';
import { beforeAll, describe, expect, test } from 'vitest';
import { fixChoicePath, medplumIssues } from '../../../src/fhir/validation/structural.js';
import { PROFILES_DIR, projectValidator } from './helpers.js';
import { cases } from './profile-cases.js';
import * as F from './referral-fixture.js';

type Json = Record<string, any>;

const profiles = new Map<string, StructureDefinition>();
beforeAll(() => {
  projectValidator(); // loads R4 core into medplum and registers the platform profiles
  for (const f of readdirSync(PROFILES_DIR).filter((n) => n.startsWith('StructureDefinition-'))) {
    const sd = JSON.parse(readFileSync(join(PROFILES_DIR, f), 'utf8')) as StructureDefinition;
    profiles.set(sd.url, sd);
  }
});

function viaValidateResource(resource: Resource, profile: StructureDefinition): OperationOutcomeIssue[] {
  try {
    return validateResource(resource as never, { profile: profile as never }) as OperationOutcomeIssue[];
  } catch (e) {
    if (e instanceof OperationOutcomeError) return e.outcome.issue as OperationOutcomeIssue[];
    throw e;
  }
}

// Same issue set; the registered schema leaves out dotted profile elements equal to the base, whose
// checks medplum repeats when it walks the datatype, so duplicates are not compared.
const key = (i: OperationOutcomeIssue): string => JSON.stringify([i.severity, i.code, i.details?.text, i.expression]);
const asSet = (issues: OperationOutcomeIssue[]): string[] => [...new Set(issues.map(key))].sort();

const singles: [string, () => Json][] = [
  ['Patient', F.patient as () => Json],
  ['Organization', () => F.organization() as Json],
  ['Practitioner', F.practitioner as () => Json],
  ['PractitionerRole', F.practitionerRole as () => Json],
  ['QuestionnaireResponse', F.phq9 as () => Json],
  ['Flag', F.flag as () => Json],
  ['ServiceRequest', () => F.serviceRequest() as Json],
];

describe('medplum finds the same issues with the profile parsed once', () => {
  test.each([
    ...singles.map(([name, base]) => [`valid ${name}`, base, () => {}] as [string, () => Json, (r: Json) => void]),
    ...cases.filter(([, base]) => base().resourceType !== 'Bundle').map(([name, base, change]) => [name, base, change] as [string, () => Json, (r: Json) => void]),
  ])('%s', (_name, base, change) => {
    const r = base();
    change(r);
    const url = r.meta.profile[0] as string;
    expect(asSet(medplumIssues(r as Resource, url))).toEqual(asSet(viaValidateResource(r as Resource, profiles.get(url) as StructureDefinition)));
  });
});

describe('FHIRPath locations for choice elements', () => {
  test.each([
    ['Patient.extension[0].value[x]', { resourceType: 'Patient', extension: [{ valueBoolean: 'x' }] }, 'Patient.extension[0].value.ofType(boolean)'],
    ['Observation.value[x]', { resourceType: 'Observation', valueQuantity: {} }, 'Observation.value.ofType(Quantity)'],
    ['Observation.effective[x]', { resourceType: 'Observation', effectiveDateTime: 'x' }, 'Observation.effective.ofType(dateTime)'],
    ['Observation.value[x]', { resourceType: 'Observation' }, 'Observation.value'],
    ['Patient.name[0].family', { resourceType: 'Patient' }, 'Patient.name[0].family'],
  ])('%s', (path, resource, expected) => {
    expect(fixChoicePath(path, resource)).toBe(expected);
  });
});
