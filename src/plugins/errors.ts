import type { Plugin, Request, ResponseToolkit } from '@hapi/hapi';
import { STATUS_CODES } from 'node:http';
import Boom from '@hapi/boom';
import { NativeApiError } from '../services/errors.js';
import { isFhirPath } from './fhir-http.js';

// One place turns every failure into the native API's error body:
// { statusCode, error, message, problems: [{ path, message, allowed }] }.
// A 500 says nothing about internals; the log gets the error (messages only, never a body).

function body(status: number, message: string, problems: unknown[] = []) {
  return { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message, problems };
}

function fromBoom(request: Request, err: Boom.Boom) {
  const status = err.output.statusCode;
  if (status === 413) {
    return body(413, 'The body is larger than this service accepts', [
      { path: '(body)', message: 'too large', allowed: `at most ${request.route.settings.payload?.maxBytes ?? 1048576} bytes` },
    ]);
  }
  if (status === 415) {
    return body(415, 'Unsupported Content-Type', [{ path: '(header) Content-Type', message: `got ${request.headers['content-type'] ?? 'none'}`, allowed: 'application/json' }]);
  }
  if (status >= 500) {
    request.log(['error'], { err: { type: err.name, message: err.message, stack: err.stack } });
    return body(status, 'An internal error occurred; it has been logged. Nothing of this request was stored unless a later read shows it.');
  }
  return body(status, err.output.payload.message);
}

export const errorsPlugin: Plugin<void> = {
  name: 'native-errors',
  register(server) {
    server.ext('onPreResponse', (request: Request, h: ResponseToolkit) => {
      // /fhir answers are OperationOutcomes, written by the fhir-http plugin.
      if (isFhirPath(request.path)) return h.continue;
      const response = request.response;
      if (response instanceof NativeApiError) {
        const r = h.response(body(response.status, response.message, response.problems)).code(response.status);
        for (const [k, v] of Object.entries(response.headers)) r.header(k, v);
        return r;
      }
      if (!Boom.isBoom(response)) return h.continue;
      const err = response as Boom.Boom;
      // An error thrown by a handler that is not ours is a bug: hapi wraps it as a 500.
      const out = h.response(fromBoom(request, err)).code(err.output.statusCode);
      for (const [k, v] of Object.entries(err.output.headers)) out.header(k, String(v));
      return out;
    });
  },
};
