// Formats of the native JSON (native-format.md) as pure functions, shared by the joi schemas and the mappers.

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/;
export const ODS_PATTERN = /^[A-Z0-9]{3,6}$/;
export const SDS_USER_ID_PATTERN = /^[0-9]{6,12}$/;
/** Digits and spaces with an optional leading `+`, at least one digit (native-format.md: patient.phone). */
export const PHONE_PATTERN = /^\+?[0-9 ]*[0-9][0-9 ]*$/;
/**
 * UK postcode, in capitals, the single space between outward and inward code optional:
 * outward A9, A99, AA9, AA99, A9A, AA9A (or GIR), inward 9AA. E.g. `M6 8HA`, `SW1A 1AA`, `M68HA`.
 */
export const UK_POSTCODE_PATTERN = /^(?:[A-Z]{1,2}[0-9][A-Z0-9]?|GIR) ?[0-9][A-Z]{2}$/;
/**
 * A well-formed BCP-47 language tag (RFC 5646 §2.1 syntax, case-insensitive): a 2–3 letter language
 * (ISO 639) with optional extlangs, then optional script, region, variants, extensions and private use;
 * e.g. `en`, `pl`, `ur`, `pt-BR`, `zh-Hant-TW`, `sgn-GB`. The 4–8 letter "registered language" form
 * (unused by any registered language), grandfathered tags and private-use-only tags are not accepted,
 * so that `english` or `polish` is caught. Registry membership (is `qq` a language?) is not checked.
 */
export const BCP47_PATTERN = new RegExp(
  '^[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}' + // language [-extlang]
    '(?:-[A-Za-z]{4})?' + // script
    '(?:-(?:[A-Za-z]{2}|[0-9]{3}))?' + // region
    '(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*' + // variants
    '(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*' + // extensions
    '(?:-[Xx](?:-[A-Za-z0-9]{1,8})+)?$', // private use
);

const DATE_TIME = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?(Z|([+-])([0-9]{2}):([0-9]{2}))$/;
/** Looks like a local date-time: the mistake of leaving out the offset. */
const DATE_TIME_NO_OFFSET = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$/;
const DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function realYmd(y: number, m: number, d: number): boolean {
  return y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m);
}

export type DateTimeParse =
  | { ok: true; epochMs: number }
  | { ok: false; reason: 'no-offset' | 'format' | 'not-real' };

/**
 * Parses an RFC 3339 date-time as FHIR dateTime accepts it with a time: `YYYY-MM-DDThh:mm:ss[.fraction]`
 * then `Z` or `±hh:mm` (offset at most 14:00). Checks the date and time are real (no 2026-02-30, no 24:00).
 */
export function parseDateTime(s: string): DateTimeParse {
  const m = DATE_TIME.exec(s);
  if (!m) return { ok: false, reason: DATE_TIME_NO_OFFSET.test(s) ? 'no-offset' : 'format' };
  const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (!realYmd(y, mo, d) || h > 23 || mi > 59 || sec > 59) return { ok: false, reason: 'not-real' };
  let offsetMinutes = 0;
  if (m[8] !== 'Z') {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (om > 59 || oh * 60 + om > 14 * 60) return { ok: false, reason: 'not-real' };
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, sec, m[7] ? Math.floor(Number(`0${m[7]}`) * 1000) : 0);
  return { ok: true, epochMs: date.getTime() - offsetMinutes * 60_000 };
}

/** `YYYY-MM-DD` naming a real calendar date (year 0001 or later). */
export function isRealDate(s: string): boolean {
  const m = DATE.exec(s);
  return m !== null && realYmd(Number(m[1]), Number(m[2]), Number(m[3]));
}

const LONDON_DATE = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'Europe/London',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
});

/** Today's date in the UK (Europe/London) at `now`, as `YYYY-MM-DD`: "not in the future" for dates is judged against it. */
export function ukDate(now: Date): string {
  const parts = Object.fromEntries(LONDON_DATE.formatToParts(now).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}
