// Request bodies for the FHIR benchmarks: the GP referral transaction of fixtures/fhir-inbound with
// fresh identifiers on every call (so that every request really creates: a new patient, practice,
// practitioner, service, referral and two answer sets), and a lone ServiceRequest for $validate.
// The identifiers are synthetic: NHS numbers in the 999 test range with a valid check digit.
import { readFileSync } from 'node:fs';
import { nhsNumberCheckDigit } from '../src/fhir/nhs-number.js';

const root = new URL('../', import.meta.url).pathname;
const fixtureText = readFileSync(`${root}fixtures/fhir-inbound/gp-referral.transaction.json`, 'utf8');
/** The fixture compacted once; each body is this text with its identifiers replaced. */
const template = JSON.stringify(JSON.parse(fixtureText));

// Every identifier of the fixture, as it stands there (each is unique text in the file).
const FIXTURE = {
  nhsNumber: '9000000009',
  gpOds: 'P88001',
  serviceOds: 'RM3',
  sdsUserId: '555123456789',
  ubrn: '000012345678',
  phqId: 'EMP-QR-2026-0041',
  gadId: 'EMP QR 42 (GAD)',
};

let sequence = 0;
let nhsCursor = 0;

/** The next synthetic NHS number 999xxxxxxC: nine digits counting up, skipping those with no valid check digit. */
function nextNhsNumber(): string {
  for (;;) {
    const nine = `999${String(nhsCursor++).padStart(6, '0')}`;
    const check = nhsNumberCheckDigit(nine);
    if (check !== null) return `${nine}${check}`;
  }
}

/** An ODS-shaped code (3–6 of A-Z 0-9): a letter and the sequence in base 36. */
function ods(letter: string, n: number): string {
  return `${letter}${n.toString(36).toUpperCase().padStart(5, '0')}`;
}

export interface FreshIds {
  nhsNumber: string;
  gpOds: string;
  serviceOds: string;
  sdsUserId: string;
  ubrn: string;
  phqId: string;
  gadId: string;
}

/** Identifiers no earlier call of this process has given out. */
export function freshIds(): FreshIds {
  sequence += 1;
  const n = sequence;
  return {
    nhsNumber: nextNhsNumber(),
    gpOds: ods('G', n),
    serviceOds: ods('S', n),
    sdsUserId: String(100_000_000_000 + n),
    ubrn: String(n).padStart(12, '0'),
    phqId: `BENCH-PHQ-${process.pid}-${n}`,
    gadId: `BENCH-GAD-${process.pid}-${n}`,
  };
}

/** The GP referral transaction Bundle (8 entries) as JSON text, with fresh identifiers throughout. */
export function freshTransactionBody(ids: FreshIds = freshIds()): string {
  let body = template;
  for (const key of Object.keys(FIXTURE) as (keyof FreshIds)[]) body = body.replaceAll(FIXTURE[key], ids[key]);
  return body;
}

/**
 * The body for $validate: the GP referral ServiceRequest that carries its Patient contained and names
 * requester and performer by SDS / ODS identifier (fixtures/fhir-inbound), so it stands alone.
 */
export const validateBody = JSON.stringify(JSON.parse(readFileSync(`${root}fixtures/fhir-inbound/gp-referral-contained-patient.service-request.json`, 'utf8')));
