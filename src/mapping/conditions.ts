// Conditions (`when` on the native side, `whenFhir` and `locate.where` on the FHIR side), compiled once.
//
//   "path"                          the value at path exists (shorthand of { "exists": path })
//   { "exists": path } / { "absent": path }
//   { "path": p, "equals": v } / { "path": p, "notEquals": v }          v a JSON scalar
//   { "path": p, "equalsPath": q } / { "path": p, "notEqualsPath": q }
//   { "path": p, "contains": v } / { "path": p, "notContains": v }      p an array
//   { "path": p, "empty": true }                                        [] or {}
//   { "all": [c, …] } / { "any": [c, …] } / { "not": c }

export type Cond<S> = (scope: S) => boolean;
/** Compiles a path of the condition's side to a getter; may throw (bad path). */
export type PathCompiler<S> = (path: string) => (scope: S) => unknown;

export class ConditionError extends Error {}

const SCALAR = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function compileCondition<S>(c: unknown, path: PathCompiler<S>, paths: string[] = []): Cond<S> {
  const get = (p: unknown) => {
    if (typeof p !== 'string') throw new ConditionError(`a condition path must be a string, got ${JSON.stringify(p)}`);
    paths.push(p);
    return path(p);
  };
  if (typeof c === 'string') {
    const g = get(c);
    return (s) => g(s) !== undefined;
  }
  if (!isObj(c)) throw new ConditionError(`a condition is a path or an object, got ${JSON.stringify(c)}`);
  const keys = Object.keys(c).sort().join(',');
  const list = (k: string) => {
    const v = c[k];
    if (!Array.isArray(v) || v.length === 0) throw new ConditionError(`"${k}" takes a non-empty array of conditions`);
    return v.map((x) => compileCondition(x, path, paths));
  };
  switch (keys) {
    case 'exists': {
      const g = get(c.exists);
      return (s) => g(s) !== undefined;
    }
    case 'absent': {
      const g = get(c.absent);
      return (s) => g(s) === undefined;
    }
    case 'all': {
      const cs = list('all');
      return (s) => cs.every((f) => f(s));
    }
    case 'any': {
      const cs = list('any');
      return (s) => cs.some((f) => f(s));
    }
    case 'not': {
      const f = compileCondition(c.not, path, paths);
      return (s) => !f(s);
    }
    case 'equals,path':
    case 'notEquals,path': {
      const g = get(c.path);
      const neg = 'notEquals' in c;
      const v = neg ? c.notEquals : c.equals;
      if (!SCALAR(v)) throw new ConditionError('equals / notEquals take a JSON scalar');
      return (s) => (g(s) === v) !== neg;
    }
    case 'equalsPath,path':
    case 'notEqualsPath,path': {
      const g = get(c.path);
      const neg = 'notEqualsPath' in c;
      const h = get(neg ? c.notEqualsPath : c.equalsPath);
      return (s) => (g(s) === h(s)) !== neg;
    }
    case 'contains,path':
    case 'notContains,path': {
      const g = get(c.path);
      const neg = 'notContains' in c;
      const v = neg ? c.notContains : c.contains;
      if (!SCALAR(v)) throw new ConditionError('contains / notContains take a JSON scalar');
      return (s) => {
        const a = g(s);
        return (Array.isArray(a) && a.includes(v)) !== neg;
      };
    }
    case 'empty,path': {
      if (c.empty !== true) throw new ConditionError('"empty" takes true');
      const g = get(c.path);
      return (s) => {
        const a = g(s);
        return Array.isArray(a) ? a.length === 0 : isObj(a) ? Object.keys(a).length === 0 : false;
      };
    }
    default:
      throw new ConditionError(`unknown condition ${JSON.stringify(c)} (see mappings/README.md, "Conditions")`);
  }
}
