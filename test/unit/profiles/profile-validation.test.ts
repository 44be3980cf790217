// medplum's validator (validateResource with { profile }) against each of our profiles: the contract's
// shape is accepted, and a resource with one field changed is rejected where it breaks a rule, with
// the FHIRPath location of the problem. Required bindings are not checked by medplum (the adapter's
// own validator adds that); here: structure, cardinality, slices, fixed/pattern values, invariants.
import { describe, expect, test } from 'vitest';
import { CS, type Suite, UAS, suites } from './cases.js';
import * as ex from './examples.js';
import { errors, validateExtensionWith, validateWith } from './load.js';

function run<T extends object>(suite: Suite<T>): void {
  describe(suite.profile, () => {
    test('accepts the contract shape', () => {
      const result = validateWith(suite.base(), suite.profile);
      expect(errors(result)).toEqual([]);
      expect(result.valid).toBe(true);
    });

    if (suite.valid.length > 0) {
      test.each(suite.valid)('accepts: %s', (_name, change) => {
        const resource = suite.base();
        change(resource);
        expect(errors(validateWith(resource, suite.profile))).toEqual([]);
      });
    }

    test.each(suite.broken.map((b) => [b.name, b] as const))('rejects: %s', (_name, broken) => {
      const resource = suite.base();
      broken.change(resource);
      const result = validateWith(resource, suite.profile);
      expect(result.valid).toBe(false);
      expect(errors(result)).toContainEqual({
        expression: broken.expression,
        text: expect.stringContaining(broken.message),
      });
    });
  });
}

for (const suite of suites) {
  run(suite);
}

describe('extension definitions (validated on their own)', () => {
  const cases: [string, string, object, string | undefined][] = [
    ['Extension-SymptomDuration', 'valid', { url: `${ex.SD}Extension-SymptomDuration`, valueDuration: { value: 26, unit: 'months', system: 'http://unitsofmeasure.org', code: 'mo' } }, undefined],
    ['Extension-SymptomDuration', 'in days', { url: `${ex.SD}Extension-SymptomDuration`, valueDuration: { value: 26, system: 'http://unitsofmeasure.org', code: 'd' } }, 'Extension.value[x].code'],
    ['Extension-SymptomDuration', 'without a value', { url: `${ex.SD}Extension-SymptomDuration`, extension: [{ url: 'x', valueString: 'y' }] }, 'Extension.extension'],
    ['Extension-ContactMethod', 'valid', { url: `${ex.SD}Extension-ContactMethod`, valueCoding: { system: `${CS}contact-method`, code: 'video' } }, undefined],
    ['Extension-ContactMethod', 'with the url of another extension', { url: `${ex.SD}Extension-AssessmentMode`, valueCoding: { system: `${CS}contact-method`, code: 'video' } }, 'Extension.url'],
    ['Extension-UrgencyAsSent', 'valid', { url: UAS, valueCode: 'routine' }, undefined],
    ['Extension-UrgencyAsSent', 'without a value', { url: UAS }, 'Extension.value[x]'],
    ['Extension-AssessmentMode', 'valid', { url: `${ex.SD}Extension-AssessmentMode`, valueCoding: { system: `${CS}assessment-mode`, code: 'paper' } }, undefined],
  ];
  test.each(cases)('%s %s', (profile, _name, extension, expression) => {
    const result = validateExtensionWith(extension, profile);
    if (expression === undefined) {
      expect(errors(result)).toEqual([]);
    } else {
      expect(errors(result).map((e) => e.expression)).toContain(expression);
    }
  });
});
