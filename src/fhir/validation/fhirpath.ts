// Invariants the validator evaluates itself (below profile backbones, in slices and extension
// definitions, and the Bundle invariants that look into entry resources). They are parsed once, at
// load, with the FHIRPath engine medplum uses for every other invariant of the same profile, so one
// expression never gets two readings; that engine is also 2-3x faster here than fhirpath.js.
import { evalFhirPathTyped, parseFhirPath, toTypedValue, type TypedValue } from '@medplum/core';
import { cachedInvariant, type PresenceProbe } from './invariant-cache.js';

export type FhirPathVars = Record<string, TypedValue>;

export interface CompiledInvariant {
  readonly expression: string;
  /** true when the invariant holds for `value` (of FHIR type `type`); throws when it cannot be evaluated */
  holds(value: unknown, type: string, vars: FhirPathVars): boolean;
}

const UCUM: TypedValue = { type: 'uri', value: 'http://unitsofmeasure.org' };

/** Parse `expression` now; a syntax error throws (and so stops start-up for a platform profile). */
export function compileInvariant(expression: string): CompiledInvariant {
  const atom = parseFhirPath(expression);
  return {
    expression,
    holds(value, type, vars) {
      const context: TypedValue = { type, value };
      vars['%context'] = context;
      const result = evalFhirPathTyped(atom, [context], vars);
      return result.length === 1 && result[0].value === true;
    },
  };
}

/**
 * How the validator evaluates a compiled invariant: true when it holds, throws when it cannot be
 * evaluated. `evaluateEveryTime` runs the expression each time (engine 'medplum'); `evaluateCached`
 * only when the answer can differ from one already seen (invariant-cache.ts; engine 'fast').
 */
export type InvariantEvaluator = (inv: CompiledInvariant, value: unknown, type: string, vars: FhirPathVars) => boolean;

export const evaluateEveryTime: InvariantEvaluator = (inv, value, type, vars) => inv.holds(value, type, vars);

export function evaluateCached(probe: PresenceProbe): InvariantEvaluator {
  return (inv, value, type, vars) => {
    const context: TypedValue = { type, value };
    const outcome = cachedInvariant(inv.expression).evaluate(
      context,
      () => {
        vars['%context'] = context;
        return vars;
      },
      probe,
    );
    if (outcome === true || outcome === false) return outcome;
    throw outcome.error;
  };
}

/** Variables for one resource under validation (%resource, %rootResource, %ucum). */
export function varsFor(resource: unknown): FhirPathVars {
  const tv = toTypedValue(resource);
  return { '%resource': tv, '%rootResource': tv, '%ucum': UCUM };
}

const cache = new Map<string, CompiledInvariant>();

/** compileInvariant, memoised by expression text (for invariants evaluated only when needed). */
export function compileCached(expression: string): CompiledInvariant {
  let found = cache.get(expression);
  if (!found) {
    found = compileInvariant(expression);
    cache.set(expression, found);
  }
  return found;
}
