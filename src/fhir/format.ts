// FHIR wire formats: which format a request body is in (Content-Type), which one the answer goes out
// in (_format, then Accept), and parsing/serialising both. JSON is parsed by V8 and checked for
// repeated keys by src/util/json-body.ts; XML goes through the `fhir` package (XML ⇄ JSON), behind a
// well-formedness and DOCTYPE gate of our own. No hapi here: the /fhir plugin calls in.
import { createRequire } from 'node:module';
import type { OperationOutcome } from 'fhir/r4.js';
import { Fhir } from 'fhir';
import { ConvertToJs } from 'fhir/convertToJs.js';
import { ConvertToXml } from 'fhir/convertToXml.js';
import { badRequest, issue, notAcceptable, operationOutcome, OutcomeError } from './outcomes.js';
import { NativeApiError } from '../services/errors.js';
import { decodeUtf8Body, parseJsonBody } from '../util/json-body.js';
import { jsonLocator, jsonSyntaxError, locateInJson, positionAt } from './json-locations.js';

export type FhirFormat = 'json' | 'xml';
export const FHIR_JSON = 'application/fhir+json';
export const FHIR_XML = 'application/fhir+xml';

/** Media types a request body may be sent as. */
const REQUEST_TYPES: Readonly<Record<string, FhirFormat>> = {
  'application/fhir+json': 'json',
  'application/json': 'json',
  'application/fhir+xml': 'xml',
  'application/xml': 'xml',
  'text/xml': 'xml',
};
const ACCEPTED_REQUEST_TYPES = Object.keys(REQUEST_TYPES);

/** `_format` values (FHIR http page: the short names and the mime types). */
const FORMAT_PARAMETER: Readonly<Record<string, FhirFormat>> = { json: 'json', xml: 'xml', ...REQUEST_TYPES };
const SUPPORTED_RESPONSE_TYPES = [FHIR_JSON, FHIR_XML, 'application/json', 'application/xml', 'text/xml'];

function splitMediaType(value: string): { type: string; params: Record<string, string> } {
  const [type = '', ...rest] = value.split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"|"$/g, '').toLowerCase();
  }
  return { type: type.trim().toLowerCase(), params };
}

/** Content-Type of a request body → format; anything else (or a charset other than UTF-8) → 415. */
export function requestFormat(contentType: string | undefined): FhirFormat {
  const { type, params } = splitMediaType(contentType ?? '');
  const format = REQUEST_TYPES[type];
  const charset = params.charset;
  if (format && (charset === undefined || charset === 'utf-8' || charset === 'utf8')) return format;
  const sent = contentType?.trim() ? `Content-Type ${contentType.trim()}` : 'No Content-Type';
  const text = `${sent} is not accepted; send the body as one of ${ACCEPTED_REQUEST_TYPES.join(', ')} (UTF-8, no other charset)`;
  throw new OutcomeError(operationOutcome([issue('error', 'not-supported', text)], 'unsupported-media-type'), 415);
}

/** How much an Accept header wants each format (0 = not at all; absent = not covered by any range). */
function qualityOf(accept: string): Map<FhirFormat, number> {
  // For each type we can produce, the q of the most specific range that matches it (RFC 9110 §12.5.1).
  const ranges = accept
    .split(',')
    .map((r) => splitMediaType(r))
    .filter((r) => r.type !== '')
    .map((r) => {
      const q = r.params.q === undefined ? 1 : Number(r.params.q);
      return { type: r.type, q: Number.isFinite(q) ? Math.min(Math.max(q, 0), 1) : 0 };
    });
  const best = new Map<FhirFormat, number>();
  for (const produced of SUPPORTED_RESPONSE_TYPES) {
    const [major] = produced.split('/');
    let specificity = -1;
    let q = 0;
    for (const r of ranges) {
      const s = r.type === produced ? 2 : r.type === `${major}/*` ? 1 : r.type === '*/*' ? 0 : -1;
      if (s > specificity) {
        specificity = s;
        q = r.q;
      }
    }
    const format = REQUEST_TYPES[produced]!;
    if (specificity >= 0) best.set(format, Math.max(best.get(format) ?? 0, q));
  }
  return best;
}

/**
 * Response format: `_format` wins (FHIR http page: it overrides Accept, for clients that cannot set
 * headers), then Accept with q-values and wildcards, else `fallback`. Nothing we can send → 406.
 */
export function responseFormat(accept: string | undefined, format: string | undefined, fallback: FhirFormat = 'json'): FhirFormat {
  if (format !== undefined) {
    // An unencoded `+` in a query string arrives as a space: `_format=application/fhir+xml` → "application/fhir xml".
    const { type } = splitMediaType(format.replace(/ /g, '+'));
    const chosen = FORMAT_PARAMETER[type];
    if (chosen) return chosen;
    throw new OutcomeError(notAcceptable(`_format ${JSON.stringify(format)} is not supported; use json, xml, or one of ${SUPPORTED_RESPONSE_TYPES.join(', ')}`));
  }
  if (accept === undefined || accept.trim() === '') return fallback;
  const q = qualityOf(accept);
  const top = Math.max(0, ...q.values());
  if (top <= 0) {
    throw new OutcomeError(notAcceptable(`Accept ${accept.trim()} names nothing this server sends; accept one of ${SUPPORTED_RESPONSE_TYPES.join(', ')}`));
  }
  // Equal preference: keep the request's own format (or json).
  if (q.get(fallback) === top) return fallback;
  return q.get('json') === top ? 'json' : 'xml';
}

export interface ParsedFhirBody {
  resource: Record<string, unknown>;
  /**
   * line/column (1-based) in the original JSON text of the element named by a FHIRPath such as
   * `Bundle.entry[2].resource.subject.reference`; the nearest existing ancestor when the element is
   * absent; undefined for XML or a path that does not start at the resource.
   */
  locate(expression: string): { line: number; column: number } | undefined;
}

function invalidBody(text: string, diagnostics?: string): OutcomeError {
  const outcome = badRequest(text);
  if (diagnostics) outcome.issue[0]!.diagnostics = diagnostics;
  return new OutcomeError(outcome, 400);
}

function decode(raw: Buffer | string): string {
  let text: string;
  if (typeof raw === 'string') text = raw;
  else {
    try {
      text = decodeUtf8Body(raw);
    } catch (err) {
      if (err instanceof NativeApiError) throw invalidBody('The body is not valid UTF-8; send UTF-8 encoded FHIR JSON or XML');
      throw err;
    }
  }
  // Neither JSON nor XML 1.0 allows a raw NUL anywhere; ASCII text sent as UTF-16 is full of them.
  if (text.includes('\u0000')) throw invalidBody('The body contains NUL characters (UTF-16?); send UTF-8 encoded FHIR JSON or XML');
  // A byte order mark is allowed (RFC 8259 §8.1 lets a parser ignore it) and is invisible in editors.
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function parseJson(text: string): ParsedFhirBody {
  let value: unknown;
  try {
    value = parseJsonBody(text);
  } catch (err) {
    // parseJsonBody answers a nesting too deep for its repeated-key scan itself (native 400); so does a RangeError from elsewhere.
    if (err instanceof RangeError || (err instanceof NativeApiError && /nested too deeply/.test(err.message))) {
      // jsonc-parser walks recursively: nesting deep enough to overflow the stack is no FHIR resource.
      throw invalidBody('The JSON is nested too deeply; a FHIR resource nests objects and arrays at most a few dozen levels');
    }
    if (!(err instanceof NativeApiError)) throw err;
    const repeated = err.problems.filter((p) => /more than once/.test(p.message)).map((p) => p.path);
    if (repeated.length > 0) {
      const root = rootType(text);
      throw new OutcomeError(
        operationOutcome(
          repeated.map((path) => {
            const expression = root ? `${root}${path.startsWith('[') ? '' : '.'}${path}` : path;
            const i = issue('error', 'structure', `The key ${lastKey(path)} appears more than once in one object; JSON.parse would keep only the last. Send each key once per object`, root ? expression : undefined);
            const at = root ? locateInJson(text, expression) : undefined;
            if (at) i.diagnostics = `line ${at.line}, column ${at.column}`;
            return i;
          }),
          'bad-request',
        ),
        400,
      );
    }
    const syntax = jsonSyntaxError(text);
    throw invalidBody(syntax ? `The body is not valid JSON: ${syntax.expected}` : 'The body is not valid JSON (RFC 8259)', syntax ? `line ${syntax.line}, column ${syntax.column}` : undefined);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidBody('The body is JSON but not an object; send one FHIR resource: an object with a resourceType');
  }
  const resourceType = (value as Record<string, unknown>).resourceType;
  if (typeof resourceType !== 'string' || resourceType === '') {
    throw invalidBody('The JSON object has no resourceType; a FHIR resource starts with "resourceType": "<type>", e.g. "ServiceRequest" or "Bundle"');
  }
  return { resource: value as Record<string, unknown>, locate: jsonLocator(text) };
}

/** The top-level resourceType of a JSON text that parsed (for expressions); undefined if absent. */
function rootType(text: string): string | undefined {
  try {
    const t = (JSON.parse(text) as { resourceType?: unknown }).resourceType;
    return typeof t === 'string' && /^[A-Z][A-Za-z]*$/.test(t) ? t : undefined;
  } catch {
    return undefined;
  }
}

function lastKey(path: string): string {
  const m = /(?:\.|^)([A-Za-z0-9_-]+)$/.exec(path) ?? /\["((?:[^"\\]|\\.)*)"\]$/.exec(path);
  return m ? `"${m[1]}"` : path;
}

// ---- XML -----------------------------------------------------------------------------------------
//
// The `fhir` package converts with xml-js, which parses with sax (strict mode). Three things it does
// not do, so they are done here: (1) it swallows sax's errors (a truncated document converts to
// whatever was read), so a sax pass of our own decides well-formedness first; (2) it drops elements
// it does not know without a word, so what came in is compared with what the result would write
// back, and a lost element is a 400 naming it; (3) xml2json crashes on `_given: [null, {…}]`, so
// decimals are taken from its converter directly.
//
// Entities: a DOCTYPE or ENTITY declaration anywhere is refused before any parser runs. Even past
// that check nothing could be expanded: sax keeps a DOCTYPE's internal subset as an uninterpreted
// string (it has no DTD parser) and resolves only a fixed table of named entities (XML's five in our
// pass, which runs first) and numeric character references, each to one character; a reference to a
// declared entity is a strict-mode error ("Invalid character entity"). sax loads no external entity
// or DTD of any kind.

const FHIR_NS = 'http://hl7.org/fhir';
const XHTML_NS = 'http://www.w3.org/1999/xhtml';

// xml-js and sax are the `fhir` package's own dependencies: load exactly the copies it uses.
const requireFromFhir = createRequire(createRequire(import.meta.url).resolve('fhir'));
const xmlJs = requireFromFhir('xml-js') as { xml2js(xml: string, options?: { captureSpacesBetweenElements?: boolean }): XmlNode };
const sax = createRequire(requireFromFhir.resolve('xml-js'))('sax') as SaxModule;

interface XmlNode {
  type?: string;
  name?: string;
  attributes?: Record<string, string>;
  elements?: XmlNode[];
}

interface SaxParser {
  line: number;
  column: number;
  startTagPosition: number;
  onerror: (err: Error) => void;
  onopentag: (tag: { name: string; attributes: Record<string, string> }) => void;
  onclosetag: (name: string) => void;
  ondoctype: () => void;
  write(text: string): SaxParser;
  close(): SaxParser;
}
interface SaxModule {
  parser(strict: boolean, options: Record<string, unknown>): SaxParser;
}

let fhirPackage: { fhir: Fhir; toJs: ConvertToJs; toXml: ConvertToXml } | undefined;
/** The fhir package's R4 definitions load once (about 40 ms), on the first XML body or answer. */
function fhirXml() {
  if (!fhirPackage) {
    const fhir = new Fhir();
    fhirPackage = { fhir, toJs: new ConvertToJs(fhir.parser), toXml: new ConvertToXml(fhir.parser) };
  }
  return fhirPackage;
}

const DECLARATIONS = /<!\s*(?:DOCTYPE|ENTITY)/i;

/** Start offsets of every element, in document order; throws 400 for anything not well-formed. */
function checkWellFormed(text: string): number[] {
  const offsets: number[] = [];
  // strictEntities: only XML's five named entities (sax would otherwise also take HTML's, such as &nbsp;)
  const parser = sax.parser(true, { position: true, strictEntities: true });
  let failure: { message: string; line: number; column: number } | undefined;
  parser.onerror = (err) => {
    failure ??= { message: err.message.split('\n')[0] ?? 'not well-formed', line: parser.line + 1, column: parser.column };
    throw err; // stop at the first error
  };
  parser.ondoctype = () => {
    throw new OutcomeError(badRequest('DOCTYPE and entity declarations are not accepted; send the resource without a DOCTYPE'), 400);
  };
  let depth = 0;
  parser.onopentag = () => {
    // sax lets a second root element through; XML 1.0 has exactly one
    if (depth === 0 && offsets.length > 0) parser.onerror(new Error('More than one root element'));
    depth += 1;
    offsets.push(parser.startTagPosition - 1);
  };
  parser.onclosetag = () => {
    depth -= 1;
  };
  try {
    parser.write(text).close();
  } catch (err) {
    if (err instanceof OutcomeError) throw err;
    if (!failure) throw err;
  }
  if (failure) {
    throw invalidBody(`The body is not well-formed XML (${failure.message.toLowerCase()}); send one FHIR resource as XML 1.0 in the ${FHIR_NS} namespace`, `line ${failure.line}, column ${failure.column}`);
  }
  return offsets;
}

/** Pre-order list of the elements under (and including) `root`, xhtml content counted as elements too. */
function elementsInOrder(root: XmlNode): XmlNode[] {
  const out: XmlNode[] = [];
  const stack: XmlNode[] = [root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    out.push(n);
    const children = (n.elements ?? []).filter((c) => c.type === 'element');
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
  return out;
}

interface Placed {
  node: XmlNode;
  /** FHIRPath-like, e.g. `Bundle.entry[1].resource.subject` */
  expression: string;
}

/**
 * Keys (`entry#1/resource/Patient/name#0`) of every FHIR element under `root`; xhtml content is part
 * of its `div` and not listed. Resource-type elements (inside `resource`, `contained`) add no step to
 * the expression, as in FHIRPath.
 */
function elementKeys(root: XmlNode, rootType: string): Map<string, Placed> {
  const out = new Map<string, Placed>();
  const walk = (node: XmlNode, key: string, expression: string) => {
    const children = (node.elements ?? []).filter((c) => c.type === 'element');
    const total = new Map<string, number>();
    for (const c of children) total.set(c.name!, (total.get(c.name!) ?? 0) + 1);
    const seen = new Map<string, number>();
    for (const c of children) {
      const name = c.name!;
      const n = seen.get(name) ?? 0;
      seen.set(name, n + 1);
      const childKey = `${key}/${name}#${n}`;
      const isResource = /^[A-Z]/.test(name);
      const childExpression = isResource ? expression : `${expression}.${name}${total.get(name)! > 1 ? `[${n}]` : ''}`;
      out.set(childKey, { node: c, expression: childExpression });
      if (name !== 'div') walk(c, childKey, childExpression);
    }
  };
  walk(root, '', rootType);
  return out;
}

/** Replaces the converter's decimal wrappers ({ value: "5.10", toJSON }) by numbers; drops XML comments (`fhir_comments`). */
function tidy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(tidy);
  if (typeof value !== 'object' || value === null) return value;
  const record = value as Record<string, unknown>;
  if (typeof record.toJSON === 'function' && typeof record.value === 'string') return Number(record.value);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) {
    if (k === 'fhir_comments') continue;
    let t = tidy(v);
    if (k.startsWith('_')) {
      // a primitive's `_name` that held only comments: nothing (or a null slot in a list)
      const empty = (x: unknown) => x === null || (typeof x === 'object' && !Array.isArray(x) && Object.keys(x as object).length === 0);
      if (Array.isArray(t)) {
        t = t.map((x) => (empty(x) ? null : x));
        if ((t as unknown[]).every((x) => x === null)) continue;
      } else if (empty(t)) continue;
    }
    out[k] = t;
  }
  return out;
}

// The converter's element-level methods are private in its typings; these are the two used.
interface ElementConverters {
  resourceToJS(element: XmlNode, surroundDecimalsWith: object): unknown;
  resourceToXML(resource: object): { elements: XmlNode[] };
}

function parseFhirXml(text: string): Record<string, unknown> {
  if (DECLARATIONS.test(text)) {
    throw new OutcomeError(badRequest('DOCTYPE and entity declarations are not accepted; send the resource without a DOCTYPE (no entity is ever expanded)'), 400);
  }
  const encoding = /^\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']/.exec(text)?.[1];
  if (encoding !== undefined && !/^utf-?8$/i.test(encoding)) {
    throw invalidBody(`The XML declaration says encoding="${encoding}"; only UTF-8 is accepted`);
  }
  const offsets = checkWellFormed(text);
  // whitespace between elements kept: inside the xhtml narrative (a <pre>, a line between paragraphs) it is content
  const document = xmlJs.xml2js(text, { captureSpacesBetweenElements: true });
  const root = (document.elements ?? []).find((e) => e.type === 'element');
  if (!root?.name) throw invalidBody('The XML has no root element; send one FHIR resource');
  const { fhir, toJs, toXml } = fhirXml();
  const definition = (fhir.parser.parsedStructureDefinitions as Record<string, { _kind?: string }>)[root.name];
  if (root.name.includes(':') || root.attributes?.xmlns !== FHIR_NS || definition?._kind !== 'resource') {
    throw invalidBody(
      `The root element <${root.name}> is not a FHIR R4 resource; the root must be a resource type such as <ServiceRequest> or <Bundle> with xmlns="${FHIR_NS}" (no prefix)`,
    );
  }
  let resource: Record<string, unknown>;
  try {
    resource = tidy((toJs as unknown as ElementConverters).resourceToJS(root, {})) as Record<string, unknown>;
  } catch (err) {
    // The converter's messages name the element's type and value: the client's own data, safe to return.
    throw invalidBody(`The XML could not be read as FHIR R4 ${root.name}: ${(err as Error).message}`);
  }
  // What the converter did not understand it dropped: find it by writing the result back.
  const written = elementKeys((toXml as unknown as ElementConverters).resourceToXML(resource).elements[0]!, root.name);
  const read = elementKeys(root, root.name);
  const position = new Map(elementsInOrder(root).map((node, i) => [node, offsets[i]]));
  const lost: Placed[] = [];
  for (const [key, placed] of read) {
    if (written.has(key)) continue;
    const parentKey = key.slice(0, key.lastIndexOf('/'));
    if (parentKey === '' || written.has(parentKey)) lost.push(placed);
  }
  if (lost.length > 0) {
    throw new OutcomeError(
      operationOutcome(
        lost.map(({ node, expression }) => {
          const i = issue(
            'error',
            'structure',
            `The element <${node.name}> is not an element of FHIR R4 here, or has no value, and would be lost; use the element names of the R4 definition, each with a value attribute or child elements`,
            expression,
          );
          const offset = position.get(node);
          if (offset !== undefined) {
            const at = positionAt(text, offset);
            i.diagnostics = `line ${at.line}, column ${at.column}`;
          }
          return i;
        }),
        'bad-request',
      ),
      400,
    );
  }
  return resource;
}

function toFhirXml(resource: object): string {
  const xml = fhirXml().fhir.objToXml(resource);
  if (typeof xml !== 'string') throw new Error('The resource has no resourceType and cannot be written as XML');
  return xml;
}

/**
 * Decodes (strict UTF-8, no replacement characters) and parses a body. Every refusal is an
 * OutcomeError 400; XML with a DOCTYPE or entity declaration is refused before any parser sees it.
 */
export function parseFhirBody(raw: Buffer | string, format: FhirFormat): ParsedFhirBody {
  const text = decode(raw);
  if (text.trim() === '') throw invalidBody(`The body is empty; send one FHIR resource as ${format === 'json' ? 'JSON' : 'XML'}`);
  if (format === 'json') return parseJson(text);
  return { resource: parseFhirXml(text), locate: () => undefined };
}

/** The resource as FHIR JSON or XML text. */
export function serializeFhir(resource: object, format: FhirFormat): string {
  return format === 'json' ? JSON.stringify(resource) : toFhirXml(resource);
}

const LOCATED = /^line \d+, column \d+/;

/**
 * Copy of `outcome` where each issue with an expression gets `diagnostics: "line L, column C"`
 * (before any diagnostics it had) from where its first expression points in the body. Issues that
 * already carry a location keep it, so applying it twice changes nothing.
 */
export function withLocations(outcome: OperationOutcome, parsed: ParsedFhirBody): OperationOutcome {
  return {
    ...outcome,
    issue: outcome.issue.map((i) => {
      const expression = i.expression?.[0];
      if (i.diagnostics && LOCATED.test(i.diagnostics)) return i;
      const at = expression ? parsed.locate(expression) : undefined;
      if (!at) return i;
      const where = `line ${at.line}, column ${at.column}`;
      return { ...i, diagnostics: i.diagnostics ? `${where}: ${i.diagnostics}` : where };
    }),
  };
}
