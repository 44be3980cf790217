// Runs compiled mappings: native → FHIR (forward) and FHIR → native (reverse). No parsing happens here:
// every path, condition and ConceptMap lookup was compiled into a closure by the loader.

import { MappingError } from './errors.js';
import type { CompiledBlock, CompiledMapping, ForwardCtx, Instance, Obj, ReverseCtx } from './model.js';
import type { MutableScope, NativeScope } from './paths.js';
import { deterministicId } from './uuid.js';

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const NO_INPUTS: Readonly<Record<string, unknown>> = Object.freeze({});
const NONE: readonly Instance[] = Object.freeze([]);

function identityOf(m: CompiledMapping, block: CompiledBlock): NonNullable<CompiledBlock['identity']> {
  const identity = block.sub ? block.sub.blocks[0]!.identity : block.identity;
  if (!identity) throw new MappingError(m.name, undefined, `resource "${block.alias}" has no identity rule`);
  return identity;
}

function newResource(block: CompiledBlock, id: string | undefined): Obj {
  const r: Obj = { resourceType: block.resourceType };
  if (id !== undefined) r.id = id;
  if (block.profile) r.meta = { profile: [block.profile] };
  return r;
}

function identify(m: CompiledMapping, block: CompiledBlock, scope: NativeScope): { id: string; system: string; value: string; ruleId: string } {
  const identity = identityOf(m, block);
  const value = identity.value(scope);
  if (typeof value !== 'string' || value.length === 0) {
    throw new MappingError(m.name, identity.ruleId, `no identifier value for resource "${block.alias}"`);
  }
  return { id: deterministicId(block.sub?.blocks[0]!.resourceType ?? block.resourceType, identity.system, value), system: identity.system, value, ruleId: identity.ruleId };
}

class Instances implements ForwardCtx {
  constructor(private readonly map: Map<string, Instance[]>) {}
  instancesOf(alias: string): readonly Instance[] {
    return this.map.get(alias) ?? NONE;
  }
}

/** native → FHIR with a container mapping: a Bundle whose entries are the blocks' resources. */
export function forwardBundle(m: CompiledMapping, native: unknown, inputs: Readonly<Record<string, unknown>>): Obj {
  const scope0: NativeScope = { root: native, item: undefined, inputs };
  const map = new Map<string, Instance[]>();
  const entries: Obj[] = [];
  const byUrl = new Map<string, Instance>();
  for (const block of m.blocks) {
    const list: Instance[] = [];
    const items = block.each ? block.each.get(scope0) : undefined;
    const n = block.each ? (Array.isArray(items) ? items.length : 0) : 1;
    for (let k = 0; k < n; k++) {
      const item = block.each ? (items as unknown[])[k] : undefined;
      const scope = block.each ? { root: native, item, inputs } : scope0;
      if (block.when && !block.when(scope)) continue;
      const ident = identify(m, block, block.sub ? { root: item, item: undefined, inputs: NO_INPUTS } : scope);
      const fullUrl = `urn:uuid:${ident.id}`;
      const seen = byUrl.get(fullUrl);
      let resource: Obj;
      if (seen) resource = seen.resource;
      else {
        const rt = block.sub?.blocks[0]!.resourceType ?? block.resourceType;
        resource = newResource(block.sub ? block.sub.blocks[0]! : block, ident.id);
        entries.push({ fullUrl, resource, request: { method: 'POST', url: rt, ifNoneExist: `identifier=${ident.system}|${ident.value}` } });
      }
      const inst: Instance = { block, item, fullUrl, resource };
      if (!seen) byUrl.set(fullUrl, inst);
      list.push(inst);
    }
    map.set(block.alias, list);
  }
  const ctx = new Instances(map);
  for (const block of m.blocks) {
    for (const inst of ctx.instancesOf(block.alias)) {
      if (block.sub) {
        const scope: NativeScope = { root: native, item: inst.item, inputs };
        const subInputs: Record<string, unknown> = {};
        for (const name in block.subInputs) subInputs[name] = block.subInputs[name]!(scope, ctx);
        const subScope: NativeScope = { root: inst.item, item: undefined, inputs: subInputs };
        const subCtx = new Instances(new Map([[block.sub.blocks[0]!.alias, [inst]]]));
        for (const rule of block.sub.blocks[0]!.rules) rule.forward?.(subScope, inst.resource, subCtx);
      } else {
        const scope: NativeScope = block.each ? { root: native, item: inst.item, inputs } : scope0;
        for (const rule of block.rules) rule.forward?.(scope, inst.resource, ctx);
      }
    }
  }
  const container = m.container!;
  const bundle = newResource(container, undefined);
  for (const rule of container.rules) rule.forward?.(scope0, bundle, ctx);
  bundle.entry = entries;
  return bundle;
}

/** native → FHIR with a single-resource mapping (no container). */
export function forwardResource(m: CompiledMapping, native: unknown, inputs: Readonly<Record<string, unknown>>): Obj {
  const block = m.blocks[0]!;
  const scope: NativeScope = { root: native, item: undefined, inputs };
  const ident = identify(m, block, scope);
  const resource = newResource(block, ident.id);
  const inst: Instance = { block, item: undefined, fullUrl: `urn:uuid:${ident.id}`, resource };
  const ctx = new Instances(new Map([[block.alias, [inst]]]));
  for (const rule of block.rules) rule.forward?.(scope, resource, ctx);
  return resource;
}

// ---------------------------------------------------------------------------------------------

class ReverseRun implements ReverseCtx {
  private readonly memo = new Map<string, readonly Obj[]>();
  private readonly busy = new Set<string>();
  constructor(
    private readonly m: CompiledMapping,
    readonly resources: readonly Obj[],
    private readonly byUrl: ReadonlyMap<string, Obj>,
    fixed?: [string, Obj],
  ) {
    if (fixed) this.memo.set(fixed[0], [fixed[1]]);
  }
  locate(alias: string): readonly Obj[] {
    const hit = this.memo.get(alias);
    if (hit) return hit;
    const block = this.m.byAlias.get(alias);
    if (!block?.locate) return [];
    if (this.busy.has(alias)) throw new MappingError(this.m.name, undefined, `locating "${alias}" depends on itself`);
    this.busy.add(alias);
    const found = block.locate(this);
    this.busy.delete(alias);
    this.memo.set(alias, found);
    return found;
  }
  resolve(reference: unknown): Obj | undefined {
    if (!isObj(reference) || typeof reference.reference !== 'string') return undefined;
    return this.byUrl.get(reference.reference);
  }
}

function runRules(block: CompiledBlock, scope: MutableScope, res: Obj, ctx: ReverseCtx): void {
  for (const rule of block.rules) rule.reverse?.(scope, res, ctx);
}

/** FHIR → native with a single-resource mapping. */
export function reverseResource(m: CompiledMapping, resource: Obj): Obj {
  const block = m.blocks[0]!;
  if (resource.resourceType !== block.resourceType) {
    throw new MappingError(m.name, undefined, `expected a ${block.resourceType}, got ${String(resource.resourceType)}`);
  }
  const ctx = new ReverseRun(m, [resource], new Map(), [block.alias, resource]);
  const scope: MutableScope = { root: {}, item: undefined };
  runRules(block, scope, resource, ctx);
  return m.order ? (m.order(scope.root) as Obj) : scope.root;
}

/** FHIR → native with a container mapping: reads the Bundle's resources back into one native document. */
export function reverseBundle(m: CompiledMapping, bundle: Obj): Obj {
  if (bundle.resourceType !== 'Bundle') throw new MappingError(m.name, undefined, `expected a Bundle, got ${String(bundle.resourceType)}`);
  const resources: Obj[] = [];
  const byUrl = new Map<string, Obj>();
  for (const e of Array.isArray(bundle.entry) ? bundle.entry : []) {
    if (!isObj(e) || !isObj(e.resource)) continue;
    const r = e.resource;
    resources.push(r);
    if (typeof e.fullUrl === 'string') byUrl.set(e.fullUrl, r);
    if (typeof r.id === 'string') byUrl.set(`${String(r.resourceType)}/${r.id}`, r);
  }
  const ctx = new ReverseRun(m, resources, byUrl);
  const root: Obj = {};
  for (const block of m.blocks) {
    const hasReverse = block.sub ? block.sub.blocks[0]!.rules.some((r) => r.reverse) : block.rules.some((r) => r.reverse);
    if (!hasReverse) continue;
    const found = ctx.locate(block.alias);
    if (block.each) {
      const items: unknown[] = [];
      for (const res of found) {
        let item: unknown;
        if (block.sub) item = reverseResource(block.sub, res);
        else {
          const scope: MutableScope = { root, item: undefined };
          runRules(block, scope, res, ctx);
          item = scope.item;
        }
        if (item !== undefined) items.push(item);
      }
      if (items.length > 0) block.each.set({ root, item: undefined }, items);
    } else if (found[0]) {
      runRules(block, { root, item: undefined }, found[0], ctx);
    }
  }
  return m.order ? (m.order(root) as Obj) : root;
}
