// Walks a resource beside its compiled profile and adds what medplum 4.5 does not check:
// required bindings, the NHS number check digit, slicing (counts, closed slicing, extension slices
// matched by url), choice types a profile removed, JSON types medplum lets through (a number for a
// datatype, an object for a primitive), and — below profile backbone elements, inside slices and
// inside extension definitions, where medplum falls back to the base types — cardinality,
// fixed/pattern values and profile-added invariants. It also collects references for the Bundle check.
import type { Issue } from '../outcomes.js';
import { issue } from '../outcomes.js';
import { isValidNhsNumber } from '../nhs-number.js';
import type { FhirPathVars, InvariantEvaluator } from './fhirpath.js';
import type { StructureRegistry } from './registry.js';
import {
  PRIMITIVE_TYPES,
  indexChildren,
  keysOf,
  testsForSlice,
  type ChildEntry,
  type ChildIndex,
  type ElementNode,
  type SliceTest,
} from './schema.js';
import type { Expansion } from './terminology.js';

export const NHS_NUMBER_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';

export interface CollectedReference {
  readonly reference: string;
  /** FHIRPath of the `reference` string */
  readonly expression: string;
  readonly targetProfiles: readonly string[];
  /** name of the element holding the Reference, for messages */
  readonly element: string;
}

export interface WalkStats {
  /** required-binding checks skipped because the ValueSet could not be expanded locally */
  skippedBindingChecks: number;
}

export interface WalkContext {
  readonly registry: StructureRegistry;
  readonly issues: Issue[];
  readonly references: CollectedReference[];
  readonly stats: WalkStats;
  /** FHIRPath variables for owned invariants (%resource, %rootResource, %ucum) */
  readonly vars: FhirPathVars;
  /** how owned invariants are evaluated */
  readonly holds: InvariantEvaluator;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Walk `resource` (already known to be an object with a resourceType) against `root`. */
export function walkResource(resource: Json, root: ElementNode, path: string, ctx: WalkContext): void {
  const index = indexChildren(root) ?? ctx.registry.typeIndex(String(resource.resourceType));
  if (!index) return;
  if (root.constraints.length) checkConstraints(resource, root, String(resource.resourceType), path, ctx);
  walkObject(resource, index, path, ctx);
}

function walkObject(obj: Json, index: ChildIndex, path: string, ctx: WalkContext): void {
  let seenChoice: Map<ElementNode, string> | undefined;
  for (const key in obj) {
    if (key === 'resourceType' || key === 'fhir_comments') continue;
    const primitiveExtension = key.charCodeAt(0) === 95; // '_'
    const entry = index.byKey.get(primitiveExtension ? key.slice(1) : key);
    if (!entry) continue; // unknown elements are reported by the structural pass
    const value = obj[key];
    if (primitiveExtension) {
      walkPrimitiveExtensions(value, `${path}.${entry.step}`, ctx);
      continue;
    }
    if (entry.node.choice) {
      seenChoice ??= new Map();
      const other = seenChoice.get(entry.node);
      if (other !== undefined) {
        ctx.issues.push(
          issue(
            'error',
            'structure',
            `Only one type is allowed for ${entry.node.name}, found both "${other}" and "${key}"`,
            `${path}.${entry.node.name.slice(0, -3)}`,
          ),
        );
        continue;
      }
      seenChoice.set(entry.node, key);
    }
    if (entry.disallowed) {
      ctx.issues.push(
        issue(
          'error',
          'structure',
          `Type ${entry.type} is not allowed for ${entry.node.name} in ${entry.node.sd.name}; allowed: ${entry.disallowed.allowed.join(', ')}`,
          `${path}.${entry.step}`,
        ),
      );
      continue;
    }
    walkProperty(value, entry, path, ctx);
  }
  for (const node of index.mustCheckWhenAbsent) {
    if (keysOf(node).some((k) => hasContent(obj[k], index.byKey.get(k)?.type))) continue;
    const where = `${path}.${node.name.replace('[x]', '')}`;
    if (node.owned && node.min > node.baseMin) {
      ctx.issues.push(
        issue('error', 'required', `Missing required element ${node.name} (${cardinality(node)}) in ${node.sd.name}`, where),
      );
    } else if (node.slicing) {
      for (const slice of node.slicing.slices) {
        if (slice.min > 0) ctx.issues.push(sliceCountIssue(node, slice, 0, where));
      }
    }
  }
}

/**
 * Whether a value counts as given for a required element. "" and {} do not: FHIR JSON has no empty
 * values, and the structural pass (like FHIRPath) reads them as absent without saying so, so for
 * an element only the walker checks, calling them missing is the one report they get. null and []
 * count as given here: the structural pass reports a null, walkProperty counts an empty array, and
 * checkJsonType reports an object given for a primitive.
 */
function hasContent(v: unknown, type: string | undefined): boolean {
  if (v === undefined || v === '') return false;
  if (isObject(v) && !(type !== undefined && PRIMITIVE_TYPES.has(type))) {
    for (const k in v) if (Object.prototype.hasOwnProperty.call(v, k)) return true;
    return false;
  }
  return true;
}

function walkProperty(value: unknown, entry: ChildEntry, path: string, ctx: WalkContext): void {
  const node = entry.node;
  const many = Array.isArray(value);
  const items: unknown[] = many ? (value as unknown[]) : [value];
  const base = `${path}.${entry.step}`;
  const slicing = node.slicing;
  const counts = slicing ? new Array<number>(slicing.slices.length).fill(0) : undefined;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (item === null || item === undefined) continue; // null/undefined are reported structurally
    const itemPath = many ? `${base}[${i}]` : base;
    let target = node;
    if (slicing && counts) {
      const s = matchSlice(slicing.slices, item, entry.type);
      if (s >= 0) {
        counts[s]++;
        target = slicing.slices[s];
      } else if (slicing.rules === 'closed') {
        ctx.issues.push(
          issue(
            'error',
            'structure',
            `${node.name} does not match any slice of ${node.sd.name} (slicing is closed); allowed: ${slicing.slices.map((sl) => describeSlice(sl)).join('; ')}`,
            itemPath,
          ),
        );
      }
    }
    visitValue(item, target, entry.type, itemPath, ctx);
  }
  if (node.owned && (items.length > node.max || (items.length < node.min && node.min > node.baseMin))) {
    if (items.length > node.max && node.max < node.baseMax) {
      ctx.issues.push(
        issue('error', 'structure', `Too many values for ${node.name}: found ${items.length}, allowed ${cardinality(node)} in ${node.sd.name}`, base),
      );
    } else if (items.length < node.min) {
      ctx.issues.push(
        issue('error', 'required', `Too few values for ${node.name}: found ${items.length}, required ${cardinality(node)} in ${node.sd.name}`, base),
      );
    }
  }
  if (slicing && counts) {
    for (let s = 0; s < slicing.slices.length; s++) {
      const slice = slicing.slices[s];
      if (counts[s] < slice.min || counts[s] > slice.max) ctx.issues.push(sliceCountIssue(node, slice, counts[s], base));
    }
  }
}

function visitValue(item: unknown, node: ElementNode, type: string, path: string, ctx: WalkContext): void {
  checkJsonType(item, node, type, path, ctx);
  if (node.owned) {
    if (node.fixed !== undefined && !deepEqual(item, node.fixed)) {
      ctx.issues.push(issue('error', 'value', `Value must be exactly ${JSON.stringify(node.fixed)} (fixed in ${node.sd.name})`, path));
    } else if (node.pattern !== undefined && !deepIncludes(item, node.pattern)) {
      ctx.issues.push(issue('error', 'value', `Value must match the pattern ${JSON.stringify(node.pattern)} (${node.sd.name})`, path));
    }
  }
  if (node.binding) checkBinding(item, node, type, path, ctx);
  if (!isObject(item)) return;
  if (type === 'Identifier') {
    if (item.system === NHS_NUMBER_SYSTEM) checkNhsNumber(item, path, ctx);
  } else if (type === 'Reference') {
    if (typeof item.reference === 'string') {
      const targets = node.types.find((t) => t.code === 'Reference')?.targetProfiles ?? [];
      ctx.references.push({ reference: item.reference, expression: `${path}.reference`, targetProfiles: targets, element: node.name });
    }
  }
  if (node.constraints.length) checkConstraints(item, node, node.choice ? type : node.evalType, path, ctx);
  const index = childIndexFor(node, type, item, path, ctx);
  if (index) walkObject(item, index, path, ctx);
}

/**
 * The JSON types the structural pass lets through (medplum 4.5 reads a number or boolean given for a
 * datatype as a value with no elements, and an object given for a primitive as the primitive's
 * extension part): a datatype or resource is a JSON object, a primitive is never one (its id and
 * extensions go in the `_name` sibling). Strings for datatypes and arrays are reported by that pass.
 */
function checkJsonType(item: unknown, node: ElementNode, type: string, path: string, ctx: WalkContext): void {
  if (PRIMITIVE_TYPES.has(type)) {
    if (isObject(item)) {
      const key = node.choice ? `${node.name.slice(0, -3)}${type.charAt(0).toUpperCase()}${type.slice(1)}` : node.name;
      const sibling = `_${key}`;
      ctx.issues.push(
        issue('error', 'structure', `Wrong type for ${node.name.replace('[x]', '')}: FHIR ${type} is a JSON ${primitiveJson(type)}, found a JSON object (a primitive's id and extensions go in ${sibling})`, path),
      );
    }
  } else if (typeof item === 'number' || typeof item === 'boolean') {
    ctx.issues.push(issue('error', 'structure', `Wrong type for ${node.name.replace('[x]', '')}: FHIR ${type} is a JSON object, found a JSON ${typeof item}`, path));
  }
}

function primitiveJson(type: string): string {
  if (type === 'boolean') return 'boolean';
  if (type === 'decimal' || type === 'integer' || type === 'positiveInt' || type === 'unsignedInt') return 'number';
  return 'string';
}

function childIndexFor(node: ElementNode, type: string, item: Json, path: string, ctx: WalkContext): ChildIndex | undefined {
  const own = indexChildren(node);
  if (own) return own;
  if (node.contentReference) {
    const target = node.sd.byId.get(node.contentReference.slice(node.contentReference.indexOf('#') + 1));
    const idx = target ? indexChildren(target) : undefined;
    if (idx) return idx;
  }
  if (type === 'Extension') {
    // A slice may name the extension's definition; otherwise look the url up.
    const url = node.types[0]?.profiles[0] ?? (typeof item.url === 'string' ? item.url : undefined);
    const def = url ? ctx.registry.get(url) : undefined;
    if (def && def.type === 'Extension') {
      if (def.root.constraints.length) checkConstraints(item, def.root, 'Extension', path, ctx);
      return indexChildren(def.root);
    }
    return ctx.registry.typeIndex('Extension');
  }
  if (type === 'Resource' || ctx.registry.resourceTypes.has(type)) {
    const rt = typeof item.resourceType === 'string' ? item.resourceType : undefined;
    return rt && ctx.registry.resourceTypes.has(rt) ? ctx.registry.typeIndex(rt) : undefined;
  }
  if (PRIMITIVE_TYPES.has(type)) return undefined;
  return ctx.registry.typeIndex(type);
}

function walkPrimitiveExtensions(value: unknown, path: string, ctx: WalkContext): void {
  const elementIndex = ctx.registry.typeIndex('Element');
  if (!elementIndex) return;
  const items = Array.isArray(value) ? value : [value];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (isObject(item)) walkObject(item, elementIndex, Array.isArray(value) ? `${path}[${i}]` : path, ctx);
  }
}

// ---- slices --------------------------------------------------------------------------------------

function matchSlice(slices: readonly ElementNode[], item: unknown, type: string): number {
  for (let s = 0; s < slices.length; s++) {
    const tests = testsForSlice(slices[s]);
    if (tests.length > 0 && tests.every((t) => passes(t, item, type))) return s;
  }
  return -1;
}

function passes(test: SliceTest, item: unknown, type: string): boolean {
  switch (test.kind) {
    case 'never':
      return false;
    case 'type':
      if (test.path === '$this') return test.types.has(type) || (isObject(item) && test.types.has(String(item.resourceType)));
      return valuesAt(item, test.path).some((v) => isObject(v) && test.types.has(String(v.resourceType)));
    case 'fixed':
      return valuesAt(item, test.path).some((v) => deepEqual(v, test.value));
    case 'pattern':
      return valuesAt(item, test.path).some((v) => deepIncludes(v, test.value));
    case 'binding':
      return valuesAt(item, test.path).some((v) => inExpansion(v, test.expansion));
  }
}

function valuesAt(item: unknown, path: string): unknown[] {
  if (path === '$this') return [item];
  let cur: unknown[] = [item];
  for (const step of path.split('.')) {
    const next: unknown[] = [];
    for (const c of cur) {
      if (!isObject(c)) continue;
      const v = c[step];
      if (Array.isArray(v)) next.push(...v);
      else if (v !== undefined) next.push(v);
    }
    cur = next;
  }
  return cur;
}

function describeSlice(slice: ElementNode): string {
  const parts = testsForSlice(slice).map((t) => {
    switch (t.kind) {
      case 'fixed':
      case 'pattern':
        return `${t.path} = ${typeof t.value === 'string' ? t.value : JSON.stringify(t.value)}`;
      case 'binding':
        return `${t.path} in ${t.expansion.url}`;
      case 'type':
        return `type ${[...t.types].join('|')}`;
      case 'never':
        return t.reason;
    }
  });
  return `${slice.sliceName}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

function sliceCountIssue(node: ElementNode, slice: ElementNode, found: number, path: string): Issue {
  const code = found < slice.min ? 'required' : 'structure';
  return issue(
    'error',
    code,
    `Slice ${describeSlice(slice)} of ${node.name} in ${node.sd.name}: expected ${cardinality(slice)}, found ${found}`,
    path,
  );
}

function cardinality(node: ElementNode): string {
  return `${node.min}..${Number.isFinite(node.max) ? node.max : '*'}`;
}

// ---- bindings ------------------------------------------------------------------------------------

function inExpansion(v: unknown, exp: Expansion): boolean {
  if (typeof v === 'string') return exp.codes.has(v);
  if (!isObject(v)) return false;
  if (Array.isArray(v.coding)) return v.coding.some((c) => inExpansion(c, exp));
  return typeof v.system === 'string' && typeof v.code === 'string' && exp.codings.has(`${v.system}|${v.code}`);
}

function checkBinding(item: unknown, node: ElementNode, type: string, path: string, ctx: WalkContext): void {
  const binding = node.binding;
  if (!binding) return;
  const exp = binding.expansion;
  if (!exp) {
    ctx.stats.skippedBindingChecks++;
    return;
  }
  if (typeof item === 'string') {
    if (!exp.codes.has(item)) {
      ctx.issues.push(issue('error', 'code-invalid', `Value "${item}" is not in the required value set ${vsLabel(exp)}; allowed: ${allowedCodes(exp, false)}`, path));
    }
    return;
  }
  if (!isObject(item)) return;
  if (type === 'CodeableConcept') {
    const codings = Array.isArray(item.coding) ? item.coding.filter(isObject) : [];
    if (codings.length === 0) {
      if (item.text === undefined) return; // nothing coded to judge (e.g. only a data-absent extension)
      ctx.issues.push(issue('error', 'code-invalid', `No coding given (text only); a code from the required value set ${vsLabel(exp)} is needed; allowed: ${allowedCodes(exp, true)}`, path));
      return;
    }
    if (codings.some((c) => typeof c.system === 'string' && typeof c.code === 'string' && exp.codings.has(`${c.system}|${c.code}`))) return;
    const got = codings.map((c) => `${String(c.system ?? '(no system)')}|${String(c.code ?? '(no code)')}`).join(', ');
    ctx.issues.push(issue('error', 'code-invalid', `None of the codings (${got}) is in the required value set ${vsLabel(exp)}; allowed: ${allowedCodes(exp, true)}`, path));
    return;
  }
  if (type === 'Coding' || type === 'Quantity') {
    if (item.code === undefined && item.system === undefined) {
      // A Quantity needs no code; a Coding with nothing but an id or extensions (a data-absent
      // reason) has nothing coded to judge. A Coding with a display and no code names no concept
      // from the value set: as for a CodeableConcept with text only, that is not enough.
      if (type === 'Quantity' || Object.keys(item).every((k) => k === 'id' || k === 'extension')) return;
      ctx.issues.push(
        issue('error', 'code-invalid', `No code given (Coding without system and code); a code from the required value set ${vsLabel(exp)} is needed; allowed: ${allowedCodes(exp, true)}`, path),
      );
      return;
    }
    const system = typeof item.system === 'string' ? item.system : undefined;
    const code = typeof item.code === 'string' ? item.code : undefined;
    if (system !== undefined && code !== undefined && exp.codings.has(`${system}|${code}`)) return;
    ctx.issues.push(
      issue('error', 'code-invalid', `${type} ${system ?? '(no system)'}|${code ?? '(no code)'} is not in the required value set ${vsLabel(exp)}; allowed: ${allowedCodes(exp, true)}`, path),
    );
  }
}

function vsLabel(exp: Expansion): string {
  return exp.url;
}

function allowedCodes(exp: Expansion, withSystem: boolean): string {
  const list = withSystem ? [...exp.codings] : [...exp.codes];
  if (list.length === 0) return '(none)';
  if (withSystem) {
    const systems = new Set(list.map((p) => p.slice(0, p.indexOf('|'))));
    if (systems.size === 1) {
      const codes = list.map((p) => p.slice(p.indexOf('|') + 1));
      return `${shortList(codes)} (system ${[...systems][0]})`;
    }
  }
  return shortList(list);
}

function shortList(list: string[]): string {
  return list.length <= 20 ? list.join(', ') : `${list.slice(0, 12).join(', ')}, … (${list.length} codes)`;
}

// ---- NHS number ----------------------------------------------------------------------------------

function checkNhsNumber(identifier: Json, path: string, ctx: WalkContext): void {
  const value = identifier.value;
  if (typeof value !== 'string' || isValidNhsNumber(value)) return;
  // The number itself is patient data: the message describes it, never repeats it.
  let text: string;
  if (!/^[0-9]{10}$/.test(value)) {
    const nonDigits = /[^0-9]/.test(value) ? ', not all digits' : '';
    text = `NHS number must be exactly 10 digits (found ${value.length} characters${nonDigits})`;
  } else {
    text = 'NHS number fails the Modulus 11 check digit (NHS Data Dictionary): it is not a valid NHS number';
  }
  ctx.issues.push(issue('error', 'value', text, `${path}.value`));
}

// ---- invariants ----------------------------------------------------------------------------------

function checkConstraints(value: unknown, node: ElementNode, type: string, path: string, ctx: WalkContext): void {
  for (const c of node.constraints) {
    let ok: boolean;
    try {
      ok = ctx.holds(c.compiled, value, type, ctx.vars);
    } catch (e) {
      ctx.issues.push(issue('error', 'processing', `Invariant ${c.key} could not be evaluated: ${(e as Error).message}`, path));
      continue;
    }
    if (!ok) {
      const i = issue(c.severity, 'invariant', `Constraint ${c.key} not met: ${c.human}`, path);
      i.diagnostics = `FHIRPath: ${c.expression}`;
      ctx.issues.push(i);
    }
  }
}

// ---- value comparison (fixed = exact, pattern = "contains at least") -----------------------------

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

export function deepIncludes(value: unknown, pattern: unknown): boolean {
  if (Array.isArray(pattern)) {
    const arr = Array.isArray(value) ? value : [value];
    return pattern.every((p) => arr.some((v) => deepIncludes(v, p)));
  }
  if (isObject(pattern)) {
    if (!isObject(value)) return false;
    return Object.keys(pattern).every((k) => deepIncludes(value[k], pattern[k]));
  }
  return value === pattern;
}
