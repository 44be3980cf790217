// The FHIR front door's write use cases: create one resource, a transaction or batch Bundle, a BaRS-style
// message, and $validate (the same checks, nothing stored). Each check runs before any write; each
// write is one transaction (see intake-writer.ts). No hapi here: answers are plain FHIR resources and
// failures are OutcomeErrors.
import type { Bundle, BundleEntry, MessageHeader, OperationOutcome, Resource } from 'fhir/r4.js';
import { randomUUID } from 'node:crypto';
import { BARS_EVENT_SYSTEM, checkMessage, messageReason, type MessageRules } from '../../fhir/message-definition.js';
import { badRequest, invalid, issue, type Issue, normalizeOutcome, operationOutcome, OutcomeError } from '../../fhir/outcomes.js';
import { parseSearchQuery } from '../../fhir/search-params.js';
import type { StoredResource } from '../../store/fhir.repo.js';
import { checkEntries, type CheckDeps, isError, type ReferralUnit } from './inbound-checks.js';
import { type EntryResult, REFERRAL_ID_SYSTEM, writeUnit, type WriteOptions, type WriterDeps } from './intake-writer.js';
import { entriesOfBundle, identifierClash, identifiersOf, NHS_NUMBER, type RequestEntry } from './request-entries.js';
import { stripAdapterIdentifiers } from './adapter-identifiers.js';
import { newSelfHarmInChange, sameAnswers, selfHarmAnswer } from './answer-joins.js';
import type { NativeReferral } from '../../native/types.js';

/** A Bundle bigger than this is refused whole: one request must stay one bounded transaction. */
export const MAX_BUNDLE_ENTRIES = 500;

const CANCELLED_STATUSES = ['revoked', 'entered-in-error'];
const CLOSED_STATUSES = ['revoked', 'completed', 'entered-in-error'];

export interface IntakeDeps extends Omit<CheckDeps, 'validator'>, Omit<WriterDeps, 'validator'> {
  validator: CheckDeps['validator'] & WriterDeps['validator'];
  messageRules: Map<string, MessageRules>;
  /** told of an unexpected failure that is answered without being thrown (a response message) */
  onError?: (err: unknown) => void;
}

/** Adds where in the body each issue points (line and column); the route supplies it for JSON input. */
export type Decorate = (outcome: OperationOutcome) => OperationOutcome;

export interface CreateAnswer {
  status: 200 | 201;
  stored: StoredResource;
  outcome?: OperationOutcome;
}

export class FhirIntakeService {
  constructor(private readonly deps: IntakeDeps) {}

  /** POST /fhir/{type}: one resource; its references must be contained, stored, or logical by identifier. */
  async create(type: string, resource: Record<string, any>, rawBody: string, ifNoneExist?: string, decorate: Decorate = (o) => o): Promise<CreateAnswer> {
    if (resource.resourceType !== type) {
      throw new OutcomeError(badRequest(`The body is a ${resource.resourceType}, the URL names ${type}; send a ${type} to this URL`, `${resource.resourceType}.resourceType`));
    }
    const entry: RequestEntry = { index: -1, location: type, resource: resource as RequestEntry['resource'], ifNoneExist };
    stripAdapterIdentifiers(entry.resource);
    const { matched, conditional } = await this.ifNoneExist([entry]);
    const [result] = await this.checkAndWrite([entry], { cause: `POST /fhir/${type}`, rawBody, allowUpdate: false, matched, conditional }, decorate);
    return { status: result!.status, stored: result!.stored, outcome: result!.warnings.length > 0 ? operationOutcome(distinct(result!.warnings)) : undefined };
  }

  /** POST /fhir with a transaction (all or nothing) or batch (each entry on its own) Bundle. */
  async bundle(bundle: Bundle, rawBody: string, decorate: Decorate = (o) => o): Promise<Bundle> {
    if (bundle.resourceType !== 'Bundle') throw new OutcomeError(badRequest(`POST /fhir takes a Bundle of type transaction or batch; got a ${bundle.resourceType}`, 'Bundle.resourceType'));
    if (bundle.type === 'transaction') return this.transaction(bundle, rawBody, decorate);
    if (bundle.type === 'batch') return this.batch(bundle, rawBody, decorate);
    const hint = bundle.type === 'message' ? '; send a message Bundle to /fhir/$process-message' : '';
    throw new OutcomeError(invalid([issue('error', 'value', `Bundle.type ${JSON.stringify(bundle.type)} is not processed here; allowed: transaction, batch${hint}`, 'Bundle.type')]));
  }

  private async transaction(bundle: Bundle, rawBody: string, decorate: Decorate): Promise<Bundle> {
    const entries = this.writableEntries(bundle, decorate);
    for (const e of entries) stripAdapterIdentifiers(e.resource);
    const { matched, conditional } = await this.ifNoneExist(entries);
    const results = await this.checkAndWrite(entries, { cause: 'POST /fhir transaction', rawBody, allowUpdate: false, matched, conditional }, decorate);
    return { resourceType: 'Bundle', id: randomUUID(), type: 'transaction-response', entry: results.map(responseEntry) };
  }

  private async batch(bundle: Bundle, rawBody: string, decorate: Decorate): Promise<Bundle> {
    const shape = this.bundleShape(bundle, { perEntry: false });
    if (shape.some(isError)) throw new OutcomeError(decorate(invalid(shape)), shape.some((i) => i.code === 'too-costly') ? 413 : 422);
    const entries = entriesOfBundle(bundle);
    for (const e of entries) stripAdapterIdentifiers(e.resource);
    const out: BundleEntry[] = [];
    // Each entry succeeds or fails on its own; a failure is its OperationOutcome in the response.
    for (const entry of entries) {
      try {
        const entryIssues = entryShape(bundle.entry![entry.index], entry.index);
        if (entryIssues.some(isError)) throw new OutcomeError(invalid(entryIssues));
        const { matched, conditional } = await this.ifNoneExist([entry]);
        const [result] = await this.checkAndWrite([entry], { cause: 'POST /fhir batch', rawBody, allowUpdate: false, matched, conditional }, decorate);
        out.push(responseEntry(result!));
      } catch (err) {
        const { status, outcome } = normalizeOutcome(err);
        if (status >= 500 && !(err instanceof OutcomeError)) throw err;
        out.push({ response: { status: `${status}`, outcome: decorate(outcome) } });
      }
    }
    return { resourceType: 'Bundle', id: randomUUID(), type: 'batch-response', entry: out };
  }

  /**
   * POST /fhir/$process-message: a BaRS-style message, answered synchronously with a response message.
   * Returns the HTTP status (200 when processed; otherwise the failure's status) and the response Bundle.
   */
  async processMessage(bundle: Bundle, rawBody: string, decorate: Decorate = (o) => o): Promise<{ status: number; body: Bundle | OperationOutcome }> {
    if (bundle.resourceType !== 'Bundle' || bundle.type !== 'message') {
      throw new OutcomeError(invalid([issue('error', 'value', `$process-message takes a Bundle of type message; got ${bundle.resourceType} ${bundle.type ?? ''}`.trim(), 'Bundle.type')]));
    }
    const header = (Array.isArray(bundle.entry) ? bundle.entry[0]?.resource : undefined) as MessageHeader | undefined;
    if (header?.resourceType !== 'MessageHeader') {
      throw new OutcomeError(invalid([issue('error', 'structure', 'The first entry of a message Bundle must be its MessageHeader', 'Bundle.entry[0].resource')]));
    }
    try {
      const results = await this.message(bundle, header, rawBody, decorate);
      const warnings = distinct(results.flatMap((r) => r.warnings));
      return { status: 200, body: responseMessage(header, 'ok', operationOutcome(warnings)) };
    } catch (err) {
      const { status, outcome } = normalizeOutcome(err);
      if (!(err instanceof OutcomeError)) {
        // Still a response message (nothing was stored: the write is one transaction), and the cause is logged.
        this.deps.onError?.(err);
      }
      return { status, body: responseMessage(header, status >= 500 ? 'transient-error' : 'fatal-error', decorate(outcome)) };
    }
  }

  private async message(bundle: Bundle, header: MessageHeader, rawBody: string, decorate: Decorate): Promise<EntryResult[]> {
    if ((bundle.entry?.length ?? 0) > MAX_BUNDLE_ENTRIES + 1) throw tooManyEntries(bundle.entry!.length);
    const rules = this.rulesFor(header);
    const checked = checkMessage(bundle, rules);
    const issues: Issue[] = [...checked.issues, ...this.messageBundleIssues(bundle, rules)];
    const reason = messageReason(bundle);
    const entries = entriesOfBundle(bundle).filter((e) => e.resource?.resourceType !== 'MessageHeader');
    const focusRef = header.focus?.[0]?.reference;
    const focus = entries.find((e) => e.fullUrl !== undefined && e.fullUrl === focusRef);
    if (issues.some(isError)) throw new OutcomeError(decorate(invalid(issues)));

    // The adapter's own identifiers are taken off before anything looks an identifier up.
    for (const e of entries) stripAdapterIdentifiers(e.resource);
    const kept =
      focus && reason && reason !== 'new' ? await this.keepReceivedAnswers(entries, focus, CANCELLED_STATUSES.includes(focus.resource.status as string)) : [];
    const check = await checkEntries(this.deps, entries, this.deps.repo, checked.profiles);
    issues.push(...check.issues, ...kept);
    if (focus && reason && reason !== 'new') {
      const stored = await this.storedServiceRequest(focus);
      if (!stored) {
        issues.push(issue('error', 'not-found', `Reason "${reason}" changes a referral already received, but no ServiceRequest with these identifiers is stored here; send it first with reason "new"`, `${focus.location}.identifier`));
      }
      const status = focus.resource.status as string;
      if (reason === 'delete' && !CANCELLED_STATUSES.includes(status)) {
        issues.push(issue('error', 'business-rule', `Reason "delete" cancels a referral: ServiceRequest.status must be revoked or entered-in-error, not ${status}`, `${focus.location}.status`));
      }
      if (stored) issues.push(...(await this.changeRules(stored, focus, check.referrals.find((r) => r.entry === focus))));
    }
    if (issues.some(isError)) throw new OutcomeError(decorate(invalid(issues)));
    const opts: WriteOptions = {
      cause: `$process-message ${reason ?? ''}`.trim(),
      rawBody,
      allowUpdate: reason === 'update' || reason === 'delete',
      cancelling: reason !== 'new' && CANCELLED_STATUSES.includes(focus?.resource.status as string),
      inboundFacts: { via: '$process-message', messageId: header.id, reason },
    };
    const results = await writeUnit(this.deps, entries, check.referrals, opts);
    for (const w of kept) results.find((r) => w.expression?.[0]?.startsWith(r.entry.location))?.warnings.push(w);
    return results;
  }

  /** Same checks as a write, nothing stored. `profile` (a canonical we hold) replaces the inbound profile. */
  async validate(type: string, resource: Record<string, any>, profile?: string, decorate: Decorate = (o) => o): Promise<OperationOutcome> {
    if (resource.resourceType !== type) {
      throw new OutcomeError(badRequest(`The resource is a ${resource.resourceType}; this $validate is for ${type}`, `${resource.resourceType}.resourceType`));
    }
    let issues: Issue[];
    if (profile !== undefined) {
      if (!this.deps.validator.hasProfile(profile)) {
        throw new OutcomeError(badRequest(`Profile ${profile} is not one this service validates against; GET /fhir/StructureDefinition lists them`, 'Parameters.parameter.where(name = \'profile\')'));
      }
      issues = this.deps.validator.validate(resource, profile);
    } else if (type === 'Bundle' && (resource.type === 'transaction' || resource.type === 'batch')) {
      const shape = this.bundleShape(resource as Bundle, { perEntry: resource.type === 'transaction' });
      issues = shape.some(isError) ? shape : [...shape, ...(await checkEntries(this.deps, entriesOfBundle(resource as Bundle), this.deps.repo)).issues];
    } else if (type === 'Bundle' && resource.type === 'message' && !Array.isArray(resource.entry)) {
      issues = [issue('error', 'structure', 'A message Bundle needs entry: a list whose first entry is the MessageHeader', 'Bundle.entry')];
    } else if (type === 'Bundle' && resource.type === 'message') {
      const header = (resource as Bundle).entry?.[0]?.resource as MessageHeader | undefined;
      const rules = header?.resourceType === 'MessageHeader' ? this.rulesFor(header) : undefined;
      const checked = rules
        ? { issues: [...checkMessage(resource as Bundle, rules).issues, ...this.messageBundleIssues(resource as Bundle, rules)], profiles: checkMessage(resource as Bundle, rules).profiles }
        : { issues: [issue('error', 'structure', 'The first entry of a message Bundle must be its MessageHeader', 'Bundle.entry[0].resource')], profiles: new Map<number, string>() };
      const entries = entriesOfBundle(resource as Bundle).filter((e) => e.resource?.resourceType !== 'MessageHeader');
      issues = [...checked.issues, ...(await checkEntries(this.deps, entries, this.deps.repo, checked.profiles)).issues];
    } else if (type === 'Bundle') {
      issues = this.deps.validator.validate(resource);
    } else {
      issues = (await checkEntries(this.deps, [{ index: -1, location: type, resource: resource as RequestEntry['resource'] }], this.deps.repo)).issues;
    }
    return decorate(operationOutcome(issues));
  }

  // ---- helpers ------------------------------------------------------------------------------------

  private async checkAndWrite(entries: RequestEntry[], opts: WriteOptions, decorate: Decorate): Promise<EntryResult[]> {
    const check = await checkEntries(this.deps, entries, this.deps.repo);
    if (check.issues.some(isError)) throw new OutcomeError(decorate(invalid(check.issues)));
    const results = await writeUnit(this.deps, entries, check.referrals, opts);
    for (const r of results) r.warnings.push(...check.issues.filter((i) => !isError(i) && i.expression?.[0]?.startsWith(r.entry.location)));
    return results;
  }

  /** Entries of a transaction or batch: a bounded number, each a POST of a type we take. */
  private writableEntries(bundle: Bundle, decorate: Decorate): RequestEntry[] {
    const issues = this.bundleShape(bundle, { perEntry: true });
    if (issues.some(isError)) throw new OutcomeError(decorate(invalid(issues)), issues.some((i) => i.code === 'too-costly') ? 413 : 422);
    return entriesOfBundle(bundle);
  }

  /** The Bundle's own shape: entry a list of at most MAX_BUNDLE_ENTRIES objects with unique fullUrls; each entry's request too when `perEntry`. */
  private bundleShape(bundle: Bundle, { perEntry }: { perEntry: boolean }): Issue[] {
    const raw = (bundle as { entry?: unknown }).entry;
    if (raw !== undefined && !Array.isArray(raw)) return [issue('error', 'structure', 'Bundle.entry must be a list (JSON array) of entries', 'Bundle.entry')];
    const entries = (raw ?? []) as unknown[];
    if (entries.length > MAX_BUNDLE_ENTRIES) return [tooManyEntriesIssue(entries.length)];
    const issues: Issue[] = [];
    if (entries.length === 0) issues.push(issue('error', 'required', 'The Bundle has no entries; send at least one', 'Bundle.entry'));
    const seen = new Set<string>();
    entries.forEach((e, i) => {
      if (typeof e !== 'object' || e === null || Array.isArray(e)) {
        issues.push(issue('error', 'structure', 'Each entry must be an object with a resource and a request', `Bundle.entry[${i}]`));
        return;
      }
      if (perEntry) issues.push(...entryShape(e as BundleEntry, i));
      const fullUrl = (e as BundleEntry).fullUrl;
      if (fullUrl) {
        if (seen.has(fullUrl)) issues.push(issue('error', 'duplicate', `fullUrl ${fullUrl} is used by two entries; each entry needs its own`, `Bundle.entry[${i}].fullUrl`));
        seen.add(fullUrl);
      }
    });
    return issues;
  }

  /**
   * If-None-Exist: one match → answered with it (200, nothing written); several → 412. A condition that
   * is one of the entry's own identifiers is not searched here: the writer's lookup of that identifier,
   * inside the transaction and under the store's unique key, answers it without a race.
   */
  private async ifNoneExist(entries: RequestEntry[]): Promise<{ matched: Map<RequestEntry, StoredResource>; conditional: Map<RequestEntry, { system: string; value: string }> }> {
    const matched = new Map<RequestEntry, StoredResource>();
    const conditional = new Map<RequestEntry, { system: string; value: string }>();
    for (const entry of entries) {
      if (!entry.ifNoneExist) continue;
      const type = entry.resource.resourceType;
      const query = Object.fromEntries(new URLSearchParams(entry.ifNoneExist.replace(/^\?/, '')));
      const where = entry.index >= 0 ? `Bundle.entry[${entry.index}].request.ifNoneExist` : undefined;
      const { criteria } = parseSearchQuery(type, query);
      if (criteria.length === 0) {
        throw new OutcomeError(badRequest(`If-None-Exist ${JSON.stringify(entry.ifNoneExist)} holds no search criterion; name the resource, e.g. identifier=<system>|<value>`, where));
      }
      const [only] = criteria;
      if (criteria.length === 1 && only?.kind === 'token' && only.param === 'identifier' && only.values.length === 1) {
        const { system, code } = only.values[0]!;
        if (typeof system === 'string' && code !== undefined && identifiersOf(entry.resource).some((i) => i.system === system && i.value === code)) {
          conditional.set(entry, { system, value: code });
          continue;
        }
      }
      const found = await this.deps.repo.search(type, criteria, { count: 2, offset: 0 });
      if (found.total > 1) {
        throw new OutcomeError(
          operationOutcome([issue('error', 'multiple-matches', `If-None-Exist ${entry.ifNoneExist} matches ${found.total} ${type} resources; make the condition name one`, entry.index >= 0 ? `Bundle.entry[${entry.index}].request.ifNoneExist` : undefined)]),
          412,
        );
      }
      const match = found.resources[0];
      if (match) {
        // A condition that matches a resource with another identifier of the same system is not this resource.
        const clash = identifierClash(type, identifiersOf(entry.resource), identifiersOf(match.resource));
        if (clash) {
          throw new OutcomeError(
            operationOutcome([issue('error', 'conflict', `If-None-Exist ${entry.ifNoneExist} matches ${type}/${match.id}, whose ${clash.system} identifier differs from the one sent; make the condition name this resource (its identifier)`, where)], 'precondition-failed'),
            412,
          );
        }
        matched.set(entry, match);
      }
    }
    return { matched, conditional };
  }

  /**
   * What an update may not change: the patient (a referral never moves to another person, with its
   * risk findings), and a closed referral (revoked, completed, entered-in-error) is not reopened by a
   * late or replayed update; a revoked or completed one may still be marked entered-in-error.
   */
  private async changeRules(stored: StoredResource, focus: RequestEntry, unit: ReferralUnit | undefined): Promise<Issue[]> {
    const out: Issue[] = [];
    const referralId = identifiersOf(stored.resource).find((i) => i.system === REFERRAL_ID_SYSTEM)?.value;
    const record = referralId ? await this.deps.referrals.get(referralId) : undefined;
    const before = record?.native as NativeReferral | undefined;
    const nhsNow = unit ? identifiersOf(unit.patient.resource).find((i) => i.system === NHS_NUMBER)?.value : undefined;
    if (before && nhsNow && nhsNow !== before.patient.nhsNumber) {
      out.push(issue('error', 'business-rule', 'An update cannot move a referral to another patient: the NHS number differs from the one received first; cancel this referral and send a new one', `${focus.location}.subject`));
    }
    const was = stored.resource.status as string;
    const now = focus.resource.status as string;
    if (CLOSED_STATUSES.includes(was) && now !== was && now !== 'entered-in-error') {
      out.push(issue('error', 'business-rule', `This referral is already ${was}; an update cannot make it ${now} (allowed: ${was}, or entered-in-error). Send a new referral instead`, `${focus.location}.status`));
    }
    return out;
  }

  /**
   * Answers a change message repeats under an identifier already received are the ones received: a
   * sending system may regenerate `authored` or other fields, and the referral must be built from what is
   * stored, not from a copy. Changed answers stay in the message (the writer refuses them, 409), except
   * in a cancellation, which goes through keeping the answers first received, with a warning.
   */
  private async keepReceivedAnswers(entries: RequestEntry[], focus: RequestEntry, cancelling: boolean): Promise<Issue[]> {
    const warnings: Issue[] = [];
    // Only answers that already belong to the referral this message changes are taken as stored.
    const sr = await this.storedServiceRequest(focus);
    const referralId = sr && identifiersOf(sr.resource).find((i) => i.system === REFERRAL_ID_SYSTEM)?.value;
    const record = referralId ? await this.deps.referrals.get(referralId) : undefined;
    const ours = new Set(((record?.view as { fhir?: { questionnaireResponses?: string[] } } | undefined)?.fhir?.questionnaireResponses ?? []) as string[]);
    for (const entry of entries) {
      if (entry.resource?.resourceType !== 'QuestionnaireResponse') continue;
      let stored: StoredResource | undefined;
      for (const id of identifiersOf(entry.resource)) stored ??= await this.deps.repo.findByIdentifier('QuestionnaireResponse', id.system, id.value);
      if (!stored || !ours.has(`QuestionnaireResponse/${stored.id}`)) continue;
      const same = sameAnswers(stored.resource, entry.resource);
      if (!same && !cancelling) continue;
      if (!same && selfHarmAnswer(entry.resource) && !selfHarmAnswer(stored.resource)) {
        // A self-harm answer disclosed now must reach a clinician, not be dropped with the cancellation.
        warnings.push(newSelfHarmInChange(entry.location));
        continue;
      }
      if (!same) {
        warnings.push(issue('warning', 'business-rule', 'These answers differ from the ones received first under this identifier; the referral is cancelled, and the answers are kept as first received', `${entry.location}.item`));
      }
      const { meta: _meta, ...received } = structuredClone(stored.resource);
      entry.resource = received as RequestEntry['resource'];
    }
    return warnings;
  }

  private async storedServiceRequest(entry: RequestEntry): Promise<StoredResource | undefined> {
    for (const id of identifiersOf(entry.resource)) {
      if (id.system === REFERRAL_ID_SYSTEM) continue;
      const found = await this.deps.repo.findByIdentifier('ServiceRequest', id.system, id.value);
      if (found) return found;
    }
    return undefined;
  }

  /**
   * The message Bundle against its own profile (type, timestamp, fullUrls, the MessageHeader's BaRS
   * shape). Its entries are checked one by one against their inbound profiles elsewhere, so only the
   * issues about the Bundle itself and its MessageHeader are kept here.
   */
  private messageBundleIssues(bundle: Bundle, rules: MessageRules): Issue[] {
    if (!rules.bundleProfile || !this.deps.validator.hasProfile(rules.bundleProfile)) return [];
    return this.deps.validator
      .validate(bundle, rules.bundleProfile)
      .filter((i) => !(i.expression ?? []).some((e) => /^Bundle\.entry\[[1-9]\d*\]\.resource/.test(e)));
  }

  private rulesFor(header: MessageHeader): MessageRules {
    const byDefinition = typeof header.definition === 'string' ? this.deps.messageRules.get(header.definition.split('|')[0]!) : undefined;
    if (byDefinition) return byDefinition;
    const event = header.eventCoding;
    const byEvent = [...this.deps.messageRules.values()].find((r) => r.event.system === event?.system && r.event.code === event?.code);
    if (byEvent) return byEvent;
    const known = [...this.deps.messageRules.values()].map((r) => `${r.event.system}|${r.event.code}`);
    throw new OutcomeError(invalid([issue('error', 'not-supported', `No message of ours has event ${event?.system}|${event?.code}; allowed: ${known.join(', ')}`, 'Bundle.entry[0].resource.eventCoding')]));
  }
}

/** One transaction or batch entry: a resource, created by POST to its type. */
function entryShape(e: BundleEntry | undefined, i: number): Issue[] {
  const at = `Bundle.entry[${i}]`;
  const issues: Issue[] = [];
  const resource = e?.resource as { resourceType?: unknown } | undefined;
  if (typeof resource !== 'object' || resource === null || typeof resource.resourceType !== 'string') {
    issues.push(issue('error', 'required', 'Each entry needs a resource (an object with a resourceType)', `${at}.resource`));
  }
  const method = e?.request?.method;
  if (method !== 'POST') issues.push(issue('error', 'not-supported', `entry.request.method ${JSON.stringify(method)} is not supported here; allowed: POST (create, with ifNoneExist for a conditional create)`, `${at}.request.method`));
  else if (resource && e?.request?.url !== resource.resourceType) {
    issues.push(issue('error', 'value', `entry.request.url must be the resource type (${String(resource.resourceType)}) for a create; got ${JSON.stringify(e?.request?.url)}`, `${at}.request.url`));
  }
  return issues;
}

/** The same finding reached twice (an answer joining a referral that the same request then updates) is said once. */
function distinct(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.severity}|${i.code}|${i.details?.text}|${(i.expression ?? []).join(',')}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function tooManyEntriesIssue(n: number): Issue {
  return issue('error', 'too-costly', `The Bundle has ${n} entries; at most ${MAX_BUNDLE_ENTRIES} are taken in one request: split it`, 'Bundle.entry');
}

function tooManyEntries(n: number): OutcomeError {
  return new OutcomeError(invalid([tooManyEntriesIssue(n)]), 413);
}

function responseEntry(r: EntryResult): BundleEntry {
  const type = r.stored.resourceType;
  return {
    fullUrl: `${type}/${r.stored.id}`,
    resource: r.stored.resource as unknown as Resource,
    response: {
      status: r.status === 201 ? '201 Created' : '200 OK',
      location: `${type}/${r.stored.id}/_history/${r.stored.versionId}`,
      etag: `W/"${r.stored.versionId}"`,
      lastModified: r.stored.lastUpdated,
      ...(r.warnings.length > 0 ? { outcome: operationOutcome(distinct(r.warnings)) } : {}),
    },
  };
}

/** The synchronous answer to a message: a response MessageHeader naming the request, and the OperationOutcome. */
function responseMessage(request: MessageHeader, code: 'ok' | 'transient-error' | 'fatal-error', outcome: OperationOutcome): Bundle {
  const outcomeId = randomUUID();
  const header: MessageHeader = {
    resourceType: 'MessageHeader',
    id: randomUUID(),
    // A response to anything but another BaRS event is a servicerequest-response (also when the request named none).
    eventCoding: request.eventCoding?.code && request.eventCoding.code !== 'servicerequest-request' ? request.eventCoding : { system: BARS_EVENT_SYSTEM, code: 'servicerequest-response' },
    source: { endpoint: 'https://fhir.painplatform.uk/fhir', name: 'Pain Platform FHIR adapter' },
    ...(request.source?.endpoint ? { destination: [{ endpoint: request.source.endpoint }] } : {}),
    response: { identifier: request.id ?? 'unknown', code, details: { reference: `urn:uuid:${outcomeId}` } },
  };
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    type: 'message',
    timestamp: new Date().toISOString(),
    entry: [
      { fullUrl: `urn:uuid:${header.id}`, resource: header },
      { fullUrl: `urn:uuid:${outcomeId}`, resource: { ...outcome, id: outcomeId } },
    ],
  };
}

