// FHIRPath invariants evaluated with medplum's engine (parsed once), but only when the answer can
// differ from one already seen. At load each expression is analysed: which elements of its context
// it reads, and whether it reads them only through `x.exists()` / `x.empty()`. Then, per context type:
//   - an expression that reads nothing but element existence (ext-1, qrs-1, pat-1, bdl-5 …) has an
//     answer fixed by which of those elements are present: it is evaluated once per combination;
//   - any other expression that reads only its context (no %resource, no descendants()) has one answer
//     whenever none of the elements it reads is present (dom-2/4/5 without `contained` …);
//   - everything else is evaluated every time.
// Answers are cached per expression and context type, never per instance content.
import {
  AndAtom,
  ArithemticOperatorAtom,
  AsAtom,
  ConcatAtom,
  ContainsAtom,
  DotAtom,
  EmptySetAtom,
  EqualsAtom,
  EquivalentAtom,
  FhirPathAtom,
  FunctionAtom,
  ImpliesAtom,
  InAtom,
  IndexerAtom,
  IsAtom,
  LiteralAtom,
  NotEqualsAtom,
  NotEquivalentAtom,
  OrAtom,
  SymbolAtom,
  UnaryOperatorAtom,
  UnionAtom,
  XorAtom,
  evalFhirPathTyped,
  parseFhirPath,
  type Atom,
  type TypedValue,
} from '@medplum/core';
import { symbolEvaluator } from './navigation.js';

/** The outcome of one evaluation, as medplum's validator sees it. */
export type InvariantOutcome = true | false | { readonly error: unknown };

/** How an expression depends on its context (see the file comment). */
export interface InvariantShape {
  /** reads its context only through the element names below (no %resource, $this, descendants() …) */
  readonly pure: boolean;
  /** every element name read from the context */
  readonly names: readonly string[];
  /** pure, and every name is read only as `name.exists()` / `name.empty()` */
  readonly existenceOnly: boolean;
}

interface Acc {
  pure: boolean;
  names: Set<string>;
  /** names read at the context other than through exists()/empty() */
  otherReads: Set<string>;
}

interface Node {
  /** the atom's result may contain the context value itself */
  readonly yieldsContext: boolean;
}

const NOTHING: Node = { yieldsContext: false };
const CONTEXT: Node = { yieldsContext: true };

// Functions that, called on the context itself (no receiver), depend on it only through the
// arguments they evaluate per item, or not at all (the context is never empty).
const ROOT_FUNCTIONS = new Set(['where', 'select', 'all', 'exists', 'empty', 'count', 'iif']);
// Functions whose arguments are type names, not expressions.
const TYPE_ARG_FUNCTIONS = new Set(['ofType', 'is', 'as']);

function isUpper(code: number): boolean {
  return code >= 65 && code <= 90;
}

function readName(name: string, acc: Acc, existence: boolean): void {
  if (name.length === 0 || isUpper(name.charCodeAt(0)) || name in Object.prototype || name.startsWith('$')) {
    // a type name (also matches a resource by resourceType), an inherited property, $index …
    acc.pure = false;
    return;
  }
  acc.names.add(name);
  if (!existence) acc.otherReads.add(name);
}

function visit(atom: Atom, atContext: boolean, acc: Acc): Node {
  if (atom instanceof FhirPathAtom) return visit(atom.child, atContext, acc);
  if (atom instanceof LiteralAtom || atom instanceof EmptySetAtom) return NOTHING;
  if (atom instanceof SymbolAtom) {
    const name = atom.name;
    if (name === '$this') {
      if (atContext) acc.pure = false;
      return atContext ? CONTEXT : NOTHING;
    }
    if (name.startsWith('%')) {
      if (name !== '%ucum') acc.pure = false;
      return NOTHING;
    }
    if (atContext) readName(name, acc, false);
    return NOTHING;
  }
  if (atom instanceof DotAtom) {
    const { left, right } = atom;
    if (
      atContext &&
      left instanceof SymbolAtom &&
      !left.name.startsWith('%') &&
      left.name !== '$this' &&
      right instanceof FunctionAtom &&
      (right.name === 'exists' || right.name === 'empty') &&
      right.args.length === 0
    ) {
      readName(left.name, acc, true);
      return NOTHING;
    }
    const l = visit(left, atContext, acc);
    return visit(right, l.yieldsContext, acc);
  }
  if (atom instanceof FunctionAtom) {
    if (atContext) {
      if (!ROOT_FUNCTIONS.has(atom.name)) {
        acc.pure = false;
        return CONTEXT;
      }
      let yields = atom.name === 'where';
      for (const arg of atom.args) {
        const n = visit(arg, true, acc);
        if (n.yieldsContext) {
          if (atom.name === 'select' || atom.name === 'iif') yields = true;
          else acc.pure = false;
        }
      }
      return yields ? CONTEXT : NOTHING;
    }
    if (!TYPE_ARG_FUNCTIONS.has(atom.name)) for (const arg of atom.args) visit(arg, false, acc);
    return NOTHING;
  }
  if (atom instanceof IsAtom) {
    visit(atom.left, atContext, acc);
    return NOTHING;
  }
  if (atom instanceof AsAtom) return visit(atom.left, atContext, acc);
  if (atom instanceof UnaryOperatorAtom) {
    const n = visit(atom.child, atContext, acc);
    if (n.yieldsContext) acc.pure = false;
    return NOTHING;
  }
  if (atom instanceof IndexerAtom) {
    const e = visit(atom.expr, atContext, acc);
    if (e.yieldsContext) acc.pure = false;
    return visit(atom.left, atContext, acc);
  }
  if (
    atom instanceof ArithemticOperatorAtom ||
    atom instanceof ConcatAtom ||
    atom instanceof ContainsAtom ||
    atom instanceof InAtom ||
    atom instanceof UnionAtom ||
    atom instanceof EqualsAtom ||
    atom instanceof NotEqualsAtom ||
    atom instanceof EquivalentAtom ||
    atom instanceof NotEquivalentAtom ||
    atom instanceof AndAtom ||
    atom instanceof OrAtom ||
    atom instanceof XorAtom ||
    atom instanceof ImpliesAtom
  ) {
    const l = visit(atom.left, atContext, acc);
    const r = visit(atom.right, atContext, acc);
    // an operator applied to the context value as a whole reads all of it
    if (l.yieldsContext || r.yieldsContext) acc.pure = false;
    return NOTHING;
  }
  acc.pure = false; // an atom kind this analysis does not know
  return CONTEXT;
}

export function analyseInvariant(atom: Atom): InvariantShape {
  const acc: Acc = { pure: true, names: new Set(), otherReads: new Set() };
  const top = visit(atom, true, acc);
  if (top.yieldsContext) acc.pure = false;
  return {
    pure: acc.pure,
    names: [...acc.names],
    existenceOnly: acc.pure && acc.otherReads.size === 0,
  };
}

/**
 * Whether the context object may hold a value for any of `stems`: a key equal to a stem, or the stem
 * followed by a type suffix (`valueString`), with or without the primitive-extension `_`.
 */
function mentions(obj: Record<string, unknown>, stems: readonly string[]): boolean {
  for (const raw in obj) {
    const key = raw.charCodeAt(0) === 95 ? raw.slice(1) : raw;
    for (const stem of stems) {
      if (key.length < stem.length || !key.startsWith(stem)) continue;
      if (key.length === stem.length || isUpper(key.charCodeAt(stem.length))) return true;
    }
  }
  return false;
}

/** `valueString` → `value`: getTypedPropertyValue may look up any type suffix of a choice element. */
function stemOf(name: string): string {
  for (let i = 1; i < name.length; i++) if (isUpper(name.charCodeAt(i))) return name.slice(0, i);
  return name;
}

/**
 * What `name.exists()` and `name.empty()` say on the context, exactly as medplum's FHIRPath would:
 * 0 = nothing there (exists false, empty true), 1 = only non-empty values (true, false), 2 = some
 * empty values among them (false, false), undefined = cannot tell without evaluating.
 */
export type PresenceProbe = (type: string, value: Record<string, unknown>, name: string) => 0 | 1 | 2 | undefined;

export class CachedInvariant {
  readonly expression: string;
  readonly shape: InvariantShape;
  private readonly atom: FhirPathAtom | undefined;
  private readonly parseError: unknown;
  private readonly stems: readonly string[];
  /** per context type: the outcome when no element the expression reads is present */
  private readonly whenAbsent = new Map<string, InvariantOutcome>();
  /** per context type: outcome by presence bit mask (existence-only expressions) */
  private readonly byPresence = new Map<string, Map<number, InvariantOutcome>>();
  /** evaluations actually run, for the benchmark's curiosity */
  evaluations = 0;

  constructor(expression: string) {
    this.expression = expression;
    let atom: FhirPathAtom | undefined;
    let parseError: unknown;
    try {
      atom = parseFhirPath(expression);
      useFastSymbols(atom);
    } catch (e) {
      parseError = e;
    }
    this.atom = atom;
    this.parseError = parseError;
    this.shape = atom ? analyseInvariant(atom) : { pure: false, names: [], existenceOnly: false };
    if (this.shape.names.length > 15) this.shape = { ...this.shape, existenceOnly: false };
    this.stems = [...new Set(this.shape.names.map(stemOf))];
  }

  /**
   * The outcome on `context` (a medplum typed value) with `variables()` as FHIRPath variables (built
   * only when the expression is evaluated). `probe` tells whether an element has a value.
   */
  evaluate(context: TypedValue, variables: () => Record<string, TypedValue>, probe: PresenceProbe): InvariantOutcome {
    const value = context.value;
    if (this.shape.pure && isPlainObject(value) && !namesResource(value, this.shape.names)) {
      if (this.shape.existenceOnly && !hasPrimitiveExtensionKey(value)) {
        const mask = this.presenceMask(context.type, value, probe);
        if (mask !== undefined) {
          let table = this.byPresence.get(context.type);
          if (!table) {
            table = new Map();
            this.byPresence.set(context.type, table);
          }
          let outcome = table.get(mask);
          if (outcome === undefined) {
            outcome = this.run(context, variables);
            table.set(mask, outcome);
          }
          return outcome;
        }
      }
      if (!mentions(value, this.stems)) {
        let outcome = this.whenAbsent.get(context.type);
        if (outcome === undefined) {
          outcome = this.run(context, variables);
          this.whenAbsent.set(context.type, outcome);
        }
        return outcome;
      }
    }
    return this.run(context, variables);
  }

  private presenceMask(type: string, value: Record<string, unknown>, probe: PresenceProbe): number | undefined {
    let mask = 0;
    const names = this.shape.names;
    for (let i = 0; i < names.length; i++) {
      const state = probe(type, value, names[i]);
      if (state === undefined) return undefined;
      mask |= state << (2 * i);
    }
    return mask;
  }

  private run(context: TypedValue, variables: () => Record<string, TypedValue>): InvariantOutcome {
    this.evaluations++;
    try {
      if (!this.atom) throw this.parseError;
      const result = evalFhirPathTyped(this.atom, [context], variables());
      return result.length === 1 && result[0].value === true;
    } catch (e) {
      return { error: e };
    }
  }
}

/**
 * Give every name in a freshly parsed tree the fast lookup (navigation.ts evalSymbol: medplum's
 * SymbolAtom.eval with the element keys precomputed). The tree is ours alone, so patching its nodes
 * touches nothing medplum evaluates elsewhere.
 */
function useFastSymbols(atom: Atom): void {
  const seen = new Set<Atom>();
  const visitAtom = (a: Atom | undefined): void => {
    if (!a || typeof a !== 'object' || seen.has(a)) return;
    seen.add(a);
    if (a instanceof SymbolAtom) {
      (a as { eval: Atom['eval'] }).eval = symbolEvaluator(a.name);
      return;
    }
    const node = a as unknown as { child?: Atom; left?: Atom; right?: Atom; expr?: Atom; args?: Atom[] };
    visitAtom(node.child);
    visitAtom(node.left);
    visitAtom(node.right);
    visitAtom(node.expr);
    if (Array.isArray(node.args)) for (const arg of node.args) visitAtom(arg);
  };
  visitAtom(atom);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function hasPrimitiveExtensionKey(obj: Record<string, unknown>): boolean {
  for (const k in obj) if (k.charCodeAt(0) === 95) return true;
  return false;
}

/** medplum's symbol lookup returns the context itself when its resourceType equals the symbol. */
function namesResource(obj: Record<string, unknown>, names: readonly string[]): boolean {
  const rt = obj.resourceType;
  return typeof rt === 'string' && names.includes(rt);
}

const registry = new Map<string, CachedInvariant>();

/** One CachedInvariant per expression text, shared by every validator in the process. */
export function cachedInvariant(expression: string): CachedInvariant {
  let found = registry.get(expression);
  if (!found) {
    found = new CachedInvariant(expression);
    registry.set(expression, found);
  }
  return found;
}
