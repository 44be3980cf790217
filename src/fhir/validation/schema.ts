// A StructureDefinition snapshot compiled into a tree the walker can follow beside a resource: one
// node per element, children by JSON key (choice types expanded), slices with their discriminators
// resolved to expected values, required bindings with their expansions. Built once at load.
import { getElementDefinitionTypeName } from '@medplum/core';
import type { ElementDefinition, StructureDefinition } from 'fhir/r4.js';
import type { CompiledInvariant } from './fhirpath.js';
import type { Expansion } from './terminology.js';

export interface TypeRef {
  readonly code: string;
  readonly profiles: readonly string[];
  readonly targetProfiles: readonly string[];
}

/** An invariant the walker evaluates itself (medplum never reaches the element it sits on). */
export interface OwnedConstraint {
  readonly key: string;
  readonly human: string;
  readonly expression: string;
  readonly severity: 'error' | 'warning';
  readonly compiled: CompiledInvariant;
}

export interface RawInvariant {
  readonly key: string;
  readonly human: string;
  readonly expression: string;
}

export interface Discriminator {
  readonly type: string;
  readonly path: string;
}

/** Per slice and discriminator: how an item is recognised as belonging to the slice. */
export type SliceTest =
  | { readonly kind: 'fixed'; readonly path: string; readonly value: unknown }
  | { readonly kind: 'pattern'; readonly path: string; readonly value: unknown }
  | { readonly kind: 'binding'; readonly path: string; readonly expansion: Expansion }
  | { readonly kind: 'type'; readonly path: string; readonly types: ReadonlySet<string> }
  | { readonly kind: 'never'; readonly reason: string };

export interface Slicing {
  readonly discriminators: readonly Discriminator[];
  readonly rules: 'open' | 'closed' | 'openAtEnd';
  readonly ordered: boolean;
  readonly slices: ElementNode[];
}

export interface ChildEntry {
  readonly node: ElementNode;
  /** the concrete type this JSON key carries (for choice elements: the key's type suffix) */
  readonly type: string;
  /** FHIRPath step for this key: `identifier`, or `value.ofType(Coding)` for a choice */
  readonly step: string;
  /** set when the key names a type the base allows but this profile removed */
  readonly disallowed?: { readonly allowed: readonly string[] };
}

export interface ChildIndex {
  readonly byKey: ReadonlyMap<string, ChildEntry>;
  /** Children the walker must see even when absent: owned required elements and required slices. */
  readonly mustCheckWhenAbsent: readonly ElementNode[];
  /** Element names, for "known elements" hints. */
  readonly names: readonly string[];
}

export interface ElementNode {
  readonly sd: CompiledStructure;
  readonly id: string;
  readonly path: string;
  /** element name as in the snapshot (`value[x]`, `identifier`) */
  readonly name: string;
  readonly sliceName?: string;
  readonly min: number;
  readonly max: number;
  readonly baseMin: number;
  readonly baseMax: number;
  readonly types: readonly TypeRef[];
  readonly choice: boolean;
  readonly isArray: boolean;
  /** FHIR type name of this element's values for FHIRPath (backbone elements: e.g. QuestionnaireResponseItem) */
  readonly evalType: string;
  readonly fixed?: unknown;
  readonly pattern?: unknown;
  readonly contentReference?: string;
  /** required binding only (the only strength that can fail validation) */
  readonly binding?: { readonly valueSet: string; readonly expansion: Expansion | undefined };
  readonly children: Map<string, ElementNode>;
  slicing?: Slicing;
  /**
   * True when medplum's structural check never reaches this element (inside a profile's backbone
   * element, inside a slice, or anywhere in an extension definition): the walker then checks its
   * cardinality, fixed/pattern values and profile-added invariants itself.
   */
  readonly owned: boolean;
  constraints: OwnedConstraint[];
  /** keys of every invariant the snapshot puts on this element */
  readonly constraintKeys: readonly string[];
  /** the element's error-level invariants in snapshot order (medplum evaluates them in this order) */
  readonly invariants: readonly RawInvariant[];
  /** JSON keys → child, built by `finalize` */
  index?: ChildIndex;
  /** for choice elements in profiles: the types the base definition allows */
  baseTypes?: readonly string[];
}

export type StructureCategory = 'core' | 'profile' | 'extension';

export interface CompiledStructure {
  readonly url: string;
  readonly name: string;
  readonly type: string;
  readonly kind: string | undefined;
  readonly category: StructureCategory;
  readonly definition: StructureDefinition;
  readonly root: ElementNode;
  readonly byId: ReadonlyMap<string, ElementNode>;
  /** the file it came from (platform profiles), for messages */
  readonly source?: string;
}

export const FHIR_TYPE_EXT = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';
export const CORE_SD_BASE = 'http://hl7.org/fhir/StructureDefinition/';

export const PRIMITIVE_TYPES: ReadonlySet<string> = new Set([
  'base64Binary', 'boolean', 'canonical', 'code', 'date', 'dateTime', 'decimal', 'id', 'instant', 'integer',
  'markdown', 'oid', 'positiveInt', 'string', 'time', 'unsignedInt', 'uri', 'url', 'uuid', 'xhtml',
]);

export class StructureError extends Error {}

export function categoryOf(sd: StructureDefinition): StructureCategory {
  if (sd.derivation !== 'constraint') return 'core';
  return sd.type === 'Extension' ? 'extension' : 'profile';
}

export function normaliseTypeCode(t: { code?: string; extension?: { url?: string; valueUrl?: string; valueUri?: string }[] }): string {
  const ext = t.extension?.find((e) => e.url === FHIR_TYPE_EXT);
  const fromExt = ext?.valueUrl ?? ext?.valueUri;
  if (fromExt) return fromExt;
  const code = t.code ?? '';
  if (code.startsWith('http://hl7.org/fhirpath/System.')) {
    // Only seen on id/extension.url/primitive value elements; they behave as FHIR strings.
    return 'string';
  }
  return code;
}

function parseMax(max: string | undefined): number {
  if (max === undefined) return Number.POSITIVE_INFINITY;
  return max === '*' ? Number.POSITIVE_INFINITY : Number.parseInt(max, 10);
}

function valueWithPrefix(el: ElementDefinition, prefix: 'fixed' | 'pattern'): unknown {
  for (const key of Object.keys(el)) {
    if (key.startsWith(prefix) && key.length > prefix.length && key[prefix.length] === key[prefix.length].toUpperCase()) {
      return (el as unknown as Record<string, unknown>)[key];
    }
  }
  return undefined;
}

export interface CompileHooks {
  /** expansion for a required binding, undefined when it cannot be expanded */
  expand(valueSet: string): Expansion | undefined;
  /** compile a FHIRPath invariant; throw on a syntax error */
  compileConstraint(expression: string): CompiledInvariant;
  /** the core ElementDefinition for a base path, e.g. `Extension.value[x]` */
  coreElement(path: string): ElementDefinition | undefined;
  /** invariants to leave to medplum even when the walker owns the element */
  skipConstraint(key: string): boolean;
}

/**
 * Compile one StructureDefinition (which must have a snapshot). Throws StructureError naming the
 * element when the snapshot is not well formed.
 */
export function compileStructure(sd: StructureDefinition, hooks: CompileHooks, source?: string): CompiledStructure {
  const elements = sd.snapshot?.element;
  const label = source ?? sd.url;
  if (!elements || elements.length === 0) throw new StructureError(`${label}: StructureDefinition has no snapshot`);
  const category = categoryOf(sd);
  const byId = new Map<string, ElementNode>();
  const compiled = {
    url: sd.url,
    name: sd.name,
    type: sd.type,
    kind: sd.kind,
    category,
    definition: sd,
    byId,
    source,
  } as Omit<CompiledStructure, 'root'> & { root?: ElementNode };

  let root: ElementNode | undefined;
  for (const el of elements) {
    const id = el.id ?? el.path;
    if (!el.path) throw new StructureError(`${label}: element ${id} has no path`);
    const segs = id.split('.');
    const last = segs[segs.length - 1];
    const colon = last.indexOf(':');
    const name = colon < 0 ? last : last.slice(0, colon);
    const sliceName = colon < 0 ? undefined : last.slice(colon + 1);
    const parent = segs.length > 1 ? byId.get(segs.slice(0, -1).join('.')) : undefined;
    if (segs.length > 1 && !parent) {
      throw new StructureError(`${label}: element ${id} appears before its parent ${segs.slice(0, -1).join('.')}`);
    }
    const owned = isOwned(category, parent, sliceName, segs.length === 1);
    const node = makeNode(compiled as CompiledStructure, byId, el, id, name, sliceName, owned, hooks, label);
    byId.set(id, node);
    if (!parent) {
      if (root) throw new StructureError(`${label}: more than one root element (${root.id}, ${id})`);
      root = node;
      continue;
    }
    if (sliceName !== undefined) {
      const sliced = parent.children.get(name);
      if (!sliced) throw new StructureError(`${label}: slice ${id} has no unsliced element ${name} before it`);
      const reslice = sliceName.indexOf('/');
      if (reslice >= 0) {
        // Re-slices are rare and not used by our profiles; keep them out of slice matching.
        continue;
      }
      if (!sliced.slicing) {
        throw new StructureError(`${label}: slice ${id} but element ${sliced.id} has no slicing`);
      }
      sliced.slicing.slices.push(node);
    } else {
      if (parent.children.has(name)) throw new StructureError(`${label}: duplicate element ${id}`);
      parent.children.set(name, node);
    }
  }
  if (!root) throw new StructureError(`${label}: no root element`);
  compiled.root = root;
  const done = compiled as CompiledStructure;
  for (const node of byId.values()) finalizeSlicing(node);
  return done;
}

function isOwned(category: StructureCategory, parent: ElementNode | undefined, sliceName: string | undefined, isRoot: boolean): boolean {
  if (category === 'core') return false;
  if (category === 'extension') return !isRoot;
  if (isRoot || !parent) return false;
  if (sliceName !== undefined) return true;
  if (parent.owned) return true;
  // medplum validates a profile's top-level elements and dotted paths through datatypes, but walks
  // backbone elements with the base definition: so everything below a profile backbone is ours.
  const parentIsRoot = !parent.path.includes('.');
  if (parentIsRoot) return false;
  return parent.types.some((t) => t.code === 'BackboneElement' || t.code === 'Element');
}

function makeNode(
  sd: CompiledStructure,
  byId: ReadonlyMap<string, ElementNode>,
  el: ElementDefinition,
  id: string,
  name: string,
  sliceName: string | undefined,
  owned: boolean,
  hooks: CompileHooks,
  label: string,
): ElementNode {
  const types: TypeRef[] = (el.type ?? []).map((t) => ({
    code: normaliseTypeCode(t as Parameters<typeof normaliseTypeCode>[0]),
    profiles: t.profile ?? [],
    targetProfiles: t.targetProfile ?? [],
  }));
  const max = parseMax(el.max);
  const baseMin = el.base?.min ?? el.min ?? 0;
  const baseMax = el.base ? parseMax(el.base.max) : max;
  let binding: ElementNode['binding'];
  if (el.binding?.strength === 'required' && el.binding.valueSet) {
    binding = { valueSet: el.binding.valueSet, expansion: hooks.expand(el.binding.valueSet) };
  }
  const node: ElementNode = {
    sd,
    id,
    path: el.path,
    name,
    sliceName,
    min: el.min ?? 0,
    max,
    baseMin,
    baseMax,
    types,
    choice: name.endsWith('[x]'),
    isArray: baseMax > 1,
    evalType: el.type?.length ? getElementDefinitionTypeName(el as never) : sd.type,
    fixed: valueWithPrefix(el, 'fixed'),
    pattern: valueWithPrefix(el, 'pattern'),
    contentReference: el.contentReference,
    binding,
    children: new Map(),
    owned,
    constraints: [],
    constraintKeys: (el.constraint ?? []).map((c) => c.key ?? ''),
    invariants: (el.constraint ?? [])
      .filter((c) => c.key && c.expression && c.severity === 'error' && !hooks.skipConstraint(c.key))
      .map((c) => ({ key: c.key as string, human: c.human ?? '', expression: c.expression as string })),
  };
  if (el.slicing) {
    node.slicing = {
      discriminators: (el.slicing.discriminator ?? []).map((d) => ({ type: d.type, path: d.path })),
      rules: el.slicing.rules ?? 'open',
      ordered: el.slicing.ordered ?? false,
      slices: [],
    };
  }
  if (node.choice && sd.category !== 'core' && el.base?.path) {
    const baseEl = hooks.coreElement(el.base.path);
    if (baseEl?.type) node.baseTypes = baseEl.type.map((t) => normaliseTypeCode(t as Parameters<typeof normaliseTypeCode>[0]));
  }
  const ownConstraints = owned || (sd.category === 'extension' && !id.includes('.'));
  if (ownConstraints && el.constraint?.length) {
    const baseKeys = new Set((el.base?.path ? hooks.coreElement(el.base.path)?.constraint ?? [] : []).map((c) => c.key));
    // A snapshot copies the unsliced element's invariants onto each slice: when medplum already
    // evaluates them on the unsliced element, evaluating them again here would only repeat its issues.
    const unsliced = id.includes(':') ? byId.get(id.replace(/:[^.]+/g, '')) : undefined;
    if (unsliced && !unsliced.owned) for (const key of unsliced.constraintKeys) baseKeys.add(key);
    for (const c of el.constraint) {
      if (!c.key || !c.expression || baseKeys.has(c.key) || hooks.skipConstraint(c.key)) continue;
      let compiled: CompiledInvariant;
      try {
        compiled = hooks.compileConstraint(c.expression);
      } catch (e) {
        throw new StructureError(
          `${label}: element ${id} constraint ${c.key}: FHIRPath "${c.expression}" does not compile: ${(e as Error).message}`,
        );
      }
      node.constraints.push({
        key: c.key,
        human: c.human ?? c.key,
        expression: c.expression,
        severity: c.severity === 'warning' ? 'warning' : 'error',
        compiled,
      });
    }
  }
  return node;
}

// Resolve each slice's discriminator to a static test once, so matching an item is a lookup.
function finalizeSlicing(node: ElementNode): void {
  const slicing = node.slicing;
  if (!slicing) return;
  for (const slice of slicing.slices) {
    sliceTests.set(slice, slicing.discriminators.map((d) => sliceTest(slice, d)));
  }
}

const sliceTests = new WeakMap<ElementNode, readonly SliceTest[]>();

export function testsForSlice(slice: ElementNode): readonly SliceTest[] {
  return sliceTests.get(slice) ?? [];
}

function descend(node: ElementNode, path: string): ElementNode | undefined {
  if (path === '$this') return node;
  let cur: ElementNode | undefined = node;
  for (const step of path.split('.')) {
    cur = cur?.children.get(step) ?? cur?.children.get(`${step}[x]`);
    if (!cur) return undefined;
  }
  return cur;
}

function sliceTest(slice: ElementNode, d: Discriminator): SliceTest {
  if (d.type === 'type') {
    const target = descend(slice, d.path);
    if (target) return { kind: 'type', path: d.path, types: new Set(target.types.map((t) => t.code)) };
    return { kind: 'never', reason: `type discriminator ${d.path} not found in slice` };
  }
  if (d.type !== 'value' && d.type !== 'pattern') {
    return { kind: 'never', reason: `discriminator type ${d.type} is not supported` };
  }
  const target = descend(slice, d.path);
  if (target?.fixed !== undefined) return { kind: 'fixed', path: d.path, value: target.fixed };
  if (target?.pattern !== undefined) return { kind: 'pattern', path: d.path, value: target.pattern };
  if (d.path === 'url' && slice.types.length > 0 && slice.types[0].code === 'Extension' && slice.types[0].profiles.length > 0) {
    // An extension slice names its definition in type.profile; the discriminating url is that canonical.
    return { kind: 'fixed', path: 'url', value: slice.types[0].profiles[0] };
  }
  if (target?.binding?.expansion) return { kind: 'binding', path: d.path, expansion: target.binding.expansion };
  return { kind: 'never', reason: `no fixed/pattern value at ${d.path} in slice ${slice.sliceName}` };
}

function capitalise(s: string): string {
  return s.length === 0 ? s : s[0].toUpperCase() + s.slice(1);
}

/** Build (once) the JSON-key index of a node's snapshot children. */
export function indexChildren(node: ElementNode): ChildIndex | undefined {
  if (node.index) return node.index;
  if (node.children.size === 0) return undefined;
  const byKey = new Map<string, ChildEntry>();
  const mustCheck: ElementNode[] = [];
  const names: string[] = [];
  for (const child of node.children.values()) {
    names.push(child.name.replace('[x]', ''));
    if (child.choice) {
      const base = child.name.slice(0, -3);
      const allowed = child.types.map((t) => t.code);
      for (const code of allowed) {
        byKey.set(base + capitalise(code), { node: child, type: code, step: `${base}.ofType(${code})` });
      }
      for (const code of child.baseTypes ?? []) {
        const key = base + capitalise(code);
        if (!byKey.has(key)) {
          byKey.set(key, { node: child, type: code, step: `${base}.ofType(${code})`, disallowed: { allowed } });
        }
      }
    } else {
      byKey.set(child.name, { node: child, type: child.types[0]?.code ?? 'BackboneElement', step: child.name });
    }
    const ownedRequired = child.owned && child.min > 0 && child.min > child.baseMin;
    const requiredSlice = child.min === 0 && (child.slicing?.slices.some((s) => s.min > 0) ?? false);
    if (ownedRequired || requiredSlice) mustCheck.push(child);
  }
  node.index = { byKey, mustCheckWhenAbsent: mustCheck, names };
  return node.index;
}

const nodeKeys = new WeakMap<ElementNode, readonly string[]>();

/** Every JSON key that carries a value for `node` (for choices: one per type, including types a profile removed). */
export function keysOf(node: ElementNode): readonly string[] {
  let keys = nodeKeys.get(node);
  if (!keys) {
    if (!node.choice) {
      keys = [node.name];
    } else {
      const base = node.name.slice(0, -3);
      const codes = new Set([...node.types.map((t) => t.code), ...(node.baseTypes ?? [])]);
      keys = [...codes].map((c) => base + capitalise(c));
    }
    nodeKeys.set(node, keys);
  }
  return keys;
}
