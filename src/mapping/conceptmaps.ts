// FHIR R4 ConceptMaps under mappings/conceptmaps/, checked and indexed once at load time.

import { MappingConfigError } from './errors.js';

export const CONCEPTMAP_BASE = 'https://fhir.painplatform.uk/ConceptMap/';

const EQUIVALENCES = new Set([
  'relatedto', 'equivalent', 'equal', 'wider', 'subsumes', 'narrower', 'specializes', 'inexact', 'unmatched', 'disjoint',
]);
/** Equivalences whose target is emitted by a forward rule. */
const EMITTED = new Set(['relatedto', 'equivalent', 'equal', 'wider', 'subsumes', 'narrower', 'specializes', 'inexact']);
/** Equivalences that allow reading the source back from the target. */
const EXACT = new Set(['equivalent', 'equal']);

export interface MappedCode {
  code: string;
  display?: string;
}

export interface ConceptMapGroup {
  source?: string;
  target?: string;
  /** source code → target (null when unmatched: nothing is emitted) */
  forward: Map<string, MappedCode | null>;
  /** target code → source code, when the group is invertible */
  inverse?: Map<string, string>;
  /** why not invertible, when it is not */
  notInvertible?: string;
}

export interface CompiledConceptMap {
  name: string;
  url: string;
  file: string;
  groups: ConceptMapGroup[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** Checks one ConceptMap resource (the parsed file) and indexes it. `name` is from the file name. */
export function compileConceptMap(json: unknown, name: string, file: string): CompiledConceptMap {
  const fail = (where: string | undefined, problem: string): never => {
    throw new MappingConfigError(file, where, problem);
  };
  if (!isObj(json) || json.resourceType !== 'ConceptMap') fail(undefined, 'not a ConceptMap resource');
  const cm = json as Obj;
  if (cm.id !== name) fail('id', `is ${JSON.stringify(cm.id)}, expected "${name}" (from the file name)`);
  if (cm.url !== CONCEPTMAP_BASE + name) fail('url', `is ${JSON.stringify(cm.url)}, expected "${CONCEPTMAP_BASE}${name}"`);
  if (cm.status !== 'active') fail('status', 'must be active');
  if (!Array.isArray(cm.group) || cm.group.length === 0) fail('group', 'a ConceptMap needs at least one group');
  const targets = new Set<string | undefined>();
  const groups = (cm.group as unknown[]).map((g, gi): ConceptMapGroup => {
    const at = `group[${gi}]`;
    if (!isObj(g)) return fail(at, 'not an object');
    if (g.source !== undefined && !str(g.source)) fail(`${at}.source`, 'must be a uri');
    if (g.target !== undefined && !str(g.target)) fail(`${at}.target`, 'must be a uri');
    const target = g.target as string | undefined;
    if (targets.has(target)) fail(at, `a second group for target ${target ?? '(none)'}: one group per target system`);
    targets.add(target);
    if (!Array.isArray(g.element) || g.element.length === 0) fail(`${at}.element`, 'a group needs elements');
    const forward = new Map<string, MappedCode | null>();
    const inverse = new Map<string, string>();
    let notInvertible: string | undefined;
    (g.element as unknown[]).forEach((e, ei) => {
      const eat = `${at}.element[${ei}]`;
      if (!isObj(e) || !str(e.code)) return fail(eat, 'an element needs a code');
      if (forward.has(e.code)) fail(eat, `source code "${e.code}" appears twice`);
      if (!Array.isArray(e.target) || e.target.length !== 1) {
        return fail(`${eat}.target`, 'exactly one target per element (unmatched included): the mapping must be a function');
      }
      const t = e.target[0];
      if (!isObj(t) || !EQUIVALENCES.has(t.equivalence as string)) return fail(`${eat}.target[0].equivalence`, 'missing or not an R4 ConceptMapEquivalence');
      const eq = t.equivalence as string;
      if (eq === 'unmatched' || eq === 'disjoint') {
        if (t.code !== undefined) fail(`${eat}.target[0]`, `an ${eq} target has no code`);
        if (!str(t.comment)) fail(`${eat}.target[0].comment`, `say why it is ${eq}`);
        forward.set(e.code, null);
        notInvertible ??= `source code "${e.code}" is ${eq}`;
        return;
      }
      if (!str(t.code)) return fail(`${eat}.target[0].code`, 'missing');
      if ((eq === 'narrower' || eq === 'inexact') && !str(t.comment)) fail(`${eat}.target[0].comment`, `a ${eq} mapping needs a comment (cmd-1)`);
      if (t.display !== undefined && !str(t.display)) fail(`${eat}.target[0].display`, 'must be a non-empty string');
      forward.set(e.code, { code: t.code, ...(str(t.display) ? { display: t.display } : {}) });
      if (!EMITTED.has(eq)) return;
      if (!EXACT.has(eq)) notInvertible ??= `"${e.code}" → "${t.code}" is ${eq}`;
      if (inverse.has(t.code)) notInvertible ??= `target code "${t.code}" comes from both "${inverse.get(t.code)}" and "${e.code}"`;
      else inverse.set(t.code, e.code);
    });
    return {
      ...(str(g.source) ? { source: g.source } : {}),
      ...(target ? { target } : {}),
      forward,
      ...(notInvertible ? { notInvertible } : { inverse }),
    };
  });
  return { name, url: cm.url as string, file, groups };
}
