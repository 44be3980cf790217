// Checks of a Questionnaire's own definition that the R4 StructureDefinition does not make (or makes
// wrongly), as the HL7 Java validator makes them: what validateResponse relies on to evaluate
// enableWhen. Pure: no hapi, no store.
// - que-12 as intended: more than one enableWhen needs enableBehavior (R4 writes `count() > 2` by
//   mistake; codes-and-rules.md);
// - an enableWhen names an item that exists, is not the item itself nor one of its own descendants,
//   and (a warning) comes before it;
// - the enableWhen answer[x] fits the type of the question it names.
import type { Questionnaire, QuestionnaireItem, QuestionnaireItemEnableWhen } from 'fhir/r4.js';
import { issue, type Issue } from '../fhir/outcomes.js';

/** The answer[x] an enableWhen may carry for a question of each item type. */
const ENABLE_WHEN_ANSWERS: Readonly<Record<string, readonly string[]>> = {
  boolean: ['Boolean'],
  decimal: ['Decimal', 'Integer'],
  integer: ['Integer', 'Decimal'],
  date: ['Date', 'DateTime'],
  dateTime: ['DateTime', 'Date'],
  time: ['Time'],
  string: ['String'],
  text: ['String'],
  url: ['String'],
  choice: ['Coding', 'String', 'Integer', 'Date', 'Time'],
  'open-choice': ['Coding', 'String', 'Integer', 'Date', 'Time'],
  attachment: [],
  reference: ['Reference'],
  quantity: ['Quantity'],
};

/** Every problem of the Questionnaire's definition; expressions from `base` (default `Questionnaire`). */
export function validateQuestionnaire(q: Questionnaire, opts: { base?: string } = {}): Issue[] {
  const root = opts.base ?? 'Questionnaire';
  const issues: Issue[] = [];
  // Items in document order, with their paths and ancestors, to judge where a condition points.
  const order: { item: QuestionnaireItem; path: string; ancestors: QuestionnaireItem[] }[] = [];
  const walk = (items: readonly QuestionnaireItem[], path: string, ancestors: QuestionnaireItem[]): void => {
    items.forEach((item, i) => {
      const p = `${path}.item[${i}]`;
      order.push({ item, path: p, ancestors });
      walk(item.item ?? [], p, [...ancestors, item]);
    });
  };
  walk(q.item ?? [], root, []);
  const position = new Map<string, number>();
  order.forEach((o, i) => {
    if (!position.has(o.item.linkId)) position.set(o.item.linkId, i);
  });

  order.forEach(({ item, path }, index) => {
    const conditions = item.enableWhen ?? [];
    if (conditions.length > 1 && !item.enableBehavior) {
      issues.push(issue('error', 'invariant', `Item "${item.linkId}" has ${conditions.length} enableWhen conditions but no enableBehavior: give enableBehavior "all" or "any" (que-12)`, path));
    }
    conditions.forEach((c, j) => checkCondition(c, `${path}.enableWhen[${j}]`, item, index));
  });
  return issues;

  function checkCondition(c: QuestionnaireItemEnableWhen, path: string, item: QuestionnaireItem, index: number): void {
    const at = position.get(c.question);
    if (at === undefined) {
      issues.push(issue('error', 'business-rule', `enableWhen of "${item.linkId}" names question "${c.question}", which is not an item of this Questionnaire`, `${path}.question`));
      return;
    }
    const target = order[at];
    if (target.item === item) {
      issues.push(issue('error', 'business-rule', `enableWhen of "${item.linkId}" names the item itself: a condition reads another item's answer`, `${path}.question`));
      return;
    }
    if (target.ancestors.includes(item)) {
      issues.push(issue('error', 'business-rule', `enableWhen of "${item.linkId}" names "${c.question}", an item inside it: a condition reads an item outside the one it enables`, `${path}.question`));
      return;
    }
    if (at > index) {
      issues.push(issue('warning', 'business-rule', `enableWhen of "${item.linkId}" names "${c.question}", which comes after it: a form fills in order, so name an earlier item`, `${path}.question`));
    }
    const type = String(target.item.type);
    if (type === 'group' || type === 'display') {
      issues.push(issue('error', 'business-rule', `enableWhen of "${item.linkId}" names "${c.question}", a ${type} item, which has no answers: name a question`, `${path}.question`));
      return;
    }
    const key = Object.keys(c).find((k) => k.startsWith('answer') && k.length > 6);
    const allowed = ENABLE_WHEN_ANSWERS[type];
    if (c.operator !== 'exists' && key && allowed && !allowed.includes(key.slice(6))) {
      issues.push(
        issue('error', 'business-rule', `enableWhen of "${item.linkId}" compares "${c.question}" (type ${type}) with an ${key}: use ${allowed.map((a) => `answer${a}`).join(' or ') || 'operator exists'}`, `${path}.${key}`),
      );
    }
  }
}
