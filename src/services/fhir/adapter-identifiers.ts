// Identifier systems whose values only this adapter assigns. A sender cannot set them: a forged
// referral id would point answers and updates at another referral. They are taken off whatever comes
// in (as a server ignores a client's meta.versionId), and the adapter adds its own when it stores.

/** The Pain Platform referral id; the adapter adds `PP-IN-…` to every inbound ServiceRequest it stores. */
export const REFERRAL_ID_SYSTEM = 'https://fhir.painplatform.uk/Id/referral-id';
/** The identifier the adapter gives a resource received without one: the SHA-256 of its content. */
export const CONTENT_KEY_SYSTEM = 'https://fhir.painplatform.uk/Id/received-content-sha256';

const ADAPTER_SYSTEMS = new Set([REFERRAL_ID_SYSTEM, CONTENT_KEY_SYSTEM]);

/** Removes the adapter's own identifiers from a received resource and its contained resources. */
export function stripAdapterIdentifiers(resource: Record<string, any>): void {
  const strip = (r: Record<string, any>) => {
    if (Array.isArray(r.identifier)) {
      r.identifier = r.identifier.filter((i: any) => !ADAPTER_SYSTEMS.has(i?.system));
      if (r.identifier.length === 0) delete r.identifier;
    } else if (r.identifier && ADAPTER_SYSTEMS.has(r.identifier.system)) delete r.identifier;
  };
  strip(resource);
  for (const c of Array.isArray(resource.contained) ? resource.contained : []) if (c && typeof c === 'object') strip(c);
}
