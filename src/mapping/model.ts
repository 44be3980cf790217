// The compiled form of the mapping files: closures built once by the loader, run by the engine.

import type { ConceptMapGroup } from './conceptmaps.js';
import type { MutableScope, NativeGetter, NativeScope, NativeSetter } from './paths.js';

export type Obj = Record<string, unknown>;

/** One resource (or one per element of an `each` array) made while mapping forward. */
export interface Instance {
  block: CompiledBlock;
  /** the element of the `each` array this instance maps (undefined for a single block) */
  item: unknown;
  fullUrl: string;
  resource: Obj;
}

export interface ForwardCtx {
  instancesOf(alias: string): readonly Instance[];
}

export interface ReverseCtx {
  /** the resources a block stands for in the document being read (memoised) */
  locate(alias: string): readonly Obj[];
  resolve(reference: unknown): Obj | undefined;
  readonly resources: readonly Obj[];
}

export type ForwardRule = (scope: NativeScope, resource: Obj, ctx: ForwardCtx) => void;
export type ReverseRule = (scope: MutableScope, resource: Obj, ctx: ReverseCtx) => void;
export type Locator = (ctx: ReverseCtx) => Obj[];

export interface CompiledRule {
  id: string;
  index: number;
  alias: string;
  forward?: ForwardRule;
  reverse?: ReverseRule;
}

export interface CompiledBlock {
  alias: string;
  resourceType: string;
  profile?: string;
  container: boolean;
  identity?: { ruleId: string; system: string; value: NativeGetter };
  when?: (scope: NativeScope) => boolean;
  each?: { get: NativeGetter; set: NativeSetter };
  sub?: CompiledMapping;
  subInputs?: Record<string, (scope: NativeScope, ctx: ForwardCtx) => unknown>;
  rules: CompiledRule[];
  locate?: Locator;
}

export interface CompiledMapping {
  name: string;
  file: string;
  inputs: readonly string[];
  container?: CompiledBlock;
  /** the resource blocks in order (the container excluded) */
  blocks: CompiledBlock[];
  byAlias: Map<string, CompiledBlock>;
  /** puts the keys of a document read back in the native format's order */
  order?: (native: unknown) => unknown;
}

export type { ConceptMapGroup };
