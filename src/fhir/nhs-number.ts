// NHS number check (NHS Data Dictionary): 10 digits; multiply digits 1–9 by the weights 10 down to 2,
// sum, take the remainder mod 11, check = 11 − remainder; 11 → 0; 10 → the number is invalid; the
// number is valid when the check equals digit 10. Pure: no I/O, no logging (an NHS number is patient data).

const TEN_DIGITS = /^[0-9]{10}$/;

/**
 * The Modulus 11 check digit of the first nine digits, or `null` when the remainder gives 10
 * (no valid NHS number starts with those nine digits). `nineDigits` must be 9 ASCII digits.
 */
export function nhsNumberCheckDigit(nineDigits: string): number | null {
  if (!/^[0-9]{9}$/.test(nineDigits)) throw new RangeError('nhsNumberCheckDigit expects exactly 9 digits');
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += (nineDigits.charCodeAt(i) - 48) * (10 - i);
  const check = 11 - (sum % 11);
  if (check === 11) return 0;
  if (check === 10) return null;
  return check;
}

/** True when `s` is exactly 10 ASCII digits whose 10th digit is the Modulus 11 check digit of the first nine. */
export function isValidNhsNumber(s: string): boolean {
  if (typeof s !== 'string' || !TEN_DIGITS.test(s)) return false;
  const check = nhsNumberCheckDigit(s.slice(0, 9));
  return check !== null && check === s.charCodeAt(9) - 48;
}
