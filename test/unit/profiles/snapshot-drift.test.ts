// A committed snapshot must be exactly what `npm run snapshots` makes from the committed differential:
// editing a differential without regenerating fails here.
import type { StructureDefinition } from 'fhir/r4.js';
import { describe, expect, test } from 'vitest';
import { generateSnapshots, serializeResource } from '../../../src/fhir/snapshot.js';
import { coreResolver, readStructureDefinitions } from './load.js';

const files = readStructureDefinitions();

function withoutSnapshot(sd: StructureDefinition): StructureDefinition {
  const { snapshot: _ignored, ...rest } = sd;
  return rest as StructureDefinition;
}

describe('committed snapshots', () => {
  const regenerated = generateSnapshots(
    files.map((f) => withoutSnapshot(f.sd)),
    coreResolver(),
  );

  test('there is a StructureDefinition for every profile and extension of the contract, outbound and inbound', () => {
    expect(files.map((f) => f.sd.id).sort()).toEqual(
      [
        'Extension-AssessmentMode',
        'Extension-ContactMethod',
        'Extension-SymptomDuration',
        'Extension-UrgencyAsSent',
        'PainPlatform-Flag',
        'PainPlatform-Inbound-Patient',
        'PainPlatform-Inbound-PractitionerRole',
        'PainPlatform-Inbound-QuestionnaireResponse',
        'PainPlatform-Inbound-ServiceRequest',
        'PainPlatform-Organization',
        'PainPlatform-Patient',
        'PainPlatform-Practitioner',
        'PainPlatform-PractitionerRole',
        'PainPlatform-QuestionnaireResponse',
        'PainPlatform-ReferralBundle',
        'PainPlatform-ReferralMessage',
        'PainPlatform-ReferralMessageHeader',
        'PainPlatform-ServiceRequest',
      ].sort(),
    );
  });

  test.each(files.map((f, i) => [f.name, f.text, i] as const))(
    '%s: snapshot matches its differential (run `npm run snapshots` after editing one)',
    (_name, text, i) => {
      expect(serializeResource(regenerated[i])).toBe(text);
    },
  );

  test('generation is deterministic', () => {
    const again = generateSnapshots(
      files.map((f) => withoutSnapshot(f.sd)),
      coreResolver(),
    );
    expect(again.map(serializeResource)).toEqual(regenerated.map(serializeResource));
  });
});
