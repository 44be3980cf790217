// A QuestionnaireResponse checked against the Questionnaire it answers (issue 3 point 4;
// codes-and-rules.md "Questionnaire scoring (HL7 SDC)"). Pure: no hapi, no store. Works on any R4
// Questionnaire (ours in profiles/, or a conformance test case's), and follows the HL7 Java
// validator's QuestionnaireValidator where the R4 spec is silent, so that our verdicts agree with the
// HL7 test cases:
// - what needs answers (required items, minOccurs) is enforced when status is completed or amended;
//   otherwise a missing answer is a warning;
// - everything structural (unknown linkId, order, nesting, answer types, options, limits, enableWhen,
//   item text) applies whatever the status;
// - item text differing from the Questionnaire's is an error, for every Questionnaire: the Java
//   validator makes it an error ("If text exists, it must match the questionnaire definition"), and our
//   referral validation needs it;
// - a retired or draft Questionnaire is information only (as the Java validator reports it);
// - totals: recomputed from the answer weights (ordinalValue / itemWeight) and compared with a
//   submitted total item (see computeTotals).
import type {
  Coding,
  Questionnaire,
  QuestionnaireItem,
  QuestionnaireItemAnswerOption,
  QuestionnaireItemEnableWhen,
  QuestionnaireResponse,
  Quantity,
  ValueSet,
} from 'fhir/r4.js';
import { issue, type Issue, type IssueCode, type IssueSeverity } from '../fhir/outcomes.js';
import { Terminology } from '../fhir/validation/terminology.js';
import { meanToOneDecimal } from './scoring.js';

export { QuestionnaireRegistry } from './questionnaire-registry.js';

export interface ResponseValidationOptions {
  /** FHIRPath of the QR itself when it is not the root, e.g. `Bundle.entry[4].resource` */
  readonly base?: string;
  /**
   * The `system|code` pairs of a ValueSet named by answerValueSet or unitValueSet, or undefined when
   * it is unknown or cannot be expanded locally (then the answer is not checked, and a warning says
   * so). ValueSets contained in the Questionnaire are expanded here, without this.
   */
  readonly expandValueSet?: (canonical: string) => ReadonlySet<string> | undefined;
  /** R4 resource type names, for reference answers (default: any capitalised name is accepted) */
  readonly isResourceType?: (name: string) => boolean;
}

export interface ComputedTotal {
  readonly linkId: string;
  readonly value: number;
}

type Json = Record<string, unknown>;

const SD = 'http://hl7.org/fhir/StructureDefinition/';
const SDC = 'http://hl7.org/fhir/uv/sdc/StructureDefinition/';
const EXT = {
  minValue: `${SD}minValue`,
  maxValue: `${SD}maxValue`,
  minLength: `${SD}minLength`,
  regex: `${SD}regex`,
  entryFormat: `${SD}entryFormat`,
  maxDecimalPlaces: `${SD}maxDecimalPlaces`,
  mimeType: `${SD}mimeType`,
  maxSize: `${SD}maxSize`,
  minOccurs: `${SD}questionnaire-minOccurs`,
  maxOccurs: `${SD}questionnaire-maxOccurs`,
  optionExclusive: `${SD}questionnaire-optionExclusive`,
  unitOption: `${SD}questionnaire-unitOption`,
  unitValueSet: `${SD}questionnaire-unitValueSet`,
  referenceResource: `${SD}questionnaire-referenceResource`,
  minQuantity: `${SDC}sdc-questionnaire-minQuantity`,
  maxQuantity: `${SDC}sdc-questionnaire-maxQuantity`,
  ordinalValue: `${SD}ordinalValue`,
  itemWeight: `${SD}itemWeight`,
  calculatedExpression: `${SDC}sdc-questionnaire-calculatedExpression`,
} as const;

/** R4 item types and the answer value[x] each takes (QuestionnaireResponse.item.answer.value[x]). */
const ANSWER_TYPES: Readonly<Record<string, readonly string[]>> = {
  boolean: ['Boolean'],
  decimal: ['Decimal'],
  integer: ['Integer'],
  date: ['Date'],
  dateTime: ['DateTime'],
  time: ['Time'],
  string: ['String'],
  text: ['String'],
  url: ['Uri'],
  // A coded answer; a primitive answer is accepted only when it is one of the item's answerOptions.
  choice: ['Coding', 'String', 'Integer', 'Date', 'Time'],
  'open-choice': ['Coding', 'String', 'Integer', 'Date', 'Time'],
  attachment: ['Attachment'],
  reference: ['Reference'],
  quantity: ['Quantity'],
};
const NO_ANSWER_TYPES = new Set(['group', 'display']);

/** Our Questionnaires' total items (docs/fhir-contract.md): linkId → how the total is made. */
const OUR_TOTALS: Readonly<Record<string, { linkId: string; rule: 'sum' | 'mean' }>> = {
  'https://fhir.painplatform.uk/Questionnaire/phq-9': { linkId: '44261-6', rule: 'sum' },
  'https://fhir.painplatform.uk/Questionnaire/gad-7': { linkId: '70274-6', rule: 'sum' },
  'https://fhir.painplatform.uk/Questionnaire/peg': { linkId: 'peg-score', rule: 'mean' },
};

/**
 * Every problem of `qr` against `questionnaire` (an R4 Questionnaire JSON of any origin). Expressions
 * are FHIRPath from the QR root, e.g. `QuestionnaireResponse.item[2].answer[0].value`, with `base`
 * in place of `QuestionnaireResponse` when given (e.g. `Bundle.entry[4].resource.item[2]`).
 */
export function validateResponse(
  qr: QuestionnaireResponse,
  questionnaire: Questionnaire,
  opts: ResponseValidationOptions = {},
): Issue[] {
  return new ResponseWalk(qr as unknown as Json, questionnaire, opts).run();
}

/**
 * The issues for a `questionnaire` canonical that resolves to no Questionnaire: an error when the
 * canonical names another resource type (e.g. a ValueSet URL), and the not-found issue itself. The
 * HL7 Java validator makes not-found a warning (its test cases expect no error: the response is then
 * not checked against anything); the front door, which only takes responses to our Questionnaires,
 * passes `severity: 'error'`.
 */
export function unresolvedQuestionnaire(
  canonical: string,
  opts: { base?: string; severity?: 'error' | 'warning'; known?: readonly string[] } = {},
): Issue[] {
  const at = `${opts.base ?? 'QuestionnaireResponse'}.questionnaire`;
  const out: Issue[] = [];
  const segments = canonical.split('|')[0].split('/');
  const type = segments.length >= 2 ? segments[segments.length - 2] : undefined;
  if (type && /^[A-Z][A-Za-z]+$/.test(type) && type !== 'Questionnaire') {
    out.push(issue('error', 'invalid', `questionnaire ${canonical} names a ${type}, not a Questionnaire`, at));
  }
  const known = opts.known?.length ? `; known Questionnaires: ${opts.known.join(', ')}` : '';
  out.push(issue(opts.severity ?? 'warning', 'not-found', `Questionnaire ${canonical} could not be resolved, so the answers were not checked against it${known}`, at));
  return out;
}

/**
 * The totals a Questionnaire defines, recomputed from the answers of `qr`: for each total item (the
 * one readOnly item with an SDC calculatedExpression, or our instruments' known total linkIds), the sum of
 * the weights (ordinalValue / itemWeight, on the answerOption or its valueCoding) of the answers to
 * the weighted items; for our PEG the mean of its three items to one decimal. A total is left out when
 * an enabled weighted item has no single weighted answer (an incomplete response has no total).
 */
export function computeTotals(qr: QuestionnaireResponse, questionnaire: Questionnaire): ComputedTotal[] {
  const totals = totalItems(questionnaire);
  if (totals.length === 0) return [];
  const answers = answersByLinkId(qr as unknown as Json);
  const totalIds = new Set(totals.map((t) => t.item.linkId));
  const out: ComputedTotal[] = [];
  for (const t of totals) {
    if (t.rule === 'mean') {
      const scored = flatItems(questionnaire.item ?? []).filter(
        (i) => !totalIds.has(i.linkId) && (i.type === 'integer' || i.type === 'decimal') && !i.readOnly,
      );
      const values: number[] = [];
      for (const i of scored) {
        const a = answers.get(i.linkId) ?? [];
        const v = a.length === 1 ? numberOf(a[0]) : undefined;
        if (v === undefined) break;
        values.push(v);
      }
      if (values.length === scored.length && values.length > 0 && values.every(Number.isInteger)) {
        out.push({ linkId: t.item.linkId, value: meanToOneDecimal(values) });
      }
      continue;
    }
    const weighted = flatItems(questionnaire.item ?? []).filter(
      (i) => !totalIds.has(i.linkId) && (i.answerOption ?? []).some((o) => weightOf(o) !== undefined),
    );
    if (weighted.length === 0) continue;
    let sum = 0;
    let complete = true;
    for (const i of weighted) {
      const a = answers.get(i.linkId) ?? [];
      const coding = a.length === 1 && isObject(a[0].valueCoding) ? (a[0].valueCoding as Coding) : undefined;
      const option = coding ? (i.answerOption ?? []).find((o) => o.valueCoding && sameCoding(o.valueCoding, coding)) : undefined;
      const w = option ? weightOf(option) : undefined;
      if (w === undefined) {
        complete = false;
        break;
      }
      sum += w;
    }
    // Weights are decimals: keep the sum free of binary fractions (0.1 + 0.2) at 6 places.
    if (complete) out.push({ linkId: t.item.linkId, value: Math.round(sum * 1e6) / 1e6 });
  }
  return out;
}

// ---- the walk ---------------------------------------------------------------------------------------

interface Scope {
  /** QR elements from the root down to the container of the items being checked */
  readonly containers: readonly Json[];
}

class ResponseWalk {
  private readonly issues: Issue[] = [];
  private readonly root: string;
  private readonly completed: boolean;
  private readonly contained: Terminology;

  constructor(
    private readonly qr: Json,
    private readonly q: Questionnaire,
    private readonly opts: ResponseValidationOptions,
  ) {
    this.root = opts.base ?? 'QuestionnaireResponse';
    this.completed = qr.status === 'completed' || qr.status === 'amended';
    this.contained = new Terminology();
    for (const r of q.contained ?? []) {
      if (r.resourceType === 'ValueSet') this.contained.addValueSet({ ...(r as ValueSet), url: `#${r.id ?? ''}` });
    }
  }

  run(): Issue[] {
    this.questionnaireStatus();
    this.items(this.q.item ?? [], this.qr, this.root, { containers: [this.qr] });
    this.totals();
    return this.issues;
  }

  private add(severity: IssueSeverity, code: IssueCode, text: string, expression: string): void {
    this.issues.push(issue(severity, code, text, expression));
  }

  private questionnaireStatus(): void {
    const name = this.q.url ?? `Questionnaire/${this.q.id ?? '?'}`;
    if (this.q.status === 'retired' || this.q.status === 'draft') {
      this.add('information', 'business-rule', `The Questionnaire ${name} is ${this.q.status}; responses to it are accepted, but an active Questionnaire is expected`, `${this.root}.questionnaire`);
    }
    const authored = typeof this.qr.authored === 'string' ? this.qr.authored : undefined;
    const period = this.q.effectivePeriod;
    if (authored && period?.end && compareTemporal(authored, period.end) > 0) {
      this.add('warning', 'business-rule', `authored ${authored} is after the end of the Questionnaire's effective period (${period.end})`, `${this.root}.authored`);
    }
    if (authored && period?.start && compareTemporal(authored, period.start) < 0) {
      this.add('warning', 'business-rule', `authored ${authored} is before the start of the Questionnaire's effective period (${period.start})`, `${this.root}.authored`);
    }
  }

  /** The items held by `container` (the QR, a group item, or an answer) against `qItems`. */
  private items(qItems: readonly QuestionnaireItem[], container: Json, path: string, scope: Scope): void {
    const present = new Map<string, { el: Json; path: string }[]>();
    const list = arrayOf(container.item);
    let lastIndex = -1;
    list.forEach((el, i) => {
      const p = `${path}.item[${i}]`;
      const linkId = typeof el.linkId === 'string' ? el.linkId : '';
      if (linkId === '') {
        this.add('error', 'required', 'The item has no linkId: every item names the Questionnaire item it answers', p);
        return;
      }
      const index = qItems.findIndex((q) => q.linkId === linkId);
      if (index < 0) {
        const allowed = qItems.map((q) => `"${q.linkId}"`).join(', ') || 'none';
        const elsewhere = findItem(this.q.item ?? [], linkId);
        if (elsewhere) {
          this.add('error', 'structure', `Item "${linkId}" is in the wrong place: the Questionnaire has it elsewhere; items allowed here: ${allowed}`, p);
          this.item(elsewhere, el, p, scope, true);
        } else {
          this.add('error', 'not-found', `linkId "${linkId}" is not in the Questionnaire at this level; items allowed here: ${allowed}`, p);
        }
        return;
      }
      if (index < lastIndex) {
        this.add('error', 'structure', `Item "${linkId}" is out of order: items follow the Questionnaire's order (${qItems.map((q) => q.linkId).join(', ')})`, p);
      }
      lastIndex = Math.max(lastIndex, index);
      const same = present.get(linkId) ?? [];
      same.push({ el, path: p });
      present.set(linkId, same);
    });

    for (const qItem of qItems) {
      const found = present.get(qItem.linkId);
      const enabled = this.enabled(qItem, scope);
      if (!found) {
        if (enabled && qItem.required && qItem.type !== 'display') {
          this.missing(`Required item "${qItem.linkId}"${label(qItem)} is missing`, path);
        }
        continue;
      }
      if (!enabled) {
        for (const f of found) {
          if (arrayOf(f.el.answer).length > 0 || arrayOf(f.el.item).length > 0) {
            this.add('error', 'business-rule', `Item "${qItem.linkId}" has answers although its enableWhen is false (${describeEnableWhen(qItem)}): leave the item out`, f.path);
          }
        }
      }
      if (found.length > 1 && !qItem.repeats) {
        this.add('error', 'structure', `Item "${qItem.linkId}" appears ${found.length} times; it does not repeat, so give it once`, found[1].path);
      }
      for (const f of found) this.item(qItem, f.el, f.path, scope, enabled);
    }
  }

  /** Problems that only count when the response says it is complete. */
  private missing(text: string, path: string): void {
    if (this.completed) this.add('error', 'required', `${text}: a ${String(this.qr.status)} response answers every required item`, path);
    else this.add('warning', 'required', `${text} (allowed while the response is ${String(this.qr.status ?? 'without status')})`, path);
  }

  private item(qItem: QuestionnaireItem, el: Json, path: string, scope: Scope, enabled: boolean): void {
    const type = String(qItem.type);
    if (typeof el.text === 'string' && el.text !== qItem.text) {
      this.add('error', 'value', `item.text "${el.text}" differs from the Questionnaire's text for "${qItem.linkId}": give ${qItem.text === undefined ? 'no text' : `"${qItem.text}"`} or leave text out`, `${path}.text`);
    }
    const answers = arrayOf(el.answer);
    if (!ANSWER_TYPES[type] && !NO_ANSWER_TYPES.has(type)) {
      this.add('error', 'structure', `Item "${qItem.linkId}" has type "${type}" in the Questionnaire, which is not an R4 item type: it cannot be answered`, path);
      return;
    }
    if (answers.length === 0 && qItem.required && !NO_ANSWER_TYPES.has(type) && enabled) {
      this.missing(`Required item "${qItem.linkId}"${label(qItem)} has no answer`, path);
    }
    if (answers.length > 1 && !qItem.repeats) {
      this.add('error', 'structure', `Item "${qItem.linkId}" has ${answers.length} answers; it does not repeat, so it takes one answer`, `${path}.answer[1]`);
    }
    const maxOccurs = intExtension(qItem, EXT.maxOccurs);
    if (maxOccurs !== undefined && answers.length > maxOccurs) {
      this.add('error', 'structure', `Item "${qItem.linkId}" has ${answers.length} answers; at most ${maxOccurs} are allowed`, path);
    }
    const minOccurs = intExtension(qItem, EXT.minOccurs);
    if (minOccurs !== undefined && answers.length < minOccurs && enabled) {
      this.missing(`Item "${qItem.linkId}" has ${answers.length} answers; at least ${minOccurs} are required`, path);
    }

    answers.forEach((answer, i) => {
      const ap = `${path}.answer[${i}]`;
      if (type === 'group' || type === 'display') {
        this.add('error', 'structure', `Item "${qItem.linkId}" is a ${type}: it takes no answers${type === 'group' ? ' (its items go under item.item)' : ''}`, ap);
        return;
      }
      this.answer(qItem, type, answer, ap, answers.length);
      if (arrayOf(answer.item).length > 0) {
        this.items(qItem.item ?? [], answer, ap, { containers: [...scope.containers, el, answer] });
      }
    });

    const children = arrayOf(el.item);
    if (type === 'display') {
      if (children.length > 0) this.add('error', 'structure', `Item "${qItem.linkId}" is a display item: it holds no items`, `${path}.item[0]`);
    } else if (type !== 'group') {
      if (children.length > 0) {
        this.add('error', 'structure', `Item "${qItem.linkId}" is a question: its nested items go under answer[].item, not under item.item (qrs-1)`, `${path}.item[0]`);
      }
    } else {
      if (qItem.required && enabled && !hasAnswerBelow(el)) {
        this.missing(`Required group "${qItem.linkId}"${label(qItem)} has no answered items`, path);
      }
      this.items(qItem.item ?? [], el, path, { containers: [...scope.containers, el] });
    }
  }

  // ---- answers ---------------------------------------------------------------------------------

  private answer(qItem: QuestionnaireItem, type: string, answer: Json, path: string, count: number): void {
    const key = Object.keys(answer).find((k) => k.startsWith('value') && k.length > 5);
    if (!key) return;
    const valueType = key.slice(5);
    const vp = `${path}.value`;
    const allowed = ANSWER_TYPES[type];
    if (!allowed.includes(valueType)) {
      const expected = type === 'choice' || type === 'open-choice' ? 'valueCoding' : `value${allowed[0]}`;
      this.add('error', 'value', `Item "${qItem.linkId}" has type ${type}: its answer is a ${expected}, not a value${valueType}`, vp);
      return;
    }
    const value = answer[key];
    // A malformed value (null, or a primitive where a datatype belongs) is the structural pass's to
    // report; there is nothing here to compare.
    if (value === null || value === undefined) return;
    if (['Coding', 'Quantity', 'Attachment', 'Reference'].includes(valueType) && !isObject(value)) return;
    switch (valueType) {
      case 'Coding':
        this.codingAnswer(qItem, value as Coding, vp, count);
        break;
      case 'String':
        this.stringAnswer(qItem, type, String(value), vp);
        break;
      case 'Integer':
      case 'Decimal':
        this.numberAnswer(qItem, valueType, value, vp);
        break;
      case 'Date':
      case 'DateTime':
      case 'Time':
        this.temporalAnswer(qItem, valueType, String(value), vp);
        break;
      case 'Quantity':
        this.quantityAnswer(qItem, value as Quantity, vp);
        break;
      case 'Attachment':
        this.attachmentAnswer(qItem, value as Json, vp);
        break;
      case 'Reference':
        this.referenceAnswer(qItem, value as Json, vp);
        break;
      case 'Uri':
        this.uriAnswer(String(value), vp);
        break;
    }
  }

  private codingAnswer(qItem: QuestionnaireItem, coding: Coding, path: string, count: number): void {
    const options = qItem.answerOption ?? [];
    if (options.length > 0) {
      const codings = options.filter((o) => o.valueCoding);
      if (codings.length === 0) {
        this.add('error', 'code-invalid', `Item "${qItem.linkId}" offers no coded options (${describeOptions(options)}): answer with one of them`, path);
        return;
      }
      const match = codings.find((o) => o.valueCoding?.system === coding.system && o.valueCoding?.code === coding.code);
      if (!match) {
        this.add('error', 'code-invalid', `${describeCoding(coding)} is not an answer option of item "${qItem.linkId}"; allowed: ${describeOptions(codings)}`, path);
        return;
      }
      if (count > 1 && booleanExtension(match, EXT.optionExclusive)) {
        this.add('error', 'business-rule', `${describeCoding(coding)} is an exclusive option of item "${qItem.linkId}": it cannot be given with other answers`, path);
      }
      return;
    }
    if (qItem.answerValueSet) {
      const codes = this.expand(qItem.answerValueSet);
      if (!codes) {
        this.add('warning', 'not-supported', `The answer to "${qItem.linkId}" was not checked against ValueSet ${qItem.answerValueSet}, which is not known here or cannot be expanded locally`, path);
      } else if (!codes.has(`${coding.system ?? ''}|${coding.code ?? ''}`)) {
        this.add('error', 'code-invalid', `${describeCoding(coding)} is not in ValueSet ${qItem.answerValueSet}, the answers allowed for "${qItem.linkId}"${sample(codes)}`, path);
      }
    }
  }

  private stringAnswer(qItem: QuestionnaireItem, type: string, value: string, path: string): void {
    if (type === 'choice' || type === 'open-choice') {
      this.primitiveOption(qItem, type, 'String', value, path);
      return;
    }
    const minLength = intExtension(qItem, EXT.minLength);
    if (minLength !== undefined && value.length < minLength) {
      this.add('error', 'value', `The answer to "${qItem.linkId}" has ${value.length} characters; at least ${minLength} are required`, path);
    }
    if (qItem.maxLength !== undefined && value.length > qItem.maxLength) {
      this.add('error', 'value', `The answer to "${qItem.linkId}" has ${value.length} characters; at most ${qItem.maxLength} are allowed (maxLength)`, path);
    }
    const regex = stringExtension(qItem, EXT.regex);
    if (regex !== undefined) {
      let re: RegExp | undefined;
      try {
        re = new RegExp(`^(?:${regex})$`, 'u');
      } catch {
        re = undefined;
      }
      if (re && !re.test(value)) {
        const format = stringExtension(qItem, EXT.entryFormat);
        this.add('error', 'value', `The answer to "${qItem.linkId}" does not match the required format${format ? ` "${format}"` : ''} (regex ${regex})`, path);
      }
    }
    if (type === 'string' && /[\r\n]/.test(value)) {
      this.add('warning', 'value', `The answer to "${qItem.linkId}" holds a line break; a string item takes one line (use a text item for more)`, path);
    }
    if (qItem.answerValueSet) {
      const codes = this.expand(qItem.answerValueSet);
      if (!codes) {
        this.add('warning', 'not-supported', `The answer to "${qItem.linkId}" was not checked against ValueSet ${qItem.answerValueSet}, which is not known here or cannot be expanded locally`, path);
      } else if (![...codes].some((p) => p.slice(p.indexOf('|') + 1) === value)) {
        this.add('error', 'code-invalid', `"${value}" is not a code of ValueSet ${qItem.answerValueSet}, the answers allowed for "${qItem.linkId}"${sample(codes)}`, path);
      }
    }
    this.primitiveOption(qItem, type, 'String', value, path);
  }

  private numberAnswer(qItem: QuestionnaireItem, valueType: 'Integer' | 'Decimal', raw: unknown, path: string): void {
    const value = typeof raw === 'number' ? raw : Number(raw);
    const min = numberExtension(qItem, EXT.minValue);
    const max = numberExtension(qItem, EXT.maxValue);
    if (min !== undefined && value < min) {
      this.add('error', 'value', `The answer to "${qItem.linkId}" is ${value}, less than the minimum ${min}${range(min, max)}`, path);
    }
    if (max !== undefined && value > max) {
      this.add('error', 'value', `The answer to "${qItem.linkId}" is ${value}, more than the maximum ${max}${range(min, max)}`, path);
    }
    const places = intExtension(qItem, EXT.maxDecimalPlaces);
    if (valueType === 'Decimal' && places !== undefined && decimalPlaces(raw) > places) {
      this.add('error', 'value', `The answer to "${qItem.linkId}" has ${decimalPlaces(raw)} decimal places; at most ${places} are allowed`, path);
    }
    this.primitiveOption(qItem, String(qItem.type), valueType, value, path);
  }

  private temporalAnswer(qItem: QuestionnaireItem, valueType: 'Date' | 'DateTime' | 'Time', value: string, path: string): void {
    const min = primitiveExtension(qItem, EXT.minValue);
    const max = primitiveExtension(qItem, EXT.maxValue);
    if (min !== undefined && compareTemporal(value, String(min)) < 0) {
      this.add('error', 'value', `The answer to "${qItem.linkId}" is ${value}, earlier than the minimum ${String(min)}`, path);
    }
    if (max !== undefined && compareTemporal(value, String(max)) > 0) {
      this.add('error', 'value', `The answer to "${qItem.linkId}" is ${value}, later than the maximum ${String(max)}`, path);
    }
    this.primitiveOption(qItem, String(qItem.type), valueType, value, path);
  }

  /** A primitive answer against the item's answerOptions of the same type, when it has options. */
  private primitiveOption(qItem: QuestionnaireItem, type: string, valueType: string, value: string | number, path: string): void {
    const options = qItem.answerOption ?? [];
    if (options.length === 0) return;
    const key = `value${valueType}` as keyof QuestionnaireItemAnswerOption;
    const sameType = options.filter((o) => o[key] !== undefined);
    if (type === 'open-choice' && valueType === 'String') {
      // Free text is what open-choice allows; text equal to an option's code or display was probably
      // meant to be that option.
      const lower = String(value).toLowerCase();
      const coded = options.find((o) => o.valueCoding && (o.valueCoding.display?.toLowerCase() === lower || o.valueCoding.code?.toLowerCase() === lower));
      if (coded?.valueCoding) {
        this.add('warning', 'value', `"${value}" matches the option ${describeCoding(coded.valueCoding)} of "${qItem.linkId}": send that valueCoding instead of free text`, path);
      }
      return;
    }
    if (sameType.length === 0) {
      this.add('error', 'value', `Item "${qItem.linkId}" has no answer options of type ${valueType}; allowed: ${describeOptions(options)}`, path);
      return;
    }
    if (!sameType.some((o) => o[key] === value || Number(o[key]) === value)) {
      this.add('error', 'value', `${JSON.stringify(value)} is not an answer option of item "${qItem.linkId}"; allowed: ${describeOptions(sameType)}`, path);
    }
  }

  private quantityAnswer(qItem: QuestionnaireItem, value: Quantity, path: string): void {
    for (const [url, isMin] of [
      [EXT.minQuantity, true],
      [EXT.maxQuantity, false],
    ] as const) {
      const limit = extensionOf(qItem, url)?.valueQuantity as Quantity | undefined;
      if (!limit) continue;
      const word = isMin ? 'minimum' : 'maximum';
      if (!limit.system || !limit.code || !value.system || !value.code) {
        this.add('error', 'value', `The answer to "${qItem.linkId}" (${describeQuantity(value)}) cannot be compared with the ${word} ${describeQuantity(limit)}: both need a unit system and code`, path);
      } else if (limit.system !== value.system || limit.code !== value.code) {
        this.add('error', 'value', `The answer to "${qItem.linkId}" (${describeQuantity(value)}) cannot be compared with the ${word} ${describeQuantity(limit)}: give it in ${limit.code}`, path);
      } else if (value.value !== undefined && limit.value !== undefined && (isMin ? value.value < limit.value : value.value > limit.value)) {
        this.add('error', 'value', `The answer to "${qItem.linkId}" (${describeQuantity(value)}) is ${isMin ? 'less' : 'more'} than the ${word} ${describeQuantity(limit)}`, path);
      }
    }
    const places = intExtension(qItem, EXT.maxDecimalPlaces);
    if (places !== undefined && value.value !== undefined && decimalPlaces(value.value) > places) {
      this.add('error', 'value', `The answer to "${qItem.linkId}" has ${decimalPlaces(value.value)} decimal places; at most ${places} are allowed`, path);
    }
    const units = (qItem.extension ?? []).filter((e) => e.url === EXT.unitOption && e.valueCoding).map((e) => e.valueCoding as Coding);
    if (units.length > 0) {
      const ok = units.some(
        (c) => (!c.system || c.system === value.system) && (!c.code || c.code === value.code) && (!c.display || c.display === value.unit),
      );
      if (!ok) {
        this.add('error', 'value', `The unit of the answer to "${qItem.linkId}" (${describeQuantity(value)}) is not allowed; allowed: ${units.map(describeCoding).join(', ')}`, path);
      }
    }
    const unitVs = stringExtension(qItem, EXT.unitValueSet);
    if (unitVs !== undefined) {
      const codes = this.expand(unitVs);
      if (!codes) {
        this.add('warning', 'not-supported', `The unit of the answer to "${qItem.linkId}" was not checked against ValueSet ${unitVs}, which is not known here or cannot be expanded locally`, path);
      } else if (!codes.has(`${value.system ?? ''}|${value.code ?? ''}`)) {
        this.add('error', 'code-invalid', `The unit ${value.system ?? '(no system)'}|${value.code ?? '(no code)'} of the answer to "${qItem.linkId}" is not in ValueSet ${unitVs}${sample(codes)}`, path);
      }
    }
  }

  private attachmentAnswer(qItem: QuestionnaireItem, value: Json, path: string): void {
    const mimeTypes = (qItem.extension ?? []).filter((e) => e.url === EXT.mimeType && e.valueCode).map((e) => String(e.valueCode));
    if (mimeTypes.length > 0) {
      const ct = typeof value.contentType === 'string' ? value.contentType : undefined;
      if (!ct || !mimeTypes.some((m) => ct.startsWith(m))) {
        this.add('error', 'value', `The attachment's contentType ${ct ?? '(none)'} is not allowed for "${qItem.linkId}"; allowed: ${mimeTypes.join(', ')}`, path);
      }
    }
    const data = typeof value.data === 'string' ? value.data : undefined;
    const bytes = data === undefined ? undefined : Buffer.from(data, 'base64').length;
    const maxSize = numberExtension(qItem, EXT.maxSize);
    if (maxSize !== undefined && bytes !== undefined && bytes > maxSize) {
      this.add('error', 'value', `The attachment for "${qItem.linkId}" has ${bytes} bytes; at most ${maxSize} are allowed`, path);
    }
    if (bytes !== undefined && value.size !== undefined && Number(value.size) !== bytes) {
      this.add('error', 'value', `The attachment's size says ${String(value.size)} bytes but its data has ${bytes}: give the size of the data`, `${path}.size`);
    }
  }

  private referenceAnswer(qItem: QuestionnaireItem, value: Json, path: string): void {
    const ref = typeof value.reference === 'string' ? value.reference : undefined;
    if (ref === undefined || ref.startsWith('#') || ref.startsWith('urn:')) return;
    if (/\s/.test(ref)) {
      this.add('error', 'value', `"${ref}" is not a valid reference (it holds white space): give Type/id or an absolute URL`, `${path}.reference`);
    }
    const parts = ref.split('/').filter((p) => p !== '');
    const rt = parts.length >= 2 ? parts[parts.length - 2] : undefined;
    const allowed = (qItem.extension ?? []).filter((e) => e.url === EXT.referenceResource && e.valueCode).map((e) => String(e.valueCode));
    const isType = this.opts.isResourceType ?? ((n: string) => /^[A-Z][A-Za-z]+$/.test(n));
    if (allowed.length > 0) {
      if (!rt || !allowed.includes(rt)) {
        this.add('error', 'value', `The reference ${ref} answering "${qItem.linkId}" is to ${rt ?? 'an unknown type'}; allowed: ${allowed.join(', ')}`, path);
      }
    } else if (rt !== undefined && !isType(rt)) {
      this.add('error', 'value', `The reference ${ref} answering "${qItem.linkId}" names ${rt}, which is not an R4 resource type`, path);
    }
  }

  private uriAnswer(value: string, path: string): void {
    if (value.startsWith('urn:uuid:') && !/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value)) {
      this.add('error', 'value', `"${value}" is not a valid urn:uuid: a UUID is 8-4-4-4-12 lower-case hexadecimal digits`, path);
    } else if (value.startsWith('urn:oid:') && !/^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$/.test(value)) {
      this.add('error', 'value', `"${value}" is not a valid urn:oid: digits separated by dots, starting with 0, 1 or 2`, path);
    } else if (/\s/.test(value)) {
      this.add('error', 'value', `"${value}" is not a valid URI: it holds white space`, path);
    }
  }

  private expand(canonical: string): ReadonlySet<string> | undefined {
    if (canonical.startsWith('#')) return this.contained.expand(canonical)?.codings;
    return this.opts.expandValueSet?.(canonical);
  }

  // ---- enableWhen -------------------------------------------------------------------------------

  private enabled(qItem: QuestionnaireItem, scope: Scope): boolean {
    const conditions = qItem.enableWhen ?? [];
    if (conditions.length === 0) return true;
    const results = conditions.map((c) => this.condition(c, scope));
    return qItem.enableBehavior === 'any' ? results.some(Boolean) : results.every(Boolean);
  }

  private condition(c: QuestionnaireItemEnableWhen, scope: Scope): boolean {
    const answers = this.answersTo(c.question, scope);
    if (c.operator === 'exists') return (answers.length > 0) === (c.answerBoolean === true);
    const key = Object.keys(c).find((k) => k.startsWith('answer') && k.length > 6);
    if (!key) return false;
    const expected = (c as unknown as Json)[key];
    const valueKey = `value${key.slice(6)}`;
    return answers.some((a) => {
      if (a[valueKey] === undefined) return false;
      const cmp = compareValues(a[valueKey], expected, key.slice(6));
      if (cmp === undefined) return c.operator === '!=';
      switch (c.operator) {
        case '=':
          return cmp === 0;
        case '!=':
          return cmp !== 0;
        case '>':
          return cmp > 0;
        case '<':
          return cmp < 0;
        case '>=':
          return cmp >= 0;
        case '<=':
          return cmp <= 0;
        default:
          return false;
      }
    });
  }

  /**
   * The answers to `linkId` seen from `scope`: the nearest enclosing container (sibling items first,
   * then outwards to the root) that holds an item with that linkId, so that a condition inside a
   * repeated group reads its own group's answer.
   */
  private answersTo(linkId: string, scope: Scope): Json[] {
    for (let i = scope.containers.length - 1; i >= 0; i--) {
      const found: Json[] = [];
      collectItems(scope.containers[i], linkId, found);
      if (found.length > 0) return found.flatMap((el) => arrayOf(el.answer));
    }
    return [];
  }

  // ---- totals -----------------------------------------------------------------------------------

  private totals(): void {
    const computed = computeTotals(this.qr as unknown as QuestionnaireResponse, this.q);
    for (const t of computed) {
      const paths: string[] = [];
      locateItems(this.qr, t.linkId, this.root, paths);
      for (const p of paths) {
        const el = itemAt(this.qr, p.slice(this.root.length));
        const a = arrayOf(el?.answer)[0];
        const given = a ? numberOf(a) : undefined;
        if (given === undefined || Math.abs(given - t.value) < 1e-9) continue;
        const q = findItem(this.q.item ?? [], t.linkId);
        this.add('error', 'business-rule', `The submitted total ${given} for "${t.linkId}"${q ? label(q) : ''} does not equal the total computed from the answers, ${t.value}: give ${t.value} or leave the total out`, `${p}.answer[0].value`);
      }
    }
  }
}

// ---- helpers ------------------------------------------------------------------------------------------

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function arrayOf(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isObject) : [];
}

function label(q: QuestionnaireItem): string {
  return q.text ? ` ("${q.text.length > 60 ? `${q.text.slice(0, 57)}...` : q.text}")` : '';
}

function findItem(items: readonly QuestionnaireItem[], linkId: string): QuestionnaireItem | undefined {
  for (const i of items) {
    if (i.linkId === linkId) return i;
    const deeper = findItem(i.item ?? [], linkId);
    if (deeper) return deeper;
  }
  return undefined;
}

function flatItems(items: readonly QuestionnaireItem[]): QuestionnaireItem[] {
  return items.flatMap((i) => [i, ...flatItems(i.item ?? [])]);
}

/** Items with `linkId` anywhere below `container` (through item and answer). */
function collectItems(container: Json, linkId: string, out: Json[]): void {
  for (const el of arrayOf(container.item)) {
    if (el.linkId === linkId) out.push(el);
    collectItems(el, linkId, out);
    for (const a of arrayOf(el.answer)) collectItems(a, linkId, out);
  }
}

function locateItems(container: Json, linkId: string, path: string, out: string[]): void {
  arrayOf(container.item).forEach((el, i) => {
    const p = `${path}.item[${i}]`;
    if (el.linkId === linkId) out.push(p);
    locateItems(el, linkId, p, out);
    arrayOf(el.answer).forEach((a, j) => locateItems(a, linkId, `${p}.answer[${j}]`, out));
  });
}

/** The element at a relative path like `.item[2].answer[0].item[1]`. */
function itemAt(root: Json, rel: string): Json | undefined {
  let cur: Json | undefined = root;
  for (const m of rel.matchAll(/\.(item|answer)\[(\d+)\]/g)) {
    cur = cur ? arrayOf(cur[m[1]])[Number(m[2])] : undefined;
  }
  return cur;
}

function answersByLinkId(qr: Json): Map<string, Json[]> {
  const out = new Map<string, Json[]>();
  const walk = (container: Json): void => {
    for (const el of arrayOf(container.item)) {
      if (typeof el.linkId === 'string') out.set(el.linkId, [...(out.get(el.linkId) ?? []), ...arrayOf(el.answer)]);
      walk(el);
      for (const a of arrayOf(el.answer)) walk(a);
    }
  };
  walk(qr);
  return out;
}

function hasAnswerBelow(el: Json): boolean {
  return arrayOf(el.item).some((c) => arrayOf(c.answer).length > 0 || hasAnswerBelow(c));
}

/**
 * The total items: ours by their known linkId; in any other Questionnaire its one read-only calculated
 * item. With several calculated items (per-item scores, subscales) we cannot tell which one is the
 * sum of the weights without evaluating SDC expressions, so none is checked.
 */
function totalItems(q: Questionnaire): { item: QuestionnaireItem; rule: 'sum' | 'mean' }[] {
  const all = flatItems(q.item ?? []);
  const ours = q.url ? OUR_TOTALS[q.url] : undefined;
  if (ours) return all.filter((i) => i.linkId === ours.linkId).map((item) => ({ item, rule: ours.rule }));
  const calculated = all.filter((i) => i.readOnly && (i.extension ?? []).some((e) => e.url === EXT.calculatedExpression));
  return calculated.length === 1 ? [{ item: calculated[0], rule: 'sum' }] : [];
}

/** The weight of an answer option: ordinalValue or itemWeight, on the option or on its valueCoding. */
function weightOf(o: QuestionnaireItemAnswerOption): number | undefined {
  for (const e of [...(o.extension ?? []), ...(o.valueCoding?.extension ?? [])]) {
    if ((e.url === EXT.ordinalValue || e.url === EXT.itemWeight) && typeof e.valueDecimal === 'number') return e.valueDecimal;
    if ((e.url === EXT.ordinalValue || e.url === EXT.itemWeight) && typeof e.valueInteger === 'number') return e.valueInteger;
  }
  return undefined;
}

function sameCoding(a: Coding, b: Coding): boolean {
  return a.code === b.code && (a.system === b.system || a.system === undefined || b.system === undefined);
}

function numberOf(answer: Json): number | undefined {
  for (const k of ['valueInteger', 'valueDecimal']) if (typeof answer[k] === 'number') return answer[k] as number;
  return undefined;
}

function extensionOf(item: QuestionnaireItem | QuestionnaireItemAnswerOption, url: string): Json | undefined {
  return (item.extension ?? []).find((e) => e.url === url) as Json | undefined;
}

function primitiveExtension(item: QuestionnaireItem, url: string): string | number | boolean | undefined {
  const e = extensionOf(item, url);
  if (!e) return undefined;
  const key = Object.keys(e).find((k) => k.startsWith('value'));
  const v = key ? e[key] : undefined;
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : undefined;
}

function numberExtension(item: QuestionnaireItem, url: string): number | undefined {
  const v = primitiveExtension(item, url);
  return typeof v === 'number' ? v : undefined;
}

function intExtension(item: QuestionnaireItem, url: string): number | undefined {
  const v = numberExtension(item, url);
  return v !== undefined && Number.isInteger(v) ? v : undefined;
}

function stringExtension(item: QuestionnaireItem, url: string): string | undefined {
  const v = primitiveExtension(item, url);
  return typeof v === 'string' ? v : undefined;
}

function booleanExtension(item: QuestionnaireItemAnswerOption, url: string): boolean {
  return extensionOf(item, url)?.valueBoolean === true;
}

function decimalPlaces(v: unknown): number {
  const s = String(v);
  const dot = s.indexOf('.');
  return dot < 0 || /e/i.test(s) ? 0 : s.length - dot - 1;
}

/**
 * Dates, dateTimes and times compare as ISO 8601 text, which orders them when they share a time zone;
 * a value of finer precision than the limit counts as within the limit's period only when equal up to
 * the limit's precision (2022-06-30 is later than a maximum of 2022-06, as the Java validator says).
 */
function compareTemporal(a: string, b: string): number {
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  if (a.length > 10 && b.length > 10 && Number.isFinite(ta) && Number.isFinite(tb)) return Math.sign(ta - tb);
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareValues(actual: unknown, expected: unknown, type: string): number | undefined {
  switch (type) {
    case 'Boolean':
      return actual === expected ? 0 : undefined;
    case 'Integer':
    case 'Decimal':
      return typeof actual === 'number' && typeof expected === 'number' ? Math.sign(actual - expected) : undefined;
    case 'Date':
    case 'DateTime':
    case 'Time':
    case 'String':
      return typeof actual === 'string' && typeof expected === 'string' ? compareTemporal(actual, expected) : undefined;
    case 'Coding': {
      if (!isObject(actual) || !isObject(expected)) return undefined;
      const same = actual.code === expected.code && (actual.system === expected.system || !actual.system || !expected.system);
      return same ? 0 : undefined;
    }
    case 'Quantity': {
      if (!isObject(actual) || !isObject(expected)) return undefined;
      if (actual.code !== expected.code || actual.system !== expected.system) return undefined;
      return typeof actual.value === 'number' && typeof expected.value === 'number' ? Math.sign(actual.value - expected.value) : undefined;
    }
    case 'Reference':
      return isObject(actual) && isObject(expected) && actual.reference === expected.reference ? 0 : undefined;
    default:
      return undefined;
  }
}

function describeEnableWhen(q: QuestionnaireItem): string {
  const parts = (q.enableWhen ?? []).map((c) => {
    const key = Object.keys(c).find((k) => k.startsWith('answer'));
    const v = key ? (c as unknown as Json)[key] : undefined;
    const shown = isObject(v) ? describeCoding(v as Coding) : JSON.stringify(v);
    return `"${c.question}" ${c.operator} ${shown}`;
  });
  return parts.join(q.enableBehavior === 'any' ? ' or ' : ' and ');
}

function describeCoding(c: Coding): string {
  return `${c.system ?? '(no system)'}|${c.code ?? '(no code)'}${c.display ? ` (${c.display})` : ''}`;
}

function describeQuantity(q: Quantity): string {
  const unit = q.code ?? q.unit;
  return `${q.comparator ?? ''}${q.value ?? '?'}${unit ? ` ${unit}` : ''}`;
}

function describeOptions(options: readonly QuestionnaireItemAnswerOption[]): string {
  const shown = options.slice(0, 12).map((o) => {
    if (o.valueCoding) return describeCoding(o.valueCoding);
    const key = Object.keys(o).find((k) => k.startsWith('value'));
    return key ? JSON.stringify((o as unknown as Json)[key]) : '?';
  });
  return shown.join(', ') + (options.length > 12 ? ', ...' : '');
}

function sample(codes: ReadonlySet<string>): string {
  const list = [...codes].slice(0, 8);
  return list.length ? `; allowed include ${list.join(', ')}${codes.size > list.length ? ', ...' : ''}` : '';
}

function range(min: number | undefined, max: number | undefined): string {
  return min !== undefined && max !== undefined ? ` (allowed: ${min} to ${max})` : '';
}
