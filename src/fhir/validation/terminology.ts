// ValueSet expansion for required-binding checks, done once at load into Sets. Only what can be
// expanded locally and exactly is expanded (explicit concept lists, whole CodeSystems we hold with
// content "complete", is-a / descendent-of over a CodeSystem's concept hierarchy, included ValueSets,
// excludes of the same kinds). Anything else (SNOMED CT, LOINC, BCP-47, MIME types, regex filters …)
// is "unexpandable": the check is skipped, never failed, and the ValueSet is counted.
import type { CodeSystem, CodeSystemConcept, ValueSet, ValueSetComposeInclude } from 'fhir/r4.js';

export interface Expansion {
  readonly url: string;
  /** `system|code` pairs: for Coding, CodeableConcept and Quantity. */
  readonly codings: ReadonlySet<string>;
  /** bare codes: for `code` elements, whose system is implied by the binding. */
  readonly codes: ReadonlySet<string>;
  /** For messages: up to a few allowed codes. */
  readonly sample: readonly string[];
}

export function stripVersion(canonical: string): string {
  const bar = canonical.indexOf('|');
  return bar < 0 ? canonical : canonical.slice(0, bar);
}

class Unexpandable extends Error {}

export class Terminology {
  private readonly valueSets = new Map<string, ValueSet>();
  private readonly codeSystems = new Map<string, CodeSystem>();
  private readonly expanded = new Map<string, Expansion | null>();
  /** url → why it cannot be expanded locally (only for ValueSets something asked for). */
  readonly unexpandable = new Map<string, string>();

  addValueSet(vs: ValueSet): void {
    if (vs.url) this.valueSets.set(stripVersion(vs.url), vs);
    this.expanded.clear();
  }

  addCodeSystem(cs: CodeSystem): void {
    if (cs.url) this.codeSystems.set(stripVersion(cs.url), cs);
    this.expanded.clear();
  }

  hasValueSet(url: string): boolean {
    return this.valueSets.has(stripVersion(url));
  }

  hasCodeSystem(url: string): boolean {
    return this.codeSystems.has(stripVersion(url));
  }

  getCodeSystem(url: string): CodeSystem | undefined {
    return this.codeSystems.get(stripVersion(url));
  }

  /** The expansion, or undefined when it cannot be computed locally (see `unexpandable`). */
  expand(canonical: string): Expansion | undefined {
    const url = stripVersion(canonical);
    const cached = this.expanded.get(url);
    if (cached !== undefined) return cached ?? undefined;
    let result: Expansion | null;
    try {
      const pairs = this.expandPairs(url, new Set());
      const codes = new Set<string>();
      for (const p of pairs) codes.add(p.slice(p.indexOf('|') + 1));
      result = { url, codings: pairs, codes, sample: [...codes].slice(0, 12) };
    } catch (e) {
      if (!(e instanceof Unexpandable)) throw e;
      this.unexpandable.set(url, e.message);
      result = null;
    }
    this.expanded.set(url, result);
    return result ?? undefined;
  }

  private expandPairs(url: string, visiting: Set<string>): Set<string> {
    const vs = this.valueSets.get(url);
    if (!vs) throw new Unexpandable('ValueSet not available locally');
    if (visiting.has(url)) throw new Unexpandable('ValueSet includes itself');
    visiting.add(url);
    try {
      const compose = vs.compose;
      if (!compose) {
        if (vs.expansion?.contains) return flattenContains(vs.expansion.contains);
        throw new Unexpandable('ValueSet has neither compose nor expansion');
      }
      if (compose.inactive === false) throw new Unexpandable('compose.inactive=false is not supported');
      const out = new Set<string>();
      for (const inc of compose.include) for (const p of this.includeSet(inc, visiting)) out.add(p);
      for (const exc of compose.exclude ?? []) for (const p of this.includeSet(exc, visiting)) out.delete(p);
      return out;
    } finally {
      visiting.delete(url);
    }
  }

  private includeSet(inc: ValueSetComposeInclude, visiting: Set<string>): Set<string> {
    let fromSystem: Set<string> | undefined;
    if (inc.system !== undefined) fromSystem = this.systemSet(inc);
    let result = fromSystem;
    for (const ref of inc.valueSet ?? []) {
      const other = this.expandPairs(stripVersion(ref), visiting);
      result = result === undefined ? new Set(other) : intersect(result, other);
    }
    if (result === undefined) throw new Unexpandable('include has neither system nor valueSet');
    return result;
  }

  private systemSet(inc: ValueSetComposeInclude): Set<string> {
    const system = inc.system as string;
    if (inc.concept) {
      if (inc.filter?.length) throw new Unexpandable('include with both concept and filter');
      const cs = this.codeSystems.get(system);
      if (cs?.caseSensitive === false) throw new Unexpandable(`CodeSystem ${system} is case-insensitive`);
      return new Set(inc.concept.map((c) => `${system}|${c.code}`));
    }
    const cs = this.codeSystems.get(system);
    if (!cs) throw new Unexpandable(`CodeSystem ${system} not available locally`);
    if (cs.content !== 'complete') throw new Unexpandable(`CodeSystem ${system} content is ${cs.content}`);
    if (cs.caseSensitive === false) throw new Unexpandable(`CodeSystem ${system} is case-insensitive`);
    if (cs.supplements) throw new Unexpandable(`CodeSystem ${system} is a supplement`);
    const concepts = cs.concept ?? [];
    if (!inc.filter?.length) return pairsOf(system, concepts, true);
    let out: Set<string> | undefined;
    for (const f of inc.filter) {
      if (f.property !== 'concept' || (f.op !== 'is-a' && f.op !== 'descendent-of')) {
        throw new Unexpandable(`filter ${f.property} ${f.op} is not supported`);
      }
      const root = findConcept(concepts, f.value);
      if (!root) throw new Unexpandable(`filter value ${f.value} not found in ${system}`);
      if (usesPropertyHierarchy(cs)) throw new Unexpandable(`CodeSystem ${system} has a property-based hierarchy`);
      const set = pairsOf(system, root.concept ?? [], true);
      if (f.op === 'is-a') set.add(`${system}|${root.code}`);
      out = out === undefined ? set : intersect(out, set);
    }
    return out ?? new Set();
  }
}

function pairsOf(system: string, concepts: readonly CodeSystemConcept[], deep: boolean): Set<string> {
  const out = new Set<string>();
  const walk = (list: readonly CodeSystemConcept[]): void => {
    for (const c of list) {
      out.add(`${system}|${c.code}`);
      if (deep && c.concept) walk(c.concept);
    }
  };
  walk(concepts);
  return out;
}

function findConcept(list: readonly CodeSystemConcept[], code: string): CodeSystemConcept | undefined {
  for (const c of list) {
    if (c.code === code) return c;
    if (c.concept) {
      const found = findConcept(c.concept, code);
      if (found) return found;
    }
  }
  return undefined;
}

// A hierarchy also given by parent/child/subsumedBy properties (rather than nesting) would make a
// nesting-based is-a expansion too small, so such CodeSystems are left to the "unexpandable" path.
function usesPropertyHierarchy(cs: CodeSystem): boolean {
  const check = (list: readonly CodeSystemConcept[]): boolean =>
    list.some(
      (c) =>
        (c.property ?? []).some((p) => p.code === 'parent' || p.code === 'child' || p.code === 'subsumedBy') ||
        (c.concept ? check(c.concept) : false),
    );
  return check(cs.concept ?? []);
}

function flattenContains(list: readonly { system?: string; code?: string; contains?: unknown[] }[]): Set<string> {
  const out = new Set<string>();
  const walk = (items: readonly { system?: string; code?: string; contains?: unknown[] }[]): void => {
    for (const c of items) {
      if (c.system && c.code) out.add(`${c.system}|${c.code}`);
      if (c.contains) walk(c.contains as { system?: string; code?: string; contains?: unknown[] }[]);
    }
  };
  walk(list);
  return out;
}

function intersect(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> {
  const out = new Set<string>();
  for (const x of a) if (b.has(x)) out.add(x);
  return out;
}
