import { describe, expect, it, test } from 'vitest';
import {
  HTTP_ERROR_CODES_SYSTEM,
  OutcomeError,
  allOk,
  badRequest,
  conflict,
  created,
  hasErrors,
  invalid,
  issue,
  normalizeOutcome,
  notFound,
  operationOutcome,
  outcomeToString,
  serverError,
  statusForOutcome,
  tooLarge,
  unsupportedMediaType,
  withNhsErrorCode,
} from '../../../src/fhir/outcomes.js';

describe('issue and operationOutcome', () => {
  it('builds an issue with a FHIRPath expression', () => {
    expect(issue('error', 'required', 'Missing status', 'ServiceRequest.status')).toEqual({
      severity: 'error',
      code: 'required',
      details: { text: 'Missing status' },
      expression: ['ServiceRequest.status'],
    });
    expect(issue('warning', 'informational', 'x')).toEqual({ severity: 'warning', code: 'informational', details: { text: 'x' } });
    expect(issue('error', 'invalid', 'x', ['A.b', 'A.c']).expression).toEqual(['A.b', 'A.c']);
  });

  it('an OperationOutcome always has at least one issue', () => {
    expect(operationOutcome([])).toEqual({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'information', code: 'informational', details: { text: 'All OK' } }],
    });
    const i = issue('error', 'invalid', 'x');
    expect(operationOutcome([i]).issue).toEqual([i]);
  });

  it('hasErrors counts error and fatal only', () => {
    expect(hasErrors([issue('warning', 'invalid', 'x'), issue('information', 'informational', 'y')])).toBe(false);
    expect(hasErrors([issue('fatal', 'structure', 'x')])).toBe(true);
  });
});

describe('named outcomes and their HTTP status', () => {
  test.each([
    ['allOk', allOk(), 200],
    ['created', created(), 201],
    ['badRequest', badRequest('Body is not JSON'), 400],
    ['notFound', notFound('ServiceRequest/1'), 404],
    ['conflict', conflict('Referral PP-1 already exists'), 409],
    ['tooLarge', tooLarge(1_000_000), 413],
    ['unsupportedMediaType', unsupportedMediaType('text/xml', ['application/fhir+json']), 415],
    ['invalid', invalid([issue('error', 'code-invalid', 'bad', 'ServiceRequest.status')]), 422],
    ['serverError', serverError(), 500],
  ])('%s → %i', (_name, outcome, status) => {
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue.length).toBeGreaterThan(0);
    expect(statusForOutcome(outcome)).toBe(status);
    expect(new OutcomeError(outcome).status).toBe(status);
  });

  it('invalid keeps every issue', () => {
    const issues = [issue('error', 'required', 'a', 'X.a'), issue('error', 'value', 'b', 'X.b'), issue('warning', 'invalid', 'c')];
    expect(invalid(issues).issue).toEqual(issues);
  });

  it('texts say what was asked for', () => {
    expect(notFound('ServiceRequest/1').issue[0].details?.text).toBe('Not found: ServiceRequest/1');
    expect(unsupportedMediaType('text/xml', ['application/fhir+json']).issue[0].details?.text).toBe(
      'Unsupported media type: text/xml; supported: application/fhir+json',
    );
    expect(tooLarge(10).issue[0]).toMatchObject({ code: 'too-costly', details: { text: 'Payload too large (limit 10 bytes)' } });
    expect(badRequest('bad', 'Bundle.entry[0]').issue[0].expression).toEqual(['Bundle.entry[0]']);
  });

  it('a server error says nothing about internals', () => {
    const outcome = serverError('req-42');
    expect(outcome.issue).toEqual([{ severity: 'error', code: 'exception', details: { text: 'Internal server error (reference req-42)' } }]);
    expect(JSON.stringify(serverError())).not.toMatch(/stack|Error:/);
  });

  it('without a named id the status follows the issues', () => {
    expect(statusForOutcome(operationOutcome([issue('error', 'exception', 'x')]))).toBe(500);
    expect(statusForOutcome(operationOutcome([issue('error', 'not-found', 'x')]))).toBe(404);
    expect(statusForOutcome(operationOutcome([issue('error', 'duplicate', 'x')]))).toBe(409);
    expect(statusForOutcome(operationOutcome([issue('error', 'invalid', 'x')]))).toBe(400);
    expect(statusForOutcome(operationOutcome([issue('warning', 'invalid', 'x')]))).toBe(200);
  });
});

describe('OutcomeError', () => {
  it('carries outcome, status and cause; its message lists the issues', () => {
    const cause = new Error('db down');
    const e = new OutcomeError(invalid([issue('error', 'required', 'Missing status', 'ServiceRequest.status')]), undefined, { cause });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('OutcomeError');
    expect(e.status).toBe(422);
    expect(e.cause).toBe(cause);
    expect(e.message).toBe('error required: Missing status @ ServiceRequest.status');
    expect(new OutcomeError(badRequest('x'), 418).status).toBe(418);
  });

  it('normalizeOutcome: an OutcomeError keeps its outcome, anything else becomes a bare 500', () => {
    const nf = notFound();
    expect(normalizeOutcome(new OutcomeError(nf))).toEqual({ status: 404, outcome: nf });
    const n = normalizeOutcome(new Error('secret connection string postgres://u:p@h'));
    expect(n.status).toBe(500);
    expect(JSON.stringify(n.outcome)).not.toMatch(/postgres|secret/);
  });

  it('outcomeToString joins issues', () => {
    expect(outcomeToString(operationOutcome([issue('error', 'invalid', 'a', 'X.a'), issue('warning', 'invalid', 'b')]))).toBe(
      'error invalid: a @ X.a; warning invalid: b',
    );
  });
});

describe('NHS England error codes', () => {
  it('adds details.coding to error issues and keeps their text', () => {
    const outcome = withNhsErrorCode(invalid([issue('error', 'code-invalid', 'bad code', 'ServiceRequest.status'), issue('warning', 'invalid', 'w')]));
    expect(outcome.issue[0].details).toEqual({ text: 'bad code', coding: [{ system: HTTP_ERROR_CODES_SYSTEM, code: 'REC_UNPROCESSABLE_ENTITY' }] });
    expect(outcome.issue[1].details).toEqual({ text: 'w' });
  });

  test.each([
    [badRequest('x'), 'REC_BAD_REQUEST'],
    [notFound(), 'REC_NOT_FOUND'],
    [conflict('x'), 'REC_CONFLICT'],
    [serverError(), 'REC_SERVER_ERROR'],
  ])('%# → %s', (outcome, code) => {
    expect(withNhsErrorCode(outcome).issue[0].details?.coding?.[0].code).toBe(code);
  });
});
