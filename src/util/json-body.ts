import { visit } from 'jsonc-parser';
import type { Problem } from '../services/errors.js';
import { NativeApiError } from '../services/errors.js';
import { formatPath } from '../native/problem.js';

/** Media types the native API takes: JSON only, any charset parameter must be utf-8. */
export function checkJsonContentType(contentType: string | undefined): void {
  const [mediaType, ...params] = (contentType ?? '').split(';').map((p) => p.trim().toLowerCase());
  const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/"/g, '');
  if (mediaType !== 'application/json' || (charset && charset !== 'utf-8' && charset !== 'utf8')) {
    throw new NativeApiError(415, `Content-Type ${mediaType || '(none)'} is not accepted`, [
      { path: '(header) Content-Type', message: `got ${mediaType || 'no Content-Type'}`, allowed: 'application/json (UTF-8)' },
    ]);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The body's bytes as text. Bytes that are not UTF-8 (a Latin-1 "ë", say) are refused rather than
 * stored as replacement characters: a name must never be changed on its way in.
 */
export function decodeUtf8Body(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new NativeApiError(400, 'The body is not valid UTF-8', [{ path: '(body)', message: 'contains bytes that are not UTF-8', allowed: 'UTF-8 encoded JSON' }]);
  }
}

/** Parses a request body, answering 400 with the line and column of a syntax error, or the path of a repeated key. */
export function parseJsonBody(raw: string): unknown {
  if (raw.trim() === '') throw new NativeApiError(400, 'The body is empty', [{ path: '(body)', message: 'no content', allowed: 'a JSON object' }]);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    // V8's own message may quote the input (patient data), so only the position is passed on.
    const reason = /end of JSON input/.test((err as Error).message) ? 'the JSON ends too early (truncated?)' : 'not valid JSON';
    const problem: Problem = { path: '(body)', message: reason, allowed: 'a JSON document (RFC 8259)' };
    const position = /position (\d+)/.exec((err as Error).message);
    if (position) {
      const offset = Number(position[1]);
      const before = raw.slice(0, offset);
      const line = before.split('\n').length;
      const column = offset - before.lastIndexOf('\n');
      problem.message = `${reason} at line ${line}, column ${column}`;
    }
    throw new NativeApiError(400, 'The body is not valid JSON', [problem]);
  }
  let repeated: string[];
  try {
    repeated = repeatedKeys(raw);
  } catch (err) {
    // The scan is recursive: a body nested hundreds of thousands deep would overflow the stack.
    if (!(err instanceof RangeError)) throw err;
    throw new NativeApiError(400, 'The body is nested too deeply', [{ path: '(body)', message: 'nested too deeply to read', allowed: 'a JSON object nested to a sensible depth' }]);
  }
  if (repeated.length > 0) {
    throw new NativeApiError(
      400,
      'The body repeats a key',
      repeated.map((path) => ({ path, message: 'this key appears more than once in its object; JSON.parse would silently keep only the last', allowed: 'each key once per object' })),
    );
  }
  return value;
}

/** JSON paths of keys that appear twice in one object (RFC 8259 leaves their meaning open). */
function repeatedKeys(raw: string): string[] {
  const found: string[] = [];
  const objects: Array<Set<string>> = [];
  visit(raw, {
    onObjectBegin: () => {
      objects.push(new Set());
    },
    onObjectEnd: () => {
      objects.pop();
    },
    onObjectProperty: (property, _offset, _length, _line, _column, pathSupplier) => {
      const keys = objects[objects.length - 1];
      if (!keys) return;
      if (keys.has(property)) found.push(formatPath([...pathSupplier(), property]));
      keys.add(property);
    },
  });
  return found;
}
