// What the front door takes, and the profile each type is held to on the way in. The inbound profiles
// ask only for what a GP system can send (standard codes and national identifiers); a type without an
// inbound profile of its own is held to base R4.
export const PROFILE_BASE = 'https://fhir.painplatform.uk/StructureDefinition/';

export const INBOUND_PROFILE_CANDIDATES: Readonly<Record<string, readonly string[]>> = {
  ServiceRequest: [`${PROFILE_BASE}PainPlatform-Inbound-ServiceRequest`],
  Patient: [`${PROFILE_BASE}PainPlatform-Inbound-Patient`],
  QuestionnaireResponse: [`${PROFILE_BASE}PainPlatform-Inbound-QuestionnaireResponse`],
  Practitioner: [`${PROFILE_BASE}PainPlatform-Inbound-Practitioner`],
  PractitionerRole: [`${PROFILE_BASE}PainPlatform-Inbound-PractitionerRole`],
  Organization: [`${PROFILE_BASE}PainPlatform-Inbound-Organization`],
};

/** The resource types a client may create here (directly, in a transaction or batch, or in a message). */
export const WRITABLE_TYPES = Object.keys(INBOUND_PROFILE_CANDIDATES);

/** The inbound profile of `type` that `hasProfile` knows, else the base R4 StructureDefinition. */
export function inboundProfileOf(type: string, hasProfile: (url: string) => boolean): string {
  const found = (INBOUND_PROFILE_CANDIDATES[type] ?? []).find(hasProfile);
  return found ?? `http://hl7.org/fhir/StructureDefinition/${type}`;
}
