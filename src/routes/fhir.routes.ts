// The FHIR R4 API at /fhir: path, body reading and a short handler per interaction. Each route carries
// its FhirRouteMeta (options.app.fhir), from which GET /fhir/metadata is built, so the
// CapabilityStatement lists exactly what is routed here. Formats, errors and request ids are the
// fhir-http plugin's; the work is the services'.
import { createHash } from 'node:crypto';
import type { Request, ResponseObject, ResponseToolkit, ServerRoute } from '@hapi/hapi';
import type { OperationOutcome } from 'fhir/r4.js';
import { buildCapabilityStatement, type FhirRouteMeta, routeMetaFromTable } from '../fhir/capability.js';
import { withLocations, type ParsedFhirBody } from '../fhir/format.js';
import { badRequest, issue, methodNotAllowed, operationOutcome, OutcomeError } from '../fhir/outcomes.js';
import { SEARCH_PARAMS } from '../fhir/search-params.js';
import { readFhirBody } from '../plugins/fhir-http.js';
import type { ConformanceResources } from '../services/conformance-resources.js';
import type { FhirIntakeService } from '../services/fhir/intake.service.js';
import type { FhirReadService, ReadAnswer } from '../services/fhir/read.service.js';
import { WRITABLE_TYPES } from '../services/fhir/inbound-profiles.js';
import { IN_PROGRESS, type RequestLog } from '../store/request-log.repo.js';
import type { StoredResource } from '../store/fhir.repo.js';

export interface FhirRouteDeps {
  intake: FhirIntakeService;
  reads: FhirReadService;
  conformance: ConformanceResources;
  requestLog: RequestLog;
  supportedProfiles: Map<string, string[]>;
  maxBodyBytes: number;
  software: { name: string; version: string };
  startedAt: string;
}

const VALIDATE_TYPES = ['ServiceRequest', 'QuestionnaireResponse', 'Patient', 'Bundle'];
const VALIDATE_OP = { name: 'validate', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate', level: 'type' as const };
const PROCESS_MESSAGE_OP = { name: 'process-message', definition: 'http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message', level: 'system' as const };
const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const DEFINITION_SEARCH_PARAMS: NonNullable<FhirRouteMeta['searchParams']> = [
  { name: 'url', type: 'uri', documentation: 'canonical URL, with or without |version' },
  { name: 'name', type: 'string', documentation: 'computer-friendly name' },
  { name: 'version', type: 'token', documentation: 'business version' },
  { name: 'status', type: 'token', documentation: 'publication status' },
  { name: '_id', type: 'token', documentation: 'logical id' },
];
const REQUEST_ID = /^[A-Za-z0-9\-_.]{1,128}$/;
/** A request id claimed longer ago than this by a request that never finished is free again. */
const CLAIM_STALE_MS = 120_000;

/** Base URL of this server as the client reached it, for Location headers and Bundle links. */
function baseUrl(request: Request): string {
  const proto = (request.headers['x-forwarded-proto'] as string | undefined)?.split(',')[0] ?? request.server.info.protocol;
  return `${proto}://${request.info.host}/fhir`;
}

function checkId(id: string, type: string): void {
  if (!ID.test(id)) throw new OutcomeError(badRequest(`${JSON.stringify(id)} is not a FHIR id: 1–64 of A-Z a-z 0-9 - .`, `${type}.id`));
}

function versioned(h: ResponseToolkit, answer: ReadAnswer): ResponseObject {
  const r = h.response(answer.resource).header('ETag', `W/"${answer.versionId}"`);
  if (answer.lastUpdated) r.header('Last-Modified', new Date(answer.lastUpdated).toUTCString());
  return r;
}

/** A JSON body's issues get their line and column; an XML body's keep their FHIRPath only. */
function decorator(parsed: ParsedFhirBody) {
  return (o: OperationOutcome) => withLocations(o, parsed);
}

export function fhirRoutes(deps: FhirRouteDeps): ServerRoute[] {
  const rawBody = { parse: false as const, output: 'data' as const, maxBytes: deps.maxBodyBytes };
  const storedTypes = WRITABLE_TYPES;
  const definitionTypes = deps.conformance.types();
  const routes: ServerRoute[] = [];
  const meta = (fhir: FhirRouteMeta) => ({ app: { fhir } });

  /** GET /fhir/{type} (search) and GET /fhir/{type}/{id} (read), for stored types and definitions alike. */
  function readAndSearch(type: string, searchParams: NonNullable<FhirRouteMeta['searchParams']>): ServerRoute[] {
    return [
      {
        method: 'GET',
        path: `/fhir/${type}`,
        options: meta({ type, interaction: 'search-type', searchParams }),
        handler: (request) => deps.reads.search(type, request.query as Record<string, string | string[]>, baseUrl(request)),
      },
      {
        method: 'GET',
        path: `/fhir/${type}/{id}`,
        options: meta({ type, interaction: 'read' }),
        handler: async (request, h) => {
          checkId(String(request.params.id), type);
          return versioned(h, await deps.reads.read(type, String(request.params.id)));
        },
      },
    ];
  }

  /**
   * X-Request-ID makes a POST safe to retry. The id is claimed before any work (a row keyed by the id),
   * so two requests with one id are never both processed; the first successful answer is recorded and
   * replayed for the same id and body; the same id with another body is refused (409). A refused or
   * failed request changed nothing, so it gives its claim back and a retry runs again. A claim left by a
   * process that stopped mid-request is taken over after CLAIM_STALE_MS.
   */
  async function idempotent(request: Request, h: ResponseToolkit, work: () => Promise<{ status: number; body: unknown; headers?: Record<string, string> }>) {
    const requestId = request.headers['x-request-id'] as string | undefined;
    const respond = (answer: { status: number; body: unknown; headers?: Record<string, string> }) => {
      const r = h.response(answer.body as object).code(answer.status);
      for (const [k, v] of Object.entries(answer.headers ?? {})) r.header(k, v);
      return r;
    };
    if (requestId === undefined) return respond(await work());
    if (!REQUEST_ID.test(requestId)) {
      throw new OutcomeError(badRequest('X-Request-ID must be 1 to 128 characters of A-Z a-z 0-9 - _ . (a UUID, as BaRS asks)'));
    }
    // What makes two requests the same: method, path, the headers that change what a POST does, and the body.
    const bodyHash = createHash('sha256')
      .update(`${request.method} ${request.path}\n`)
      .update(`If-None-Exist: ${request.headers['if-none-exist'] ?? ''}\nPrefer: ${request.headers.prefer ?? ''}\n`)
      .update((request.payload as Buffer | undefined) ?? Buffer.alloc(0))
      .digest('hex');
    const now = new Date();
    const claimed = await deps.requestLog.claim({ requestId, bodyHash, method: request.method.toUpperCase(), url: request.path, createdAt: now.toISOString() });
    if (claimed) {
      if (claimed.bodyHash !== bodyHash) {
        throw new OutcomeError(
          operationOutcome([issue('error', 'duplicate', 'This X-Request-ID was already used for a different request; a retry must resend exactly the same body to the same URL, and a new request needs a new X-Request-ID')]),
          409,
        );
      }
      if (claimed.status !== IN_PROGRESS) {
        const r = respond({ status: claimed.status, body: JSON.parse(claimed.body), headers: claimed.headers });
        return r.header('X-Replayed', 'true');
      }
      const stale = new Date(now.getTime() - CLAIM_STALE_MS).toISOString();
      if (!(await deps.requestLog.takeOver(requestId, bodyHash, stale, now.toISOString()))) {
        throw new OutcomeError(
          operationOutcome([issue('error', 'transient', 'A request with this X-Request-ID is still being processed; send it again shortly to get its answer')]),
          409,
          { headers: { 'Retry-After': '1' } },
        );
      }
    }
    let answer: { status: number; body: unknown; headers?: Record<string, string> };
    try {
      answer = await work();
    } catch (err) {
      await deps.requestLog.release(requestId).catch(() => undefined);
      throw err;
    }
    if (answer.status < 300) {
      await deps.requestLog.complete(requestId, { status: answer.status, headers: answer.headers ?? {}, body: JSON.stringify(answer.body), contentType: 'application/fhir+json' });
    } else {
      await deps.requestLog.release(requestId);
    }
    return respond(answer);
  }

  function createdHeaders(request: Request, stored: StoredResource): Record<string, string> {
    return {
      Location: `${baseUrl(request)}/${stored.resourceType}/${stored.id}/_history/${stored.versionId}`,
      ETag: `W/"${stored.versionId}"`,
      'Last-Modified': new Date(stored.lastUpdated).toUTCString(),
    };
  }

  // ---- system level ------------------------------------------------------------------------------
  routes.push({
    method: 'GET',
    path: '/fhir/metadata',
    options: meta({ interaction: 'capabilities' }),
    handler: (request) =>
      buildCapabilityStatement({
        routes: routeMetaFromTable(request.server.table() as never),
        supportedProfiles: deps.supportedProfiles,
        messaging: { definitions: deps.conformance.all('MessageDefinition').map((m) => m.url as string) },
        software: deps.software,
        implementationUrl: baseUrl(request),
        date: deps.startedAt,
      }),
  });

  routes.push({
    method: 'POST',
    path: '/fhir',
    // One route serves both Bundle types, so it declares both interactions.
    options: { app: { fhir: [{ interaction: 'transaction' }, { interaction: 'batch' }] satisfies FhirRouteMeta[] }, payload: rawBody },
    handler: (request, h) =>
      idempotent(request, h, async () => {
        const parsed = readFhirBody(request);
        const body = await deps.intake.bundle(parsed.resource as never, rawText(request), decorator(parsed));
        return { status: 200, body };
      }),
  });

  routes.push({
    method: 'POST',
    path: '/fhir/$process-message',
    options: { ...meta({ interaction: 'operation', operation: PROCESS_MESSAGE_OP }), payload: rawBody },
    handler: (request, h) =>
      idempotent(request, h, async () => {
        const parsed = readFhirBody(request);
        const { status, body } = await deps.intake.processMessage(parsed.resource as never, rawText(request), decorator(parsed));
        return { status, body };
      }),
  });

  // ---- stored types: create, read, vread, history, search --------------------------------------------
  for (const type of storedTypes) {
    const searchParams = (SEARCH_PARAMS[type] ?? []).map((p) => ({ name: p.name, type: p.type, documentation: p.documentation }));
    routes.push({
      method: 'POST',
      path: `/fhir/${type}`,
      options: { ...meta({ type, interaction: 'create', conditionalCreate: true }), payload: rawBody },
      handler: (request, h) =>
        idempotent(request, h, async () => {
          const parsed = readFhirBody(request);
          const ifNoneExist = request.headers['if-none-exist'] as string | undefined;
          const created = await deps.intake.create(type, parsed.resource, rawText(request), ifNoneExist, decorator(parsed));
          const prefer = String(request.headers.prefer ?? '');
          const body = prefer.includes('return=OperationOutcome') ? (created.outcome ?? operationOutcome([])) : created.stored.resource;
          return { status: created.status, body, headers: createdHeaders(request, created.stored) };
        }),
    });
    routes.push(...readAndSearch(type, searchParams));
    routes.push({
      method: 'GET',
      path: `/fhir/${type}/{id}/_history`,
      options: meta({ type, interaction: 'history-instance' }),
      handler: (request) => {
        checkId(String(request.params.id), type);
        return deps.reads.history(type, String(request.params.id), baseUrl(request));
      },
    });
    routes.push({
      method: 'GET',
      path: `/fhir/${type}/{id}/_history/{vid}`,
      options: meta({ type, interaction: 'vread' }),
      handler: async (request, h) => {
        checkId(String(request.params.id), type);
        return versioned(h, await deps.reads.vread(type, String(request.params.id), String(request.params.vid)));
      },
    });
  }

  // ---- $validate ------------------------------------------------------------------------------------
  for (const type of VALIDATE_TYPES) {
    routes.push({
      method: 'POST',
      path: `/fhir/${type}/$validate`,
      options: { ...meta({ type, interaction: 'operation', operation: VALIDATE_OP }), payload: rawBody },
      handler: async (request) => {
        const parsed = readFhirBody(request);
        const { resource, profile } = validateInput(parsed.resource, type, request.query.profile as string | undefined);
        return deps.intake.validate(type, resource, profile, decorator(parsed));
      },
    });
  }

  // ---- the platform's definitions, read-only ------------------------------------------------------------
  for (const type of definitionTypes) routes.push(...readAndSearch(type, DEFINITION_SEARCH_PARAMS));

  return [...routes, ...otherMethods(routes)];
}

/** The request body as text (UTF-8 was checked when it was parsed). */
function rawText(request: Request): string {
  const p = request.payload as Buffer | string | undefined;
  return Buffer.isBuffer(p) ? p.toString('utf8') : (p ?? '');
}

/** $validate takes the resource itself, or Parameters with `resource` (and `profile`). */
function validateInput(body: Record<string, any>, type: string, profileQuery?: string): { resource: Record<string, any>; profile?: string } {
  if (body.resourceType !== 'Parameters') return { resource: body, profile: checkProfile(profileQuery) };
  const params: any[] = Array.isArray(body.parameter) ? body.parameter : [];
  const resource = params.find((p) => p?.name === 'resource')?.resource;
  if (typeof resource !== 'object' || resource === null || typeof resource.resourceType !== 'string') {
    throw new OutcomeError(badRequest(`Parameters must hold a parameter "resource" whose resource is the ${type} to validate`, 'Parameters.parameter'));
  }
  const p = params.find((q) => q?.name === 'profile');
  return { resource, profile: checkProfile(p?.valueUri ?? p?.valueCanonical ?? profileQuery) };
}

function checkProfile(profile: unknown): string | undefined {
  if (profile === undefined) return undefined;
  if (typeof profile !== 'string' || profile === '') {
    throw new OutcomeError(badRequest('profile must be a canonical URL (valueUri or valueCanonical, or ?profile=)', "Parameters.parameter.where(name = 'profile')"));
  }
  return profile;
}

/** Every FHIR path answers 405 (with Allow) for a method it does not route, rather than 404. */
function otherMethods(routes: ServerRoute[]): ServerRoute[] {
  const byPath = new Map<string, Set<string>>();
  for (const r of routes) {
    const path = r.path.replace(/\/$/, '');
    const methods = byPath.get(path) ?? new Set<string>();
    methods.add(String(r.method));
    byPath.set(path, methods);
  }
  return [...byPath].map(([path, methods]) => ({
    method: '*',
    path,
    handler: (request: Request, h: ResponseToolkit) => {
      const allowed = [...methods].sort();
      return h.response(methodNotAllowed(request.method, request.path, allowed)).code(405).header('Allow', allowed.join(', '));
    },
  }));
}
