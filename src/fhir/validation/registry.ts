// Every StructureDefinition the validator knows, compiled: R4 core datatypes and resources, HL7 core
// extension definitions (compiled on first use; there are ~400 and a resource uses a handful), and
// the platform's own profiles and extensions.
import type { ElementDefinition, StructureDefinition } from 'fhir/r4.js';
import type { CoreDefinitions } from './core-definitions.js';
import { compileInvariant } from './fhirpath.js';
import {
  CORE_SD_BASE,
  compileStructure,
  indexChildren,
  type ChildIndex,
  type CompileHooks,
  type CompiledStructure,
} from './schema.js';
import type { Terminology } from './terminology.js';

/** Invariants medplum deliberately does not evaluate (see its validation.ts); we follow it. */
export const SKIPPED_CONSTRAINTS: ReadonlySet<string> = new Set(['ele-1', 'dom-3', 'org-1', 'sdf-19']);

export class StructureRegistry {
  private readonly coreByType = new Map<string, CompiledStructure>();
  private readonly byUrl = new Map<string, CompiledStructure>();
  private readonly coreElements = new Map<string, ElementDefinition>();
  private readonly pendingExtensions: Map<string, StructureDefinition>;
  readonly hooks: CompileHooks;
  /** core extension definitions that failed to compile (they are then treated as plain Extension) */
  readonly brokenCoreExtensions = new Map<string, string>();
  readonly resourceTypes: ReadonlySet<string>;

  constructor(core: CoreDefinitions, terminology: Terminology) {
    this.resourceTypes = core.resourceTypes;
    this.pendingExtensions = new Map(core.extensions);
    for (const sd of core.structures) {
      for (const el of sd.snapshot?.element ?? []) this.coreElements.set(el.path, el);
    }
    this.hooks = {
      expand: (vs) => terminology.expand(vs),
      compileConstraint: compileInvariant,
      coreElement: (path) => this.coreElements.get(path),
      skipConstraint: (key) => SKIPPED_CONSTRAINTS.has(key),
    };
    for (const sd of core.structures) {
      const compiled = compileStructure(sd, this.hooks);
      this.byUrl.set(sd.url, compiled);
      // SimpleQuantity / MoneyQuantity are constraints on Quantity: keep Quantity as "the" Quantity.
      if (sd.derivation !== 'constraint') this.coreByType.set(sd.type, compiled);
    }
  }

  /** Add a compiled platform StructureDefinition (profile or extension). */
  add(compiled: CompiledStructure): void {
    this.byUrl.set(compiled.url, compiled);
  }

  has(url: string): boolean {
    return this.byUrl.has(url) || this.pendingExtensions.has(url);
  }

  get(url: string): CompiledStructure | undefined {
    const found = this.byUrl.get(url);
    if (found) return found;
    const pending = this.pendingExtensions.get(url);
    if (!pending) return undefined;
    this.pendingExtensions.delete(url);
    try {
      const compiled = compileStructure(pending, this.hooks);
      this.byUrl.set(url, compiled);
      return compiled;
    } catch (e) {
      this.brokenCoreExtensions.set(url, (e as Error).message);
      return undefined;
    }
  }

  coreType(type: string): CompiledStructure | undefined {
    return this.coreByType.get(type);
  }

  coreElement(path: string): ElementDefinition | undefined {
    return this.coreElements.get(path);
  }

  /** The child index of a datatype or resource, as R4 core defines it. */
  typeIndex(type: string): ChildIndex | undefined {
    const sd = this.coreByType.get(type);
    return sd ? indexChildren(sd.root) : undefined;
  }

  isCoreProfileUrl(url: string): boolean {
    return url.startsWith(CORE_SD_BASE);
  }

  /** Core resources (and the profiles added with `add`) in compile order; for warm-up. */
  all(): IterableIterator<CompiledStructure> {
    return this.byUrl.values();
  }
}
