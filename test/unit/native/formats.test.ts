import { describe, expect, test } from 'vitest';
import {
  BCP47_PATTERN,
  ID_PATTERN,
  ODS_PATTERN,
  PHONE_PATTERN,
  SDS_USER_ID_PATTERN,
  UK_POSTCODE_PATTERN,
  isRealDate,
  parseDateTime,
  ukDate,
} from '../../../src/native/formats.js';
import { formatPath, showValue } from '../../../src/native/problem.js';

describe('parseDateTime', () => {
  test.each([
    ['2026-11-20T10:15:00+00:00', Date.UTC(2026, 10, 20, 10, 15, 0)],
    ['2026-11-20T10:15:00Z', Date.UTC(2026, 10, 20, 10, 15, 0)],
    ['2026-11-20T10:15:00-05:30', Date.UTC(2026, 10, 20, 15, 45, 0)],
    ['2026-11-20T10:15:00.250+01:00', Date.UTC(2026, 10, 20, 9, 15, 0, 250)],
    ['2024-02-29T23:59:59+14:00', Date.UTC(2024, 1, 29, 9, 59, 59)],
  ])('%s parses', (s, expected) => {
    expect(parseDateTime(s)).toEqual({ ok: true, epochMs: expected });
  });

  test('a two-digit year is not taken as 19xx', () => {
    const p = parseDateTime('0050-01-01T00:00:00Z');
    expect(p.ok && new Date(p.epochMs).getUTCFullYear()).toBe(50);
  });

  test.each([
    ['2026-11-20T10:15:00', 'no-offset'],
    ['2026-11-20T10:15', 'no-offset'],
    ['2026-11-20T10:15:00.123', 'no-offset'],
    ['2026-11-20T10:15+00:00', 'format'],
    ['2026-11-20 10:15:00+00:00', 'format'],
    ['2026-11-20t10:15:00z', 'format'],
    ['2026-11-20', 'format'],
    ['2026-11-20T10:15:00+0000', 'format'],
    ['20261120T101500Z', 'format'],
    ['2026-02-29T10:15:00Z', 'not-real'],
    ['2026-13-01T10:15:00Z', 'not-real'],
    ['2026-04-31T10:15:00Z', 'not-real'],
    ['2026-11-20T24:00:00Z', 'not-real'],
    ['2026-11-20T10:60:00Z', 'not-real'],
    ['2026-11-20T10:15:60Z', 'not-real'],
    ['2026-11-20T10:15:00+14:01', 'not-real'],
    ['2026-11-20T10:15:00+01:60', 'not-real'],
    ['0000-01-01T00:00:00Z', 'not-real'],
  ])('%s is rejected (%s)', (s, reason) => {
    expect(parseDateTime(s)).toEqual({ ok: false, reason });
  });
});

describe('isRealDate', () => {
  test.each([
    ['1968-04-12', true],
    ['2024-02-29', true],
    ['2000-02-29', true],
    ['1900-02-29', false],
    ['2023-02-29', false],
    ['1968-04-31', false],
    ['1968-00-12', false],
    ['1968-4-12', false],
    ['12/04/1968', false],
    ['1968-04-12T00:00:00Z', false],
  ])('%s → %s', (s, ok) => {
    expect(isRealDate(s)).toBe(ok);
  });
});

describe('ukDate', () => {
  test.each([
    ['2026-11-27T00:00:00Z', '2026-11-27'], // GMT
    ['2026-11-26T23:59:59Z', '2026-11-26'],
    ['2026-06-30T23:30:00Z', '2026-07-01'], // BST: already 00:30 on 1 July in London
  ])('%s → %s', (iso, date) => {
    expect(ukDate(new Date(iso))).toBe(date);
  });
});

describe('patterns', () => {
  test.each([
    [ID_PATTERN, ['PP-2026-000123', 'abc', 'a.b_c-d', 'A'.repeat(64)], ['ab', '-abc', '.abc', 'PP 1', 'A'.repeat(65), 'PP/1']],
    [ODS_PATTERN, ['RM3', 'P88001', 'NQ9X1'], ['RM', 'rm3', 'P880011', 'P88-01']],
    [SDS_USER_ID_PATTERN, ['555123', '555123456789'], ['55512', '5551234567890', 'S55123']],
    [PHONE_PATTERN, ['0161 496 0123', '+44 7700 900123', '07700900123'], ['0161-496-0123', '+44 (0)161 496 0123', '44+ 7700', '+', '   ', 'tel:0161']],
    [UK_POSTCODE_PATTERN, ['M6 8HA', 'SW1A 1AA', 'M68HA', 'EC1A 1BB', 'W1A 0AX', 'B33 8TH', 'CR2 6XH', 'DN55 1PT', 'GIR 0AA'], ['m6 8ha', 'M6-8HA', 'M6  8HA', '6M 8HA', 'M6 8H', 'SW1A1AAA', '12345']],
    [BCP47_PATTERN, ['en', 'pl', 'ur', 'en-GB', 'pt-BR', 'zh-Hant-TW', 'sgn-GB', 'es-419', 'EN-gb', 'de-CH-1996', 'en-x-nhs'], ['english', 'en_GB', 'e', 'en-', 'x-private', '', 'en GB']],
  ] as const)('%s', (pattern, good, bad) => {
    for (const s of good) expect(pattern.test(s), s).toBe(true);
    for (const s of bad) expect(pattern.test(s), s).toBe(false);
  });
});

describe('formatPath and showValue', () => {
  test.each([
    [[], '(body)'],
    [['patient', 'nhsNumber'], 'patient.nhsNumber'],
    [['assessments', 0, 'answers', '9'], 'assessments[0].answers.9'],
    [['answers', 'a.b'], 'answers["a.b"]'],
  ] as const)('%j → %s', (segs, path) => {
    expect(formatPath(segs)).toBe(path);
  });

  test('long strings are cut short', () => {
    const shown = showValue('x'.repeat(500));
    expect(shown.length).toBeLessThan(120);
    expect(shown).toContain('500 characters');
  });
});
