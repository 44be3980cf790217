// The HTTP side of the FHIR front door, for every path under /fhir: content negotiation before any
// handler runs, BaRS request ids echoed, and every answer (resources and errors alike) written as
// FHIR JSON or XML. Routes return resources and throw OutcomeErrors; they never format anything.
import { randomUUID } from 'node:crypto';
import type { Lifecycle, Plugin, Request, ResponseObject, ResponseToolkit } from '@hapi/hapi';
import Boom from '@hapi/boom';
import type { OperationOutcome } from 'fhir/r4.js';
import {
  FHIR_JSON,
  FHIR_XML,
  parseFhirBody,
  requestFormat,
  responseFormat,
  serializeFhir,
  withLocations,
  type FhirFormat,
  type ParsedFhirBody,
} from '../fhir/format.js';
import {
  badRequest,
  issue,
  methodNotAllowed,
  operationOutcome,
  OutcomeError,
  serverError,
  tooLarge,
  unsupportedMediaType,
  withNhsErrorCode,
} from '../fhir/outcomes.js';

declare module '@hapi/hapi' {
  interface RequestApplicationState {
    /** the format every /fhir answer is written in (set before the handler runs) */
    fhirFormat?: FhirFormat;
    /** X-Request-ID as sent, or the one this server assigned */
    requestId?: string;
    /** the body as readFhirBody parsed it, so that error answers can point into it */
    fhirBody?: ParsedFhirBody;
  }
}

/** `/fhir` and everything under it. */
export function isFhirPath(path: string): boolean {
  return path === '/fhir' || path.startsWith('/fhir/');
}

const CONTENT_TYPE: Readonly<Record<FhirFormat, string>> = {
  json: `${FHIR_JSON}; charset=utf-8`,
  xml: `${FHIR_XML}; charset=utf-8`,
};

function header(request: Request, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/** A FHIR resource: an object with a string resourceType. */
function isResource(value: unknown): value is { resourceType: string } {
  return typeof value === 'object' && value !== null && !Buffer.isBuffer(value) && typeof (value as { resourceType?: unknown }).resourceType === 'string';
}

/**
 * The body of a /fhir request, parsed by its Content-Type (415 if not FHIR JSON or XML, 400 if it
 * does not parse). Routes that read a body are configured with
 * `payload: { parse: false, output: 'data', maxBytes }`, so the payload is the raw bytes. Error
 * answers to the request then get "line L, column C" for each issue whose expression points into it.
 */
export function readFhirBody(request: Request): ParsedFhirBody {
  const format = requestFormat(header(request, 'content-type'));
  const payload = request.payload as unknown;
  if (payload !== null && payload !== undefined && !Buffer.isBuffer(payload) && typeof payload !== 'string') {
    // a route configured with parse: true would hand over an object and lose line/column and repeated keys
    throw new Error('readFhirBody needs the raw payload: configure the route with payload: { parse: false, output: "data" }');
  }
  const parsed = parseFhirBody(payload ?? '', format);
  request.app.fhirBody = parsed;
  return parsed;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

function matches(request: Request, method: (typeof METHODS)[number]): boolean {
  try {
    return request.server.match(method, request.path) !== null;
  } catch {
    return false; // a path hapi's router calls invalid
  }
}

/** The OperationOutcome and status for an error hapi or a handler produced. */
function outcomeForError(request: Request, err: Boom.Boom): { status: number; outcome: OperationOutcome; headers?: Record<string, string> } {
  if (err instanceof OutcomeError) return { status: err.status, outcome: err.outcome, headers: { ...err.headers } };
  const status = err.output.statusCode;
  const where = `${request.method.toUpperCase()} ${request.path}`;
  if (status === 404 && (request.route.method as string) === '_special') {
    // No route matched. Hapi says 404 even when the path exists with other methods; FHIR says 405.
    const allowed: string[] = METHODS.filter((m) => m !== request.method.toUpperCase() && matches(request, m));
    if (allowed.length > 0) return { status: 405, outcome: methodNotAllowed(request.method, request.path, allowed), headers: { Allow: allowed.join(', ') } };
    const text = `There is no FHIR endpoint at ${where}; GET /fhir/metadata lists the resource types, interactions and operations this server supports`;
    return { status, outcome: operationOutcome([issue('error', 'not-found', text)], 'not-found') };
  }
  if (status === 404) return { status, outcome: operationOutcome([issue('error', 'not-found', err.output.payload.message)], 'not-found') };
  if (status === 405) {
    const allow = typeof err.output.headers.Allow === 'string' ? err.output.headers.Allow.split(/,\s*/) : undefined;
    return { status, outcome: methodNotAllowed(request.method, request.path, allow) };
  }
  if (status === 413) {
    const limit = request.route.settings.payload?.maxBytes;
    return { status, outcome: tooLarge(typeof limit === 'number' ? limit : undefined) };
  }
  if (status === 415) {
    return { status, outcome: unsupportedMediaType(header(request, 'content-type') ?? '(none)', [FHIR_JSON, 'application/json', FHIR_XML, 'application/xml', 'text/xml']) };
  }
  if (status >= 500) {
    // The log gets what went wrong (never the body or query, which may hold patient data); the
    // client gets only a reference to that log line.
    request.log(['error'], { err: { type: err.name, message: err.message, stack: err.stack }, requestId: request.app.requestId });
    return { status, outcome: serverError(request.app.requestId) };
  }
  if (status === 400) return { status, outcome: badRequest(`The request could not be read: ${err.output.payload.message}`) };
  // Any other client error hapi raises (401, 408 …): its own wording, which never quotes the request.
  return { status, outcome: operationOutcome([issue('error', status === 408 ? 'timeout' : 'processing', err.output.payload.message)]) };
}

function withRequestIds(request: Request, response: ResponseObject): ResponseObject {
  if (request.app.requestId) response.header('X-Request-ID', request.app.requestId);
  const correlation = header(request, 'x-correlation-id');
  if (correlation) response.header('X-Correlation-ID', correlation);
  return response;
}

/** An error outcome as sent: NHS error codes (BaRS) and, for a JSON body, where each issue points. */
function errorOutcome(request: Request, outcome: OperationOutcome, status: number): OperationOutcome {
  const located = request.app.fhirBody ? withLocations(outcome, request.app.fhirBody) : outcome;
  return withNhsErrorCode(located, status);
}

function written(request: Request, h: ResponseToolkit, resource: object, status: number, headers: Record<string, unknown> = {}): ResponseObject {
  const format = request.app.fhirFormat ?? 'json';
  const out = h.response(serializeFhir(resource, format)).code(status);
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'content-type' || value === undefined) continue;
    out.header(name, Array.isArray(value) ? value.join(', ') : String(value));
  }
  out.type(CONTENT_TYPE[format]);
  return withRequestIds(request, out);
}

const onRequest: Lifecycle.Method = (request, h) => {
  if (!isFhirPath(request.path)) return h.continue;
  request.app.requestId = header(request, 'x-request-id') ?? randomUUID();
  // The body's own format is the default answer format (FHIR http page), else JSON.
  let fallback: FhirFormat = 'json';
  try {
    fallback = requestFormat(header(request, 'content-type'));
  } catch {
    // not a FHIR body (or none): the route answers 415 if it needs one
  }
  const formatParameter = request.url.searchParams.get('_format') ?? undefined;
  try {
    request.app.fhirFormat = responseFormat(header(request, 'accept'), formatParameter, fallback);
  } catch (err) {
    if (!(err instanceof OutcomeError)) throw err;
    // Answered before any handler runs, so nothing of the request is stored; in JSON, as nothing
    // the client asked for can be sent.
    request.app.fhirFormat = 'json';
    return written(request, h, withNhsErrorCode(err.outcome, err.status), err.status).takeover();
  }
  return h.continue;
};

const onPreResponse: Lifecycle.Method = (request, h) => {
  if (!isFhirPath(request.path)) return h.continue;
  try {
    return answer(request, h);
  } catch (err) {
    // A resource that cannot be written (in XML, say) is our bug: a 500 in JSON, never a half answer.
    const e = err as Error;
    request.log(['error'], { err: { type: e.name, message: e.message, stack: e.stack }, requestId: request.app.requestId });
    request.app.fhirFormat = 'json';
    return written(request, h, withNhsErrorCode(serverError(request.app.requestId), 500), 500);
  }
};

function answer(request: Request, h: ResponseToolkit): Lifecycle.ReturnValue {
  const response = request.response;
  if (!response) return h.continue;
  if (Boom.isBoom(response)) {
    const { status, outcome, headers } = outcomeForError(request, response);
    return written(request, h, errorOutcome(request, outcome, status), status, { ...response.output.headers, ...headers });
  }
  const source = response.source;
  if (!isResource(source)) return withRequestIds(request, response);
  const status = response.statusCode;
  const resource = status >= 400 && source.resourceType === 'OperationOutcome' ? errorOutcome(request, source as OperationOutcome, status) : source;
  return written(request, h, resource, status, response.headers);
}

export const fhirHttpPlugin: Plugin<void> = {
  name: 'fhir-http',
  register(server) {
    server.ext('onRequest', onRequest);
    server.ext('onPreResponse', onPreResponse);
  },
};
