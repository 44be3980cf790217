// What the FHIR front door hands to the inbound reverse mapping: one referral's resources with every
// reference already resolved (contained, Bundle entry, stored resource, or logical identifier), and the
// FHIRPath of each resource in the request, so that a problem found while mapping names its place.
import type {
  Organization,
  Patient,
  Practitioner,
  PractitionerRole,
  QuestionnaireResponse,
  ServiceRequest,
} from 'fhir/r4.js';

export interface InboundReferralPackage {
  serviceRequest: ServiceRequest;
  /** ServiceRequest.subject */
  patient: Patient;
  /** ServiceRequest.requester when it is a PractitionerRole */
  practitionerRole?: PractitionerRole;
  /** ServiceRequest.requester when a Practitioner, or PractitionerRole.practitioner */
  practitioner?: Practitioner;
  /** PractitionerRole.organization, or ServiceRequest.requester when it is an Organization */
  requesterOrganization?: Organization;
  /** ServiceRequest.performer[0] when an Organization */
  performerOrganization?: Organization;
  /** ServiceRequest.supportingInfo QuestionnaireResponses, and those whose basedOn points at the ServiceRequest */
  questionnaireResponses: QuestionnaireResponse[];
  /**
   * Where each resource sits in the request, as a FHIRPath prefix, e.g. `Bundle.entry[3].resource`
   * or `ServiceRequest.contained[0]`; a resource already stored has `ServiceRequest.subject` etc.
   */
  locations: Map<object, string>;
}
