// medplum's property lookup (fhirpath/utils.ts getTypedPropertyValue) over medplum's own type map,
// with the JSON keys of each element's types computed once per element instead of on every lookup.
// Used by the fast structural pass and, through SymbolAtom, by FHIRPath invariants in the fast engine.
// Exact by construction, down to medplum's quirks: the first type (in the element's type order) whose
// key or `_key` is present wins; a primitive extension is merged into its value (mutating an object
// value, throwing "Primitive extension must be an object" for a non-object); empty values ("", {},
// []) count as absent.
import {
  getAllDataTypes,
  getTypedPropertyValueWithoutSchema,
  type AtomContext,
  type InternalSchemaElement,
  type InternalTypeSchema,
  type TypedValue,
} from '@medplum/core';

export interface TypedValueWithPath {
  type: string;
  value: any;
  path: string;
}

const MANY_TYPES = 6;

export function capitalize(word: string): string {
  if (!word) return '';
  return word.charAt(0).toUpperCase() + word.substring(1);
}

// medplum utils.ts isEmpty / isPopulated
export function isEmpty(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  const t = typeof v;
  if (t === 'string') return v === '';
  if (t === 'object') {
    const o = v as { length?: unknown };
    if ('length' in o && (o.length as number) > 0) return false;
    for (const k in o) if (Object.prototype.hasOwnProperty.call(o, k)) return false;
    return true;
  }
  return false;
}

export function isResourceValue(v: unknown): boolean {
  return !!v && typeof v === 'object' && 'resourceType' in v;
}

/** An element with the JSON keys each of its types is stored under, in type order. */
export class ElementKeys {
  readonly el: InternalSchemaElement;
  readonly hasTypes: boolean;
  readonly keys: string[] = [];
  readonly extKeys: string[] = [];
  readonly codes: string[] = [];
  /** JSON key (with or without `_`) → index into keys, for elements with many types */
  readonly index: Map<string, number> | undefined;
  readonly firstCode: string;

  constructor(el: InternalSchemaElement) {
    this.el = el;
    const declared = el.type as InternalSchemaElement['type'] | undefined;
    const types = Array.isArray(declared) && declared.length > 0 ? declared : [];
    this.hasTypes = types.length > 0;
    const path = typeof el.path === 'string' ? el.path : '';
    const last = path.substring(path.lastIndexOf('.') + 1);
    for (const t of types) {
      const key = last.replace('[x]', capitalize(t.code));
      this.keys.push(key);
      this.extKeys.push(`_${key}`);
      this.codes.push(t.code);
    }
    if (this.keys.length > MANY_TYPES) {
      this.index = new Map();
      for (let i = this.keys.length - 1; i >= 0; i--) {
        this.index.set(this.keys[i], i);
        this.index.set(this.extKeys[i], i);
      }
    }
    this.firstCode = types[0]?.code ?? '';
  }
}

const elementKeys = new WeakMap<object, ElementKeys>();

export function keysOf(el: InternalSchemaElement): ElementKeys {
  let found = elementKeys.get(el);
  if (!found) {
    found = new ElementKeys(el);
    elementKeys.set(el, found);
  }
  return found;
}

export interface KeyInfo {
  readonly underscore: boolean;
  readonly choice: { readonly testProperty: string; readonly elementName: string } | null;
  /** the key names an element (or is `_` + one) */
  readonly known: boolean;
}

/** Per type schema: its elements looked up by property name, memoised. */
export class SchemaIndex {
  readonly schema: InternalTypeSchema;
  readonly elements: Record<string, InternalSchemaElement>;
  private readonly byName = new Map<string, ElementKeys | null>();
  private readonly choiceByKey = new Map<string, { testProperty: string; elementName: string } | null>();
  private readonly keys = new Map<string, KeyInfo>();

  constructor(schema: InternalTypeSchema) {
    this.schema = schema;
    this.elements = schema.elements;
  }

  /** medplum types.ts getElementDefinitionFromElements */
  lookup(name: string): ElementKeys | null {
    let found = this.byName.get(name);
    if (found !== undefined) return found;
    const elements = this.elements;
    let el: InternalSchemaElement | undefined = elements[name] ?? elements[`${name}[x]`];
    if (!el) {
      for (let i = 0; i < name.length; i++) {
        const c = name[i];
        if (c >= 'A' && c <= 'Z') {
          el = elements[`${name.slice(0, i)}[x]`];
          if (el) break;
        }
      }
    }
    found = el ? keysOf(el) : null;
    this.byName.set(name, found);
    return found;
  }

  /** What medplum's unknown-property check needs to know about a JSON key of an object of this type. */
  keyInfo(key: string): KeyInfo {
    let found = this.keys.get(key);
    if (!found) {
      const underscore = key.startsWith('_');
      found = {
        underscore,
        choice: this.choiceFor(underscore ? key.slice(1) : key),
        // medplum: !(key in properties) && !(key.startsWith('_') && key.slice(1) in properties)
        known: key in this.elements || (underscore && key.slice(1) in this.elements),
      };
      // Keys come from the instance: remember only those the type defines, so that objects full of
      // made-up keys cannot grow the memo.
      if (found.known || this.isChoiceKey(key)) this.keys.set(key, found);
    }
    return found;
  }

  /** `valueString`, `_valueString`: a key the type's choice elements are stored under. */
  private isChoiceKey(key: string): boolean {
    if (!this.choiceKeys) {
      this.choiceKeys = new Set();
      for (const name of Object.keys(this.elements)) {
        if (!name.endsWith('[x]')) continue;
        const ek = keysOf(this.elements[name]);
        for (const k of ek.keys) this.choiceKeys.add(k);
        for (const k of ek.extKeys) this.choiceKeys.add(k);
      }
    }
    return this.choiceKeys.has(key);
  }

  private choiceKeys: Set<string> | undefined;

  /** The `[x]` element a JSON key may be a choice of (medplum validation.ts isChoiceOfType, first half). */
  choiceFor(key: string): { testProperty: string; elementName: string } | null {
    let found = this.choiceByKey.get(key);
    if (found !== undefined) return found;
    found = null;
    let testProperty = '';
    for (const part of key.split(/(?=[A-Z])/g)) {
      testProperty += part;
      const elementName = `${testProperty}[x]`;
      if (this.elements[elementName]) {
        found = { testProperty, elementName };
        break;
      }
    }
    if (key in this.elements || this.isChoiceKey(key)) this.choiceByKey.set(key, found);
    return found;
  }
}

const indexes = new WeakMap<InternalTypeSchema, SchemaIndex>();

export function schemaIndex(schema: InternalTypeSchema): SchemaIndex {
  let found = indexes.get(schema);
  if (!found) {
    found = new SchemaIndex(schema);
    indexes.set(schema, found);
  }
  return found;
}

// medplum's type map only changes when definitions are loaded, never during a validation: lookups
// are remembered from one resetTypeCache() (called as each structural pass starts) to the next.
const typeCache = new Map<string, SchemaIndex | null>();
/** bumped by resetTypeCache: lookups remembered elsewhere are valid for one epoch only */
let epoch = 0;

export function resetTypeCache(): void {
  typeCache.clear();
  epoch++;
}

/** medplum tryGetDataType(type) (no profile) */
export function indexOfType(type: string): SchemaIndex | undefined {
  let found = typeCache.get(type);
  if (found === undefined) {
    const schema = getAllDataTypes()[type];
    found = schema ? schemaIndex(schema) : null;
    typeCache.set(type, found);
  }
  return found ?? undefined;
}

/** medplum fhirpath/utils.ts getTypedPropertyValue(input, name) without a profile. */
export function getProperty(input: TypedValue, name: string): TypedValue | TypedValue[] | undefined {
  if (!input.value) return undefined;
  const ek = indexOfType(input.type)?.lookup(name);
  if (ek) return propertyWithSchema(input.value, ek);
  return getTypedPropertyValueWithoutSchema(input, name);
}

/**
 * SymbolAtom.eval for one name, specialised. A plain element name (not `$…`, `%…`, nor a name every
 * object inherits such as `constructor`) is never found among the variables — FHIRPath contexts hold
 * only `$this` and the `%` variables — so the variable lookup is skipped, and the element it names is
 * remembered per context type for the current type-map epoch.
 */
export function symbolEvaluator(name: string): (context: AtomContext, input: TypedValue[]) => TypedValue[] {
  if (name.startsWith('$') || name.startsWith('%') || name in Object.prototype) {
    return (context, input) => evalSymbol(name, context, input);
  }
  let seenEpoch = -1;
  let seenType = '';
  let seenKeys: ElementKeys | null | undefined;
  return (_context, input) => {
    const out: TypedValue[] = [];
    for (const e of input) {
      const v = e.value;
      if (!v || typeof v !== 'object') continue;
      if ('resourceType' in v && v.resourceType === name) {
        out.push(e);
        continue;
      }
      let found: TypedValue | TypedValue[] | undefined;
      if (seenEpoch !== epoch || seenType !== e.type) {
        seenEpoch = epoch;
        seenType = e.type;
        seenKeys = indexOfType(e.type)?.lookup(name);
      }
      if (seenKeys) found = propertyWithSchema(v, seenKeys);
      else found = getTypedPropertyValueWithoutSchema(e, name);
      if (found === undefined) continue;
      if (Array.isArray(found)) {
        for (const f of found) if (f?.value !== undefined) out.push(f);
      } else if (found.value !== undefined) {
        out.push(found);
      }
    }
    return out;
  };
}

/**
 * medplum fhirpath/atoms.ts SymbolAtom.eval, with getProperty for the lookup: what a FHIRPath name
 * (`identifier`, `$this`, `%resource`) evaluates to on `input`.
 */
export function evalSymbol(name: string, context: AtomContext, input: TypedValue[]): TypedValue[] {
  if (name === '$this') return input;
  for (let c: AtomContext | undefined = context; c; c = c.parent) {
    const value = c.variables[name];
    if (value !== undefined) {
      if (value) return [value];
      break;
    }
  }
  if (name.startsWith('%')) throw new Error(`Undefined variable ${name}`);
  const out: TypedValue[] = [];
  for (const e of input) {
    const v = e.value;
    if (!v || typeof v !== 'object') continue;
    if ('resourceType' in v && v.resourceType === name) {
      out.push(e);
      continue;
    }
    const found = getProperty(e, name);
    if (found === undefined) continue;
    if (Array.isArray(found)) {
      for (const f of found) if (f?.value !== undefined) out.push(f);
    } else if (found.value !== undefined) {
      out.push(found);
    }
  }
  return out;
}

// medplum fhirpath/utils.ts assignPrimitiveExtension / safeAssign (mutations included).
function assignPrimitiveExtension(target: any, primitiveExtension: any): any {
  if (primitiveExtension) {
    if (typeof primitiveExtension !== 'object') throw new Error('Primitive extension must be an object');
    delete primitiveExtension.__proto__;
    delete primitiveExtension.constructor;
    return Object.assign(target ?? {}, primitiveExtension);
  }
  return target;
}

// The property found by `resolve` (module scratch: no allocation per lookup).
let foundValue: any;
let foundType = 'undefined';

/**
 * medplum fhirpath/utils.ts getTypedPropertyValueWithSchema, up to the typed-value wrapping: false
 * when the property has no value (absent or empty), else foundValue / foundType are set.
 */
export function resolve(value: any, ce: ElementKeys): boolean {
  if (!ce.hasTypes) return false;
  let resultValue: any;
  let primitiveExtension: any;
  let resultType = 'undefined';
  if (ce.index && typeof value === 'object' && value !== null) {
    let at = -1;
    for (const k in value) {
      if (!Object.prototype.hasOwnProperty.call(value, k)) continue;
      const i = ce.index.get(k);
      if (i !== undefined && (at < 0 || i < at) && value[k] !== undefined) at = i;
    }
    if (at >= 0) {
      resultValue = value[ce.keys[at]];
      primitiveExtension = value[ce.extKeys[at]];
      resultType = ce.codes[at];
    }
  } else {
    const keys = ce.keys;
    for (let i = 0; i < keys.length; i++) {
      resultValue = value[keys[i]];
      primitiveExtension = value[ce.extKeys[i]];
      if (resultValue !== undefined || primitiveExtension !== undefined) {
        resultType = ce.codes[i];
        break;
      }
    }
  }
  if (primitiveExtension) {
    if (Array.isArray(resultValue)) {
      resultValue = resultValue.slice();
      for (let i = 0; i < Math.max(resultValue.length, primitiveExtension.length); i++) {
        resultValue[i] = assignPrimitiveExtension(resultValue[i], primitiveExtension[i]);
      }
    } else if (!resultValue && Array.isArray(primitiveExtension)) {
      resultValue = primitiveExtension.slice();
      for (let i = 0; i < primitiveExtension.length; i++) {
        resultValue[i] = assignPrimitiveExtension(undefined, primitiveExtension[i]);
      }
    } else {
      resultValue = assignPrimitiveExtension(resultValue, primitiveExtension);
    }
  }
  if (isEmpty(resultValue)) return false;
  if (resultType === 'Element' || resultType === 'BackboneElement') resultType = ce.firstCode;
  foundValue = resultValue;
  foundType = resultType;
  return true;
}

export function typeOf(value: any, type: string): string {
  return type === 'Resource' && isResourceValue(value) ? value.resourceType : type;
}

/** medplum fhirpath/utils.ts getTypedPropertyValueWithSchema */
export function propertyWithSchema(value: any, ce: ElementKeys): TypedValue | TypedValue[] | undefined {
  if (!resolve(value, ce)) return undefined;
  const resultValue = foundValue;
  const resultType = foundType;
  if (Array.isArray(resultValue)) {
    const out: TypedValue[] = new Array(resultValue.length);
    for (let i = 0; i < resultValue.length; i++) out[i] = { type: typeOf(resultValue[i], resultType), value: resultValue[i] };
    return out;
  }
  return { type: typeOf(resultValue, resultType), value: resultValue };
}

const INDEX = Array.from({ length: 64 }, (_, i) => `[${i}]`);

/** propertyWithSchema followed by crawler.ts withPath, in one step */
export function propertyWithPath(value: any, ce: ElementKeys, parentPath: string, key: string): TypedValueWithPath | TypedValueWithPath[] | undefined {
  if (!resolve(value, ce)) return undefined;
  const resultValue = foundValue;
  const resultType = foundType;
  const prefix = parentPath ? `${parentPath}.${key}` : key;
  if (Array.isArray(resultValue)) {
    const out: TypedValueWithPath[] = new Array(resultValue.length);
    for (let i = 0; i < resultValue.length; i++) {
      out[i] = { type: typeOf(resultValue[i], resultType), value: resultValue[i], path: prefix + (i < 64 ? INDEX[i] : `[${i}]`) };
    }
    return out;
  }
  return { type: typeOf(resultValue, resultType), value: resultValue, path: prefix };
}

