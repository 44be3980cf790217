// The HL7 validator test cases (FHIR/fhir-test-cases, read from ../shared/reference at test time,
// never copied): every R4 case whose main resource is a QuestionnaireResponse, Questionnaire or Bundle
// is validated by our validator (base R4 profile of its type) plus, for each Questionnaire (main,
// contained or Bundle entry), validateQuestionnaire, and for each QuestionnaireResponse (main resource
// or Bundle entry), validateResponse against its Questionnaire. Our verdict (has
// errors or not) is compared with the HL7 Java validator's expected outcome. The agreement per group
// is printed with every disagreement, and must not fall below the committed baseline
// (fhir-test-cases.baseline.json). The HL7 R4 examples of the same three types form a fourth group:
// all of them must pass without error.
//
// Left out, each with its reason (computed from the data below, or listed in
// fhir-test-cases.exclusions.json): cases for other FHIR versions, `use-test: false`, cases that need
// NPM packages, terminology-server modules, cases whose expected errors all come from a terminology
// server, and cases without a recorded outcome. A missing reference folder fails the suite.
//
// A QuestionnaireResponse whose Questionnaire cannot be resolved gets a warning here, not an error:
// that is what the Java validator reports and what its expected outcomes say (qr-bad-ref1, qr-bad-ref3
// and questionnaire-not-resolved-qr expect no error). The front door, which takes responses to our
// Questionnaires only, makes it an error (unresolvedQuestionnaire's `severity`).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle, CodeSystem, Questionnaire, QuestionnaireResponse, ValueSet } from 'fhir/r4.js';
import { Fhir } from 'fhir';
import { beforeAll, describe, expect, it } from 'vitest';
import { isErrorIssue, type Issue } from '../../src/fhir/outcomes.js';
import { loadCoreDefinitions } from '../../src/fhir/validation/core-definitions.js';
import { Terminology } from '../../src/fhir/validation/terminology.js';
import { createValidator, type FhirValidator } from '../../src/fhir/validator.js';
import { validateQuestionnaire } from '../../src/questionnaires/questionnaire-checks.js';
import { QuestionnaireRegistry } from '../../src/questionnaires/questionnaire-registry.js';
import { unresolvedQuestionnaire, validateResponse } from '../../src/questionnaires/response-validator.js';

const here = dirname(fileURLToPath(import.meta.url));
const PROJECT_ROOT = resolve(here, '../..');
const REFERENCE = resolve(PROJECT_ROOT, '../shared/reference');
const CASES = join(REFERENCE, 'fhir-test-cases/validator');
const INDEX = join(REFERENCE, 'fhir-test-cases/_derived/selected-validator-tests.json');
const EXAMPLES = join(REFERENCE, 'hl7-fhir-r4-examples-4.0.1');

const GROUPS = ['QuestionnaireResponse', 'Questionnaire', 'Bundle'] as const;
const EXAMPLES_GROUP = 'HL7 R4 examples';
type Group = (typeof GROUPS)[number] | typeof EXAMPLES_GROUP;

type Json = Record<string, unknown>;

interface ManifestEntry {
  name: string;
  file: string;
  version?: string;
  module?: string;
  'use-test'?: boolean;
  supporting?: string[];
  profiles?: string[];
  packages?: string[];
  java?: string | { errorCount?: number };
}

interface IndexEntry {
  name: string;
  resourceType: string;
  isR4: boolean;
  module: string | null;
  packages: string[];
  profile_canonicals_from_packages: string[];
  manifest_entry: ManifestEntry;
}

interface Outcome {
  group: Group;
  name: string;
  expectedErrors: boolean;
  gotErrors: boolean;
  firstIssue: string;
}

const baseline = JSON.parse(readFileSync(join(here, 'fhir-test-cases.baseline.json'), 'utf8')) as Record<Group, { agree: number; total: number }>;
const exclusionsFile = JSON.parse(readFileSync(join(here, 'fhir-test-cases.exclusions.json'), 'utf8')) as {
  /** test case name → why it needs what we do not have */
  cases: Record<string, string>;
  /** HL7 R4 example (Type/file) → why it is not valid R4 as published; it must keep failing */
  examples: Record<string, string>;
};
const manualExclusions = exclusionsFile.cases;
const exampleExclusions = exclusionsFile.examples;

/** Why a case is left out, or undefined when it runs. */
function exclusion(t: IndexEntry): string | undefined {
  const m = t.manifest_entry;
  if (m['use-test'] === false) return 'use-test: false in the manifest';
  if (t.packages.length > 0) return `needs NPM packages ${t.packages.join(', ')}`;
  if (t.profile_canonicals_from_packages.length > 0) return `validates against package profiles ${t.profile_canonicals_from_packages.join(', ')}`;
  if (t.module && /^tx/.test(t.module)) return `terminology-server module "${t.module}"`;
  const expected = expectedIssues(m);
  if (expected === undefined) return 'no recorded Java outcome for this case';
  if (expected !== 'inline') {
    const errors = expected.filter(isErrorIssue);
    if (errors.length > 0 && errors.every(fromTerminologyServer)) {
      return `every expected error comes from a terminology server (${errors[0].details?.text?.slice(0, 80) ?? ''})`;
    }
  }
  return manualExclusions[t.name];
}

/** An issue the Java validator got from tx.fhir.org: marked by the issue-server extension or its text. */
function fromTerminologyServer(i: Issue): boolean {
  const text = i.details?.text ?? '';
  return (
    (i.extension ?? []).some((e) => e.url === 'http://hl7.org/fhir/StructureDefinition/operationoutcome-issue-server') ||
    text.includes('Terminology Error') ||
    text.startsWith('Wrong Display Name')
  );
}

/** The expected issues (from the outcome file), 'inline' for the legacy inline form, undefined when none. */
function expectedIssues(m: ManifestEntry): Issue[] | 'inline' | undefined {
  if (typeof m.java === 'object' && m.java !== null) return typeof m.java.errorCount === 'number' ? 'inline' : undefined;
  if (typeof m.java !== 'string') return undefined;
  const file = join(CASES, 'outcomes', m.java);
  if (!existsSync(file)) return undefined;
  const oo = JSON.parse(readFileSync(file, 'utf8')) as { issue?: Issue[] };
  return oo.issue ?? [];
}

function expectsErrors(m: ManifestEntry): boolean {
  const expected = expectedIssues(m);
  if (expected === 'inline') return ((m.java as { errorCount: number }).errorCount ?? 0) > 0;
  return (expected ?? []).some(isErrorIssue);
}

const fhir = new Fhir();

/** A case file as JSON: JSON parsed strictly (as the front door does), XML through the `fhir` package. */
function load(file: string): Json {
  const text = readFileSync(join(CASES, file), 'utf8');
  if (file.endsWith('.xml')) return withoutComments(fhir.xmlToObj(text)) as Json;
  return JSON.parse(text) as Json;
}

/** The `fhir` package turns XML comments into `fhir_comments` keys: not content, so dropped. */
function withoutComments(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutComments);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'fhir_comments').map(([k, x]) => [k, withoutComments(x)]));
}

let core: ReturnType<typeof loadCoreDefinitions>;
let validator: FhirValidator;

/** The context of one case: its supporting Questionnaires, ValueSets and CodeSystems. */
class CaseContext {
  readonly terminology = new Terminology();
  private readonly questionnaires: Questionnaire[] = [];

  constructor(supporting: readonly Json[]) {
    for (const vs of core.valueSets) this.terminology.addValueSet(vs);
    for (const cs of core.codeSystems) this.terminology.addCodeSystem(cs);
    for (const r of supporting) this.addResource(r);
  }

  addResource(r: Json): void {
    if (r.resourceType === 'Questionnaire') this.questionnaires.push(r as unknown as Questionnaire);
    if (r.resourceType === 'ValueSet') this.terminology.addValueSet(r as unknown as ValueSet);
    if (r.resourceType === 'CodeSystem') this.terminology.addCodeSystem(r as unknown as CodeSystem);
    if (r.resourceType === 'Bundle') {
      for (const e of (r as unknown as Bundle).entry ?? []) if (e.resource) this.addResource(e.resource as unknown as Json);
    }
  }

  /** validateResponse for one QuestionnaireResponse, its Questionnaire resolved as the Java harness does. */
  checkResponse(qr: Json, base: string): Issue[] {
    const canonical = typeof qr.questionnaire === 'string' ? qr.questionnaire : undefined;
    if (canonical === undefined) return [];
    let q: Questionnaire | undefined;
    if (canonical.startsWith('#')) {
      const contained = Array.isArray(qr.contained) ? (qr.contained as Json[]) : [];
      q = contained.find((c) => c.resourceType === 'Questionnaire' && c.id === canonical.slice(1)) as Questionnaire | undefined;
    } else {
      q = new QuestionnaireRegistry(this.questionnaires).resolve(canonical);
      // A relative reference (Questionnaire/id) resolves to a supporting file by id, as with the
      // harness's default fetcher.
      q ??= this.questionnaires.find((x) => `Questionnaire/${x.id}` === canonical);
    }
    if (!q) return unresolvedQuestionnaire(canonical, { base });
    return validateResponse(qr as unknown as QuestionnaireResponse, q, {
      base,
      expandValueSet: (url) => this.terminology.expand(url)?.codings,
      isResourceType: (name) => core.resourceTypes.has(name),
    });
  }
}

/** Our full verdict on one resource: the base R4 profile, then each QuestionnaireResponse's answers. */
function validateCase(resource: Json, ctx: CaseContext): Issue[] {
  const type = String(resource.resourceType);
  const issues = validator.validate(resource, `http://hl7.org/fhir/StructureDefinition/${type}`);
  const questionnaireChecks = (r: Json, base: string): void => {
    if (r.resourceType === 'Questionnaire') issues.push(...validateQuestionnaire(r as unknown as Questionnaire, { base }));
    const contained = Array.isArray(r.contained) ? (r.contained as Json[]) : [];
    contained.forEach((c, i) => {
      if (c?.resourceType === 'Questionnaire') issues.push(...validateQuestionnaire(c as unknown as Questionnaire, { base: `${base}.contained[${i}]` }));
    });
  };
  questionnaireChecks(resource, type);
  if (type === 'QuestionnaireResponse') issues.push(...ctx.checkResponse(resource, 'QuestionnaireResponse'));
  if (type === 'Bundle') {
    ctx.addResource(resource);
    const entries = Array.isArray(resource.entry) ? (resource.entry as Json[]) : [];
    entries.forEach((e, i) => {
      const r = e?.resource as Json | undefined;
      if (!r) return;
      questionnaireChecks(r, `Bundle.entry[${i}].resource`);
      if (r.resourceType === 'QuestionnaireResponse') issues.push(...ctx.checkResponse(r, `Bundle.entry[${i}].resource`));
    });
  }
  return issues;
}

function describeIssue(i: Issue | undefined): string {
  if (!i) return '';
  return `${i.severity} ${i.code}: ${i.details?.text ?? ''}${i.expression ? ` @ ${i.expression[0]}` : ''}`.slice(0, 200);
}

function runCase(t: IndexEntry): Outcome {
  const m = t.manifest_entry;
  const expectedErrors = expectsErrors(m);
  const group = t.resourceType as Group;
  let resource: Json;
  try {
    resource = load(m.file);
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    // Unparseable JSON is an error the front door reports (400); a failed XML conversion is a
    // shortcoming of ours, so it counts as a disagreement whatever was expected.
    if (m.file.endsWith('.xml')) return { group, name: t.name, expectedErrors, gotErrors: !expectedErrors, firstIssue: `XML conversion failed: ${msg}` };
    return { group, name: t.name, expectedErrors, gotErrors: true, firstIssue: `fatal: not JSON: ${msg}` };
  }
  const supporting: Json[] = [];
  for (const f of [...(m.supporting ?? []), ...(m.profiles ?? [])]) {
    try {
      supporting.push(load(f));
    } catch {
      // A supporting file that cannot be read only leaves its Questionnaire unresolved.
    }
  }
  const issues = validateCase(resource, new CaseContext(supporting));
  const errors = issues.filter(isErrorIssue);
  return { group, name: t.name, expectedErrors, gotErrors: errors.length > 0, firstIssue: describeIssue(errors[0] ?? issues[0]) };
}

function runExamples(): Outcome[] {
  const out: Outcome[] = [];
  const read = (type: string): Json[] =>
    readdirSync(join(EXAMPLES, type))
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => ({ ...(JSON.parse(readFileSync(join(EXAMPLES, type, f), 'utf8')) as Json), __file: f }));
  const questionnaires = read('Questionnaire');
  for (const type of GROUPS) {
    for (const r of type === 'Questionnaire' ? questionnaires : read(type)) {
      const { __file: file, ...resource } = r;
      const issues = validateCase(resource, new CaseContext(questionnaires.map(({ __file: _, ...q }) => q)));
      const errors = issues.filter(isErrorIssue);
      const name = `${type}/${String(file)}`;
      if (exampleExclusions[name]) {
        excludedExamples.push({ name, gotErrors: errors.length > 0 });
        excluded.push({ name, group: EXAMPLES_GROUP, reason: exampleExclusions[name] });
        continue;
      }
      out.push({ group: EXAMPLES_GROUP, name, expectedErrors: false, gotErrors: errors.length > 0, firstIssue: describeIssue(errors[0]) });
    }
  }
  return out;
}

const present = existsSync(INDEX) && existsSync(EXAMPLES);
let selected: IndexEntry[] = [];
const excluded: { name: string; group: string; reason: string }[] = [];
const excludedExamples: { name: string; gotErrors: boolean }[] = [];
let outcomes: Outcome[] = [];

beforeAll(() => {
  if (!present) return;
  core = loadCoreDefinitions();
  validator = createValidator({ profilesDir: resolve(PROJECT_ROOT, 'profiles') });
  const index = JSON.parse(readFileSync(INDEX, 'utf8')) as { tests: IndexEntry[] };
  for (const t of index.tests) {
    if (!t.isR4 || !(GROUPS as readonly string[]).includes(t.resourceType)) continue;
    const why = exclusion(t);
    if (why) excluded.push({ name: t.name, group: t.resourceType, reason: why });
    else selected.push(t);
  }
  outcomes = [...selected.map(runCase), ...runExamples()];
  report();
}, 300_000);

function tally(group: Group): { agree: number; total: number } {
  const list = outcomes.filter((o) => o.group === group);
  return { agree: list.filter((o) => o.expectedErrors === o.gotErrors).length, total: list.length };
}

function report(): void {
  const lines: string[] = ['', 'HL7 fhir-test-cases (R4) and HL7 R4 examples: agreement on "has errors"', ''];
  lines.push('group                   cases  agree      %   excluded');
  for (const g of [...GROUPS, EXAMPLES_GROUP] as Group[]) {
    const { agree, total } = tally(g);
    const pct = total ? ((100 * agree) / total).toFixed(1) : '-';
    const ex = excluded.filter((e) => e.group === g).length;
    lines.push(`${g.padEnd(22)} ${String(total).padStart(6)} ${String(agree).padStart(6)} ${pct.padStart(6)} ${String(ex).padStart(10)}`);
  }
  lines.push('', 'Disagreements:');
  for (const o of outcomes.filter((x) => x.expectedErrors !== x.gotErrors)) {
    lines.push(`  [${o.group}] ${o.name}: expected ${o.expectedErrors ? 'errors' : 'no error'}, got ${o.gotErrors ? 'errors' : 'no error'}${o.firstIssue ? ` — ${o.firstIssue}` : ''}`);
  }
  if (process.env.FHIR_TEST_CASES_VERBOSE) {
    // Every case, to check that agreements hold for the right reason.
    lines.push('', 'All cases:');
    for (const o of outcomes) lines.push(`  [${o.group}] ${o.name}: expected ${o.expectedErrors ? 'errors' : 'no error'}; ${o.firstIssue}`);
  }
  lines.push('', 'Excluded:');
  for (const e of excluded) lines.push(`  [${e.group}] ${e.name}: ${e.reason}`);
  console.log(lines.join('\n'));
}

describe('HL7 validator test cases (fhir-test-cases) and HL7 R4 examples', () => {
  it(`finds the reference material at ${REFERENCE}`, () => {
    expect(existsSync(INDEX), `${INDEX} is missing (CI provides ../shared/reference)`).toBe(true);
    expect(existsSync(EXAMPLES), `${EXAMPLES} is missing (CI provides ../shared/reference)`).toBe(true);
    expect(selected.length).toBeGreaterThan(100);
  });

  it('every manual exclusion names a selected case and gives a reason', () => {
    const index = JSON.parse(readFileSync(INDEX, 'utf8')) as { tests: IndexEntry[] };
    for (const [name, reason] of Object.entries(manualExclusions)) {
      expect(index.tests.some((t) => t.name === name), name).toBe(true);
      expect(reason.length, name).toBeGreaterThan(20);
    }
    for (const [name, reason] of Object.entries(exampleExclusions)) {
      expect(existsSync(join(EXAMPLES, name)), name).toBe(true);
      expect(reason.length, name).toBeGreaterThan(20);
    }
  });

  for (const g of [...GROUPS, EXAMPLES_GROUP] as Group[]) {
    it(`${g}: agreement does not fall below the baseline`, () => {
      const now = tally(g);
      const base = baseline[g];
      expect(base, `no baseline for ${g}: add ${JSON.stringify(now)} to fhir-test-cases.baseline.json`).toBeDefined();
      expect(now.agree, `${g}: ${now.agree}/${now.total} agree, below the baseline ${base.agree}/${base.total}`).toBeGreaterThanOrEqual(base.agree);
      if (now.agree > base.agree || now.total !== base.total) {
        console.log(`${g}: ${now.agree}/${now.total} now agree (baseline ${base.agree}/${base.total}): update fhir-test-cases.baseline.json to ${JSON.stringify(now)}`);
      }
    });
  }

  it('QuestionnaireResponse cases: at least 90% agreement', () => {
    const { agree, total } = tally('QuestionnaireResponse');
    expect(agree / total).toBeGreaterThanOrEqual(0.9);
  });

  it('HL7 R4 examples: none has an error', () => {
    const bad = outcomes.filter((o) => o.group === EXAMPLES_GROUP && o.gotErrors);
    expect(bad.map((o) => `${o.name}: ${o.firstIssue}`)).toEqual([]);
    expect(outcomes.filter((o) => o.group === EXAMPLES_GROUP).length).toBeGreaterThanOrEqual(25);
    for (const e of excludedExamples) expect(e.gotErrors, `${e.name} is excluded but now passes: drop its exclusion`).toBe(true);
  });

  it('HL7 R4 examples: the QuestionnaireResponse with a resolvable Questionnaire is checked against it', () => {
    // QuestionnaireResponse-gcs answers Questionnaire/gcs: the answers are really compared with its
    // options (a changed code is caught), so the clean result above is not vacuous.
    const qr = JSON.parse(readFileSync(join(EXAMPLES, 'QuestionnaireResponse/QuestionnaireResponse-gcs.json'), 'utf8')) as Json;
    const q = JSON.parse(readFileSync(join(EXAMPLES, 'Questionnaire/Questionnaire-gcs.json'), 'utf8')) as Json;
    const ctx = new CaseContext([q]);
    expect(ctx.checkResponse(qr, 'QuestionnaireResponse').filter(isErrorIssue)).toEqual([]);
    const items = qr.item as { answer: { valueCoding: { code: string } }[] }[];
    items[0].answer[0].valueCoding.code = 'not-an-option';
    const errors = ctx.checkResponse(qr, 'QuestionnaireResponse').filter(isErrorIssue);
    expect(errors.map((i) => [i.code, i.expression?.[0]])).toEqual([['code-invalid', 'QuestionnaireResponse.item[0].answer[0].value']]);
  });
});
