// A broken mapping stops start-up: loadMappings throws MappingConfigError naming the file and the rule.

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadMappings, MappingConfigError } from '../../../src/mapping/index.js';
import { MAPPINGS_DIR, PROFILES_DIR } from './helpers.js';

type Json = Record<string, any>;
const REFERRAL = 'referral-to-bundle.json';
const ASSESSMENT = 'assessment-to-questionnaire-response.json';

const tmpRoots: string[] = [];
afterAll(() => {
  for (const d of tmpRoots) rmSync(d, { recursive: true, force: true });
});

/** A copy of mappings/ (and the Questionnaires it reads) with one file changed. */
function brokenCopy(file: string, mutate: (json: Json) => void | string): string {
  const root = mkdtempSync(join(tmpdir(), 'mappings-'));
  tmpRoots.push(root);
  cpSync(MAPPINGS_DIR, join(root, 'mappings'), { recursive: true });
  for (const q of ['phq-9', 'gad-7', 'peg']) cpSync(join(PROFILES_DIR, `Questionnaire-${q}.json`), join(root, 'profiles', `Questionnaire-${q}.json`));
  const path = join(root, 'mappings', file);
  const json = JSON.parse(readFileSync(path, 'utf8')) as Json;
  const replaced = mutate(json);
  writeFileSync(path, typeof replaced === 'string' ? replaced : JSON.stringify(json, null, 2));
  return join(root, 'mappings');
}

const rule = (json: Json, id: string): Json => {
  const r = (json.rules as Json[]).find((x) => x.id === id);
  if (!r) throw new Error(`no rule ${id}`);
  return r;
};
const indexOf = (file: string, id: string): number =>
  (JSON.parse(readFileSync(join(MAPPINGS_DIR, file), 'utf8')).rules as Json[]).findIndex((x) => x.id === id);
const at = (file: string, id: string) => `rule "${id}" (rules[${indexOf(file, id)}])`;
const block = (json: Json, alias: string): Json => (json.resources as Json[]).find((b) => b.alias === alias)!;

interface Case {
  name: string;
  file: string;
  mutate: (json: Json) => void | string;
  /** what the message names after the file: the rule or place */
  where?: string;
  problem: string | RegExp;
}

const cases: Case[] = [
  { name: 'unknown conceptMap', file: REFERRAL, mutate: (j) => void (rule(j, 'sr-status').conceptMap = 'referal-status'), where: at(REFERRAL, 'sr-status'), problem: 'unknown conceptMap "referal-status"' },
  { name: 'unknown FHIR element', file: REFERRAL, mutate: (j) => void (rule(j, 'sr-intent').fhir = 'ServiceRequest.intnt'), where: at(REFERRAL, 'sr-intent'), problem: 'ServiceRequest has no element "intnt" in FHIR R4' },
  { name: 'bad path syntax: unclosed [', file: REFERRAL, mutate: (j) => void (rule(j, 'sr-identifier').fhir = 'ServiceRequest.identifier[system=https://x.value'), where: at(REFERRAL, 'sr-identifier'), problem: '"[" without "]"' },
  { name: 'bad path syntax: selector', file: REFERRAL, mutate: (j) => void (rule(j, 'sr-identifier').fhir = 'ServiceRequest.identifier[system].value'), where: at(REFERRAL, 'sr-identifier'), problem: 'bad selector "[system]"' },
  { name: 'bad path: array without selector', file: REFERRAL, mutate: (j) => void (rule(j, 'sr-identifier').fhir = 'ServiceRequest.identifier.value'), where: at(REFERRAL, 'sr-identifier'), problem: '"identifier" is an array: say which element' },
  { name: 'bad path: unknown alias', file: REFERRAL, mutate: (j) => void (rule(j, 'sr-status').fhir = 'ServiceReq.status'), where: at(REFERRAL, 'sr-status'), problem: 'unknown resource alias "ServiceReq"' },
  { name: 'bad native path', file: REFERRAL, mutate: (j) => void (rule(j, 'patient-nhs-number').native = 'patient..nhsNumber'), where: at(REFERRAL, 'patient-nhs-number'), problem: 'bad native path' },
  {
    name: 'duplicate rule id',
    file: REFERRAL,
    mutate: (j) => void (rule(j, 'sr-intent').id = 'sr-status'),
    where: `rule "sr-status" (rules[${indexOf(REFERRAL, 'sr-intent')}])`,
    problem: `duplicate rule id "sr-status" (also rules[${indexOf(REFERRAL, 'sr-status')}])`,
  },
  { name: 'missing target (fhir)', file: REFERRAL, mutate: (j) => void delete rule(j, 'patient-gender').fhir, where: at(REFERRAL, 'patient-gender'), problem: 'missing target: "fhir"' },
  { name: 'missing target (native) of a reverse rule', file: REFERRAL, mutate: (j) => void delete rule(j, 'sr-urgency').native, where: at(REFERRAL, 'sr-urgency'), problem: 'missing target: a reverse rule needs "native"' },
  { name: 'unknown rule field', file: REFERRAL, mutate: (j) => void (rule(j, 'sr-status').conceptmap = 'x'), where: at(REFERRAL, 'sr-status'), problem: 'unknown field(s) "conceptmap"' },
  { name: 'conceptMap not invertible where read back', file: REFERRAL, mutate: (j) => void delete rule(j, 'sr-reason-snomed').direction, where: at(REFERRAL, 'sr-reason-snomed'), problem: /conceptMap "primary-condition" is not invertible .*82423001/ },
  { name: 'conceptMap with an unmatched source read back', file: REFERRAL, mutate: (j) => void delete rule(j, 'sr-code-snomed').direction, where: at(REFERRAL, 'sr-code-snomed'), problem: /not invertible \(source code "1" is unmatched\)/ },
  { name: 'conceptMap group for the system missing', file: REFERRAL, mutate: (j) => void (rule(j, 'role-code-snomed').fhir = 'PractitionerRole.code[0].coding[system=http://loinc.org]'), where: at(REFERRAL, 'role-code-snomed'), problem: 'has no group with target http://loinc.org' },
  { name: 'input read back', file: REFERRAL, mutate: (j) => void delete rule(j, 'sr-priority').direction, where: at(REFERRAL, 'sr-priority'), problem: 'an input cannot be written on the way back' },
  { name: 'unknown input', file: REFERRAL, mutate: (j) => void (rule(j, 'sr-priority').native = '$urgence'), where: at(REFERRAL, 'sr-priority'), problem: 'unknown input "$urgence"' },
  { name: 'constant of the wrong type', file: REFERRAL, mutate: (j) => void (rule(j, 'sr-intent').constant = 5), where: at(REFERRAL, 'sr-intent'), problem: 'does not fit ServiceRequest.intent' },
  { name: 'two sources', file: REFERRAL, mutate: (j) => void (rule(j, 'sr-intent').native = 'status'), where: at(REFERRAL, 'sr-intent'), problem: 'exactly one of "native", "constant", "template", "reference" (has 2)' },
  { name: '[+] read back', file: REFERRAL, mutate: (j) => void (rule(j, 'sr-patient-instruction').fhir = 'ServiceRequest.note[+].text'), where: at(REFERRAL, 'sr-patient-instruction'), problem: '[+] cannot be read back' },
  { name: 'unknown condition', file: REFERRAL, mutate: (j) => void (rule(j, 'sr-intent').when = { exist: 'status' }), where: `${at(REFERRAL, 'sr-intent')}.when`, problem: 'unknown condition' },
  { name: 'whenFhir on a forward rule', file: REFERRAL, mutate: (j) => void (rule(j, 'sr-intent').whenFhir = 'ServiceRequest.status'), where: at(REFERRAL, 'sr-intent'), problem: '"whenFhir" is only for the way back' },
  { name: 'reference to an unknown resource', file: REFERRAL, mutate: (j) => void (rule(j, 'sr-subject').reference = 'Patients'), where: at(REFERRAL, 'sr-subject'), problem: 'unknown reference "Patients"' },
  { name: 'unknown file field', file: REFERRAL, mutate: (j) => void (j.rulez = []), problem: 'unknown field(s) "rulez"' },
  { name: 'identity names no rule', file: REFERRAL, mutate: (j) => void (block(j, 'Patient').identity = 'nope'), where: 'resource "Patient" (resources[1]).identity', problem: 'names no rule of "Patient"' },
  { name: 'a resource read back without locate', file: REFERRAL, mutate: (j) => void delete block(j, 'Practitioner').locate, where: 'resource "Practitioner" (resources[5])', problem: 'needs "locate"' },
  { name: 'circular locate', file: REFERRAL, mutate: (j) => void (block(j, 'ServiceRequest').locate = { reference: 'Patient.generalPractitioner[0]' }), where: 'resources', problem: 'goes round in a circle' },
  { name: 'unknown included mapping', file: REFERRAL, mutate: (j) => void (block(j, 'QuestionnaireResponse').mapping = 'nope'), where: 'resource "QuestionnaireResponse" (resources[7]).mapping', problem: 'unknown mapping "nope"' },
  { name: 'not JSON', file: REFERRAL, mutate: () => '{ "name": "referral-to-bundle", ', problem: 'is not valid JSON' },
  {
    name: 'Questionnaire item unknown',
    file: ASSESSMENT,
    mutate: (j) => void (rule(j, 'phq-9-item-1').fhir = 'QuestionnaireResponse.item[linkId=99999-9].answer[0].valueCoding'),
    where: at(ASSESSMENT, 'phq-9-item-1'),
    problem: 'Questionnaire "phq-9" has no answerable item with linkId "99999-9"',
  },
  {
    name: 'answer element does not fit the item type',
    file: ASSESSMENT,
    mutate: (j) => void (rule(j, 'peg-item-1').fhir = 'QuestionnaireResponse.item[linkId=75893-8].answer[0].valueDecimal'),
    where: at(ASSESSMENT, 'peg-item-1'),
    problem: 'is integer: its answer is item[…].answer[0].valueInteger',
  },
  {
    name: 'a Questionnaire item without rule',
    file: ASSESSMENT,
    mutate: (j) => void (j.rules = (j.rules as Json[]).filter((r) => r.id !== 'gad-7-item-3')),
    where: 'questionnaires.gad-7',
    problem: 'item "69733-4"',
  },
  {
    name: 'ConceptMap target that is no answer option',
    file: 'conceptmaps/ConceptMap-ll358-3-answer.json',
    mutate: (j) => void (j.group[0].element[3].target[0].code = 'LA9999-9'),
    problem: /assessment-to-questionnaire-response\.json: rule "phq-9-item-1" \(rules\[\d+\]\): .*LA9999-9, which is not an answer option/,
  },
  { name: 'ConceptMap element with two targets', file: 'conceptmaps/ConceptMap-care-step.json', mutate: (j) => void j.group[0].element[0].target.push({ code: 'x', equivalence: 'equal' }), where: 'group[0].element[0].target', problem: 'exactly one target per element' },
  { name: 'ConceptMap unmatched without comment', file: 'conceptmaps/ConceptMap-risk-flag.json', mutate: (j) => void delete j.group[0].element[1].target[0].comment, where: 'group[0].element[1].target[0].comment', problem: 'say why it is unmatched' },
  { name: 'ConceptMap url not its name', file: 'conceptmaps/ConceptMap-gender.json', mutate: (j) => void (j.url = 'https://fhir.painplatform.uk/ConceptMap/sex'), where: 'url', problem: 'expected "https://fhir.painplatform.uk/ConceptMap/gender"' },
];

describe('loadMappings', () => {
  it('loads the committed mappings', () => {
    const m = loadMappings(MAPPINGS_DIR);
    expect(m.conceptMaps.size).toBe(14);
    expect([...m.questionnaires.keys()].sort()).toStrictEqual([
      'https://fhir.painplatform.uk/Questionnaire/gad-7|1.0.0',
      'https://fhir.painplatform.uk/Questionnaire/peg|1.0.0',
      'https://fhir.painplatform.uk/Questionnaire/phq-9|1.0.0',
    ]);
  });

  it('throws on a directory that does not exist', () => {
    expect(() => loadMappings('/nonexistent/mappings')).toThrow(MappingConfigError);
  });

  describe.each(cases)('a broken mapping: $name', ({ file, mutate, where, problem }) => {
    it('throws MappingConfigError naming the file and the rule', () => {
      const dir = brokenCopy(file, mutate);
      let error: unknown;
      try {
        loadMappings(dir);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(MappingConfigError);
      const message = (error as Error).message;
      if (problem instanceof RegExp) expect(message).toMatch(problem);
      else {
        const prefix = `${join(dir, file)}: ${where ? `${where}: ` : ''}`;
        expect(message.startsWith(prefix), `${message}\n  does not start with\n${prefix}`).toBe(true);
        expect(message).toContain(problem);
      }
    });
  });
});
