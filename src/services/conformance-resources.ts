// The definitions the platform publishes (StructureDefinitions, Questionnaires, ValueSets,
// CodeSystems, ConceptMaps, MessageDefinitions, GraphDefinitions …), served read-only under their
// types. Read once at boot from profiles/ and mappings/conceptmaps/: every `<ResourceType>-*.json`
// there is loaded, so a new definition file is served without a code change.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { badRequest, OutcomeError } from '../fhir/outcomes.js';

/** The types the front door serves read-only (what `types()` returns may be a subset, or add to it). */
export const CONFORMANCE_TYPES = [
  'StructureDefinition',
  'Questionnaire',
  'ValueSet',
  'CodeSystem',
  'ConceptMap',
  'MessageDefinition',
  'GraphDefinition',
] as const;

/** Search parameters `search()` understands, on every type. */
export const CONFORMANCE_SEARCH_PARAMS = ['_id', 'url', 'name', 'version', 'status'] as const;

// Result parameters (paging, format) belong to the route that builds the searchset Bundle; they
// are accepted here so that a route may hand over its whole query.
const RESULT_PARAMS = new Set(['_count', '_format', '_pretty', '_summary', '_elements', '_total']);

type Json = Record<string, unknown>;

interface Entry {
  readonly file: string;
  readonly resource: Json;
}

// `<ResourceType>-<anything>.json`, the naming every definition file in profiles/ follows.
const FILE_PATTERN = /^([A-Z][A-Za-z]+)-.+\.json$/;

export class ConformanceResources {
  private readonly byType: ReadonlyMap<string, readonly Entry[]>;

  private constructor(byType: ReadonlyMap<string, readonly Entry[]>) {
    this.byType = byType;
  }

  /**
   * Reads every `<ResourceType>-*.json` in both folders. Each resource gets `meta.versionId` "1"
   * (the file is the only version) and `meta.lastUpdated` = the file's modification time, so that
   * a restart serves the same ETag and Last-Modified. A file that is not JSON, whose resourceType
   * differs from its name, that has no id, or that repeats another file's id or url → throws,
   * naming the files.
   */
  static load(profilesDir: string, conceptMapsDir: string): ConformanceResources {
    const byType = new Map<string, Entry[]>();
    const problems: string[] = [];
    const ids = new Map<string, string>();
    const urls = new Map<string, string>();
    for (const dir of [profilesDir, conceptMapsDir]) {
      for (const name of readdirSync(dir).sort()) {
        const type = FILE_PATTERN.exec(name)?.[1];
        if (!type) continue;
        const file = join(dir, name);
        const resource = readResource(file, type, problems);
        if (!resource) continue;
        const id = resource.id as string;
        const idKey = `${type}/${id}`;
        const sameId = ids.get(idKey);
        if (sameId) {
          problems.push(`${file}: ${type} id "${id}" is also the id in ${sameId}`);
          continue;
        }
        if (typeof resource.url === 'string') {
          // One file per canonical: a second version of a definition would make `url` searches and
          // the validator's choice ambiguous.
          const urlKey = `${type} ${resource.url}`;
          const sameUrl = urls.get(urlKey);
          if (sameUrl) {
            problems.push(`${file}: ${type} url ${resource.url} is also defined in ${sameUrl}`);
            continue;
          }
          urls.set(urlKey, file);
        }
        ids.set(idKey, file);
        const lastUpdated = statSync(file).mtime.toISOString();
        const meta = { ...(resource.meta as Json | undefined), versionId: '1', lastUpdated };
        const list = byType.get(type) ?? [];
        list.push({ file, resource: { ...resource, meta } });
        byType.set(type, list);
      }
    }
    if (problems.length > 0) {
      throw new Error(`Cannot load the conformance resources: ${problems.length} problem(s)\n` + problems.map((p) => `  - ${p}`).join('\n'));
    }
    return new ConformanceResources(byType);
  }

  /** The types held, sorted (what the CapabilityStatement lists as read-only resources). */
  types(): string[] {
    return [...this.byType.keys()].sort();
  }

  /**
   * The resource profiles held (StructureDefinitions with kind resource and derivation constraint),
   * canonical URLs grouped by the type they constrain: CapabilityStatement `supportedProfile`.
   */
  profilesByType(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const { resource: sd } of this.byType.get('StructureDefinition') ?? []) {
      if (sd.kind !== 'resource' || sd.derivation !== 'constraint') continue;
      if (typeof sd.type !== 'string' || typeof sd.url !== 'string') continue;
      out.set(sd.type, [...(out.get(sd.type) ?? []), sd.url]);
    }
    return out;
  }

  /** A copy of the resource `type`/`id`, or undefined. */
  read(type: string, id: string): Json | undefined {
    const found = this.byType.get(type)?.find((e) => e.resource.id === id);
    return found ? structuredClone(found.resource) : undefined;
  }

  /** Copies of every resource of `type`, in file-name order. */
  all(type: string): Json[] {
    return (this.byType.get(type) ?? []).map((e) => structuredClone(e.resource));
  }

  /**
   * Resources of `type` matching every parameter (a repeated parameter is AND, a comma-separated
   * value is OR), in file-name order:
   * - `_id`, `version`, `status`: exact;
   * - `url`: exact, or `url|version`;
   * - `name`: case-insensitive starts-with (`name:exact`: exact; `name:contains`: anywhere).
   * An unknown parameter or modifier, or a type not held → OutcomeError 400 saying what is supported.
   */
  search(type: string, query: Record<string, string | string[]>): Json[] {
    const list = this.byType.get(type);
    if (!list) {
      throw new OutcomeError(badRequest(`${type} is not served here; the definition types are: ${this.types().join(', ')}`));
    }
    const tests: ((r: Json) => boolean)[] = [];
    for (const [key, raw] of Object.entries(query)) {
      const [param, modifier] = key.split(':', 2) as [string, string | undefined];
      if (RESULT_PARAMS.has(param) && modifier === undefined) continue;
      const matcher = matcherFor(type, param, modifier);
      for (const value of Array.isArray(raw) ? raw : [raw]) {
        const alternatives = value.split(',').filter((v) => v.length > 0);
        if (alternatives.length === 0) continue;
        tests.push((r) => alternatives.some((v) => matcher(r, v)));
      }
    }
    return list.filter((e) => tests.every((t) => t(e.resource))).map((e) => structuredClone(e.resource));
  }
}

type Matcher = (resource: Json, value: string) => boolean;

function matcherFor(type: string, param: string, modifier: string | undefined): Matcher {
  const supported = `supported: ${CONFORMANCE_SEARCH_PARAMS.join(', ')}, name:exact, name:contains, and ${[...RESULT_PARAMS].join(', ')}`;
  const unknown = (): never => {
    throw new OutcomeError(badRequest(`Unknown search parameter "${modifier === undefined ? param : `${param}:${modifier}`}" for ${type}; ${supported}`));
  };
  const str = (r: Json, key: string): string | undefined => (typeof r[key] === 'string' ? (r[key] as string) : undefined);
  if (param === 'name') {
    if (modifier === undefined) return (r, v) => str(r, 'name')?.toLowerCase().startsWith(v.toLowerCase()) ?? false;
    if (modifier === 'exact') return (r, v) => str(r, 'name') === v;
    if (modifier === 'contains') return (r, v) => str(r, 'name')?.toLowerCase().includes(v.toLowerCase()) ?? false;
    return unknown();
  }
  if (modifier !== undefined) return unknown();
  switch (param) {
    case '_id':
      return (r, v) => r.id === v;
    case 'version':
      return (r, v) => str(r, 'version') === v;
    case 'status':
      return (r, v) => str(r, 'status') === v;
    case 'url':
      return (r, v) => {
        const bar = v.indexOf('|');
        if (bar < 0) return str(r, 'url') === v;
        return str(r, 'url') === v.slice(0, bar) && str(r, 'version') === v.slice(bar + 1);
      };
    default:
      return unknown();
  }
}

function readResource(file: string, type: string, problems: string[]): Json | undefined {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    problems.push(`${file}: not valid JSON (${(e as Error).message})`);
    return undefined;
  }
  const r = json as Json;
  if (typeof json !== 'object' || json === null || Array.isArray(json) || r.resourceType !== type) {
    problems.push(`${file}: expected resourceType "${type}" (from the file name), found ${JSON.stringify(r?.resourceType)}`);
    return undefined;
  }
  if (typeof r.id !== 'string' || r.id.length === 0) {
    problems.push(`${file}: ${type} has no id, so it cannot be read at ${type}/{id}`);
    return undefined;
  }
  return r;
}
