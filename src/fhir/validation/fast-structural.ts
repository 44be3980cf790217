// The structural pass without medplum's per-call overhead: the same checks, in the same order, with
// the same issues (text, location, severity) as @medplum/core 4.5.2's validateTypedValue, which stays
// the reference (engine 'medplum'; test/unit/fhir/fast-structural.test.ts compares the two). It works
// on medplum's own parsed schemas (its global type map) and calls medplum's own helpers where the
// semantics are subtle (deep equality, FHIRPath), so only the traversal is ours. What makes it fast:
//   - per schema and element, the JSON keys each type of an element is stored under are computed once
//     (medplum rebuilds them with string replaces for every element of every object, present or not);
//   - no typed-value wrapper or path string for an element that is absent;
//   - invariants through CachedInvariant: evaluated only when the answer can differ from one seen;
//   - slice counting is skipped: its only output is the "Incorrect number of values provided for slice"
//     issue, which the validator drops (the walker counts slices itself).
// Deliberately kept, because medplum does them: "Missing required property" at the indexed path,
// cardinality issues at the schema path (e.g. `HumanName.given`), the primitive-extension merge
// (which can throw "Primitive extension must be an object" and end the pass), unknown keys found with
// the `in` operator, the null scan before the walk.
import {
  OperationOutcomeError,
  badRequest,
  deepEquals,
  deepIncludes,
  fhirTypeToJsType,
  getAllDataTypes,
  isReference,
  toTypedValue,
  validationRegexes,
  type InternalSchemaElement,
  type InternalTypeSchema,
  type TypedValue,
} from '@medplum/core';
import type { Issue } from '../outcomes.js';
import { issue } from '../outcomes.js';
import { CachedInvariant } from './invariant-cache.js';
import {
  getProperty,
  indexOfType,
  resetTypeCache,
  isEmpty,
  isResourceValue,
  keysOf,
  propertyWithPath,
  propertyWithSchema,
  schemaIndex,
  type ElementKeys,
  type SchemaIndex,
  type TypedValueWithPath,
} from './navigation.js';

type Json = Record<string, any>;

type Constraint = NonNullable<InternalTypeSchema['constraints']>[number];

// medplum validation.ts: skippedConstraintKeys (looked up with `in`, as there).
const SKIPPED: Record<string, boolean> = { 'ele-1': true, 'dom-3': true, 'org-1': true, 'sdf-19': true };
const UCUM = 'http://unitsofmeasure.org';
// medplum passes toTypedValue(UCUM) as %ucum
const UCUM_TYPED: TypedValue = toTypedValue(UCUM);
const HL7_SD = 'http://hl7.org/fhir/StructureDefinition/';
const HL7_RESOURCE = `${HL7_SD}Resource`;
const MEDPLUM_SD = 'https://medplum.com/fhir/StructureDefinition/';

const PRIMITIVE_CODES: ReadonlySet<string> = new Set(['undefined', ...Object.keys(fhirTypeToJsType)]);

/** medplum validation.ts isPrimitiveType (`code in fhirTypeToJsType`, inherited names included) */
function isPrimitiveType(code: string): boolean {
  return PRIMITIVE_CODES.has(code) || code in Object.prototype;
}

function isPlainObject(v: unknown): v is Json {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function structureIssue(path: string, text: string): Issue {
  return { severity: 'error', code: 'structure', details: { text }, expression: [path] };
}

/** An element's navigation keys with what the pass checks on it (its invariants compiled). */
class CompiledElement {
  readonly el: InternalSchemaElement;
  readonly keys: ElementKeys;
  readonly constraints: { readonly c: Constraint; readonly inv: CachedInvariant }[];
  readonly specified: boolean;
  readonly referenceTargets: string[] | undefined;

  constructor(el: InternalSchemaElement, invariant: (expression: string) => CachedInvariant) {
    this.el = el;
    this.keys = keysOf(el);
    this.constraints = (el.constraints ?? [])
      .filter((c) => c.severity === 'error' && !(c.key in SKIPPED))
      .map((c) => ({ c, inv: invariant(c.expression) }));
    this.specified = !!el.pattern || !!el.fixed;
    this.referenceTargets = el.type?.find((t) => t.code === 'Reference')?.targetProfile;
  }
}

/** A type schema: its elements in medplum's crawl order, with their checks. */
class CompiledSchema {
  readonly schema: InternalTypeSchema;
  readonly elements: Record<string, InternalSchemaElement>;
  readonly index: SchemaIndex;
  readonly props: { readonly key: string; readonly steps: string[] | undefined; readonly ce: CompiledElement }[] = [];
  readonly constraints: { readonly c: Constraint; readonly inv: CachedInvariant }[];
  /**
   * JSON key (with or without `_`) → the prop it may hold a value for, and the props to visit even when
   * no key of theirs is present (required, or dotted profile paths): with these the crawl of a plain
   * object visits only what can say something, in medplum's order. undefined: visit every prop.
   */
  readonly keyToProp: Map<string, number> | undefined;
  readonly alwaysVisit: readonly number[];
  /** alwaysVisit as bits (props 0-31, 32-63) */
  readonly alwaysLo: number;
  readonly alwaysHi: number;

  constructor(
    schema: InternalTypeSchema,
    element: (el: InternalSchemaElement) => CompiledElement,
    invariant: (expression: string) => CachedInvariant,
  ) {
    this.schema = schema;
    this.elements = schema.elements;
    this.index = schemaIndex(schema);
    for (const key of Object.keys(schema.elements)) {
      this.props.push({ key, steps: key.includes('.') ? key.split('.') : undefined, ce: element(schema.elements[key]) });
    }
    const keyToProp = new Map<string, number>();
    let shared = false;
    const always: number[] = [];
    this.props.forEach((prop, i) => {
      if (prop.steps || prop.ce.el.min > 0) always.push(i);
      if (prop.steps) return;
      const keys = prop.ce.keys;
      for (const k of [...keys.keys, ...keys.extKeys]) {
        const other = keyToProp.get(k);
        if (other !== undefined && other !== i) shared = true; // two elements share a key: visit all
        keyToProp.set(k, i);
      }
    });
    this.keyToProp = shared ? undefined : keyToProp;
    this.alwaysVisit = always;
    let lo = 0;
    let hi = 0;
    for (const i of always) {
      if (i < 32) lo |= 1 << i;
      else if (i < 64) hi |= 1 << (i - 32);
    }
    this.alwaysLo = lo;
    this.alwaysHi = hi;
    this.constraints = (schema.constraints ?? [])
      .filter((c) => c.severity === 'error' && !(c.key in SKIPPED))
      .map((c) => ({ c, inv: invariant(c.expression) }));
  }
}

/** Compiled schemas and invariants of one validator; medplum's global type map is the source. */
export class FastStructuralPass {
  private readonly schemas = new WeakMap<InternalTypeSchema, CompiledSchema>();
  private readonly elements = new WeakMap<InternalSchemaElement, CompiledElement>();
  private readonly invariants = new Map<string, CachedInvariant>();
  private readonly toElement = (el: InternalSchemaElement): CompiledElement => this.compiledElement(el);
  private readonly toInvariant = (expression: string): CachedInvariant => this.invariant(expression);
  /** medplum's FHIRPath symbol lookup, for CachedInvariant's presence masks */
  readonly probe = (type: string, value: Json, name: string): 0 | 1 | 2 | undefined => {
    const ek = indexOfType(type)?.lookup(name);
    if (!ek) return undefined;
    const found = propertyWithSchema(value, ek);
    if (found === undefined) return 0;
    // SymbolAtom keeps items whose value is not undefined; exists() wants all of them non-empty,
    // empty() all of them empty (medplum fhirpath/functions.ts).
    const items = Array.isArray(found) ? found.filter((e) => e?.value !== undefined) : [found];
    if (items.length === 0) return 0;
    let empties = 0;
    for (const e of items) if (isEmpty(e.value)) empties++;
    if (empties === 0) return 1;
    return empties === items.length ? 0 : 2;
  };

  invariant(expression: string): CachedInvariant {
    let found = this.invariants.get(expression);
    if (!found) {
      found = new CachedInvariant(expression);
      this.invariants.set(expression, found);
    }
    return found;
  }

  /** Invariants compiled so far, with how often each was really evaluated. */
  invariantStats(): { expression: string; evaluations: number }[] {
    return [...this.invariants.values()].map((i) => ({ expression: i.expression, evaluations: i.evaluations }));
  }

  compiledElement(el: InternalSchemaElement): CompiledElement {
    let ce = this.elements.get(el);
    if (!ce) {
      ce = new CompiledElement(el, this.toInvariant);
      this.elements.set(el, ce);
    }
    return ce;
  }

  compiled(schema: InternalTypeSchema): CompiledSchema {
    let cs = this.schemas.get(schema);
    if (!cs) {
      cs = new CompiledSchema(schema, this.toElement, this.toInvariant);
      this.schemas.set(schema, cs);
    }
    return cs;
  }

  /** type → compiled schema, for the current pass only (the type map does not change during one) */
  private readonly byType = new Map<string, CompiledSchema | null>();

  /** medplum tryGetDataType(type) (no profile), compiled. */
  schemaOf(type: string): CompiledSchema | undefined {
    let cs = this.byType.get(type);
    if (cs === undefined) {
      const index = indexOfType(type);
      cs = index ? this.compiled(index.schema) : null;
      this.byType.set(type, cs);
    }
    return cs ?? undefined;
  }

  /** medplum getDataType(type): throws the same OperationOutcomeError for an unknown type. */
  dataType(type: string): CompiledSchema {
    const cs = this.schemaOf(type);
    if (!cs) throw new OperationOutcomeError(badRequest(`Unknown data type: ${type}`));
    return cs;
  }

  /**
   * The issues medplum's validateTypedValue({ type, value }) reports (errors and warnings), or, when
   * it throws, what the validator made of the throw (see structural.ts medplumIssues).
   */
  issues(value: Json, type: string): Issue[] {
    resetTypeCache();
    this.byType.clear();
    try {
      return new Run(this, { type, value }).validate();
    } catch (e) {
      if (e instanceof OperationOutcomeError) return (e.outcome.issue ?? []) as Issue[];
      return [issue('error', 'processing', `Structural validation could not run: ${(e as Error).message}`, value.resourceType)];
    }
  }

  /** medplum fhirpath/utils.ts getTypedPropertyValue(input, name) without a profile. */
  property(input: TypedValue, name: string): TypedValue | TypedValue[] | undefined {
    return getProperty(input, name);
  }
}

/** One validateTypedValue call (medplum validation.ts ResourceValidator + crawler.ts Crawler). */
class Run {
  private readonly issues: Issue[] = [];
  private readonly root: TypedValue;
  private readonly resources: any[] = [];
  private readonly resourceTyped: (TypedValue | undefined)[] = [];
  private readonly vars: Record<string, TypedValue> = { '%context': UCUM_TYPED, '%ucum': UCUM_TYPED, '%resource': UCUM_TYPED, '%rootResource': UCUM_TYPED };
  private context: TypedValueWithPath | undefined;
  private readonly variables = (): Record<string, TypedValue> => this.buildVariables();

  constructor(
    private readonly pass: FastStructuralPass,
    root: TypedValue,
  ) {
    this.root = root;
    if (isResourceValue(root.value)) this.pushResource(root.value);
  }

  validate(): Issue[] {
    const cs = this.pass.dataType(this.root.type);
    const path = cs.schema.path;
    const rootWithPath: TypedValueWithPath = { type: this.root.type, value: this.root.value, path };
    this.checkConstraints(rootWithPath, cs.constraints);
    checkObjectForNull(this.root.value, path, this.issues);
    this.crawlObject(rootWithPath, cs, path);
    return this.issues;
  }

  private pushResource(value: any): void {
    this.resources.push(value);
    this.resourceTyped.push(undefined);
  }

  private popResource(): void {
    this.resources.pop();
    this.resourceTyped.pop();
  }

  private buildVariables(): Record<string, TypedValue> {
    // One object per run, always the same four keys (an absent one is undefined, which FHIRPath's
    // variable lookup treats as not defined, as medplum's missing key).
    const vars = this.vars;
    vars['%context'] = this.context as TypedValue;
    vars['%ucum'] = UCUM_TYPED;
    const n = this.resources.length;
    let resource: TypedValue | undefined;
    if (n > 0) {
      resource = this.resourceTyped[n - 1];
      if (!resource) {
        resource = toTypedValue(this.resources[n - 1]);
        this.resourceTyped[n - 1] = resource;
      }
    }
    vars['%resource'] = resource as TypedValue;
    vars['%rootResource'] = (isResourceValue(this.root.value) ? this.root : undefined) as TypedValue;
    return vars;
  }

  private crawlObject(obj: TypedValueWithPath, cs: CompiledSchema, path: string): void {
    const isResource = isResourceValue(obj.value);
    if (isResource) this.pushResource(obj.value);
    // getTypedPropertyValue looks the element up in the type map under the value's type. Every crawl
    // here starts from dataType(value.type), remembered for the pass, so that is `cs` itself and the
    // crawl's own elements can be used directly.
    const value = obj.value;
    if (cs.keyToProp && isPlainObject(value)) {
      // Only the props a key of the object may hold, plus those that speak when absent, in order:
      // a bit per prop (two 32-bit words, no allocation) when the type has at most 64 of them.
      if (cs.props.length <= 64) {
        let lo = cs.alwaysLo;
        let hi = cs.alwaysHi;
        for (const k in value) {
          const i = cs.keyToProp.get(k);
          if (i === undefined || value[k] === undefined) continue;
          if (i < 32) lo |= 1 << i;
          else hi |= 1 << (i - 32);
        }
        while (lo !== 0) {
          const bit = lo & -lo;
          this.crawlProperty(obj, cs.props[31 - Math.clz32(bit)], path);
          lo ^= bit;
        }
        while (hi !== 0) {
          const bit = hi & -hi;
          this.crawlProperty(obj, cs.props[63 - Math.clz32(bit)], path);
          hi ^= bit;
        }
      } else {
        const visit: number[] = cs.alwaysVisit.slice();
        for (const k in value) {
          const i = cs.keyToProp.get(k);
          if (i !== undefined && value[k] !== undefined) {
            // insertion into the sorted list, without duplicates (`x` and `_x` share a prop)
            let at = visit.length;
            while (at > 0 && visit[at - 1] > i) at--;
            if (at > 0 && visit[at - 1] === i) continue;
            visit.splice(at, 0, i);
          }
        }
        for (let j = 0; j < visit.length; j++) this.crawlProperty(obj, cs.props[visit[j]], path);
      }
    } else {
      for (const prop of cs.props) this.crawlProperty(obj, prop, path);
    }
    this.checkAdditionalProperties(obj, cs, obj.path);
    if (isResource) this.popResource();
  }

  private crawlProperty(parent: TypedValueWithPath, prop: CompiledSchema['props'][number], parentPath: string): void {
    if (prop.steps) {
      const values = this.nestedProperty(parent, prop.steps);
      const path = `${parentPath}.${prop.key}`;
      for (const value of values) if (!this.visitValues(prop.ce, path, value)) break;
      for (const pv of values) {
        if (!pv) continue;
        if (Array.isArray(pv)) {
          for (const v of pv) this.crawlValue(v, path);
        } else {
          this.crawlValue(pv, path);
        }
      }
      return;
    }
    const found = parent.value ? propertyWithPath(parent.value, prop.ce.keys, parent.path, prop.key) : undefined;
    if (found === undefined) {
      // medplum: a typed value of type "undefined"; only a required element says anything.
      if (prop.ce.el.min > 0) this.issues.push(structureIssue(`${parent.path}.${prop.key}`, 'Missing required property'));
      return;
    }
    const path = `${parentPath}.${prop.key}`;
    this.visitValues(prop.ce, path, found);
    if (Array.isArray(found)) {
      for (let i = 0; i < found.length; i++) this.crawlValue(found[i], path);
    } else {
      this.crawlValue(found, path);
    }
  }

  private crawlValue(value: TypedValueWithPath, path: string): void {
    if (isPrimitiveType(value.type)) return;
    this.crawlObject(value, this.pass.dataType(value.type), path);
  }

  /** medplum crawler.ts getNestedProperty(value, key, { withPath: true }) for a dotted key */
  private nestedProperty(parent: TypedValueWithPath, steps: string[]): (TypedValueWithPath | TypedValueWithPath[])[] {
    const get = (input: TypedValueWithPath, name: string): TypedValueWithPath | TypedValueWithPath[] => {
      const found = this.pass.property(input, name);
      if (found === undefined) return { type: 'undefined', value: undefined, path: `${prefixOf(input.path)}${name}` };
      return withPath(found, input.path, name);
    };
    let values: (TypedValueWithPath | TypedValueWithPath[])[] = [get(parent, steps[0])];
    for (let s = 1; s < steps.length; s++) {
      const next: (TypedValueWithPath | TypedValueWithPath[])[] = [];
      for (const current of values) {
        if (Array.isArray(current)) {
          for (const element of current) next.push(get(element, steps[s]));
        } else if (current?.value !== undefined) {
          next.push(get(current, steps[s]));
        }
      }
      values = next;
    }
    return values;
  }

  /**
   * One value of medplum validation.ts visitProperty's loop (slice counting left out: see the file
   * comment). False where medplum returns from visitProperty (no further values are looked at).
   */
  private visitValues(ce: CompiledElement, path: string, value: TypedValueWithPath | TypedValueWithPath[]): boolean {
    const element = ce.el;
    // checkPresence
    if (!Array.isArray(value) && value.value === undefined) {
      if (element.min > 0) this.issues.push(structureIssue(value.path, 'Missing required property'));
      return false;
    }
    if (Array.isArray(value) && value.length === 0) {
      this.issues.push(structureIssue(path, 'Invalid empty value'));
      return false;
    }
    let count: number;
    if (element.isArray) {
      if (!Array.isArray(value)) {
        this.issues.push(structureIssue(path, 'Expected array of values for property'));
        return false;
      }
      count = value.length;
    } else {
      if (Array.isArray(value)) {
        this.issues.push(structureIssue(path, 'Expected single value for property'));
        return false;
      }
      count = 1;
    }
    if (count < element.min || count > element.max) {
      this.issues.push(
        structureIssue(
          element.path,
          `Invalid number of values: expected ${element.min}..${Number.isFinite(element.max) ? element.max : '*'}, but found ${count}`,
        ),
      );
    }
    if (ce.specified && !matchesSpecifiedValue(value, element)) {
      this.issues.push(structureIssue(path, 'Value did not match expected pattern'));
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) this.checkValue(value[i], ce);
    } else {
      this.checkValue(value, ce);
    }
    return true;
  }

  private checkValue(v: TypedValueWithPath, ce: CompiledElement): void {
    if (ce.constraints.length) this.checkConstraints(v, ce.constraints);
    if (v.type === 'Reference') this.referenceTypeCheck(v, ce);
    this.checkPropertyValue(v);
  }

  private checkConstraints(value: TypedValueWithPath, constraints: CompiledElement['constraints']): void {
    for (const { c, inv } of constraints) {
      this.context = value;
      const outcome = inv.evaluate(value, this.variables, this.pass.probe);
      if (outcome === true) continue;
      if (outcome !== false) {
        this.issues.push({
          severity: 'error',
          code: 'processing',
          details: { text: 'Error evaluating invariant expression' },
          expression: [value.path],
          diagnostics: JSON.stringify({ fhirpath: c.expression, error: outcome.error }),
        });
      }
      this.issues.push({
        severity: 'error',
        code: 'invariant',
        details: { text: `Constraint ${c.key} not met: ${c.description}` },
        expression: [value.path],
        diagnostics: JSON.stringify({ fhirpath: c.expression }),
      });
      return;
    }
  }

  /** medplum validation.ts referenceTypeCheck (warnings only) */
  private referenceTypeCheck(value: TypedValueWithPath, ce: CompiledElement): void {
    const reference = value.value;
    if (!isReference(reference)) return;
    if (reference.reference.startsWith('#')) return;
    const referenceResourceType = reference.reference.includes('?')
      ? reference.reference.split('?')[0]
      : reference.reference.split('/')[0];
    if (!referenceResourceType) return;
    const targetProfiles = ce.referenceTargets;
    if (!targetProfiles) return;
    const hl7ResourceTypeUrl = HL7_SD + referenceResourceType;
    const medplumResourceTypeUrl = MEDPLUM_SD + referenceResourceType;
    for (const targetProfile of targetProfiles) {
      if (targetProfile === HL7_RESOURCE || targetProfile === hl7ResourceTypeUrl || targetProfile === medplumResourceTypeUrl) return;
      if (!targetProfile.startsWith(HL7_SD) && !targetProfile.startsWith(MEDPLUM_SD)) return;
    }
    this.issues.push({
      severity: 'warning',
      code: 'structure',
      details: { text: `Invalid reference: got "${referenceResourceType}", expected "${targetProfiles.join('", "')}"` },
      expression: [value.path],
    });
  }

  private checkPropertyValue(value: TypedValueWithPath): void {
    if (isPrimitiveType(value.type)) {
      this.validatePrimitiveType(value);
    } else if (isEmpty(value.value)) {
      this.issues.push(structureIssue(value.path, 'Invalid empty non-primitive value'));
    }
  }

  /** medplum validation.ts validatePrimitiveType + unpackPrimitiveElement */
  private validatePrimitiveType(tv: TypedValueWithPath): void {
    const path = tv.path;
    const raw = tv.value;
    let primitive: any;
    let hasPrimitive = true;
    let extension: any;
    if (typeof raw !== 'object' || !raw) {
      primitive = raw;
    } else {
      const unwrapped = raw.valueOf();
      if (unwrapped === raw) {
        hasPrimitive = false;
        extension = raw;
      } else {
        primitive = unwrapped;
        const primitiveKeys = new Set(Object.keys(unwrapped));
        const entries = Object.entries(raw).filter(([k]) => !primitiveKeys.has(k));
        extension = entries.length > 0 ? Object.fromEntries(entries) : undefined;
      }
    }
    if (hasPrimitive) {
      const type = tv.type;
      if (!(type in fhirTypeToJsType)) {
        this.issues.push(structureIssue(path, `Invalid JSON type: ${type} is not a valid FHIR type`));
        return;
      }
      const expectedType = fhirTypeToJsType[type as keyof typeof fhirTypeToJsType];
      if (typeof primitive !== expectedType) {
        if (primitive !== null) {
          this.issues.push(structureIssue(path, `Invalid JSON type: expected ${expectedType}, but got ${typeof primitive}`));
        }
        return;
      }
      if (expectedType === 'string') this.validateString(primitive as string, type, path);
      else if (expectedType === 'number') this.validateNumber(primitive as number, type, path);
    }
    if (extension) {
      // crawlTypedValue({ type: 'Element', value }, { schema: Element, initialPath: path })
      this.crawlObject({ type: 'Element', value: extension, path }, this.pass.dataType('Element'), path);
    }
  }

  private validateString(str: string, type: string, path: string): void {
    if (!str.trim()) {
      this.issues.push(structureIssue(path, 'String must contain non-whitespace content'));
      return;
    }
    if (str.length > 1024 * 1024) {
      this.issues.push(structureIssue(path, 'String cannot be larger than 1 MB'));
      return;
    }
    const regex = validationRegexes[type];
    if (regex && !regex.exec(str)) this.issues.push(structureIssue(path, `Invalid ${type} format`));
  }

  private validateNumber(n: number, type: string, path: string): void {
    if (Number.isNaN(n) || !Number.isFinite(n)) {
      this.issues.push(structureIssue(path, 'Invalid numeric value'));
    } else if ((type === 'integer' || type === 'positiveInt' || type === 'unsignedInt') && !Number.isInteger(n)) {
      this.issues.push(structureIssue(path, 'Expected number to be an integer'));
    } else if (type === 'positiveInt' && n <= 0) {
      this.issues.push(structureIssue(path, 'Expected number to be positive'));
    } else if (type === 'unsignedInt' && n < 0) {
      this.issues.push(structureIssue(path, 'Expected number to be non-negative'));
    }
  }

  /** medplum validation.ts checkAdditionalProperties + isChoiceOfType */
  private checkAdditionalProperties(parent: TypedValueWithPath, cs: CompiledSchema, path: string): void {
    const object = parent.value;
    if (!object) return;
    let choiceOfTypeElements: Record<string, string> | undefined;
    for (const key of Object.keys(object)) {
      if (key === 'resourceType') continue;
      let choiceOfTypeElementName: string | undefined;
      const info = cs.index.keyInfo(key);
      const underscore = info.underscore;
      const choice = info.choice;
      if (choice) {
        const found = this.pass.property(parent, choice.testProperty);
        if (found) choiceOfTypeElementName = (underscore ? '_' : '') + choice.elementName;
      }
      if (choiceOfTypeElementName) {
        choiceOfTypeElements ??= {};
        let relatedElementName: string;
        let requiredRelatedElementName: string;
        if (choiceOfTypeElementName.startsWith('_')) {
          relatedElementName = choiceOfTypeElementName.slice(1);
          requiredRelatedElementName = key.slice(1);
        } else {
          relatedElementName = `_${choiceOfTypeElementName}`;
          requiredRelatedElementName = `_${key}`;
        }
        if (relatedElementName in choiceOfTypeElements && choiceOfTypeElements[relatedElementName] !== requiredRelatedElementName) {
          this.issues.push({
            severity: 'warning',
            code: 'structure',
            details: {
              text: `Type of primitive extension does not match the type of property "${choiceOfTypeElementName.startsWith('_') ? choiceOfTypeElementName.slice(1) : choiceOfTypeElementName}"`,
            },
            expression: [choiceOfTypeElementName],
          });
        }
        if (choiceOfTypeElements[choiceOfTypeElementName]) {
          this.issues.push({
            severity: 'warning',
            code: 'structure',
            details: { text: `Conflicting choice of type properties: "${key}", "${choiceOfTypeElements[choiceOfTypeElementName]}"` },
            expression: [key],
          });
        }
        choiceOfTypeElements[choiceOfTypeElementName] = key;
        continue;
      }
      if (!info.known) this.issues.push(structureIssue(`${path}.${key}`, `Invalid additional property "${key}"`));
    }
  }
}

function prefixOf(parentPath: string | undefined): string {
  return parentPath ? `${parentPath}.` : '';
}

/** medplum crawler.ts withPath, for a value that is present */
function withPath(tv: TypedValue | TypedValue[], parentPath: string, key: string): TypedValueWithPath | TypedValueWithPath[] {
  const prefix = prefixOf(parentPath);
  if (Array.isArray(tv)) {
    const out: TypedValueWithPath[] = new Array(tv.length);
    for (let i = 0; i < tv.length; i++) out[i] = { type: tv[i].type, value: tv[i].value, path: `${prefix}${key}[${i}]` };
    return out;
  }
  return { type: tv.type, value: tv.value, path: `${prefix}${key}` };
}

/** medplum validation.ts matchesSpecifiedValue */
function matchesSpecifiedValue(value: TypedValueWithPath | TypedValueWithPath[], element: InternalSchemaElement): boolean {
  const typeAndValue = Array.isArray(value) ? value.map((v) => ({ type: v.type, value: v.value })) : { type: value.type, value: value.value };
  if (element.pattern && !deepIncludes(typeAndValue, element.pattern)) return false;
  if (element.fixed && !deepEquals(typeAndValue, element.fixed)) return false;
  return true;
}

/** medplum validation.ts checkObjectForNull (paths built only for an issue) */
function checkObjectForNull(obj: Record<string, unknown>, path: string, issues: Issue[]): void {
  for (const key in obj) {
    if (!Object.prototype.hasOwnProperty.call(obj, key)) continue;
    const value = obj[key];
    if (value === null) {
      issues.push(structureIssue(`${path}.${key}`, 'Invalid null value'));
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item = value[i];
        if (item === undefined) {
          issues.push(structureIssue(`${path}.${key}[${i}]`, 'Invalid undefined value'));
        } else if (item === null) {
          const partnerKey = key.startsWith('_') ? key.slice(1) : `_${key}`;
          if (!(obj[partnerKey] as any)?.[i]) issues.push(structureIssue(`${path}.${key}[${i}]`, 'Invalid null value'));
        } else if (typeof item === 'object') {
          if (hasNull(item)) checkObjectForNull(item, `${path}.${key}[${i}]`, issues);
        } else if (typeof item === 'string' && item.length > 0) {
          // Object.entries of a string: its characters, never null
        }
      }
    } else if (typeof value === 'object') {
      if (hasNull(value)) checkObjectForNull(value as Record<string, unknown>, `${path}.${key}`, issues);
    }
  }
}

/** Whether checkObjectForNull would find anything below `v` (no path strings on the clean path). */
function hasNull(v: unknown): boolean {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const item = v[i];
      if (item === null || item === undefined) return true;
      if (typeof item === 'object' && hasNull(item)) return true;
    }
    return false;
  }
  const obj = v as Record<string, unknown>;
  for (const key in obj) {
    if (!Object.prototype.hasOwnProperty.call(obj, key)) continue;
    const value = obj[key];
    if (value === null || value === undefined) return true;
    if (typeof value === 'object' && hasNull(value)) return true;
  }
  return false;
}
