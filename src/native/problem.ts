// One problem found in a native request body (400 / 422 answers list every one of them).

/**
 * `path` is a JSON path into the body (`patient.nhsNumber`, `assessments[0].answers.9`; `(body)` is the
 * body itself, as elsewhere in the native API); `message` says what was wrong and is the ONLY field that may quote the value sent
 * (which can be patient data); `allowed` says what is allowed and never quotes what was sent.
 */
export interface Problem {
  path: string;
  message: string;
  allowed: string;
}

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/** `['assessments', 0, 'answers', '9']` → `assessments[0].answers.9`; `[]` → `(body)`. */
export function formatPath(segments: ReadonlyArray<string | number>): string {
  let out = '';
  for (const seg of segments) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out === '' ? '(body)' : out;
}

/** A short rendering of a value for a problem message: `"abc"`, `42`, `true`, `null`, `an array`, `an object`. */
export function showValue(value: unknown, maxChars = 80): string {
  if (typeof value === 'string') {
    const quoted = JSON.stringify(value);
    return quoted.length <= maxChars ? quoted : `${quoted.slice(0, maxChars - 4)}…" (${value.length} characters)`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

/** The JSON type of a value with an article, with the value itself for scalars: `the string "2"`, `the number 4`, `an array`. */
export function showTyped(value: unknown): string {
  if (typeof value === 'string') return `the string ${showValue(value)}`;
  if (typeof value === 'number') return `the number ${showValue(value)}`;
  if (typeof value === 'boolean') return `the boolean ${showValue(value)}`;
  return showValue(value);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
