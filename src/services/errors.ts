import type { Problem } from '../native/problem.js';

/** One problem with a native request: where, what was wrong, what is allowed (one shape for every answer). */
export type { Problem };

/**
 * The single error type native-API services throw. The errors plugin turns it into the HTTP answer;
 * services never import hapi.
 */
export class NativeApiError extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 412 | 413 | 415 | 422 | 503,
    message: string,
    readonly problems: Problem[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'NativeApiError';
  }
}
