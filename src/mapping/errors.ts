// Errors of the declarative mapping.

/**
 * A mapping file, ConceptMap or Questionnaire under mappings/ is wrong. Thrown by `loadMappings` at boot,
 * so that a bad rule stops start-up. The message names the file and the rule (id and index).
 */
export class MappingConfigError extends Error {
  override readonly name = 'MappingConfigError';
  constructor(
    /** the file at fault, as given to the loader (e.g. `mappings/referral-to-bundle.json`) */
    readonly file: string,
    /** where in the file: `rule "sr-status" (rules[12])`, `resources[3]`, `group[0].element[2]`, … */
    readonly where: string | undefined,
    readonly problem: string,
  ) {
    super(`${file}${where ? `: ${where}` : ''}: ${problem}`);
  }
}

/**
 * A document cannot be mapped at run time: a code with no counterpart in a ConceptMap, an inbound Bundle
 * without a ServiceRequest, a resource without its identifier. The message names the mapping and the rule;
 * it never contains patient data beyond the offending code.
 */
export class MappingError extends Error {
  override readonly name = 'MappingError';
  constructor(
    readonly mapping: string,
    readonly ruleId: string | undefined,
    readonly problem: string,
  ) {
    super(`${mapping}${ruleId ? ` rule "${ruleId}"` : ''}: ${problem}`);
  }
}
