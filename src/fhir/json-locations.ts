// Where things are in a JSON body: the line and column of a syntax error (with what was expected
// there), and of the element a FHIRPath such as `Bundle.entry[2].resource.subject.reference` names,
// so that an OperationOutcome can say "line 41, column 9" next to its expression.
import { parse, parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';

export interface Position {
  line: number;
  column: number;
}

/** 1-based line and column (in UTF-16 code units, as editors count) of `offset`. */
export function positionAt(text: string, offset: number): Position {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line += 1;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

const EXPECTED: Readonly<Record<string, string>> = {
  InvalidSymbol: 'a JSON value was expected here: a string in double quotes, a number, true, false, null, an object or an array (single quotes, comments and bare words are not JSON)',
  InvalidNumberFormat: 'a number in JSON form was expected (e.g. 12, -3.5, 1e3; no leading zeros, NaN or Infinity)',
  UnexpectedEndOfNumber: 'a number in JSON form was expected (e.g. 12, -3.5, 1e3; digits after the point and the exponent)',
  PropertyNameExpected: 'a property name in double quotes was expected (a comma before "}" is not allowed)',
  ValueExpected: 'a value was expected (a comma before "]" or "}", or a missing value, is not allowed)',
  ColonExpected: 'a ":" was expected after the property name',
  CommaExpected: 'a "," was expected between two members or elements',
  CloseBraceExpected: 'a "}" was expected to close the object',
  CloseBracketExpected: 'a "]" was expected to close the array',
  EndOfFileExpected: 'the end of the body was expected: only one JSON value may be sent',
  InvalidCommentToken: 'comments are not allowed in JSON',
  UnexpectedEndOfComment: 'comments are not allowed in JSON',
  UnexpectedEndOfString: 'a closing double quote was expected to end the string',
  InvalidUnicode: 'a \\u escape with four hexadecimal digits was expected',
  InvalidEscapeCharacter: 'one of the escapes \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX was expected',
  InvalidCharacter: 'control characters (tab, line break …) inside a string must be escaped, e.g. \\t or \\n',
};

/**
 * The first syntax error of a text that JSON.parse refused: where, and what was expected there.
 * jsonc-parser (strict options) names the expectation; undefined if it finds no fault.
 */
export function jsonSyntaxError(text: string): (Position & { expected: string }) | undefined {
  const errors: ParseError[] = [];
  parse(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const first = errors[0];
  if (!first) return undefined;
  const code = printParseErrorCode(first.error);
  let expected = EXPECTED[code] ?? 'valid JSON (RFC 8259) was expected';
  if (first.offset + first.length >= text.trimEnd().length) expected = `the JSON ends too early (truncated?): ${expected}`;
  return { ...positionAt(text, first.offset), expected };
}

interface Step {
  name: string;
  index?: number;
  /** a function call such as ofType(dateTime); `name` is the function, `arg` its argument */
  fn?: boolean;
  arg?: string;
}

const IDENT = /^(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]*`)/;

/** `Bundle.entry[2].resource.ofType(Patient).name` → steps; parsing stops at anything else. */
function steps(expression: string): Step[] {
  const out: Step[] = [];
  let rest = expression.trim();
  while (rest.length > 0) {
    const m = IDENT.exec(rest);
    if (!m) break;
    const step: Step = { name: m[0].replace(/`/g, '') };
    rest = rest.slice(m[0].length);
    if (rest.startsWith('(')) {
      const close = rest.indexOf(')');
      if (close < 0) break;
      step.fn = true;
      step.arg = rest.slice(1, close).trim();
      rest = rest.slice(close + 1);
    }
    const idx = /^\[(\d+)\]/.exec(rest);
    if (idx) {
      step.index = Number(idx[1]);
      rest = rest.slice(idx[0].length);
    }
    out.push(step);
    if (!rest.startsWith('.')) break;
    rest = rest.slice(1);
  }
  return out;
}

/** The value node of the last property called `key` in an object node (the last, so a repeated key points at the repeat). */
function property(object: Node, key: string): Node | undefined {
  let found: Node | undefined;
  for (const p of object.children ?? []) if (p.children?.[0]?.value === key) found = p;
  return found;
}

function choiceProperty(object: Node, name: string, type?: string): Node | undefined {
  if (type) return property(object, name + type.charAt(0).toUpperCase() + type.slice(1));
  const matches = (object.children ?? []).filter((p) => {
    const k = p.children?.[0]?.value;
    return typeof k === 'string' && k.length > name.length && k.startsWith(name) && /[A-Z]/.test(k.charAt(name.length));
  });
  return matches.length === 1 ? matches[0] : undefined;
}

/**
 * Finds the offset of the element a FHIRPath names in a parsed JSON tree, or of the nearest
 * ancestor that exists. Knows FHIR JSON's quirks: choice elements (`occurrence` → `occurrenceDateTime`,
 * or `.ofType(dateTime)`), primitive extensions (`birthDate.extension` → `_birthDate.extension`).
 */
function offsetOf(root: Node, expression: string): number | undefined {
  const list = steps(expression);
  if (list.length === 0 || root.type !== 'object') return undefined;
  const rootType = property(root, 'resourceType')?.children?.[1]?.value;
  let i = 0;
  if (/^[A-Z]/.test(list[0]!.name) && !list[0]!.fn) {
    if (list[0]!.name !== rootType) return undefined;
    i = 1;
  }
  let node: Node = root;
  let at = root.offset;
  // the object and key a primitive came from, to find its `_key` sibling
  let origin: { parent: Node; key: string; index?: number } | undefined;
  for (; i < list.length; i++) {
    const step = list[i]!;
    if (step.fn) {
      if (step.name === 'ofType' || step.name === 'resolve') continue;
      if (step.name === 'first' && node.type === 'array' && node.children?.[0]) {
        node = node.children[0];
        at = node.offset;
        continue;
      }
      break;
    }
    if (node.type === 'array') {
      // an unindexed step through a one-element array is unambiguous
      if (node.children?.length !== 1) break;
      node = node.children[0]!;
    }
    if (node.type !== 'object' && origin && (step.name === 'extension' || step.name === 'id')) {
      // a primitive's id and extensions live in `_name` beside it
      let shadow = property(origin.parent, `_${origin.key}`)?.children?.[1];
      if (shadow && origin.index !== undefined) shadow = shadow.type === 'array' ? shadow.children?.[origin.index] : undefined;
      if (!shadow || shadow.type !== 'object') break;
      node = shadow;
    }
    if (node.type !== 'object') break;
    const next = list[i + 1];
    const ofType = next?.fn && next.name === 'ofType' ? next.arg : undefined;
    const prop = property(node, step.name) ?? choiceProperty(node, step.name, ofType);
    if (!prop) break;
    const key = prop.children?.[0]?.value as string;
    let value = prop.children?.[1];
    if (!value) break;
    at = prop.offset;
    origin = { parent: node, key };
    if (step.index !== undefined) {
      if (value.type !== 'array') {
        if (step.index !== 0) break;
      } else {
        const item = value.children?.[step.index];
        if (!item) break;
        value = item;
        at = item.offset;
        origin.index = step.index;
      }
    }
    node = value;
  }
  return at;
}

/** A locator over one JSON text; the tree is built on the first call only (most bodies have no errors). */
export function jsonLocator(text: string): (expression: string) => Position | undefined {
  let root: Node | undefined | null = null;
  return (expression) => {
    if (root === null) {
      try {
        root = parseTree(text, [], { disallowComments: true });
      } catch {
        root = undefined; // nesting deep enough to overflow the stack: no positions
      }
    }
    if (!root) return undefined;
    const offset = offsetOf(root, expression);
    return offset === undefined ? undefined : positionAt(text, offset);
  };
}

/** One-off: position of the element `expression` names in `text`. */
export function locateInJson(text: string, expression: string): Position | undefined {
  return jsonLocator(text)(expression);
}
