import type { CodeSystem, ValueSet } from 'fhir/r4.js';
import { describe, expect, it, test } from 'vitest';
import { Terminology, stripVersion } from '../../../src/fhir/validation/terminology.js';

const CS = 'https://example.org/CodeSystem/shape';
const shapes: CodeSystem = {
  resourceType: 'CodeSystem',
  url: CS,
  status: 'active',
  content: 'complete',
  concept: [
    { code: 'polygon', concept: [{ code: 'triangle' }, { code: 'square', concept: [{ code: 'unit-square' }] }] },
    { code: 'circle' },
  ],
};

const vs = (name: string, compose: ValueSet['compose']): ValueSet => ({
  resourceType: 'ValueSet',
  url: `https://example.org/ValueSet/${name}`,
  status: 'active',
  compose,
});

function terminology(...valueSets: ValueSet[]): Terminology {
  const t = new Terminology();
  t.addCodeSystem(shapes);
  t.addCodeSystem({ ...shapes, url: 'https://example.org/CodeSystem/fragment', content: 'fragment' });
  for (const v of valueSets) t.addValueSet(v);
  return t;
}

const codes = (t: Terminology, name: string): string[] | undefined => {
  const e = t.expand(`https://example.org/ValueSet/${name}`);
  return e ? [...e.codes].sort() : undefined;
};

describe('ValueSet expansion', () => {
  test.each([
    ['a whole CodeSystem, nested concepts included', { include: [{ system: CS }] }, ['circle', 'polygon', 'square', 'triangle', 'unit-square']],
    ['an explicit concept list', { include: [{ system: CS, concept: [{ code: 'circle' }, { code: 'triangle' }] }] }, ['circle', 'triangle']],
    ['is-a includes the concept', { include: [{ system: CS, filter: [{ property: 'concept', op: 'is-a', value: 'square' }] }] }, ['square', 'unit-square']],
    ['descendent-of excludes it', { include: [{ system: CS, filter: [{ property: 'concept', op: 'descendent-of', value: 'polygon' }] }] }, ['square', 'triangle', 'unit-square']],
    ['exclude', { include: [{ system: CS }], exclude: [{ system: CS, concept: [{ code: 'circle' }] }] }, ['polygon', 'square', 'triangle', 'unit-square']],
    ['another ValueSet', { include: [{ valueSet: ['https://example.org/ValueSet/two'] }] }, ['circle', 'triangle']],
  ] as [string, ValueSet['compose'], string[]][])('%s', (_n, compose, expected) => {
    const t = terminology(vs('it', compose), vs('two', { include: [{ system: CS, concept: [{ code: 'circle' }, { code: 'triangle' }] }] }));
    expect(codes(t, 'it')).toEqual(expected);
  });

  it('keeps the system with each code', () => {
    const t = terminology(vs('it', { include: [{ system: CS, concept: [{ code: 'circle' }] }] }));
    const e = t.expand('https://example.org/ValueSet/it|1.0.0');
    expect(e?.codings.has(`${CS}|circle`)).toBe(true);
    expect(e?.codings.has('https://example.org/other|circle')).toBe(false);
  });

  test.each([
    ['a CodeSystem it does not hold', { include: [{ system: 'http://snomed.info/sct' }] }, /not available locally/],
    ['a fragment CodeSystem', { include: [{ system: 'https://example.org/CodeSystem/fragment' }] }, /content is fragment/],
    ['an unsupported filter', { include: [{ system: CS, filter: [{ property: 'concept', op: 'regex', value: '.*' }] }] }, /not supported/],
    ['an unknown included ValueSet', { include: [{ valueSet: ['https://example.org/ValueSet/none'] }] }, /not available locally/],
  ] as [string, ValueSet['compose'], RegExp][])('cannot expand %s: undefined, and the reason is recorded', (_n, compose, reason) => {
    const t = terminology(vs('it', compose));
    expect(t.expand('https://example.org/ValueSet/it')).toBeUndefined();
    expect(t.unexpandable.get('https://example.org/ValueSet/it')).toMatch(reason);
  });

  it('an explicit SNOMED concept list needs no CodeSystem', () => {
    const t = terminology(vs('it', { include: [{ system: 'http://snomed.info/sct', concept: [{ code: '203082005' }] }] }));
    expect(codes(t, 'it')).toEqual(['203082005']);
  });

  it('a ValueSet that includes itself is unexpandable, not a stack overflow', () => {
    const t = terminology(vs('it', { include: [{ valueSet: ['https://example.org/ValueSet/it'] }] }));
    expect(t.expand('https://example.org/ValueSet/it')).toBeUndefined();
  });

  it('stripVersion', () => {
    expect(stripVersion('http://hl7.org/fhir/ValueSet/request-status|4.0.1')).toBe('http://hl7.org/fhir/ValueSet/request-status');
    expect(stripVersion('x')).toBe('x');
  });
});
