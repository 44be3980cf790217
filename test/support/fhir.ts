// Helpers for tests of the /fhir front door: the GP fixtures with fresh identifiers (so that tests
// sharing one database never collide on the store's identifier key), and small request helpers.
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import type { App } from '../../src/server.js';
import { nhsNumberCheckDigit } from '../../src/fhir/nhs-number.js';
import { projectRoot, uniqueSuffix } from './app.js';

export const NHS_NUMBER_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';
export const UBRN_SYSTEM = 'https://fhir.nhs.uk/Id/UBRN';
export const QR_ID_SYSTEM = 'https://fhir.eccles-practice.example/Id/questionnaire-response';

export type InboundFixture =
  | 'gp-referral.transaction.json'
  | 'gp-referral.message.json'
  | 'gp-cancellation.message.json'
  | 'gp-referral-contained-patient.service-request.json'
  | 'gp-referral-logical-subject.service-request.json';

/** The identifiers the GP fixtures carry, each replaced by a fresh value in `freshInbound`. */
const FIXTURE_VALUES = {
  nhsNumber: '9000000009',
  ubrn: ['000012345678', '000012345679', '000012345680'],
  phqId: 'EMP-QR-2026-0041',
  gadId: 'EMP QR 42 (GAD)',
  sdsId: '555123456789',
  gpOds: 'P88001',
  serviceOds: 'RM3',
};

export interface FreshIds {
  nhsNumber: string;
  /** the UBRN every fixture's ServiceRequest gets */
  ubrn: string;
  phqId: string;
  gadId: string;
  /** the referring GP's SDS user id, the GP practice's and the pain service's ODS codes */
  sdsId: string;
  gpOds: string;
  serviceOds: string;
}

/** A 10-digit NHS number with a valid Modulus 11 check digit, starting 9 (never a real patient's range used here). */
export function freshNhsNumber(): string {
  for (;;) {
    const nine = `9${String(randomInt(0, 100_000_000)).padStart(8, '0')}`;
    const check = nhsNumberCheckDigit(nine);
    if (check !== null) return `${nine}${check}`;
  }
}

/** A 12-digit UBRN no other test uses. */
export function freshUbrn(): string {
  return `${String(randomInt(1, 1_000_000)).padStart(6, '0')}${String(randomInt(0, 1_000_000)).padStart(6, '0')}`;
}

export function freshIds(): FreshIds {
  const s = uniqueSuffix();
  return {
    nhsNumber: freshNhsNumber(),
    ubrn: freshUbrn(),
    phqId: `QR-PHQ-${s}`,
    gadId: `QR-GAD-${s}`,
    sdsId: String(randomInt(100_000_000_000, 1_000_000_000_000)),
    gpOds: `P${String(randomInt(0, 100_000)).padStart(5, '0')}`,
    serviceOds: `R${String(randomInt(0, 10_000)).padStart(4, '0')}`,
  };
}

export function inboundFixtureText(name: InboundFixture): string {
  return readFileSync(join(projectRoot, 'fixtures', 'fhir-inbound', name), 'utf8');
}

/**
 * A GP fixture whose NHS number, UBRN, QuestionnaireResponse identifiers, SDS id and ODS codes are `ids` (fresh ones by
 * default) everywhere they occur, ifNoneExist conditions included. Pass the same `ids` to two fixtures
 * to make them about the same referral (e.g. a referral and its cancellation).
 */
export function freshInbound<T = any>(name: InboundFixture, ids: FreshIds = freshIds()): T {
  let text = inboundFixtureText(name);
  text = text.split(FIXTURE_VALUES.nhsNumber).join(ids.nhsNumber);
  for (const u of FIXTURE_VALUES.ubrn) text = text.split(u).join(ids.ubrn);
  text = text.split(FIXTURE_VALUES.phqId).join(ids.phqId);
  text = text.split(FIXTURE_VALUES.gadId).join(ids.gadId);
  text = text.split(FIXTURE_VALUES.sdsId).join(ids.sdsId);
  text = text.split(FIXTURE_VALUES.gpOds).join(ids.gpOds);
  text = text.split(`"${FIXTURE_VALUES.serviceOds}"`).join(`"${ids.serviceOds}"`);
  text = text.split(`|${FIXTURE_VALUES.serviceOds}"`).join(`|${ids.serviceOds}"`);
  return JSON.parse(text) as T;
}

/** The entry of a Bundle holding the first resource of `type`. */
export function entryOf(bundle: any, type: string): any {
  const e = bundle.entry.find((x: any) => x.resource?.resourceType === type);
  if (!e) throw new Error(`no ${type} entry in the Bundle`);
  return e;
}

export interface FhirAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  text: string;
}

/** One request to /fhir through `app.server.inject`; a JSON body is sent as application/fhir+json. */
export async function fhir(
  app: App,
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<FhirAnswer> {
  const payload = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  const res = await app.server.inject({
    method,
    url,
    payload,
    headers: { ...(payload !== undefined ? { 'content-type': 'application/fhir+json' } : {}), ...headers },
  });
  let parsed: any;
  try {
    parsed = res.payload ? JSON.parse(res.payload) : undefined;
  } catch {
    parsed = undefined; // e.g. an XML answer
  }
  return { status: res.statusCode, headers: res.headers as FhirAnswer['headers'], body: parsed, text: res.payload };
}

/** How many `type` resources a search finds (the searchset's total). */
export async function countOf(app: App, type: string, query: string): Promise<number> {
  const res = await fhir(app, 'GET', `/fhir/${type}?${query}`);
  if (res.status !== 200) throw new Error(`search ${type}?${query} answered ${res.status}: ${res.text}`);
  return res.body.total as number;
}

/** The issues of an OperationOutcome whose details.text contains `fragment`. */
export function issuesMentioning(outcome: any, fragment: string | RegExp): any[] {
  return (outcome?.issue ?? []).filter((i: any) => {
    const text = String(i.details?.text ?? '');
    return typeof fragment === 'string' ? text.includes(fragment) : fragment.test(text);
  });
}

/** The text of the body line that an issue's `diagnostics` ("line L, column C") points at. */
export function lineAt(text: string, diagnostics: string | undefined): string {
  const m = /^line (\d+), column (\d+)$/.exec(diagnostics ?? '');
  if (!m) throw new Error(`diagnostics ${JSON.stringify(diagnostics)} is not "line L, column C"`);
  return text.split('\n')[Number(m[1]) - 1] ?? '';
}

/** The inbound referrals of `nhsNumber` in the native view (GET /referrals?direction=inbound). */
export async function inboundReferralsFor(app: App, nhsNumber: string): Promise<any[]> {
  const res = await app.server.inject({ url: `/referrals?direction=inbound&nhsNumber=${nhsNumber}&limit=100` });
  expect(res.statusCode).toBe(200);
  return JSON.parse(res.payload).items;
}

/** The one inbound referral of `nhsNumber` in the native view. */
export async function onlyReferralOf(app: App, nhsNumber: string): Promise<any> {
  const items = await inboundReferralsFor(app, nhsNumber);
  expect(items).toHaveLength(1);
  return items[0];
}

/** `Type/id` of a Bundle response entry (its location without the version). */
export const refOf = (e: any): string => String(e.response.location).replace(/\/_history\/\d+$/, '');

/** PHQ-9 item 9 ("better off dead …") answered "Nearly every day" (3), the total adjusted from 13 to 16. */
export function withSelfHarm(phq: any): any {
  phq.item.find((i: any) => i.linkId === '44260-8').answer = [{ valueCoding: { system: 'http://loinc.org', code: 'LA6571-9', display: 'Nearly every day' } }];
  phq.item.find((i: any) => i.linkId === '44261-6').answer = [{ valueInteger: 16 }];
  return phq;
}

/** The OperationOutcome of a $process-message response message, with the response code. */
export function messageOutcome(body: any): { code: string; outcome: any } {
  expect(body.resourceType).toBe('Bundle');
  expect(body.type).toBe('message');
  const header = body.entry[0].resource;
  const outcome = body.entry.find((e: any) => e.fullUrl === header.response.details.reference)?.resource;
  expect(outcome?.resourceType).toBe('OperationOutcome');
  return { code: header.response.code, outcome };
}
