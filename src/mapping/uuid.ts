// Deterministic resource ids (docs/fhir-contract.md "The Bundle"): a UUID version 5 (RFC 4122, SHA-1) in the
// platform namespace of the name `<resourceType>|<identifier system>|<identifier value>`.

import * as crypto from 'node:crypto';

/** The platform's UUID namespace for resource ids. */
export const ID_NAMESPACE = '5b0f8a52-3c1e-4d8e-9a43-7f1c2b6d9e10';

const HEX = '0123456789abcdef';

// crypto.hash (Node ≥ 20.12) is about twice as fast as createHash for short inputs; fall back otherwise.
const oneShot = (crypto as unknown as { hash?: (alg: string, data: Buffer, enc: 'hex') => string }).hash;
const sha1Hex: (data: Buffer) => string = oneShot
  ? (data) => oneShot('sha1', data, 'hex')
  : (data) => crypto.createHash('sha1').update(data).digest('hex');

function nsBytes(namespace: string): Buffer {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  if (ns.length !== 16) throw new RangeError(`not a UUID: ${namespace}`);
  return ns;
}

function v5(ns: Buffer, name: string): string {
  const data = Buffer.allocUnsafe(16 + Buffer.byteLength(name, 'utf8'));
  ns.copy(data, 0);
  data.write(name, 16, 'utf8');
  const x = sha1Hex(data);
  // version 5 in the high nibble of byte 6; RFC 4122 variant (10xx) in the high bits of byte 8
  const variant = HEX[(parseInt(x[16]!, 16) & 0x3) | 0x8];
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-5${x.slice(13, 16)}-${variant}${x.slice(17, 20)}-${x.slice(20, 32)}`;
}

/** RFC 4122 §4.3 name-based UUID, version 5 (SHA-1), of `name` (UTF-8) in `namespace`; lower case. */
export function uuidV5(name: string, namespace: string): string {
  return v5(nsBytes(namespace), name);
}

const NS_BYTES = nsBytes(ID_NAMESPACE);

/** The id of the resource of type `resourceType` whose business identifier is `system|value`. */
export function deterministicId(resourceType: string, system: string, value: string): string {
  return v5(NS_BYTES, `${resourceType}|${system}|${value}`);
}
