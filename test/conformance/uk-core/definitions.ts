// Reads a UK Core release from ../shared/reference/uk-core (third-party, never copied into the
// project): the XML StructureDefinitions of the profiles asked for, every UK Core definition they
// depend on (base profiles, extension definitions), and the ValueSets / CodeSystems of their required
// bindings. UK Core publishes differentials only, so the snapshots are generated here, at test time,
// with the project's own generator (src/fhir/snapshot.ts) over the R4 core definitions.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Fhir } from 'fhir';
import type { CodeSystem, ElementDefinition, StructureDefinition, ValueSet } from 'fhir/r4.js';
import { generateSnapshots, type ResolveStructureDefinition } from '../../../src/fhir/snapshot.js';
import { loadCoreDefinitions } from '../../../src/fhir/validation/core-definitions.js';

export const UK_CORE_BASE = 'https://fhir.hl7.org.uk/';
const HL7_SD = 'http://hl7.org/fhir/StructureDefinition/';

export interface UkCoreRelease {
  /** e.g. "STU2 2.0.2" */
  readonly label: string;
  /** the folder with structuredefinitions/ (and, in some releases, valuesets/ and codesystems/) */
  readonly dir: string;
  /**
   * Where the release's ValueSets and CodeSystems are. The 2.0.2 copy in the reference holds only
   * StructureDefinitions and examples; see the test for what that means for its bindings.
   */
  readonly terminologyDir?: string;
}

export interface UkCoreDefinitions {
  /** resource type → canonical URL of its UK Core profile */
  readonly profiles: ReadonlyMap<string, string>;
  /** the profiles and every UK Core definition they need, each with a generated snapshot */
  readonly structures: readonly StructureDefinition[];
  readonly valueSets: readonly ValueSet[];
  readonly codeSystems: readonly CodeSystem[];
  /** stand-ins for cross-version extension definitions the reference does not hold (see crossVersionStub) */
  readonly stubs: readonly StructureDefinition[];
  /** required bindings ("profile id: element id" → ValueSet URL) whose ValueSet is not in the release folder */
  readonly missingValueSets: ReadonlyMap<string, string>;
}

const fhir = new Fhir();

function readXml<T>(file: string): T {
  return fhir.xmlToObj(readFileSync(file, 'utf8')) as T;
}

/** Every `<resourceType>` XML file of a folder, by canonical URL. */
function readFolder<T extends { url?: string }>(dir: string): Map<string, T> {
  const out = new Map<string, T>();
  if (!existsSync(dir)) return out;
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.xml')) continue;
    const resource = readXml<T>(join(dir, file));
    if (resource.url) out.set(resource.url, resource);
  }
  return out;
}

/**
 * Resolves R4 core types, resources and HL7 extension definitions for the snapshot generator.
 *
 * UK Core slices extensions on primitive elements (Patient.birthDate.extension:birthTime,
 * Patient.telecom.system.extension:otherContactSystem). Our generator refuses to expand the children
 * of a primitive type, since our own profiles never need to; the HL7 snapshots of such profiles carry
 * the primitive's id / extension / value children, so the primitive types are handed to the
 * generator as if complex, which yields exactly those children.
 */
function coreResolver(stubs: Map<string, StructureDefinition>): ResolveStructureDefinition {
  const core = loadCoreDefinitions();
  const byUrl = new Map<string, StructureDefinition>();
  for (const sd of core.structures) {
    byUrl.set(sd.url, sd.kind === 'primitive-type' ? { ...sd, kind: 'complex-type' } : sd);
  }
  return (url) => {
    const found = byUrl.get(url) ?? core.extensions.get(url);
    if (found || !CROSS_VERSION_EXTENSION.test(url)) return found;
    let stub = stubs.get(url);
    if (!stub) {
      stub = crossVersionStub(url, byUrl.get(`${HL7_SD}Extension`) as StructureDefinition);
      stubs.set(url, stub);
    }
    return stub;
  };
}

// Cross-version extensions (http://hl7.org/fhir/5.0/…, …/6.0/…) are defined in the
// hl7.fhir.extensions.r5 package, which the reference does not hold. The stub fixes only the url, so
// an extension with that url lands in its slice (and no other extension does) but its value is not
// checked; the test lists every stub it had to make.
const CROSS_VERSION_EXTENSION = /^http:\/\/hl7\.org\/fhir\/[0-9.]+\/StructureDefinition\/extension-/;

function crossVersionStub(url: string, extension: StructureDefinition): StructureDefinition {
  const elements = structuredClone(extension.snapshot?.element ?? []);
  const urlElement = elements.find((e) => e.id === 'Extension.url');
  if (urlElement) urlElement.fixedUri = url;
  const name = url.slice(url.lastIndexOf('/') + 1).replace(/[^A-Za-z0-9]/g, '');
  return {
    resourceType: 'StructureDefinition',
    id: name,
    url,
    name,
    status: 'draft',
    kind: 'complex-type',
    abstract: false,
    context: [{ type: 'element', expression: 'Element' }],
    type: 'Extension',
    baseDefinition: `${HL7_SD}Extension`,
    derivation: 'constraint',
    snapshot: { element: elements },
  };
}

function isUkCore(url: string): boolean {
  return url.startsWith(UK_CORE_BASE);
}

/** UK Core definitions an SD needs before its snapshot can be generated. */
function dependencies(sd: StructureDefinition): string[] {
  const out: string[] = [];
  if (sd.baseDefinition && isUkCore(sd.baseDefinition)) out.push(sd.baseDefinition);
  for (const el of sd.differential?.element ?? []) {
    for (const type of el.type ?? []) {
      for (const p of type.profile ?? []) if (isUkCore(p)) out.push(p.split('|')[0]);
    }
  }
  return out;
}

export function loadUkCore(release: UkCoreRelease, profileFiles: readonly string[]): UkCoreDefinitions {
  const sdDir = join(release.dir, 'structuredefinitions');
  const all = readFolder<StructureDefinition>(sdDir);

  const profiles = new Map<string, string>();
  const needed = new Map<string, StructureDefinition>();
  const queue: string[] = [];
  for (const file of profileFiles) {
    const sd = readXml<StructureDefinition>(join(sdDir, file));
    profiles.set(sd.type, sd.url);
    queue.push(sd.url);
  }
  while (queue.length > 0) {
    const url = queue.shift() as string;
    if (needed.has(url)) continue;
    const sd = all.get(url);
    if (!sd) throw new Error(`${release.label}: ${url} is needed but not in ${sdDir}`);
    needed.set(url, sd);
    queue.push(...dependencies(sd));
  }
  const stubs = new Map<string, StructureDefinition>();
  const structures = generateSnapshots([...needed.values()], coreResolver(stubs));

  // Terminology: the ValueSets of required bindings, and the CodeSystems those ValueSets include.
  const vsAll = release.terminologyDir ? readFolder<ValueSet>(join(release.terminologyDir, 'valuesets')) : new Map<string, ValueSet>();
  const csAll = release.terminologyDir ? readFolder<CodeSystem>(join(release.terminologyDir, 'codesystems')) : new Map<string, CodeSystem>();
  const valueSets = new Map<string, ValueSet>();
  const codeSystems = new Map<string, CodeSystem>();
  const missingValueSets = new Map<string, string>();
  const addValueSet = (url: string, from: string): void => {
    if (valueSets.has(url)) return;
    const vs = vsAll.get(url);
    if (!vs) {
      missingValueSets.set(from, url);
      return;
    }
    valueSets.set(url, vs);
    for (const inc of [...(vs.compose?.include ?? []), ...(vs.compose?.exclude ?? [])]) {
      const cs = inc.system ? csAll.get(inc.system) : undefined;
      if (cs?.url) codeSystems.set(cs.url, cs);
      for (const ref of inc.valueSet ?? []) if (isUkCore(ref)) addValueSet(ref.split('|')[0], from);
    }
  };
  for (const sd of structures) {
    for (const el of sd.snapshot?.element ?? []) {
      const vs = requiredUkCoreBinding(el);
      if (vs) addValueSet(vs, `${sd.id}: ${el.id}`);
    }
  }
  return {
    profiles,
    structures,
    stubs: [...stubs.values()],
    valueSets: [...valueSets.values()],
    codeSystems: [...codeSystems.values()],
    missingValueSets,
  };
}

function requiredUkCoreBinding(el: ElementDefinition): string | undefined {
  const vs = el.binding?.valueSet;
  return el.binding?.strength === 'required' && vs && isUkCore(vs) ? vs.split('|')[0] : undefined;
}

/** Every required binding in the snapshots (element id → ValueSet URL), UK Core's and R4 core's. */
export function requiredBindings(structures: readonly StructureDefinition[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const sd of structures) {
    for (const el of sd.snapshot?.element ?? []) {
      if (el.binding?.strength === 'required' && el.binding.valueSet) out.set(`${sd.id}: ${el.id}`, el.binding.valueSet.split('|')[0]);
    }
  }
  return out;
}

export { HL7_SD };

/**
 * The release's examples of the given resource types (file name `UKCore-<Type>-…`), as JSON. The
 * converter carries XML comments over as `fhir_comments`, which is not FHIR content: dropped.
 */
export function readExamples(release: UkCoreRelease, types: readonly string[]): [file: string, resource: { resourceType: string }][] {
  const dir = join(release.dir, 'examples');
  const out: [string, { resourceType: string }][] = [];
  for (const file of readdirSync(dir).sort()) {
    const type = /^UKCore-([A-Za-z]+)-.*\.xml$/.exec(file)?.[1];
    if (!type || !types.includes(type)) continue;
    const json = JSON.stringify(readXml(join(dir, file)));
    out.push([file, JSON.parse(json, (key, value: unknown) => (key === 'fhir_comments' ? undefined : value))]);
  }
  return out;
}
