import type { Request, ResponseToolkit, ServerRoute } from '@hapi/hapi';
import Joi from 'joi';
import { NativeApiError } from '../services/errors.js';
import { type ReferralService, referralView } from '../services/referrals.service.js';
import type { AssessmentService } from '../services/assessments.service.js';
import { checkJsonContentType, decodeUtf8Body } from '../util/json-body.js';
import { isValidNhsNumber } from '../fhir/nhs-number.js';
import { ID_PATTERN, parseDateTime } from '../native/formats.js';

export interface NativeRouteDeps {
  referrals: ReferralService;
  assessments: AssessmentService;
  maxBodyBytes: number;
}

const listQuery = Joi.object({
  status: Joi.string().valid('active', 'on-hold', 'completed', 'cancelled', 'entered-in-error'),
  kind: Joi.string().valid('new', 'step-up', 'step-down'),
  direction: Joi.string().valid('outbound', 'inbound'),
  nhsNumber: Joi.string()
    .pattern(/^\d{10}$/)
    .custom((v, helpers) => (isValidNhsNumber(v) ? v : helpers.error('nhsNumber.checkDigit')))
    .messages({ 'nhsNumber.checkDigit': '{{#label}} fails the NHS number Modulus 11 check' }),
  since: Joi.string()
    // An unencoded '+' in a query string arrives as a space; take it back as the offset sign.
    .custom((v: string, helpers) => {
      const value = v.replace(/ (\d{2}:\d{2})$/, '+$1');
      return parseDateTime(value).ok ? value : helpers.error('since.dateTime');
    })
    .messages({ 'since.dateTime': '{{#label}} must be a date-time with a timezone offset, e.g. 2026-11-20T10:15:00+00:00' }),
  limit: Joi.number().integer().min(1).max(100).default(20),
  cursor: Joi.string().max(512),
});

/** joi failures on path or query become the native 400 with one problem per field. */
function failWithProblems(_request: Request, _h: ResponseToolkit, err?: Error): never {
  const details = (err as Joi.ValidationError | undefined)?.details ?? [];
  throw new NativeApiError(
    400,
    'The request parameters break the rules',
    details.map((d) => ({ path: d.path.join('.'), message: d.message.replace(/^"[^"]*" /, ''), allowed: describeAllowed(d) })),
  );
}

function describeAllowed(d: Joi.ValidationErrorItem): string {
  const ctx = d.context ?? {};
  if (Array.isArray(ctx.valids)) return `one of ${ctx.valids.join(', ')}`;
  if (ctx.limit !== undefined) return `limit ${ctx.limit}`;
  if (d.type === 'string.pattern.base' && ctx.regex) return `matches ${ctx.regex}`;
  if (d.type === 'since.dateTime') return 'a date-time with a timezone offset (YYYY-MM-DDThh:mm:ss+hh:mm or Z)';
  if (d.type === 'nhsNumber.checkDigit') return '10 digits with a valid Modulus 11 check digit';
  return d.type;
}

const idParam = (name: string) => Joi.object({ [name]: Joi.string().pattern(ID_PATTERN).required() });

export function nativeRoutes({ referrals, assessments, maxBodyBytes }: NativeRouteDeps): ServerRoute[] {
  // The body is read raw (parse: false) so that the store keeps exactly the bytes received and a
  // JSON syntax error can be answered with its line and column.
  const rawJsonBody = { parse: false as const, output: 'data' as const, maxBytes: maxBodyBytes };
  const rawText = (request: Request) => {
    checkJsonContentType(request.headers['content-type'] as string | undefined);
    return decodeUtf8Body((request.payload as Buffer | undefined) ?? Buffer.alloc(0));
  };

  return [
    {
      method: 'POST',
      path: '/referrals',
      options: { payload: rawJsonBody },
      handler: async (request, h) => {
        const result = await referrals.create(rawText(request));
        const id = encodeURIComponent(result.view.referralId as string);
        return h.response(result.view).code(result.status).location(`/referrals/${id}`).etag(String(result.version));
      },
    },
    {
      method: 'PUT',
      path: '/referrals/{referralId}',
      options: { payload: rawJsonBody, validate: { params: idParam('referralId'), failAction: failWithProblems } },
      handler: async (request, h) => {
        const result = await referrals.replace((request.params.referralId as string), rawText(request), request.headers['if-match'] as string | undefined);
        return h.response(result.view).code(result.status).etag(String(result.version));
      },
    },
    {
      method: 'GET',
      path: '/referrals/{referralId}',
      options: { validate: { params: idParam('referralId'), failAction: failWithProblems } },
      handler: async (request, h) => {
        const record = await referrals.get((request.params.referralId as string));
        return h.response(referralView(record)).etag(String(record.version));
      },
    },
    {
      method: 'GET',
      path: '/referrals/{referralId}/fhir',
      options: { validate: { params: idParam('referralId'), failAction: failWithProblems } },
      handler: async (request, h) => {
        const record = await referrals.get((request.params.referralId as string));
        return h.response(record.fhir as object).type('application/fhir+json').etag(String(record.version));
      },
    },
    {
      method: 'GET',
      path: '/referrals',
      options: { validate: { query: listQuery, failAction: failWithProblems } },
      handler: async (request) => {
        const q = request.query as { since?: string; limit: number };
        return referrals.list({ ...q, since: q.since ? new Date(q.since).toISOString() : undefined });
      },
    },
    {
      method: 'POST',
      path: '/assessments',
      options: { payload: rawJsonBody },
      handler: async (request, h) => {
        const result = await assessments.create(rawText(request));
        return h
          .response(result.view)
          .code(result.status)
          .location(`/assessments/${encodeURIComponent(result.view.assessmentId as string)}`);
      },
    },
    {
      method: 'GET',
      path: '/assessments/{assessmentId}',
      options: { validate: { params: idParam('assessmentId'), failAction: failWithProblems } },
      handler: async (request) => assessments.get((request.params.assessmentId as string)),
    },
  ];
}
