// The FHIR client this service uses to talk to other FHIR servers (and tests use to talk to ours):
// fhir-kit-client 2.x for the FHIR REST shapes, wrapped because on its own it has no timeouts, no
// retries, and throws an Error whose only useful content is a loose `response` object. Here every
// request has a deadline, a safe request is retried on transient failures, and every failure is a
// FhirClientError carrying the HTTP status and the server's OperationOutcome.
//
// Retrying a POST is only safe when the server can recognise the retry: each POST gets an
// X-Request-ID that stays the same across its attempts (our /fhir replays the first answer for it).
import { randomUUID } from 'node:crypto';
import { Client } from 'fhir-kit-client';
import { Agent, type Dispatcher } from 'undici';
import type { Bundle, CapabilityStatement, OperationOutcome, Resource } from 'fhir/r4.js';

export interface FhirClientOptions {
  /** the server's base, e.g. https://example.org/fhir */
  baseUrl: string;
  /** deadline of one attempt, connect to last byte (default 10 s) */
  timeoutMs?: number;
  /** further attempts after a transient failure (default 2) */
  retries?: number;
  /** first wait between attempts, doubled each time, capped by maxRetryDelayMs (default 200 ms) */
  retryDelayMs?: number;
  /** longest wait between attempts, also the cap on a server's Retry-After (default 5 s) */
  maxRetryDelayMs?: number;
  /** headers sent with every request (e.g. authorization) */
  headers?: Record<string, string>;
  /** the undici dispatcher to send through; by default an Agent of our own, closed by close() */
  dispatcher?: Dispatcher;
}

export interface CreateOptions {
  /** conditional create: a search query (e.g. identifier=system|value); the server answers a match with 200 */
  ifNoneExist?: string;
  /** the idempotency key; a fresh one per call when left out */
  requestId?: string;
}

/** What a create answered: 201 with the new resource, or 200 with the existing match of a conditional create. */
export interface CreateAnswer<T extends Resource = Resource> {
  status: number;
  resource: T;
  location?: string;
  etag?: string;
}

export type FailureKind = 'http' | 'timeout' | 'network';

/** Every failure of a FhirClient call: what was asked, what came back, and the OperationOutcome if there was one. */
export class FhirClientError extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind,
    readonly method: string,
    readonly url: string,
    /** HTTP status, when the server answered */
    readonly status?: number,
    /** the body as answered (parsed JSON, or text) */
    readonly body?: unknown,
    /** the OperationOutcome of the answer: the body itself, or the one inside a response message Bundle */
    readonly outcome?: OperationOutcome,
    /** attempts made */
    readonly attempts = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FhirClientError';
  }

  /** The issues' details.text (or diagnostics), for messages and assertions. */
  issueTexts(): string[] {
    return (this.outcome?.issue ?? []).map((i) => i.details?.text ?? i.diagnostics ?? i.code);
  }
}

// 408, 429 and the gateway/unavailable family say "try again later"; anything else will not change.
const TRANSIENT_STATUS = new Set([408, 429, 502, 503, 504]);

export class FhirClient {
  readonly baseUrl: string;
  private readonly kit: Client;
  private readonly ownAgent?: Agent;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;

  constructor(options: FhirClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retries = options.retries ?? 2;
    this.retryDelayMs = options.retryDelayMs ?? 200;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 5_000;
    let dispatcher = options.dispatcher;
    if (!dispatcher) {
      this.ownAgent = new Agent({ connectTimeout: this.timeoutMs, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
      dispatcher = this.ownAgent;
    }
    this.kit = new Client({ baseUrl: this.baseUrl, customHeaders: options.headers, requestOptions: { dispatcher } });
  }

  capabilityStatement(): Promise<CapabilityStatement> {
    return this.call('GET', 'metadata', (o) => this.kit.capabilityStatement(o));
  }

  read<T extends Resource = Resource>(resourceType: string, id: string): Promise<T> {
    return this.call('GET', `${resourceType}/${id}`, (options) => this.kit.read({ resourceType, id, options }));
  }

  vread<T extends Resource = Resource>(resourceType: string, id: string, version: string): Promise<T> {
    return this.call('GET', `${resourceType}/${id}/_history/${version}`, (options) => this.kit.vread({ resourceType, id, version, options }));
  }

  history(resourceType: string, id: string): Promise<Bundle> {
    return this.call('GET', `${resourceType}/${id}/_history`, (options) => this.kit.history({ resourceType, id, options }));
  }

  search(resourceType: string, searchParams: Record<string, string | number | Array<string | number>>): Promise<Bundle> {
    return this.call('GET', resourceType, (options) => this.kit.search({ resourceType, searchParams, options }));
  }

  /** The next page of a searchset, or undefined on the last page. */
  async nextPage(bundle: Bundle): Promise<Bundle | undefined> {
    const next = bundle.link?.find((l) => l.relation === 'next')?.url;
    if (!next) return undefined;
    return this.call('GET', next, (options) => this.kit.nextPage({ bundle: bundle as never, options }) as Promise<never>);
  }

  /** Every entry's resource of a search, following `next` links to the last page. */
  async searchAll<T extends Resource = Resource>(resourceType: string, searchParams: Record<string, string | number | Array<string | number>>): Promise<T[]> {
    const out: T[] = [];
    let page: Bundle | undefined = await this.search(resourceType, searchParams);
    while (page) {
      for (const e of page.entry ?? []) if (e.resource) out.push(e.resource as T);
      page = await this.nextPage(page);
    }
    return out;
  }

  async create<T extends Resource = Resource>(resource: T, options: CreateOptions = {}): Promise<CreateAnswer<T>> {
    const headers: Record<string, string> = { 'x-request-id': options.requestId ?? randomUUID() };
    if (options.ifNoneExist) headers['if-none-exist'] = options.ifNoneExist;
    const resourceType = resource.resourceType;
    const body = await this.call('POST', resourceType, (o) => this.kit.create({ resourceType, body: resource as never, options: o }), headers);
    const response = Client.httpFor(body as never).response;
    return {
      status: response?.status ?? 0,
      resource: body as T,
      location: response?.headers.get('location') ?? undefined,
      etag: response?.headers.get('etag') ?? undefined,
    };
  }

  transaction(bundle: Bundle, requestId: string = randomUUID()): Promise<Bundle> {
    return this.call('POST', '', (options) => this.kit.transaction({ body: bundle as never, options }), { 'x-request-id': requestId });
  }

  batch(bundle: Bundle, requestId: string = randomUUID()): Promise<Bundle> {
    return this.call('POST', '', (options) => this.kit.batch({ body: bundle as never, options }), { 'x-request-id': requestId });
  }

  /** $process-message at system level: the response message Bundle (a refusal throws, with its OperationOutcome). */
  processMessage(message: Bundle, requestId: string = randomUUID()): Promise<Bundle> {
    return this.call('POST', '$process-message', (options) => this.kit.operation({ name: 'process-message', input: message as never, options }), { 'x-request-id': requestId });
  }

  /** $validate at type level: the OperationOutcome, whatever it says (a server refusing the request throws). */
  validate(resource: Resource, profile?: string): Promise<OperationOutcome> {
    const parameters = {
      resourceType: 'Parameters',
      parameter: [{ name: 'resource', resource }, ...(profile ? [{ name: 'profile', valueUri: profile }] : [])],
    };
    // $validate stores nothing, so retrying it needs no request id.
    return this.call('POST', `${resource.resourceType}/$validate`, (options) =>
      this.kit.operation({ name: 'validate', resourceType: resource.resourceType, input: parameters as never, options }),
    );
  }

  /** Closes the Agent this client made (not a dispatcher passed in). */
  async close(): Promise<void> {
    await this.ownAgent?.close();
  }

  // ---- attempts ---------------------------------------------------------------------------------------

  private async call<T>(method: string, path: string, send: (options: { headers: Record<string, string>; signal: AbortSignal }) => Promise<unknown>, headers: Record<string, string> = {}): Promise<T> {
    const url = /^https?:/.test(path) ? path : `${this.baseUrl}/${path}`;
    // A POST without an idempotency key could be applied twice by a retry.
    const retryable = method === 'GET' || headers['x-request-id'] !== undefined || path.endsWith('$validate');
    for (let attempt = 1; ; attempt++) {
      let failure: FhirClientError;
      let retryAfterMs: number | undefined;
      try {
        return (await send({ headers, signal: AbortSignal.timeout(this.timeoutMs) })) as T;
      } catch (err) {
        failure = this.toError(err, method, url, attempt);
        retryAfterMs = retryAfter(err);
      }
      const transient = failure.kind !== 'http' || TRANSIENT_STATUS.has(failure.status!);
      if (!retryable || !transient || attempt > this.retries) throw failure;
      const backoff = Math.min(this.retryDelayMs * 2 ** (attempt - 1), this.maxRetryDelayMs);
      await sleep(Math.min(retryAfterMs ?? backoff, this.maxRetryDelayMs));
    }
  }

  private toError(err: unknown, method: string, url: string, attempts: number): FhirClientError {
    const e = err as { name?: string; message?: string; response?: { status?: number; data?: unknown }; cause?: { code?: string } };
    const status = e?.response?.status;
    if (typeof status === 'number') {
      const body = e.response!.data;
      const outcome = outcomeOf(body);
      const first = outcome?.issue?.[0];
      const said = first ? `: ${first.details?.text ?? first.diagnostics ?? first.code}` : '';
      return new FhirClientError(`${method} ${url} answered ${status}${said}`, 'http', method, url, status, body, outcome, attempts, { cause: err });
    }
    const timedOut = e?.name === 'TimeoutError' || e?.name === 'AbortError' || /TIMEOUT/.test(e?.cause?.code ?? '');
    if (timedOut) {
      return new FhirClientError(`${method} ${url} timed out after ${this.timeoutMs} ms`, 'timeout', method, url, undefined, undefined, undefined, attempts, { cause: err });
    }
    const reason = e?.cause?.code ?? e?.message ?? String(err);
    return new FhirClientError(`${method} ${url} failed: ${reason}`, 'network', method, url, undefined, undefined, undefined, attempts, { cause: err });
  }
}

/** The OperationOutcome of an answer: the body, or the one a response message Bundle carries. */
export function outcomeOf(body: unknown): OperationOutcome | undefined {
  const b = body as { resourceType?: string; entry?: Array<{ resource?: { resourceType?: string } }> } | undefined;
  if (b?.resourceType === 'OperationOutcome') return b as OperationOutcome;
  if (b?.resourceType === 'Bundle') return b.entry?.find((e) => e.resource?.resourceType === 'OperationOutcome')?.resource as OperationOutcome | undefined;
  return undefined;
}

/** Retry-After in ms (seconds or an HTTP date), from the error fhir-kit-client throws. */
function retryAfter(err: unknown): number | undefined {
  const headers = (err as { config?: { headers?: Headers } })?.config?.headers;
  const value = headers instanceof Headers ? headers.get('retry-after') : null;
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
