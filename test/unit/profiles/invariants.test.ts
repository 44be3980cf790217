// Our invariants (pp-*) are FHIRPath that both engines the adapter uses read the same way: medplum's
// (inside validateResource) and HL7's `fhirpath` package. Each must compile in HL7's engine with the R4
// model, hold on the contract-shaped examples, and fail there on the variant that breaks it (medplum's
// verdict on the same variants is in profile-validation.test.ts).
import { evalFhirPathTyped, toTypedValue } from '@medplum/core';
import type { StructureDefinition } from 'fhir/r4.js';
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4/index.js';
import { describe, expect, test } from 'vitest';
import { suites } from './cases.js';
import { loadValidator, readStructureDefinitions } from './load.js';

interface Invariant {
  profile: string;
  key: string;
  path: string;
  expression: string;
}

const sds = readStructureDefinitions().map((f) => f.sd);
const invariants: Invariant[] = sds.flatMap((sd: StructureDefinition) =>
  (sd.differential?.element ?? []).flatMap((e) =>
    (e.constraint ?? []).map((c) => ({ profile: sd.id as string, key: c.key, path: e.path, expression: c.expression as string })),
  ),
);

type Json = Record<string, unknown>;

/** The invariant's result on each node its element selects, with HL7's engine (R4 model). */
function hl7Results(inv: Invariant, resource: Json): unknown[][] {
  const relative = inv.path.split('.').slice(1).join('.');
  const nodes = relative ? (fhirpath.evaluate(resource, relative, undefined, r4) as unknown[]) : [resource];
  return nodes.map(
    (node) =>
      fhirpath.evaluate(node, { base: inv.path, expression: inv.expression }, { resource, rootResource: resource }, r4) as unknown[],
  );
}

/** The same with medplum's engine, as its validator evaluates constraints. */
function medplumResults(inv: Invariant, resource: Json): unknown[][] {
  const root = toTypedValue(resource);
  const relative = inv.path.split('.').slice(1).join('.');
  const nodes = relative ? evalFhirPathTyped(relative, [root]) : [root];
  const variables = { '%resource': root, '%rootResource': root };
  return nodes.map((node) => evalFhirPathTyped(inv.expression, [node], variables).map((v) => v.value));
}

const baseOf = new Map(suites.map((s) => [s.profile, s.base]));

describe('pp- invariants', () => {
  test('every profile of the contract but Patient has invariants of its own', () => {
    // Patient's pp-pat-1/2 (NHS number format and check digit) were dropped: the validator's own NHS
    // number check says the same (cases.ts droppedInvariantCases).
    expect(new Set(invariants.map((i) => i.profile))).toEqual(
      new Set([
        'PainPlatform-Organization',
        'PainPlatform-Practitioner',
        'PainPlatform-PractitionerRole',
        'PainPlatform-ServiceRequest',
        'PainPlatform-QuestionnaireResponse',
        'PainPlatform-Flag',
        'PainPlatform-ReferralBundle',
      ]),
    );
  });

  test.each(invariants.map((i) => [i.key, i] as const))('%s compiles in the HL7 fhirpath engine', (_key, inv) => {
    expect(() => fhirpath.compile({ base: inv.path, expression: inv.expression }, r4)).not.toThrow();
  });

  test.each(invariants.map((i) => [i.key, i] as const))('%s holds on the contract example in both engines', (_key, inv) => {
    loadValidator();
    const base = baseOf.get(inv.profile);
    expect(base, `no example for ${inv.profile}`).toBeDefined();
    const resource = (base as () => Json)();
    const hl7 = hl7Results(inv, resource);
    const medplum = medplumResults(inv, resource);
    expect(hl7.length).toBeGreaterThan(0);
    expect(hl7.every((r) => r.length === 1 && r[0] === true), JSON.stringify(hl7)).toBe(true);
    expect(medplum).toEqual(hl7);
  });

  const brokenByInvariant = suites.flatMap((suite) =>
    suite.broken
      .filter((b) => /^pp-/.test(b.message))
      .map((b) => [`${b.message}: ${b.name}`, suite.profile, suite.base, b.change, b.message] as const),
  );
  test.each(brokenByInvariant)('%s fails in the HL7 engine too', (_label, profile, base, change, key) => {
    loadValidator();
    const inv = invariants.find((i) => i.profile === profile && i.key === key);
    expect(inv).toBeDefined();
    const resource = base() as Json;
    change(resource);
    const hl7 = hl7Results(inv as Invariant, resource);
    expect(hl7.some((r) => !(r.length === 1 && r[0] === true)), JSON.stringify(hl7)).toBe(true);
    expect(medplumResults(inv as Invariant, resource)).toEqual(hl7);
  });
});
