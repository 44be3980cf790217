// The validator every emitted (and received) resource passes before it is stored. Built once at boot
// by createValidator: R4 core + the platform's profiles, ValueSets and CodeSystems compiled up front,
// required-binding expansions precomputed. validate() then runs, per resource:
//   1. the structural pass of medplum 4.5 (structure, cardinality, fixed/pattern, primitive formats,
//      invariants): by default our port of it (validation/fast-structural.ts: same issues, a fraction
//      of the time, invariants evaluated only when their answer can change), or, with engine
//      'medplum', medplum's validateTypedValue itself, which the tests keep as the reference;
//   2. our walk beside the profile (required bindings, NHS number, slicing, what medplum cannot reach);
//   3. for a Bundle: each entry against its own meta.profile, and urn:uuid references resolved.
import { loadDataType } from '@medplum/core';
import type { Resource, StructureDefinition } from 'fhir/r4.js';
import type { Issue } from './outcomes.js';
import { issue } from './outcomes.js';
import { loadCoreDefinitions } from './validation/core-definitions.js';
import {
  compileInvariant,
  evaluateCached,
  evaluateEveryTime,
  varsFor,
  type CompiledInvariant,
  type InvariantEvaluator,
} from './validation/fhirpath.js';
import {
  PLATFORM_CANONICAL_BASE,
  ProfileLoadError,
  readPlatformDefinitions,
  withExtraDefinitions,
  type ExtraDefinition,
} from './validation/platform-definitions.js';
import { SKIPPED_CONSTRAINTS, StructureRegistry } from './validation/registry.js';
import { CORE_SD_BASE, StructureError, compileStructure, type CompiledStructure } from './validation/schema.js';
import { FastStructuralPass } from './validation/fast-structural.js';
import { medplumIssues, refineIssues, registerProfileForMedplum } from './validation/structural.js';
import { Terminology, stripVersion } from './validation/terminology.js';
import { walkResource, type CollectedReference, type WalkContext, type WalkStats } from './validation/walker.js';

export { ProfileLoadError } from './validation/platform-definitions.js';
export { NHS_NUMBER_SYSTEM } from './validation/walker.js';
export type { Issue } from './outcomes.js';

export interface ValidatorOptions {
  /** folder holding StructureDefinition-*.json, ValueSet-*.json and CodeSystem-*.json */
  readonly profilesDir: string;
  /**
   * The structural pass: 'fast' (default) is our port of medplum's validateTypedValue over the same
   * parsed schemas; 'medplum' calls medplum itself (slower; the reference the tests compare with).
   */
  readonly engine?: ValidatorEngine;
  /**
   * StructureDefinitions (with snapshots), ValueSets and CodeSystems to load beside the profiles
   * folder, e.g. a published IG's profiles that a conformance test validates against. They are
   * checked like the folder's files; a canonical URL defined in both is a load problem.
   */
  readonly extraDefinitions?: readonly ExtraDefinition[];
}

export type { ExtraDefinition } from './validation/platform-definitions.js';

export type ValidatorEngine = 'fast' | 'medplum';

export interface ValidatorStats {
  /** milliseconds spent in createValidator */
  readonly loadMs: number;
  /** canonical URLs of the platform StructureDefinitions loaded */
  readonly profiles: readonly string[];
  readonly valueSets: number;
  readonly codeSystems: number;
  /** required bindings in the loaded definitions whose ValueSet could not be expanded locally */
  readonly unexpandableValueSets: ReadonlyMap<string, string>;
  /** required-binding checks skipped (since start) because their ValueSet is unexpandable */
  readonly skippedBindingChecks: number;
}

export interface FhirValidator {
  /**
   * Every issue found (errors, warnings, information), each with severity, code, details.text and a
   * FHIRPath `expression`. `profileUrl` defaults to the first `meta.profile` this validator knows,
   * else base R4. A Bundle's entries are each validated against their own `meta.profile`.
   */
  validate(resource: unknown, profileUrl?: string): Issue[];
  /** True when `url` is a StructureDefinition this validator can validate against. */
  hasProfile(url: string): boolean;
  stats(): ValidatorStats;
}

type Json = Record<string, unknown>;

interface Result {
  readonly issues: Issue[];
  readonly references: CollectedReference[];
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function createValidator(opts: ValidatorOptions): FhirValidator {
  const started = performance.now();
  const core = loadCoreDefinitions();
  const problems: string[] = [];
  const platform = withExtraDefinitions(readPlatformDefinitions(opts.profilesDir, problems), opts.extraDefinitions ?? [], problems);

  const terminology = new Terminology();
  for (const vs of core.valueSets) terminology.addValueSet(vs);
  for (const cs of core.codeSystems) terminology.addCodeSystem(cs);
  for (const { resource } of platform.codeSystems) terminology.addCodeSystem(resource);
  for (const { resource } of platform.valueSets) terminology.addValueSet(resource);

  const registry = new StructureRegistry(core, terminology);
  const platformUrls = new Set(platform.structures.map((s) => s.resource.url));
  const bundleInvariants = new Map<CompiledStructure, BundleInvariants>();
  const medplumKeys = new Map<CompiledStructure, string>();
  // The Bundle invariants that read entry resources are evaluated by the validator (see
  // validateBundle), so medplum gets a copy of R4 Bundle without them.
  const coreBundle = registry.coreType('Bundle') as CompiledStructure;
  const coreOwn = compileBundleInvariants(coreBundle, registry);
  bundleInvariants.set(coreBundle, coreOwn);
  medplumKeys.set(coreBundle, registerProfileForMedplum(coreBundle.definition, coreOwn.keys));
  const profiles: CompiledStructure[] = [];
  for (const { file, resource: sd } of orderByBase(platform.structures)) {
    const problem = checkStructureDefinition(sd, registry, platformUrls);
    if (problem) {
      problems.push(`${file}: ${problem}`);
      continue;
    }
    try {
      const compiled = compileStructure(sd, registry.hooks, file);
      // medplum parses the same snapshot on every validateResource call; parse it once here so a
      // snapshot it cannot handle (e.g. an unsupported discriminator) stops start-up, not a request.
      loadDataType(sd as never);
      if (compiled.category === 'profile') {
        const own = sd.type === 'Bundle' ? compileBundleInvariants(compiled, registry) : undefined;
        medplumKeys.set(compiled, registerProfileForMedplum(sd, own?.keys));
        if (own) bundleInvariants.set(compiled, own);
      }
      registry.add(compiled);
      profiles.push(compiled);
    } catch (e) {
      const msg = (e as Error).message;
      problems.push(e instanceof StructureError ? msg : `${file}: ${msg}`);
    }
  }
  problems.push(...checkPlatformTerminology(platform, profiles, terminology));
  if (problems.length > 0) throw new ProfileLoadError(opts.profilesDir, problems);

  const walkStats: WalkStats = { skippedBindingChecks: 0 };
  const validator = new Validator(registry, walkStats, bundleInvariants, medplumKeys, engineFor(opts.engine ?? 'fast'));
  validator.warmUp(profiles);
  const loadMs = performance.now() - started;

  const requiredVsUrls = new Set<string>();
  for (const sd of registry.all()) for (const node of sd.byId.values()) if (node.binding) requiredVsUrls.add(stripVersion(node.binding.valueSet));
  const unexpandable = new Map([...terminology.unexpandable].filter(([url]) => requiredVsUrls.has(url)));

  return {
    validate: (resource, profileUrl) => validator.validate(resource, profileUrl).issues,
    hasProfile: (url) => registry.get(stripVersion(url)) !== undefined,
    stats: () => ({
      loadMs,
      profiles: profiles.map((p) => p.url),
      valueSets: platform.valueSets.length,
      codeSystems: platform.codeSystems.length,
      unexpandableValueSets: unexpandable,
      skippedBindingChecks: walkStats.skippedBindingChecks,
    }),
  };
}

interface Engine {
  /** the structural pass over a resource (with the medplum type-map key of its profile) */
  readonly structural: (resource: Json, profileKey: string | undefined) => Issue[];
  /** how the validator's own invariants (walker, Bundle) are evaluated */
  readonly holds: InvariantEvaluator;
}

function engineFor(engine: ValidatorEngine): Engine {
  if (engine === 'medplum') {
    return { structural: (resource, key) => medplumIssues(resource as unknown as Resource, key), holds: evaluateEveryTime };
  }
  if (engine !== 'fast') throw new Error(`Unknown validator engine "${String(engine)}" (expected "fast" or "medplum")`);
  const fast = new FastStructuralPass();
  return { structural: (resource, key) => fast.issues(resource, key ?? String(resource.resourceType)), holds: evaluateCached(fast.probe) };
}

/** Platform profiles may derive from each other: compile bases first. */
function orderByBase<T extends { resource: StructureDefinition }>(list: readonly T[]): T[] {
  const byUrl = new Map(list.map((x) => [x.resource.url, x]));
  const done = new Set<T>();
  const out: T[] = [];
  const visit = (x: T, depth: number): void => {
    if (done.has(x) || depth > list.length) return;
    const base = x.resource.baseDefinition ? byUrl.get(x.resource.baseDefinition) : undefined;
    if (base) visit(base, depth + 1);
    done.add(x);
    out.push(x);
  };
  for (const x of list) visit(x, 0);
  return out;
}

function checkStructureDefinition(sd: StructureDefinition, registry: StructureRegistry, platformUrls: ReadonlySet<string>): string | undefined {
  if (!sd.name) return 'StructureDefinition has no name';
  if (!sd.type) return 'StructureDefinition has no type';
  if (!registry.coreType(sd.type)) return `type "${sd.type}" is not an R4 type`;
  if (!sd.snapshot?.element?.length) return 'StructureDefinition has no snapshot (generate it with npm run snapshots)';
  if (sd.snapshot.element[0].path !== sd.type) {
    return `snapshot starts with ${sd.snapshot.element[0].path}, expected ${sd.type}`;
  }
  if (sd.derivation === 'constraint') {
    const base = sd.baseDefinition;
    if (!base) return 'constraint StructureDefinition has no baseDefinition';
    if (!registry.has(base) && !platformUrls.has(base)) return `baseDefinition ${base} is not known`;
  }
  return undefined;
}

function checkPlatformTerminology(
  platform: ReturnType<typeof readPlatformDefinitions>,
  profiles: readonly CompiledStructure[],
  terminology: Terminology,
): string[] {
  const problems: string[] = [];
  for (const p of profiles) {
    for (const node of p.byId.values()) {
      const vs = node.binding?.valueSet;
      if (vs && vs.startsWith(PLATFORM_CANONICAL_BASE) && !terminology.hasValueSet(vs)) {
        problems.push(`${p.source}: ${node.id} has a required binding to ${vs}, which is not in the profiles folder`);
      }
    }
  }
  for (const { file, resource: vs } of platform.valueSets) {
    for (const inc of [...(vs.compose?.include ?? []), ...(vs.compose?.exclude ?? [])]) {
      if (inc.system?.startsWith(PLATFORM_CANONICAL_BASE) && !inc.concept && !terminology.hasCodeSystem(inc.system)) {
        problems.push(`${file}: includes CodeSystem ${inc.system}, which is not in the profiles folder`);
      }
    }
  }
  return problems;
}

class Validator {
  constructor(
    private readonly registry: StructureRegistry,
    private readonly walkStats: WalkStats,
    /** per Bundle definition: its invariants that read entry resources, compiled at load */
    private readonly invariants: ReadonlyMap<CompiledStructure, BundleInvariants>,
    /** the key each definition was registered under in medplum's type map (absent: base R4 type) */
    private readonly medplumKeys: ReadonlyMap<CompiledStructure, string>,
    private readonly engine: Engine,
  ) {}

  validate(resource: unknown, profileUrl?: string): Result {
    if (!isObject(resource)) {
      return { issues: [issue('fatal', 'structure', 'Not a FHIR resource: expected a JSON object')], references: [] };
    }
    const rt = resource.resourceType;
    if (typeof rt !== 'string' || rt.length === 0) {
      return { issues: [issue('fatal', 'structure', 'Not a FHIR resource: resourceType is missing')], references: [] };
    }
    if (!this.registry.resourceTypes.has(rt)) {
      return {
        issues: [issue('fatal', 'structure', `Unknown resourceType "${rt}": not an R4 resource type`, `${rt}.resourceType`)],
        references: [],
      };
    }
    const pre: Issue[] = [];
    const sd = this.pickProfile(resource, rt, profileUrl, pre);
    if (!sd) return { issues: pre, references: [] };
    const result = rt === 'Bundle' ? this.validateBundle(resource, sd) : this.validateOne(resource, sd);
    if (pre.length) result.issues.unshift(...pre);
    return result;
  }

  private pickProfile(resource: Json, rt: string, profileUrl: string | undefined, pre: Issue[]): CompiledStructure | undefined {
    if (profileUrl !== undefined) {
      const sd = this.registry.get(stripVersion(profileUrl));
      if (!sd) {
        pre.push(issue('error', 'not-supported', `Profile ${profileUrl} is not known to this validator`));
        return undefined;
      }
      if (sd.type !== rt) {
        pre.push(issue('error', 'invalid', `Profile ${profileUrl} is for ${sd.type}, not ${rt}`, rt));
        return undefined;
      }
      return sd;
    }
    const meta = isObject(resource.meta) ? resource.meta : undefined;
    const declared = Array.isArray(meta?.profile) ? meta.profile.filter((p): p is string => typeof p === 'string') : [];
    for (const url of declared) {
      const sd = this.registry.get(stripVersion(url));
      if (sd && sd.type === rt) return sd;
    }
    for (const url of declared) {
      pre.push(issue('information', 'not-supported', `Profile ${url} is not known to this validator; validated against base R4 ${rt}`, `${rt}.meta.profile`));
    }
    return this.registry.coreType(rt);
  }

  private validateOne(resource: Json, sd: CompiledStructure): Result {
    return this.run(resource, resource, sd, undefined);
  }

  /**
   * medplum's pass over `forMedplum`, then the walk over `forWalker`; `drop` removes medplum issues
   * the caller knows to be artefacts of what it handed medplum.
   */
  private run(forMedplum: Json, forWalker: Json, sd: CompiledStructure, drop: ((i: Issue) => boolean) | undefined): Result {
    let raw = this.engine.structural(forMedplum, this.medplumKeys.get(sd));
    if (drop) raw = raw.filter((i) => !drop(i));
    const issues = refineIssues(raw, forWalker, sd, this.registry, this.invariants.get(sd)?.keys);
    const ctx: WalkContext = {
      registry: this.registry,
      issues,
      references: [],
      stats: this.walkStats,
      vars: varsFor(forWalker),
      holds: this.engine.holds,
    };
    walkResource(forWalker, sd.root, String(forWalker.resourceType), ctx);
    return { issues, references: ctx.references };
  }

  private validateBundle(bundle: Json, sd: CompiledStructure): Result {
    const entries: unknown[] = Array.isArray(bundle.entry) ? bundle.entry : [];
    // Every entry's resource is validated once, below, against its own profile. medplum's pass over
    // the Bundle itself therefore sees the entries without their resources; the walk sees stubs
    // (type, id, meta) for entry slicing; the invariants that read entry resources are evaluated
    // here (R4's bdl-5/7/11/12 need no more than the stubs, a profile's own get the real Bundle).
    const bare: Json = { ...bundle };
    const stubs: Json = { ...bundle };
    if (Array.isArray(bundle.entry)) {
      bare.entry = entries.map((e) => (isObject(e) && 'resource' in e ? omitResource(e) : e));
      stubs.entry = entries.map((e) => (isObject(e) && isObject(e.resource) ? { ...e, resource: stub(e.resource) } : e));
    }
    const hasResource = (i: number): boolean => isObject(entries[i]) && (entries[i] as Json).resource !== undefined;
    const own = this.run(bare, stubs, sd, (i) => {
      const m = /^Bundle\.entry\[(\d+)\]\.resource$/.exec(i.expression?.[0] ?? '');
      return m !== null && hasResource(Number(m[1]));
    });
    const issues = own.issues;
    const invariants = this.invariants.get(sd);
    if (invariants) evaluateBundleInvariants(bundle, stubs, invariants.list, issues, this.engine.holds);

    const fullUrls = new Map<string, Json>();
    for (const e of entries) {
      if (isObject(e) && typeof e.fullUrl === 'string' && isObject(e.resource)) fullUrls.set(e.fullUrl, e.resource);
    }
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (!isObject(e) || !isObject(e.resource)) continue;
      const prefix = `Bundle.entry[${i}].resource`;
      const sub = this.validate(e.resource);
      const rt = String(e.resource.resourceType);
      for (const x of sub.issues) issues.push(x.expression?.length ? reroot(x, rt, prefix) : { ...x, expression: [prefix] });
      for (const ref of sub.references) {
        const problem = this.checkReference(ref, fullUrls);
        if (problem) issues.push(reroot(problem, rt, prefix));
      }
    }
    return { issues, references: own.references };
  }

  private checkReference(ref: CollectedReference, fullUrls: ReadonlyMap<string, Json>): Issue | undefined {
    if (!ref.reference.startsWith('urn:uuid:') && !ref.reference.startsWith('urn:oid:')) return undefined;
    const target = fullUrls.get(ref.reference);
    if (!target) {
      return issue(
        'error',
        'not-found',
        `Reference ${ref.reference} does not resolve: no entry in this Bundle has that fullUrl`,
        ref.expression,
      );
    }
    const rt = String(target.resourceType);
    if (ref.targetProfiles.length === 0) return undefined;
    const allowed: string[] = [];
    for (const tp of ref.targetProfiles) {
      const url = stripVersion(tp);
      if (url === `${CORE_SD_BASE}Resource` || url === `${CORE_SD_BASE}${rt}`) return undefined;
      const known = this.registry.get(url);
      if (!known) return undefined; // a target profile we do not hold: cannot judge
      if (known.type === rt) return undefined;
      allowed.push(known.category === 'core' ? known.type : `${known.type} (${known.name})`);
    }
    return issue(
      'error',
      'structure',
      `Reference ${ref.reference} points to ${/^[AEIOU]/.test(rt) ? 'an' : 'a'} ${rt}, but ${ref.element} must refer to ${allowed.join(' or ')}`,
      ref.expression,
    );
  }

  /** Run each profile once so the first real request does not pay for JIT and lazy compilation. */
  warmUp(profiles: readonly CompiledStructure[]): void {
    for (const p of profiles) {
      if (p.category !== 'profile') continue;
      this.validate({ resourceType: p.type, meta: { profile: [p.url] } });
    }
  }
}

interface BundleInvariant {
  readonly key: string;
  readonly human: string;
  readonly onEntry: boolean;
  /** an R4 invariant: entry stubs (type, id, meta) are all it reads */
  readonly onStubs: boolean;
  readonly compiled: CompiledInvariant;
}

interface BundleInvariants {
  readonly keys: ReadonlySet<string>;
  readonly list: readonly BundleInvariant[];
}

// `resource` as an element name (not %resource): the invariant looks into entry resources.
const MENTIONS_ENTRY_RESOURCE = /(^|[^%\w])resource\b/;

/** A Bundle definition's invariants on Bundle / Bundle.entry that read entry resources. */
function compileBundleInvariants(sd: CompiledStructure, registry: StructureRegistry): BundleInvariants {
  const list: BundleInvariant[] = [];
  for (const path of ['Bundle', 'Bundle.entry']) {
    const el = sd.definition.snapshot?.element.find((e) => e.path === path && !(e.id ?? '').includes(':'));
    const coreKeys = new Set((registry.coreElement(path)?.constraint ?? []).map((c) => c.key));
    for (const c of el?.constraint ?? []) {
      if (!c.key || !c.expression || !MENTIONS_ENTRY_RESOURCE.test(c.expression)) continue;
      if (c.severity !== 'error' || SKIPPED_CONSTRAINTS.has(c.key)) continue;
      list.push({
        key: c.key,
        human: c.human ?? c.key,
        onEntry: path === 'Bundle.entry',
        onStubs: coreKeys.has(c.key),
        compiled: compileInvariant(c.expression),
      });
    }
  }
  return { keys: new Set(list.map((x) => x.key)), list };
}

function evaluateBundleInvariants(
  bundle: Json,
  stubs: Json,
  list: readonly BundleInvariant[],
  issues: Issue[],
  holds: InvariantEvaluator,
): void {
  const real = { root: bundle, vars: varsFor(bundle) };
  const stubbed = { root: stubs, vars: varsFor(stubs) };
  for (const inv of list) {
    const { root, vars } = inv.onStubs ? stubbed : real;
    const entries: unknown[] = Array.isArray(root.entry) ? root.entry : [];
    const targets: [unknown, string, string][] = inv.onEntry
      ? entries.map((e, i) => [e, 'BundleEntry', `Bundle.entry[${i}]`])
      : [[root, 'Bundle', 'Bundle']];
    for (const [value, type, path] of targets) {
      let ok: boolean;
      try {
        ok = holds(inv.compiled, value, type, vars);
      } catch (e) {
        issues.push(issue('error', 'processing', `Invariant ${inv.key} could not be evaluated: ${(e as Error).message}`, path));
        continue;
      }
      if (!ok) {
        const i = issue('error', 'invariant', `Constraint ${inv.key} not met: ${inv.human}`, path);
        i.diagnostics = `FHIRPath: ${inv.compiled.expression}`;
        issues.push(i);
      }
    }
  }
}

function omitResource(entry: Json): Json {
  const copy: Json = { ...entry };
  delete copy.resource;
  return copy;
}

/** What the Bundle's own pass sees of an entry resource. */
function stub(resource: Json): Json {
  const s: Json = { resourceType: resource.resourceType };
  if (resource.id !== undefined) s.id = resource.id;
  if (isObject(resource.meta)) {
    const meta: Json = {};
    if (resource.meta.versionId !== undefined) meta.versionId = resource.meta.versionId;
    if (resource.meta.profile !== undefined) meta.profile = resource.meta.profile;
    if (Object.keys(meta).length > 0) s.meta = meta;
  }
  return s;
}

/** `Patient.name[0]` inside entry 3 → `Bundle.entry[3].resource.name[0]`. */
function reroot(i: Issue, resourceType: string, prefix: string): Issue {
  if (!i.expression?.length) return i;
  return {
    ...i,
    expression: i.expression.map((e) => {
      if (e === resourceType) return prefix;
      if (e.startsWith(`${resourceType}.`)) return prefix + e.slice(resourceType.length);
      return e;
    }),
  };
}
