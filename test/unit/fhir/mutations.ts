// Random single-field mutations of a JSON resource, for the differential tests of the validator's
// engines: pick one location in the tree (any key of any object, any array item) and break it the
// ways real senders do (a field dropped, null, empty, whitespace, the wrong JSON type, an array where
// one value belongs and back, an unknown key, a primitive extension, a renamed choice key, a changed
// code, another resourceType …). Deterministic for a given seed.

type Json = Record<string, any>;

interface Location {
  readonly parent: Json | unknown[];
  readonly key: string | number;
  readonly path: string;
}

/** mulberry32: small, fast, good enough to pick mutations */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function locations(root: unknown): Location[] {
  const out: Location[] = [];
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        out.push({ parent: v, key: i, path: `${path}[${i}]` });
        walk(x, `${path}[${i}]`);
      });
    } else if (v !== null && typeof v === 'object') {
      for (const k of Object.keys(v)) {
        out.push({ parent: v as Json, key: k, path: `${path}.${k}` });
        walk((v as Json)[k], `${path}.${k}`);
      }
    }
  };
  walk(root, '$');
  return out;
}

const STRINGS = ['x', 'not a date', '2026-13-01', '2026-02-30T25:00:00Z', ' padded ', 'two  spaces', 'urn:uuid:6f2a1c1e-0000-4000-8000-00000000000c', '9000000008', 'Patient/123', 'UPPER', '#local', 'http://hl7.org/fhir/StructureDefinition/Patient'];
const NUMBERS = [0, -1, 1.5, 10, 2147483648, 1e21];
const TYPE_SUFFIXES = ['String', 'Boolean', 'Coding', 'Code', 'Integer', 'Decimal', 'Duration', 'Quantity', 'CodeableConcept', 'DateTime', 'Reference', 'Foo'];

function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)];
}

function setAt(loc: Location, value: unknown): void {
  (loc.parent as Json)[loc.key as string] = value;
}

/**
 * Apply one random mutation to `root` (in place) and say what it was. Roots themselves are never
 * replaced, so the result is still an object with its resourceType (unless that key was picked).
 */
export function mutate(root: Json, seed: number): string {
  const r = rng(seed);
  const locs = locations(root);
  if (locs.length === 0) return 'nothing to mutate';
  const loc = pick(r, locs);
  const value = (loc.parent as Json)[loc.key as string];
  const kind = Math.floor(r() * 20);
  const isArrayItem = Array.isArray(loc.parent);
  switch (kind) {
    case 0:
      if (isArrayItem) (loc.parent as unknown[]).splice(loc.key as number, 1);
      else delete (loc.parent as Json)[loc.key as string];
      return `${loc.path}: deleted`;
    case 1:
      setAt(loc, null);
      return `${loc.path}: null`;
    case 2:
      setAt(loc, '');
      return `${loc.path}: ""`;
    case 3:
      setAt(loc, '   ');
      return `${loc.path}: whitespace`;
    case 4: {
      const s = pick(r, STRINGS);
      setAt(loc, s);
      return `${loc.path}: ${JSON.stringify(s)}`;
    }
    case 5: {
      const n = pick(r, NUMBERS);
      setAt(loc, n);
      return `${loc.path}: ${n}`;
    }
    case 6:
      setAt(loc, r() < 0.5);
      return `${loc.path}: boolean`;
    case 7:
      setAt(loc, {});
      return `${loc.path}: {}`;
    case 8:
      setAt(loc, []);
      return `${loc.path}: []`;
    case 9:
      setAt(loc, [value]);
      return `${loc.path}: wrapped in an array`;
    case 10:
      if (Array.isArray(value)) {
        setAt(loc, value[0]);
        return `${loc.path}: first item instead of the array`;
      }
      setAt(loc, [value, value]);
      return `${loc.path}: twice in an array`;
    case 11:
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        value.unknownElement = pick(r, STRINGS);
        return `${loc.path}: unknown key added`;
      }
      if (!isArrayItem) (loc.parent as Json)[`${String(loc.key)}Extra`] = value;
      return `${loc.path}: unknown sibling key`;
    case 12:
      if (!isArrayItem) {
        (loc.parent as Json)[`_${String(loc.key)}`] = { extension: [{ url: 'https://example.org/x', valueString: 'y' }] };
        return `${loc.path}: primitive extension added`;
      }
      setAt(loc, { extension: [{ url: 'https://example.org/x' }] });
      return `${loc.path}: replaced by an extension-only element`;
    case 13:
      if (!isArrayItem) {
        (loc.parent as Json)[`_${String(loc.key)}`] = r() < 0.5 ? 'bad' : [{ id: 'a' }, null];
        return `${loc.path}: malformed primitive extension`;
      }
      setAt(loc, [value]);
      return `${loc.path}: nested array`;
    case 14: {
      if (isArrayItem) return `${loc.path}: (rename skipped for an array item)`;
      const key = String(loc.key);
      const m = /^([a-z]+)([A-Z][A-Za-z]*)$/.exec(key);
      const renamed = m ? `${m[1]}${pick(r, TYPE_SUFFIXES)}` : `${key}${pick(r, TYPE_SUFFIXES)}`;
      delete (loc.parent as Json)[key];
      (loc.parent as Json)[renamed] = value;
      return `${loc.path}: renamed to ${renamed}`;
    }
    case 15:
      if (isArrayItem) {
        (loc.parent as unknown[]).push(structuredClone(value));
        return `${loc.path}: duplicated`;
      }
      if (Array.isArray(value) && value.length > 0) {
        value.push(structuredClone(value[0]));
        return `${loc.path}: first item duplicated`;
      }
      setAt(loc, structuredClone(value));
      return `${loc.path}: unchanged`;
    case 16:
      if (typeof value === 'string') {
        const s = r() < 0.5 ? `${value}x` : value.toUpperCase();
        setAt(loc, s);
        return `${loc.path}: string changed`;
      }
      if (typeof value === 'number') {
        setAt(loc, -value - 1);
        return `${loc.path}: number negated`;
      }
      setAt(loc, String(value));
      return `${loc.path}: stringified`;
    case 17:
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        value.resourceType = pick(r, ['Basic', 'Patient', 'Foo', 'Bundle']);
        return `${loc.path}: resourceType set`;
      }
      setAt(loc, { resourceType: 'Basic', code: { text: 'x' } });
      return `${loc.path}: replaced by a Basic resource`;
    case 18:
      setAt(loc, [null]);
      return `${loc.path}: [null]`;
    default: {
      if (isArrayItem) {
        const other = (loc.parent as unknown[])[Math.floor(r() * (loc.parent as unknown[]).length)];
        setAt(loc, structuredClone(other));
        return `${loc.path}: replaced by a sibling item`;
      }
      const keys = Object.keys(loc.parent as Json).filter((k) => k !== loc.key);
      if (keys.length === 0) return `${loc.path}: (no sibling)`;
      const k = pick(r, keys);
      setAt(loc, structuredClone((loc.parent as Json)[k]));
      return `${loc.path}: value of ${k}`;
    }
  }
}
