import type { Problem } from '../services/errors.js';
import { NativeApiError } from '../services/errors.js';

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

/** Parses a request body, answering 400 with the line and column of a syntax error. */
export function parseJsonBody(raw: string): unknown {
  if (raw.trim() === '') throw new NativeApiError(400, 'The body is empty', [{ path: '(body)', message: 'no content', allowed: 'a JSON object' }]);
  try {
    return JSON.parse(raw);
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
}
