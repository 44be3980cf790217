// The two path languages of the rules, parsed once at load time and compiled to closures.
//
// FHIR path:   Alias ( "." element ( "[" selector "]" )* )*
//   selector:  an index `0`, `1`, … | `+` (append a new element; forward only) | `key=value` (filter: the
//              first element whose primitive child `key` equals `value`; created with that child set when
//              none exists). Several filters may follow one another. A filter on a 0..1 element checks (on
//              reading) and sets (on writing) the child. The value runs to the closing `]`, so URLs are fine.
// Native path: ( name | "$item" | "$<input>" ) ( "." name )*   (names are JSON keys: letters, digits, _ and -)

import { elementOf, isPrimitive, type ElementInfo } from './fhir-schema.js';

export type Selector =
  | { kind: 'index'; index: number }
  | { kind: 'append' }
  | { kind: 'filter'; key: string; value: string };

export interface Segment {
  name: string;
  selectors: Selector[];
  info: ElementInfo;
}

export interface FhirPath {
  text: string;
  alias: string;
  segments: Segment[];
  /** the type of what the path designates (the resource type for a bare alias) */
  finalType: string;
  /** the path designates a whole array (last element 0..* without selector) */
  wholeArray: boolean;
  hasAppend: boolean;
}

export class PathError extends Error {}

const ALIAS = /^[A-Za-z][A-Za-z0-9]*$/;
const ELEMENT = /^[a-z][A-Za-z0-9]*$/;
const KEY = /^[A-Za-z0-9_-]+$/;

/** Parses and checks a FHIR path against R4; `typeOfAlias` gives the resource type an alias stands for. */
export function parseFhirPath(text: string, typeOfAlias: (alias: string) => string | undefined): FhirPath {
  if (typeof text !== 'string' || text.length === 0) throw new PathError('a FHIR path must be a non-empty string');
  let i = 0;
  const readName = (): string => {
    const start = i;
    while (i < text.length && text[i] !== '.' && text[i] !== '[') i++;
    return text.slice(start, i);
  };
  const alias = readName();
  if (!ALIAS.test(alias)) throw new PathError(`"${text}": "${alias}" is not a resource alias`);
  const rootType = typeOfAlias(alias);
  if (!rootType) throw new PathError(`"${text}": unknown resource alias "${alias}"`);
  if (text[i] === '[') throw new PathError(`"${text}": a selector cannot follow the resource alias`);
  let type = rootType;
  const segments: Segment[] = [];
  while (i < text.length) {
    if (text[i] !== '.') throw new PathError(`"${text}": expected "." at character ${i + 1}`);
    i++;
    const name = readName();
    if (!ELEMENT.test(name)) throw new PathError(`"${text}": "${name}" is not an element name`);
    const info = elementOf(type, name);
    if (!info) throw new PathError(`"${text}": ${type} has no element "${name}" in FHIR R4`);
    const selectors: Selector[] = [];
    while (text[i] === '[') {
      const close = text.indexOf(']', i);
      if (close < 0) throw new PathError(`"${text}": "[" without "]"`);
      const body = text.slice(i + 1, close);
      i = close + 1;
      if (/^[0-9]+$/.test(body)) selectors.push({ kind: 'index', index: Number(body) });
      else if (body === '+') selectors.push({ kind: 'append' });
      else {
        const eq = body.indexOf('=');
        const key = eq > 0 ? body.slice(0, eq) : '';
        const value = eq > 0 ? body.slice(eq + 1) : '';
        if (!ELEMENT.test(key) || value === '') throw new PathError(`"${text}": bad selector "[${body}]" (use [n], [+] or [key=value])`);
        const child = elementOf(info.type, key);
        if (!child || child.isArray || !isPrimitive(child.type)) {
          throw new PathError(`"${text}": filter key "${key}" is not a single primitive element of ${info.type}`);
        }
        selectors.push({ kind: 'filter', key, value });
      }
    }
    const positional = selectors.filter((s) => s.kind !== 'filter');
    if (positional.length > 1 || (positional.length === 1 && selectors.length > 1)) {
      throw new PathError(`"${text}": "${name}" takes one index, one [+], or filters, not a mix`);
    }
    if (positional.length === 1 && !info.isArray) throw new PathError(`"${text}": "${name}" is not an array, so it takes no index or [+]`);
    segments.push({ name, selectors, info });
    type = info.type;
  }
  segments.forEach((s, k) => {
    if (k < segments.length - 1 && s.info.isArray && s.selectors.length === 0) {
      throw new PathError(`"${text}": "${s.name}" is an array: say which element ([n], [+] or [key=value])`);
    }
    if (isPrimitive(s.info.type) && s.selectors.some((x) => x.kind === 'filter')) {
      throw new PathError(`"${text}": "${s.name}" is a primitive and cannot be filtered`);
    }
  });
  const last = segments[segments.length - 1];
  return {
    text,
    alias,
    segments,
    finalType: type,
    wholeArray: !!last && last.info.isArray && last.selectors.length === 0,
    hasAppend: segments.some((s) => s.selectors.some((x) => x.kind === 'append')),
  };
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A copy of a JSON value (constants and input objects are never shared with the output); undefined properties are left out, as JSON would. */
export function cloneJson<T>(v: T): T {
  if (Array.isArray(v)) return v.map(cloneJson) as T;
  if (isObj(v)) {
    const out: Obj = {};
    for (const k in v) if (v[k] !== undefined) out[k] = cloneJson(v[k]);
    return out as T;
  }
  return v;
}

function matches(el: unknown, filters: ReadonlyArray<{ key: string; value: string }>): el is Obj {
  if (!isObj(el)) return false;
  for (const f of filters) if (el[f.key] !== f.value) return false;
  return true;
}

interface Step {
  name: string;
  isArray: boolean;
  mode: 'single' | 'index' | 'append' | 'filter' | 'whole';
  index: number;
  filters: Array<{ key: string; value: string }>;
  /** what a new element starts with: the filter values, plus extras (the item text of a QuestionnaireResponse) */
  template: Obj;
}

function stepsOf(path: FhirPath, extras?: Map<number, Obj>): Step[] {
  return path.segments.map((s, k) => {
    const filters = s.selectors.filter((x): x is { kind: 'filter'; key: string; value: string } => x.kind === 'filter');
    const pos = s.selectors.find((x) => x.kind !== 'filter');
    const template: Obj = {};
    for (const f of filters) template[f.key] = f.value;
    Object.assign(template, extras?.get(k) ?? {});
    return {
      name: s.name,
      isArray: s.info.isArray,
      mode: filters.length > 0 ? 'filter' : pos?.kind === 'index' ? 'index' : pos?.kind === 'append' ? 'append' : s.info.isArray ? 'whole' : 'single',
      index: pos?.kind === 'index' ? pos.index : -1,
      filters: filters.map((f) => ({ key: f.key, value: f.value })),
      template,
    };
  });
}

export type Reader = (root: unknown) => unknown;
export type Writer = (root: Obj, value: unknown) => void;

/** A closure reading the value a path designates (undefined when absent). Not for paths with [+]. */
export function compileReader(path: FhirPath): Reader {
  const steps = stepsOf(path);
  return (root) => {
    let cur: unknown = root;
    for (const s of steps) {
      if (!isObj(cur)) return undefined;
      const v = cur[s.name];
      if (v === undefined) return undefined;
      switch (s.mode) {
        case 'single':
        case 'whole':
          cur = v;
          break;
        case 'index':
          cur = Array.isArray(v) ? v[s.index] : undefined;
          break;
        case 'filter':
          cur = s.isArray ? (Array.isArray(v) ? v.find((el) => matches(el, s.filters)) : undefined) : matches(v, s.filters) ? v : undefined;
          break;
        default:
          return undefined;
      }
      if (cur === undefined) return undefined;
    }
    return cur;
  };
}

export class WriteConflict extends Error {}

/** Copies the properties of `value` into `target` (nested objects and arrays copied too). */
function mergeInto(target: Obj, value: Obj): void {
  const keys = Object.keys(value);
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]!;
    const v = value[key];
    if (v !== undefined) target[key] = typeof v === 'object' && v !== null ? cloneJson(v) : v;
  }
}

function matcher(filters: ReadonlyArray<{ key: string; value: string }>): (el: unknown) => el is Obj {
  if (filters.length === 1) {
    const { key, value } = filters[0]!;
    return (el): el is Obj => isObj(el) && el[key] === value;
  }
  return (el): el is Obj => matches(el, filters);
}

/** The element a step designates inside `parent`, created when missing. */
type Descend = (parent: Obj) => Obj;

function descender(path: FhirPath, s: Step): Descend {
  const { name, template } = s;
  const tkeys = Object.keys(template);
  const make = tkeys.length === 0 ? (): Obj => ({}) : (): Obj => Object.assign({}, template);
  if (!s.isArray) {
    if (s.filters.length === 0) {
      return (p) => {
        const el = p[name];
        if (el !== undefined) return el as Obj;
        const n: Obj = {};
        p[name] = n;
        return n;
      };
    }
    const ok = matcher(s.filters);
    return (p) => {
      const el = p[name];
      if (el === undefined) return (p[name] = make()) as Obj;
      if (!ok(el)) throw new WriteConflict(`${path.text}: "${name}" already holds a different value`);
      return el;
    };
  }
  const arrayOf = (p: Obj): unknown[] => {
    const a = p[name] as unknown[] | undefined;
    if (a !== undefined) return a;
    const n: unknown[] = [];
    p[name] = n;
    return n;
  };
  switch (s.mode) {
    case 'append':
      return (p) => {
        const el = make();
        arrayOf(p).push(el);
        return el;
      };
    case 'index': {
      const i = s.index;
      return (p) => {
        const a = arrayOf(p);
        const el = a[i];
        if (el !== undefined) return el as Obj;
        if (i !== a.length) throw new WriteConflict(`${path.text}: cannot write element ${i} of an array of ${a.length}`);
        const n = make();
        a.push(n);
        return n;
      };
    }
    case 'filter': {
      const ok = matcher(s.filters);
      return (p) => {
        const a = arrayOf(p);
        for (let k = 0; k < a.length; k++) if (ok(a[k])) return a[k] as Obj;
        const n = make();
        a.push(n);
        return n;
      };
    }
    default:
      return () => {
        throw new WriteConflict(`${path.text}: "${name}" is an array: say which element`);
      };
  }
}

/**
 * A closure writing a value at a path, creating what is missing on the way. A primitive is set; an
 * object is merged into the element the path designates (a copy of it: nothing is shared).
 * `extras` adds properties to an element created by the filter of segment k.
 */
export function compileWriter(path: FhirPath, extras?: Map<number, Obj>): Writer {
  const steps = stepsOf(path, extras);
  if (steps.length === 0) {
    return (root, value) => {
      if (isObj(value)) mergeInto(root, value);
    };
  }
  const inner = steps.slice(0, -1).map((s) => descender(path, s));
  const last = steps[steps.length - 1]!;
  const lastDescend = descender(path, last);
  const name = last.name;
  let put: (parent: Obj, value: unknown) => void;
  if (last.mode === 'whole') {
    put = (p, v) => {
      if (!Array.isArray(v)) throw new WriteConflict(`${path.text}: expected an array value`);
      p[name] = cloneJson(v);
    };
  } else if (!last.isArray) {
    put = (p, v) => {
      if (isObj(v)) mergeInto(lastDescend(p), v);
      else p[name] = v;
    };
  } else if (last.mode === 'append') {
    put = (p, v) => {
      if (isObj(v)) mergeInto(lastDescend(p), v);
      else {
        const a = (p[name] as unknown[] | undefined) ?? (p[name] = []);
        (a as unknown[]).push(v);
      }
    };
  } else if (last.mode === 'index') {
    const i = last.index;
    put = (p, v) => {
      if (isObj(v)) return mergeInto(lastDescend(p), v);
      const a = ((p[name] as unknown[] | undefined) ?? (p[name] = [])) as unknown[];
      if (i > a.length) throw new WriteConflict(`${path.text}: cannot write element ${i} of an array of ${a.length}`);
      a[i] = v;
    };
  } else {
    put = (p, v) => {
      if (isObj(v)) mergeInto(lastDescend(p), v);
      else throw new WriteConflict(`${path.text}: a filtered element takes an object`);
    };
  }
  const n = inner.length;
  if (n === 0) return put;
  if (n === 1) {
    const d0 = inner[0]!;
    return (root, v) => put(d0(root), v);
  }
  if (n === 2) {
    const d0 = inner[0]!;
    const d1 = inner[1]!;
    return (root, v) => put(d1(d0(root)), v);
  }
  return (root, v) => {
    let cur = root;
    for (let k = 0; k < n; k++) cur = inner[k]!(cur);
    put(cur, v);
  };
}

// ---------------------------------------------------------------------------------------------
// Native paths

export interface NativePath {
  text: string;
  /** `root`, `item` or `input` */
  base: 'root' | 'item' | 'input';
  input?: string;
  keys: string[];
}

/** Parses a native path; `$item` and `$<input>` are checked by the caller. */
export function parseNativePath(text: string): NativePath {
  if (typeof text !== 'string' || text.length === 0) throw new PathError('a native path must be a non-empty string');
  const parts = text.split('.');
  let base: NativePath['base'] = 'root';
  let input: string | undefined;
  if (parts[0]!.startsWith('$')) {
    const head = parts.shift()!.slice(1);
    if (head === 'item') base = 'item';
    else {
      base = 'input';
      input = head;
    }
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(head)) throw new PathError(`"${text}": "$${head}" is not a variable name`);
  }
  for (const p of parts) if (!KEY.test(p)) throw new PathError(`"${text}": "${p}" is not a JSON key (letters, digits, _ and -)`);
  return { text, base, input, keys: parts };
}

export interface NativeScope {
  root: unknown;
  item: unknown;
  inputs: Readonly<Record<string, unknown>>;
}

export type NativeGetter = (scope: NativeScope) => unknown;

const hasOwn = Object.prototype.hasOwnProperty;

function getter1(a: string) {
  return (o: unknown): unknown => (isObj(o) && hasOwn.call(o, a) ? o[a] : undefined);
}

function getter2(a: string, b: string) {
  return (o: unknown): unknown => {
    if (!isObj(o) || !hasOwn.call(o, a)) return undefined;
    const v = o[a];
    return isObj(v) && hasOwn.call(v, b) ? v[b] : undefined;
  };
}

export function compileNativeGetter(p: NativePath): NativeGetter {
  const keys = p.keys;
  const get = keys.length === 1 ? getter1(keys[0]!) : keys.length === 2 ? getter2(keys[0]!, keys[1]!) : (start: unknown): unknown => {
    let cur = start;
    for (const k of keys) {
      if (!isObj(cur) || !hasOwn.call(cur, k)) return undefined;
      cur = cur[k];
    }
    return cur;
  };
  if (p.base === 'item') return (s) => get(s.item);
  if (p.base === 'input') {
    const name = p.input!;
    return (s) => get(s.inputs[name]);
  }
  return (s) => get(s.root);
}

export interface MutableScope {
  root: Obj;
  item: unknown;
}

export type NativeSetter = (scope: MutableScope, value: unknown) => void;

/** A closure setting a native value, creating the objects on the way. Not for `$<input>` paths. */
export function compileNativeSetter(p: NativePath): NativeSetter {
  const keys = p.keys;
  const setIn = (start: Obj, value: unknown) => {
    let cur = start;
    for (let k = 0; k < keys.length - 1; k++) {
      let next = cur[keys[k]!];
      if (!isObj(next)) cur[keys[k]!] = next = {};
      cur = next as Obj;
    }
    cur[keys[keys.length - 1]!] = value;
  };
  if (p.base === 'item') {
    if (keys.length === 0) return (s, v) => void (s.item = v);
    return (s, v) => {
      if (!isObj(s.item)) s.item = {};
      setIn(s.item as Obj, v);
    };
  }
  if (p.base === 'input') throw new PathError(`"${p.text}": an input cannot be written`);
  return (s, v) => setIn(s.root, v);
}
