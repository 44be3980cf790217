// Questionnaires by canonical URL, so that a QuestionnaireResponse's `questionnaire` (url or url|version)
// finds the Questionnaire it answers. Built from a list (the lead passes the ones in profiles/; the
// conformance suite passes a test case's supporting files).
import type { Questionnaire } from 'fhir/r4.js';

export class QuestionnaireRegistry {
  private readonly byUrl = new Map<string, Questionnaire[]>();
  private readonly all: Questionnaire[];

  constructor(list: readonly Questionnaire[]) {
    this.all = [...list];
    for (const q of list) {
      if (!q.url) continue;
      const same = this.byUrl.get(q.url) ?? [];
      same.push(q);
      this.byUrl.set(q.url, same);
    }
  }

  /**
   * The Questionnaire a canonical names: `url|version` must match the version exactly; a bare `url`
   * takes the one with the highest version when several are known (as a FHIR server resolves it).
   */
  resolve(canonical: string): Questionnaire | undefined {
    const bar = canonical.indexOf('|');
    const url = bar < 0 ? canonical : canonical.slice(0, bar);
    const version = bar < 0 ? undefined : canonical.slice(bar + 1);
    const same = this.byUrl.get(url);
    if (!same) return undefined;
    if (version !== undefined) return same.find((q) => q.version === version);
    return [...same].sort((a, b) => compareVersions(b.version, a.version))[0];
  }

  list(): Questionnaire[] {
    return [...this.all];
  }
}

function compareVersions(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = Number(x);
    const ny = Number(y);
    const c = Number.isInteger(nx) && Number.isInteger(ny) && x !== '' && y !== '' ? nx - ny : x.localeCompare(y);
    if (c !== 0) return c;
  }
  return 0;
}
