import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { isValidNhsNumber, nhsNumberCheckDigit } from '../../../src/fhir/nhs-number.js';

describe('isValidNhsNumber', () => {
  test.each([
    ['9000000009', 'the NHS Data Dictionary example'],
    ['9990000018', 'referral-step-up.json'],
    ['9990158398', 'referral-new-at-risk.json'],
    ['4010232137', 'check digit 7'],
    ['0000000000', 'remainder 0 gives check 11, which is written 0'],
  ])('%s is valid (%s)', (n) => {
    expect(isValidNhsNumber(n)).toBe(true);
  });

  test.each([
    ['3478526985', 'published BaRS example failing the check'],
    ['4857773456', 'published BaRS example failing the check'],
    ['9990000019', 'wrong check digit'],
    ['1000000010', 'remainder gives 10: no valid check digit exists'],
    ['999000001', '9 digits'],
    ['99900000181', '11 digits'],
    ['999 000 0018', 'spaces'],
    ['999-000-0018', 'hyphens'],
    ['99900000１8', 'a non-ASCII digit'],
    ['', 'empty'],
  ])('%s is invalid (%s)', (n) => {
    expect(isValidNhsNumber(n)).toBe(false);
  });

  test('a number (not a string) is invalid', () => {
    expect(isValidNhsNumber(9000000009 as unknown as string)).toBe(false);
  });

  test('nhsNumberCheckDigit returns null when the remainder gives 10', () => {
    expect(nhsNumberCheckDigit('100000001')).toBeNull();
    expect(nhsNumberCheckDigit('900000000')).toBe(9);
    expect(() => nhsNumberCheckDigit('12345')).toThrow(RangeError);
  });

  const nineDigits = fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 9, maxLength: 9 }).map((d) => d.join(''));

  test('appending the computed check digit always gives a valid number', () => {
    fc.assert(
      fc.property(nineDigits, (nine) => {
        const check = nhsNumberCheckDigit(nine);
        if (check === null) return true;
        return isValidNhsNumber(nine + check);
      }),
    );
  });

  test('changing any single digit of a valid number makes it invalid', () => {
    fc.assert(
      fc.property(nineDigits, fc.integer({ min: 0, max: 9 }), fc.integer({ min: 1, max: 9 }), (nine, pos, delta) => {
        const check = nhsNumberCheckDigit(nine);
        fc.pre(check !== null);
        const digits = (nine + check).split('').map(Number);
        digits[pos] = (digits[pos]! + delta) % 10;
        return !isValidNhsNumber(digits.join(''));
      }),
    );
  });
});
