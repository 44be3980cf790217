// The declarative mapping (DESIGN.md "Profiles and mappings are data"): the rules live in mappings/*.json and
// the ConceptMaps in mappings/conceptmaps/; this module loads and checks them once, compiles them into
// closures, and runs them both ways. The rule language is described in mappings/README.md.

import type { Bundle, QuestionnaireResponse, Reference } from 'fhir/r4.js';
import type { NativeAssessment, NativeReferral, Urgency } from '../native/types.js';
import { forwardBundle, forwardResource, reverseBundle, reverseResource } from './engine.js';
import { MappingConfigError, MappingError } from './errors.js';
import { loadMappingDir, type LoadedQuestionnaire } from './loader.js';
import type { CompiledMapping, Obj } from './model.js';

export { MappingConfigError, MappingError } from './errors.js';
export { deterministicId, ID_NAMESPACE } from './uuid.js';

/** The risk rule's decision for one referral (computed by src/questionnaires/risk.ts), given to the mapping. */
export interface ReferralMappingOptions {
  /** the urgency to send (after the risk rule; never lower than the referral's own) → ServiceRequest.priority */
  urgency: Urgency;
  /** the ServiceRequest.note text saying why the rule fired */
  riskNote?: string;
  /** the risk rule found a self-harm risk: emit the self-harm Flag (tagged risk-rule unless riskFlags holds self-harm) */
  selfHarmFromRule: boolean;
}

export interface AssessmentMappingContext {
  /** the Patient the answers are about → QuestionnaireResponse.subject */
  patientRef: Reference;
  /** the ServiceRequest they support → QuestionnaireResponse.basedOn[0] */
  serviceRequestRef?: Reference;
}

export interface CompiledMappings {
  /** native referral → transaction Bundle (docs/fhir-contract.md). Throws MappingError on a code no ConceptMap knows. */
  referralToBundle(referral: NativeReferral, opts: ReferralMappingOptions): Bundle;
  /** the exact inverse of referralToBundle. Throws MappingError when the Bundle cannot be read back. */
  bundleToReferral(bundle: Bundle): NativeReferral;
  assessmentToQuestionnaireResponse(a: NativeAssessment, ctx: AssessmentMappingContext): QuestionnaireResponse;
  questionnaireResponseToAssessment(qr: QuestionnaireResponse): NativeAssessment;
  /** the platform Questionnaires the mappings use, by canonical `url|version` (read from profiles/ at load time) */
  readonly questionnaires: ReadonlyMap<string, unknown>;
  /** the ConceptMap resources, by name */
  readonly conceptMaps: ReadonlyMap<string, unknown>;
}

export const REFERRAL_MAPPING = 'referral-to-bundle';
export const ASSESSMENT_MAPPING = 'assessment-to-questionnaire-response';

/**
 * Reads mappings/ (mapping files, ConceptMaps, and the Questionnaires they name), checks every rule and
 * compiles it once. Synchronous; throws MappingConfigError naming the file and the rule.
 */
export function loadMappings(dir = 'mappings'): CompiledMappings {
  const loaded = loadMappingDir(dir);
  const need = (name: string, container: boolean): CompiledMapping => {
    const m = loaded.mappings.get(name);
    if (!m) throw new MappingConfigError(`${dir}/${name}.json`, undefined, 'missing: the adapter needs this mapping');
    if (!!m.container !== container) {
      throw new MappingConfigError(m.file, undefined, container ? 'must map to a container Bundle' : 'must map to a single resource');
    }
    return m;
  };
  const referral = need(REFERRAL_MAPPING, true);
  const assessment = need(ASSESSMENT_MAPPING, false);
  if (assessment.blocks[0]!.resourceType !== 'QuestionnaireResponse') {
    throw new MappingConfigError(assessment.file, 'resources[0]', 'must map a QuestionnaireResponse');
  }
  for (const n of ['urgency', 'riskNote', 'selfHarmFromRule']) {
    if (!referral.inputs.includes(n)) throw new MappingConfigError(referral.file, 'inputs', `must declare the input "${n}"`);
  }
  for (const n of ['patientRef', 'serviceRequestRef']) {
    if (!assessment.inputs.includes(n)) throw new MappingConfigError(assessment.file, 'inputs', `must declare the input "${n}"`);
  }
  const questionnaires = new Map<string, unknown>([...loaded.questionnaires].map(([k, q]: [string, LoadedQuestionnaire]) => [k, q.resource]));
  const conceptMaps = new Map<string, unknown>(loaded.conceptMapResources);

  return {
    questionnaires,
    conceptMaps,
    referralToBundle(r, opts) {
      const inputs = { urgency: opts.urgency, riskNote: opts.riskNote, selfHarmFromRule: opts.selfHarmFromRule };
      return forwardBundle(referral, r, inputs) as unknown as Bundle;
    },
    bundleToReferral(bundle) {
      if (typeof bundle !== 'object' || bundle === null) throw new MappingError(REFERRAL_MAPPING, undefined, 'not a Bundle');
      return reverseBundle(referral, bundle as unknown as Obj) as unknown as NativeReferral;
    },
    assessmentToQuestionnaireResponse(a, ctx) {
      const inputs = { patientRef: ctx.patientRef, serviceRequestRef: ctx.serviceRequestRef };
      return forwardResource(assessment, a, inputs) as unknown as QuestionnaireResponse;
    },
    questionnaireResponseToAssessment(qr) {
      if (typeof qr !== 'object' || qr === null) throw new MappingError(ASSESSMENT_MAPPING, undefined, 'not a QuestionnaireResponse');
      return reverseResource(assessment, qr as unknown as Obj) as unknown as NativeAssessment;
    },
  };
}
