// The CapabilityStatement behind GET /fhir/metadata, built from what is actually served: each FHIR
// route carries a FhirRouteMeta (in hapi's route options.app.fhir), and the profiles come from the
// validator. Nothing here is written by hand, so the statement cannot claim a route that is gone.
import type {
  CapabilityStatement,
  CapabilityStatementMessaging,
  CapabilityStatementRestResource,
  CapabilityStatementRestResourceInteraction,
  CapabilityStatementRestResourceOperation,
  CapabilityStatementRestResourceSearchParam,
} from 'fhir/r4.js';

export type FhirInteraction =
  | 'read'
  | 'vread'
  | 'history-instance'
  | 'search-type'
  | 'create'
  | 'update'
  | 'transaction'
  | 'batch'
  | 'capabilities'
  | 'operation';

export type SearchParamType = 'token' | 'reference' | 'date' | 'uri' | 'string' | 'number';

export interface FhirRouteMeta {
  /** resource type; absent for system-level routes */
  type?: string;
  interaction: FhirInteraction;
  /** e.g. { name: 'validate', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate', level: 'type' } */
  operation?: { name: string; definition: string; level: 'system' | 'type' | 'instance' };
  searchParams?: { name: string; type: SearchParamType; documentation?: string }[];
  conditionalCreate?: boolean;
}

export interface CapabilityInput {
  /** as actually registered */
  routes: FhirRouteMeta[];
  /** resource type → profile canonicals we validate against */
  supportedProfiles: Map<string, string[]>;
  /** MessageDefinition canonicals this server receives */
  messaging?: { definitions: string[] };
  software: { name: string; version: string };
  /** base URL of this server, e.g. https://adapter.example/fhir */
  implementationUrl?: string;
  /** dateTime of the statement (e.g. the build or start time) */
  date: string;
}

const CORE_SD = 'http://hl7.org/fhir/StructureDefinition/';

// The order the R4 value sets list them in, so the statement reads like any other server's.
const TYPE_INTERACTIONS = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'] as const;
const SYSTEM_INTERACTIONS = ['transaction', 'batch', 'search-system', 'history-system'] as const;

type TypeCode = CapabilityStatementRestResourceInteraction['code'];
type SystemCode = (typeof SYSTEM_INTERACTIONS)[number];

interface TypeAcc {
  interactions: Set<string>;
  searchParams: Map<string, CapabilityStatementRestResourceSearchParam>;
  operations: Map<string, CapabilityStatementRestResourceOperation>;
  conditionalCreate: boolean;
}

/**
 * A CapabilityStatement (kind instance, FHIR 4.0.1, JSON and XML) with one `rest` (mode server):
 * a `resource` per type that has a route, with exactly its interactions, search parameters,
 * operations and supported profiles; system interactions (transaction, batch) and system
 * operations at `rest` level; `messaging` when MessageDefinitions are received. Types, search
 * parameters, operations and profiles are sorted, so the same routes give the same statement.
 */
export function buildCapabilityStatement(input: CapabilityInput): CapabilityStatement {
  const types = new Map<string, TypeAcc>();
  const systemInteractions = new Set<string>();
  const systemOperations = new Map<string, CapabilityStatementRestResourceOperation>();

  for (const route of input.routes) {
    if (route.interaction === 'capabilities') continue; // implied by the statement itself
    if (route.interaction === 'operation') {
      if (!route.operation) throw new Error(`An operation route${route.type ? ` on ${route.type}` : ''} has no operation name and definition`);
      const op = { name: route.operation.name.replace(/^\$/, ''), definition: route.operation.definition };
      if (route.operation.level === 'system' || !route.type) addOperation(systemOperations, op);
      else addOperation(accFor(types, route.type).operations, op);
      continue;
    }
    if ((SYSTEM_INTERACTIONS as readonly string[]).includes(route.interaction)) {
      systemInteractions.add(route.interaction);
      continue;
    }
    if (!route.type) throw new Error(`The ${route.interaction} route has no resource type`);
    const acc = accFor(types, route.type);
    acc.interactions.add(route.interaction);
    if (route.interaction === 'create' && route.conditionalCreate) acc.conditionalCreate = true;
    for (const p of route.searchParams ?? []) addSearchParam(acc, route.type, p);
  }

  const resources = [...types.keys()].sort().map((type) => resourceEntry(type, types.get(type) as TypeAcc, input.supportedProfiles.get(type)));
  const rest: NonNullable<CapabilityStatement['rest']>[number] = { mode: 'server', resource: resources };
  const interactions = SYSTEM_INTERACTIONS.filter((c) => systemInteractions.has(c));
  if (interactions.length > 0) rest.interaction = interactions.map((code: SystemCode) => ({ code }));
  if (systemOperations.size > 0) rest.operation = sortedOperations(systemOperations);

  const implementation: CapabilityStatement['implementation'] = { description: `${input.software.name} FHIR R4 server` };
  if (input.implementationUrl) implementation.url = input.implementationUrl;

  const cs: CapabilityStatement = {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: input.date,
    kind: 'instance',
    software: { name: input.software.name, version: input.software.version },
    implementation,
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'application/fhir+xml', 'json', 'xml'],
    rest: [rest],
  };
  const definitions = [...new Set(input.messaging?.definitions ?? [])].sort();
  if (definitions.length > 0) cs.messaging = [messaging(definitions, input.implementationUrl, systemOperations.has('process-message'))];
  return cs;
}

/** The FhirRouteMeta of each route that has one (`server.table()` of hapi, typed loosely); a route serving several interactions holds a list. */
export function routeMetaFromTable(table: readonly { settings: { app?: { fhir?: FhirRouteMeta | FhirRouteMeta[] } } }[]): FhirRouteMeta[] {
  const out: FhirRouteMeta[] = [];
  for (const route of table) {
    const meta = route.settings.app?.fhir;
    if (Array.isArray(meta)) out.push(...meta);
    else if (meta) out.push(meta);
  }
  return out;
}

function accFor(types: Map<string, TypeAcc>, type: string): TypeAcc {
  let acc = types.get(type);
  if (!acc) {
    acc = { interactions: new Set(), searchParams: new Map(), operations: new Map(), conditionalCreate: false };
    types.set(type, acc);
  }
  return acc;
}

// The same operation may be routed at type and instance level (POST /X/$validate and /X/{id}/$validate):
// the statement lists it once.
function addOperation(ops: Map<string, CapabilityStatementRestResourceOperation>, op: CapabilityStatementRestResourceOperation): void {
  const earlier = ops.get(op.name);
  if (earlier && earlier.definition !== op.definition) {
    throw new Error(`Operation $${op.name} is routed with two definitions: ${earlier.definition} and ${op.definition}`);
  }
  ops.set(op.name, op);
}

// Several routes (GET and POST _search) may declare the same parameter; a name means one thing per type.
function addSearchParam(acc: TypeAcc, type: string, p: NonNullable<FhirRouteMeta['searchParams']>[number]): void {
  const earlier = acc.searchParams.get(p.name);
  if (earlier && earlier.type !== p.type) {
    throw new Error(`Search parameter ${type}.${p.name} is declared both as ${earlier.type} and as ${p.type}`);
  }
  if (earlier && earlier.documentation) return;
  const param: CapabilityStatementRestResourceSearchParam = { name: p.name, type: p.type };
  if (p.documentation) param.documentation = p.documentation;
  acc.searchParams.set(p.name, param);
}

function resourceEntry(type: string, acc: TypeAcc, profiles: readonly string[] | undefined): CapabilityStatementRestResource {
  // type is a resource type name; the route table is where it comes from, not a literal here.
  const entry: CapabilityStatementRestResource = { type: type as CapabilityStatementRestResource['type'], profile: `${CORE_SD}${type}` };
  const supported = [...new Set(profiles ?? [])].sort();
  if (supported.length > 0) entry.supportedProfile = supported;
  const interactions = TYPE_INTERACTIONS.filter((c) => acc.interactions.has(c));
  if (interactions.length > 0) entry.interaction = interactions.map((code: TypeCode) => ({ code }));
  entry.versioning = 'versioned';
  // readHistory: vread returns past versions, not only the current one.
  entry.readHistory = acc.interactions.has('vread');
  entry.updateCreate = false;
  if (acc.interactions.has('create')) entry.conditionalCreate = acc.conditionalCreate;
  const params = [...acc.searchParams.values()].sort((a, b) => compare(a.name, b.name));
  if (params.length > 0) entry.searchParam = params;
  if (acc.operations.size > 0) entry.operation = sortedOperations(acc.operations);
  return entry;
}

function sortedOperations(ops: Map<string, CapabilityStatementRestResourceOperation>): CapabilityStatementRestResourceOperation[] {
  return [...ops.values()].sort((a, b) => compare(a.name, b.name));
}

function messaging(definitions: readonly string[], baseUrl: string | undefined, hasProcessMessage: boolean): CapabilityStatementMessaging {
  const out: CapabilityStatementMessaging = { supportedMessage: definitions.map((definition) => ({ mode: 'receiver', definition })) };
  // The endpoint is stated only when both the server's address and the route that receives messages are known.
  if (baseUrl && hasProcessMessage) {
    out.endpoint = [
      {
        protocol: { system: 'http://terminology.hl7.org/CodeSystem/message-transport', code: 'http' },
        address: `${baseUrl.replace(/\/$/, '')}/$process-message`,
      },
    ];
  }
  return out;
}

// Code-unit order: the same on every machine (localeCompare depends on the ICU build).
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
