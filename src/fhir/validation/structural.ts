// The structural pass: medplum's validateResource (structure, cardinality, fixed/pattern, primitive
// formats, FHIRPath invariants), its OperationOutcomeError turned into our issues, with FHIRPath
// locations cleaned up and each message saying what was wrong and what is allowed.
import { OperationOutcomeError, getAllDataTypes, parseStructureDefinition, validateTypedValue } from '@medplum/core';
import type { Resource, StructureDefinition } from 'fhir/r4.js';
import type { Issue } from '../outcomes.js';
import { issue } from '../outcomes.js';
import { compileCached, varsFor, type FhirPathVars } from './fhirpath.js';
import type { StructureRegistry } from './registry.js';
import { PRIMITIVE_TYPES, indexChildren, type CompiledStructure, type ElementNode } from './schema.js';

type Json = Record<string, unknown>;

const FORMAT_HINTS: Readonly<Record<string, string>> = {
  date: 'YYYY, YYYY-MM or YYYY-MM-DD',
  dateTime: 'YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[.sss] with a time zone, e.g. 2026-11-21T14:02:00+00:00',
  instant: 'YYYY-MM-DDThh:mm:ss[.sss] with a time zone, e.g. 2026-11-21T14:02:00Z',
  time: 'hh:mm:ss[.sss]',
  id: '1 to 64 characters from A-Z, a-z, 0-9, "-" and "."',
  code: 'no leading, trailing or repeated whitespace',
  uri: 'no whitespace',
  url: 'no whitespace',
  canonical: 'no whitespace',
  oid: 'urn:oid:<dotted numbers>',
  uuid: 'urn:uuid:<lower-case UUID>',
  base64Binary: 'base64 text',
  string: 'printable characters',
  markdown: 'printable characters',
};

/**
 * Parse a profile for medplum once, at load. `validateResource(r, { profile })` re-parses the whole
 * snapshot on every call (about 1.5 ms for one of our profiles); medplum resolves a typed value's
 * type through its type map, so the parsed schema is registered there under the profile's URL (no
 * R4 type has a URL for a name) and validation then starts from it. Unlike loadDataType this does
 * not register the profile's backbone types, which would replace the base ones globally.
 */
export function registerProfileForMedplum(sd: StructureDefinition, ownInvariants: ReadonlySet<string> = new Set()): string {
  const key = sd.url;
  const types = getAllDataTypes();
  const schema = parseStructureDefinition(sd as never);
  // Invariants the validator evaluates itself (on data medplum does not see) are not medplum's to run.
  if (ownInvariants.size) {
    schema.constraints = schema.constraints?.filter((c) => !ownInvariants.has(c.key));
    for (const el of Object.values(schema.elements)) el.constraints = el.constraints?.filter((c) => !ownInvariants.has(c.key));
  }
  // medplum checks a dotted profile element (`name.family`) and then walks into the datatype and
  // checks the same element again from the base definition. Where the profile changes nothing, the
  // first check only costs time (and can repeat an issue), so it is left out.
  for (const [path, element] of Object.entries(schema.elements)) {
    if (!path.includes('.')) continue;
    const base = baseElement(schema.elements, path, types);
    if (base && sameConstraints(element, base)) delete schema.elements[path];
  }
  types[key] = schema;
  return key;
}

type MedplumElement = ReturnType<typeof parseStructureDefinition>['elements'][string];

function baseElement(
  elements: Record<string, MedplumElement>,
  path: string,
  types: ReturnType<typeof getAllDataTypes>,
): MedplumElement | undefined {
  const steps = path.split('.');
  let type = elements[steps[0]]?.type;
  let found: MedplumElement | undefined;
  for (let i = 1; i < steps.length; i++) {
    if (!type || type.length !== 1) return undefined;
    found = types[type[0].code]?.elements[steps[i]];
    if (!found) return undefined;
    type = found.type;
  }
  return found;
}

function sameConstraints(a: MedplumElement, b: MedplumElement): boolean {
  const keys = (e: MedplumElement): string => (e.constraints ?? []).map((c) => c.key).sort().join(',');
  const codes = (e: MedplumElement): string => e.type.map((t) => t.code).join(',');
  return (
    a.min === b.min &&
    a.max === b.max &&
    a.isArray === b.isArray &&
    !a.slicing &&
    a.fixed === undefined &&
    a.pattern === undefined &&
    b.fixed === undefined &&
    b.pattern === undefined &&
    keys(a) === keys(b) &&
    codes(a) === codes(b)
  );
}

/**
 * medplum's raw issues for `resource`: against the profile registered under `profileKey`, or base
 * R4 when undefined. Same checks as validateResource(resource, { profile }).
 */
export function medplumIssues(resource: Resource, profileKey: string | undefined): Issue[] {
  try {
    return validateTypedValue({ type: profileKey ?? resource.resourceType, value: resource }) as Issue[];
  } catch (e) {
    if (e instanceof OperationOutcomeError) return (e.outcome.issue ?? []) as Issue[];
    return [issue('error', 'processing', `Structural validation could not run: ${(e as Error).message}`, resource.resourceType)];
  }
}

/**
 * Rewrite medplum's issues: drop the ones the walker owns or that are wrong (slice counts, choice
 * conflicts, reference-type warnings on absolute/urn references), fix choice-type locations, and
 * expand the messages.
 */
export function refineIssues(
  raw: readonly Issue[],
  resource: Json,
  sd: CompiledStructure,
  registry: StructureRegistry,
  ownInvariants: ReadonlySet<string> = new Set(),
): Issue[] {
  const out: Issue[] = [];
  let vars: FhirPathVars | undefined;
  for (const i of raw) {
    const text = i.details?.text ?? '';
    if (text.startsWith('Incorrect number of values provided for slice')) continue;
    if (text.startsWith('Conflicting choice of type properties')) continue;
    // medplum takes the text before the first "/" as the type: for "urn:uuid:…" or "https://…" that is
    // nonsense. Bundle-internal references are checked against their targets by the Bundle pass.
    if (/^Invalid reference: got "[^"]*:/.test(text)) continue;
    const rawPath = i.expression?.[0] ?? '';
    const path = fixChoicePath(rawPath, resource);
    const node = rawPath.includes('.') ? resolveNode(sd, rawPath, registry) : undefined;
    const code = text === 'Missing required property' ? 'required' : text === 'Value did not match expected pattern' ? 'value' : i.code;
    const refined: Issue = { severity: i.severity, code, details: { text: refineText(text, rawPath, node, sd, registry) } };
    if (path) refined.expression = [path];
    const diag = refineDiagnostics(i.diagnostics);
    if (diag) refined.diagnostics = diag;
    out.push(refined);
    const failed = /^Constraint (\S+) not met/.exec(text)?.[1];
    if (failed && i.code === 'invariant') {
      vars ??= varsFor(resource);
      out.push(...invariantsAfter(failed, rawPath, path, resource, sd, registry, ownInvariants, vars));
    }
  }
  return out;
}

/**
 * medplum stops at the first failed invariant of an element; the ones after it in the element's
 * list were never evaluated. Evaluate them here, so every broken invariant is reported.
 */
function invariantsAfter(
  failed: string,
  rawPath: string,
  path: string,
  resource: Json,
  sd: CompiledStructure,
  registry: StructureRegistry,
  ownInvariants: ReadonlySet<string>,
  vars: FhirPathVars,
): Issue[] {
  const node = rawPath.includes('.') ? resolveNode(sd, rawPath, registry) : sd.root;
  if (!node) return [];
  const at = node.invariants.findIndex((c) => c.key === failed);
  if (at < 0 || at === node.invariants.length - 1) return [];
  const located = locate(resource, rawPath);
  if (!located) return [];
  const type = node === sd.root ? String(resource.resourceType) : (located.type ?? node.evalType);
  const walkerOwns = new Set(node.constraints.map((c) => c.key));
  const out: Issue[] = [];
  for (const c of node.invariants.slice(at + 1)) {
    if (walkerOwns.has(c.key) || ownInvariants.has(c.key)) continue;
    let ok: boolean;
    try {
      ok = compileCached(c.expression).holds(located.value, type, vars);
    } catch {
      continue; // medplum would report a processing issue for it; one is enough
    }
    if (!ok) {
      const extra = issue('error', 'invariant', `Constraint ${c.key} not met: ${c.human}`, path);
      extra.diagnostics = `FHIRPath: ${c.expression}`;
      out.push(extra);
    }
  }
  return out;
}

/** The instance value at a medplum path, and for a choice element its concrete type. */
function locate(resource: Json, path: string): { value: unknown; type?: string } | undefined {
  const steps = path.split('.');
  let cur: unknown = resource;
  let type: string | undefined;
  for (let i = 1; i < steps.length; i++) {
    const m = STEP.exec(steps[i]);
    if (!m || !isObject(cur)) return undefined;
    const [, name, index] = m;
    type = undefined;
    let v: unknown;
    if (name.endsWith('[x]')) {
      const key = choiceKey(cur, name.slice(0, -3));
      if (!key) return undefined;
      v = cur[key];
      type = choiceType(key, name.slice(0, -3));
    } else {
      v = cur[name];
    }
    cur = index !== undefined && Array.isArray(v) ? v[Number(index)] : v;
  }
  return cur === undefined ? undefined : { value: cur, type };
}

function choiceKey(obj: Json, base: string): string | undefined {
  return Object.keys(obj).find((k) => k.length > base.length && k.startsWith(base) && /[A-Z]/.test(k[base.length]));
}

function choiceType(key: string, base: string): string {
  const suffix = key.slice(base.length);
  const lower = suffix[0].toLowerCase() + suffix.slice(1);
  return PRIMITIVE_TYPES.has(lower) ? lower : suffix;
}

function refineDiagnostics(d: string | undefined): string | undefined {
  if (!d) return undefined;
  try {
    const parsed = JSON.parse(d) as { fhirpath?: string; error?: unknown };
    if (parsed.fhirpath && !parsed.error) return `FHIRPath: ${parsed.fhirpath}`;
  } catch {
    /* keep medplum's text */
  }
  return d;
}

function lastStep(path: string): string {
  const dot = path.lastIndexOf('.');
  return (dot < 0 ? path : path.slice(dot + 1)).replace(/\[\d+\]$/, '');
}

function card(node: ElementNode): string {
  return `${node.min}..${Number.isFinite(node.max) ? node.max : '*'}`;
}

function refineText(text: string, path: string, node: ElementNode | undefined, sd: CompiledStructure, registry: StructureRegistry): string {
  const where = sd.category === 'core' ? `R4 ${sd.type}` : sd.name;
  if (text === 'Missing required property') {
    if (!node) return `Missing required element ${lastStep(path)}`;
    let s = `Missing required element ${node.name} (${card(node)} in ${where})`;
    const exp = node.binding?.expansion;
    if (exp && exp.codes.size <= 20) s += `; expected one of: ${[...exp.codes].join(', ')}`;
    else if (node.types.length) s += `; expected ${node.types.map((t) => t.code).join(' or ')}`;
    return s;
  }
  let m = /^Invalid additional property "(.+)"$/.exec(text);
  if (m) {
    const parentPath = path.slice(0, path.lastIndexOf('.'));
    const parent = parentPath.includes('.') ? resolveNode(sd, parentPath, registry) : sd.root;
    const names = parent ? childNames(parent, registry) : undefined;
    const known = names ? `; known elements: ${names.join(', ')}` : '';
    return `Unknown element "${m[1]}": not defined ${parent && parent !== sd.root ? `for ${parent.path}` : `in ${where}`}${known}`;
  }
  m = /^Invalid JSON type: expected (\w+), but got (\w+)$/.exec(text);
  if (m) {
    const fhirType = node?.types.length === 1 ? node.types[0].code : undefined;
    return `Wrong type for ${lastStep(path).replace('[x]', '')}: ${fhirType ? `FHIR ${fhirType} is` : 'expected'} a JSON ${m[1]}, found a JSON ${m[2]}`;
  }
  m = /^Invalid (\w+) format$/.exec(text);
  if (m && FORMAT_HINTS[m[1]]) return `Invalid ${m[1]} format; expected ${FORMAT_HINTS[m[1]]}`;
  m = /^Invalid number of values: expected (.+), but found (\d+)$/.exec(text);
  if (m) return `Wrong number of values for ${lastStep(path)}: allowed ${m[1]} in ${where}, found ${m[2]}`;
  if (text === 'Value did not match expected pattern' && node) {
    if (node.fixed !== undefined) return `Value must be exactly ${JSON.stringify(node.fixed)} (fixed in ${where})`;
    if (node.pattern !== undefined) return `Value must match the pattern ${JSON.stringify(node.pattern)} (${where})`;
  }
  if (text === 'Expected array of values for property') return `${lastStep(path)} must be a JSON array (it repeats: ${node ? card(node) : '0..*'})`;
  if (text === 'Expected single value for property') return `${lastStep(path)} must be a single value, not an array`;
  return text;
}

function childNames(node: ElementNode, registry: StructureRegistry): string[] | undefined {
  const own = indexChildren(node);
  if (own) return [...own.names];
  const type = node.types[0]?.code;
  if (!type) return undefined;
  const idx = node === node.sd.root ? indexChildren(node) : registry.typeIndex(type);
  return idx ? [...idx.names] : undefined;
}

const STEP = /^([A-Za-z_][A-Za-z0-9_]*(?:\[x\])?)(?:\[(\d+)\])?$/;

/** The element a medplum path (`Patient.identifier[0].system`) refers to, profile first. */
export function resolveNode(sd: CompiledStructure, path: string, registry: StructureRegistry): ElementNode | undefined {
  const steps = path.split('.');
  let node: ElementNode = sd.root;
  for (let i = 1; i < steps.length; i++) {
    const m = STEP.exec(steps[i]);
    if (!m) return undefined;
    const name = m[1];
    const children = childrenOf(node, registry);
    const next = children?.get(name) ?? children?.get(`${name}[x]`);
    if (!next) return undefined;
    node = next;
  }
  return node;
}

function childrenOf(node: ElementNode, registry: StructureRegistry): ReadonlyMap<string, ElementNode> | undefined {
  if (node.children.size > 0) return node.children;
  if (node.contentReference) {
    const target = node.sd.byId.get(node.contentReference.slice(node.contentReference.indexOf('#') + 1));
    if (target && target.children.size > 0) return target.children;
  }
  const type = node.types.length === 1 ? node.types[0].code : undefined;
  if (!type || PRIMITIVE_TYPES.has(type)) return undefined;
  return registry.coreType(type)?.root.children;
}

/** `Patient.extension[0].value[x]` → `Patient.extension[0].value.ofType(boolean)`, using the instance. */
export function fixChoicePath(path: string, resource: Json): string {
  const at = path.indexOf('[x]');
  if (at < 0) return path;
  const steps = path.split('.');
  let cur: unknown = resource;
  const out: string[] = [steps[0]];
  for (let i = 1; i < steps.length; i++) {
    const step = steps[i];
    const m = STEP.exec(step);
    if (!m) {
      out.push(step);
      cur = undefined;
      continue;
    }
    const [, name, index] = m;
    if (name.endsWith('[x]')) {
      const base = name.slice(0, -3);
      const obj = isObject(cur) ? cur : undefined;
      const key = obj ? choiceKey(obj, base) : undefined;
      if (key && obj) {
        out.push(`${base}.ofType(${choiceType(key, base)})`);
        cur = obj[key];
      } else {
        out.push(base);
        cur = undefined;
      }
    } else {
      out.push(step);
      const v: unknown = isObject(cur) ? cur[name] : undefined;
      cur = index !== undefined && Array.isArray(v) ? v[Number(index)] : v;
    }
  }
  return out.join('.');
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
