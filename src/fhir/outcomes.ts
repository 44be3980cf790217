// The one module that builds OperationOutcomes (in the style of medplum packages/core/src/outcomes.ts):
// named outcomes, one error class, one outcome → HTTP status mapping. Routes, services and the
// validator all go through here, so a client sees the same shape whichever layer said no.
import type { CodeableConcept, OperationOutcome, OperationOutcomeIssue } from 'fhir/r4.js';

export type Issue = OperationOutcomeIssue;
export type IssueSeverity = Issue['severity'];
export type IssueCode = Issue['code'];

/** NHS England error-code system used by BaRS and other national APIs (details.coding). */
export const HTTP_ERROR_CODES_SYSTEM = 'https://fhir.nhs.uk/Codesystem/http-error-codes';

// The outcome id carries the HTTP meaning (as in medplum), so the status survives JSON round trips
// and `statusForOutcome` needs nothing but the outcome itself.
const OK_ID = 'ok';
const CREATED_ID = 'created';
const NOT_FOUND_ID = 'not-found';
const INVALID_ID = 'invalid';
const BAD_REQUEST_ID = 'bad-request';
const CONFLICT_ID = 'conflict';
const METHOD_NOT_ALLOWED_ID = 'method-not-allowed';
const NOT_ACCEPTABLE_ID = 'not-acceptable';
const PRECONDITION_FAILED_ID = 'precondition-failed';
const UNSUPPORTED_MEDIA_TYPE_ID = 'unsupported-media-type';
const TOO_LARGE_ID = 'too-large';
const SERVER_ERROR_ID = 'server-error';

const STATUS_BY_ID: Readonly<Record<string, number>> = {
  [OK_ID]: 200,
  [CREATED_ID]: 201,
  [BAD_REQUEST_ID]: 400,
  [NOT_FOUND_ID]: 404,
  [METHOD_NOT_ALLOWED_ID]: 405,
  [NOT_ACCEPTABLE_ID]: 406,
  [CONFLICT_ID]: 409,
  [PRECONDITION_FAILED_ID]: 412,
  [TOO_LARGE_ID]: 413,
  [UNSUPPORTED_MEDIA_TYPE_ID]: 415,
  [INVALID_ID]: 422,
  [SERVER_ERROR_ID]: 500,
};

/** One issue. `expression` is a FHIRPath location (or several), e.g. `Patient.identifier[0].value`. */
export function issue(
  severity: IssueSeverity,
  code: IssueCode,
  text: string,
  expression?: string | readonly string[],
): Issue {
  const out: Issue = { severity, code, details: { text } };
  if (expression !== undefined) {
    const list = typeof expression === 'string' ? [expression] : [...expression];
    if (list.length > 0) out.expression = list;
  }
  return out;
}

/** An OperationOutcome holding `issues`; an empty list becomes the informational "All OK" issue. */
export function operationOutcome(issues: readonly Issue[], id?: string): OperationOutcome {
  const outcome: OperationOutcome = {
    resourceType: 'OperationOutcome',
    issue: issues.length > 0 ? [...issues] : [issue('information', 'informational', 'All OK')],
  };
  if (id !== undefined) outcome.id = id;
  return outcome;
}

export function isErrorIssue(i: Issue): boolean {
  return i.severity === 'error' || i.severity === 'fatal';
}

export function hasErrors(issues: readonly Issue[]): boolean {
  return issues.some(isErrorIssue);
}

export function isOperationOutcome(value: unknown): value is OperationOutcome {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { resourceType?: unknown }).resourceType === 'OperationOutcome'
  );
}

// ---- named outcomes -------------------------------------------------------------------------------

export function allOk(): OperationOutcome {
  return operationOutcome([issue('information', 'informational', 'All OK')], OK_ID);
}

export function created(): OperationOutcome {
  return operationOutcome([issue('information', 'informational', 'Created')], CREATED_ID);
}

/** 404. `what` names the thing looked for, e.g. `ServiceRequest/123`. */
export function notFound(what?: string): OperationOutcome {
  return operationOutcome([issue('error', 'not-found', what ? `Not found: ${what}` : 'Not found')], NOT_FOUND_ID);
}

/** 422: the content parsed but breaks a profile or rule; carries every issue found. */
export function invalid(issues: readonly Issue[]): OperationOutcome {
  const list = issues.length > 0 ? issues : [issue('error', 'invalid', 'Invalid resource')];
  return operationOutcome(list, INVALID_ID);
}

/** 400: the request itself is malformed (bad JSON, bad parameter, wrong resource type …). */
export function badRequest(text: string, expression?: string | readonly string[]): OperationOutcome {
  return operationOutcome([issue('error', 'invalid', text, expression)], BAD_REQUEST_ID);
}

/** 409, e.g. a duplicate submission or a version clash. */
export function conflict(text: string, expression?: string | readonly string[]): OperationOutcome {
  return operationOutcome([issue('error', 'conflict', text, expression)], CONFLICT_ID);
}

/** 405: the path exists but not with this method. `allowed` lists the methods it takes. */
export function methodNotAllowed(method: string, path: string, allowed?: readonly string[]): OperationOutcome {
  let text = `${method.toUpperCase()} is not supported on ${path}`;
  if (allowed && allowed.length > 0) text += `; allowed: ${allowed.join(', ')}`;
  return operationOutcome([issue('error', 'not-supported', text)], METHOD_NOT_ALLOWED_ID);
}

/** 406: nothing the client accepts (Accept, `_format`) can be sent. */
export function notAcceptable(text: string): OperationOutcome {
  return operationOutcome([issue('error', 'not-supported', text)], NOT_ACCEPTABLE_ID);
}

/** 412, e.g. a stale If-Match or an If-None-Exist matching several resources. */
export function preconditionFailed(text: string, expression?: string | readonly string[]): OperationOutcome {
  return operationOutcome([issue('error', 'conflict', text, expression)], PRECONDITION_FAILED_ID);
}

/** 415. */
export function unsupportedMediaType(contentType?: string, supported?: readonly string[]): OperationOutcome {
  let text = contentType ? `Unsupported media type: ${contentType}` : 'Unsupported media type';
  if (supported && supported.length > 0) text += `; supported: ${supported.join(', ')}`;
  return operationOutcome([issue('error', 'not-supported', text)], UNSUPPORTED_MEDIA_TYPE_ID);
}

/** 413. */
export function tooLarge(limitBytes?: number): OperationOutcome {
  const text = limitBytes !== undefined ? `Payload too large (limit ${limitBytes} bytes)` : 'Payload too large';
  return operationOutcome([issue('error', 'too-costly', text)], TOO_LARGE_ID);
}

/**
 * 500. Deliberately takes no error: a client never sees internal detail. Log the cause where it is
 * caught; `reference` (e.g. the request id) lets an operator find that log line.
 */
export function serverError(reference?: string): OperationOutcome {
  const text = reference ? `Internal server error (reference ${reference})` : 'Internal server error';
  return operationOutcome([issue('error', 'exception', text)], SERVER_ERROR_ID);
}

// ---- status mapping -----------------------------------------------------------------------------

/**
 * The HTTP status for an outcome: by its named-outcome id when it has one, otherwise from its
 * issues (an `exception` → 500, `not-found` → 404, `conflict`/`duplicate` → 409, any other error
 * → 400, no error → 200).
 */
export function statusForOutcome(outcome: OperationOutcome): number {
  const byId = outcome.id !== undefined ? STATUS_BY_ID[outcome.id] : undefined;
  if (byId !== undefined) return byId;
  const errors = (outcome.issue ?? []).filter(isErrorIssue);
  if (errors.length === 0) return 200;
  const codes = new Set(errors.map((i) => i.code));
  if (codes.has('exception')) return 500;
  if (codes.has('not-found')) return 404;
  if (codes.has('conflict') || codes.has('duplicate')) return 409;
  if (codes.has('too-costly')) return 413;
  return 400;
}

/** Error carrying an OperationOutcome and its HTTP status; the errors plugin turns it into a response. */
export class OutcomeError extends Error {
  readonly status: number;
  readonly outcome: OperationOutcome;
  /** HTTP headers the answer must carry, e.g. Retry-After on a 503 */
  readonly headers: Readonly<Record<string, string>>;

  constructor(outcome: OperationOutcome, status?: number, options?: { cause?: unknown; headers?: Record<string, string> }) {
    super(outcomeToString(outcome), options);
    this.name = 'OutcomeError';
    this.outcome = outcome;
    this.status = status ?? statusForOutcome(outcome);
    this.headers = options?.headers ?? {};
  }
}

/**
 * The OperationOutcome for anything thrown: an OutcomeError's own outcome, otherwise a bare 500
 * (the thrown value may hold internals, so none of it is copied).
 */
export function normalizeOutcome(err: unknown): { status: number; outcome: OperationOutcome } {
  if (err instanceof OutcomeError) return { status: err.status, outcome: err.outcome };
  return { status: 500, outcome: serverError() };
}

// ---- NHS England error codes (BaRS and other national APIs) ---------------------------------------

const REC_CODE_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'REC_BAD_REQUEST',
  401: 'REC_UNAUTHORIZED',
  403: 'REC_FORBIDDEN',
  404: 'REC_NOT_FOUND',
  406: 'REC_NOT_ACCEPTABLE',
  408: 'REC_TIMEOUT',
  409: 'REC_CONFLICT',
  413: 'REC_BAD_REQUEST',
  415: 'REC_BAD_REQUEST',
  422: 'REC_UNPROCESSABLE_ENTITY',
  500: 'REC_SERVER_ERROR',
  501: 'REC_NOT_IMPLEMENTED',
  503: 'REC_SERVICE_UNAVAILABLE',
};

/** The receiver-side NHS error code for an HTTP status (`REC_…`), defaulting by class. */
export function receiverErrorCode(status: number): string {
  return REC_CODE_BY_STATUS[status] ?? (status >= 500 ? 'REC_SERVER_ERROR' : 'REC_BAD_REQUEST');
}

/**
 * A copy of `outcome` whose error issues also carry `details.coding` from the NHS http-error-codes
 * system (as BaRS requires), keeping each issue's text.
 */
export function withNhsErrorCode(outcome: OperationOutcome, status = statusForOutcome(outcome)): OperationOutcome {
  const code = receiverErrorCode(status);
  return {
    ...outcome,
    issue: (outcome.issue ?? []).map((i) => {
      if (!isErrorIssue(i)) return i;
      const details: CodeableConcept = {
        ...i.details,
        coding: [{ system: HTTP_ERROR_CODES_SYSTEM, code }],
      };
      return { ...i, details };
    }),
  };
}

// ---- text ---------------------------------------------------------------------------------------

export function issueToString(i: Issue): string {
  let s = `${i.severity} ${i.code}: ${i.details?.text ?? i.diagnostics ?? 'no detail'}`;
  if (i.expression?.length) s += ` @ ${i.expression.join(', ')}`;
  return s;
}

export function outcomeToString(outcome: OperationOutcome): string {
  const issues = outcome.issue ?? [];
  return issues.length > 0 ? issues.map(issueToString).join('; ') : 'Unknown error';
}
