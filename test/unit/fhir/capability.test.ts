// The CapabilityStatement is built from the route metadata: it must validate against base R4 and
// say exactly what the routes say (a route removed → its interaction, parameter or operation gone).
import type { CapabilityStatement, CapabilityStatementRestResource } from 'fhir/r4.js';
import { beforeAll, describe, expect, it, test } from 'vitest';
import { buildCapabilityStatement, routeMetaFromTable, type CapabilityInput, type FhirRouteMeta } from '../../../src/fhir/capability.js';
import type { FhirValidator } from '../../../src/fhir/validator.js';
import { CONFORMANCE_TYPES, ConformanceResources } from '../../../src/services/conformance-resources.js';
import { PROFILES_DIR, PROJECT_ROOT, projectValidator } from './helpers.js';

const CS_PROFILE = 'http://hl7.org/fhir/StructureDefinition/CapabilityStatement';
const PP = 'https://fhir.painplatform.uk/StructureDefinition/';
const VALIDATE = { name: 'validate', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate', level: 'type' } as const;
const PROCESS_MESSAGE = {
  name: 'process-message',
  definition: 'http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message',
  level: 'system',
} as const;
const MESSAGE_DEFINITION = 'https://fhir.painplatform.uk/MessageDefinition/referral-request';

const SR_PARAMS: FhirRouteMeta['searchParams'] = [
  { name: 'identifier', type: 'token', documentation: 'system|value of ServiceRequest.identifier' },
  { name: 'patient', type: 'reference', documentation: 'patient:identifier=https://fhir.nhs.uk/Id/nhs-number|…' },
  { name: 'status', type: 'token' },
  { name: 'authored', type: 'date' },
  { name: '_lastUpdated', type: 'date' },
];
const QR_PARAMS: FhirRouteMeta['searchParams'] = [
  { name: 'subject', type: 'reference' },
  { name: 'patient', type: 'reference' },
  { name: 'questionnaire', type: 'reference' },
  { name: 'authored', type: 'date' },
];
const DEF_PARAMS: FhirRouteMeta['searchParams'] = [
  { name: 'url', type: 'uri' },
  { name: 'name', type: 'string' },
  { name: 'version', type: 'token' },
  { name: 'status', type: 'token' },
];

function stored(type: string, searchParams: FhirRouteMeta['searchParams']): FhirRouteMeta[] {
  return [
    { type, interaction: 'read' },
    { type, interaction: 'vread' },
    { type, interaction: 'history-instance' },
    { type, interaction: 'search-type', searchParams },
    { type, interaction: 'create', conditionalCreate: true },
    { type, interaction: 'operation', operation: VALIDATE },
  ];
}

/** The routes the front door registers, as the lead's route table would give them. */
function realisticRoutes(): FhirRouteMeta[] {
  return [
    { interaction: 'capabilities' },
    ...stored('ServiceRequest', SR_PARAMS),
    ...stored('QuestionnaireResponse', QR_PARAMS),
    // POST _search declares the same parameters again: listed once
    { type: 'ServiceRequest', interaction: 'search-type', searchParams: SR_PARAMS },
    { type: 'Patient', interaction: 'operation', operation: VALIDATE },
    { type: 'Bundle', interaction: 'operation', operation: VALIDATE },
    ...CONFORMANCE_TYPES.flatMap((type): FhirRouteMeta[] => [
      { type, interaction: 'read' },
      { type, interaction: 'search-type', searchParams: DEF_PARAMS },
    ]),
    { interaction: 'transaction' },
    { interaction: 'batch' },
    { interaction: 'operation', operation: PROCESS_MESSAGE },
  ];
}

function input(routes = realisticRoutes()): CapabilityInput {
  return {
    routes,
    supportedProfiles: new Map([
      ['ServiceRequest', [`${PP}PainPlatform-ServiceRequest`, `${PP}PainPlatform-Inbound-ServiceRequest`]],
      ['QuestionnaireResponse', [`${PP}PainPlatform-QuestionnaireResponse`, `${PP}PainPlatform-Inbound-QuestionnaireResponse`]],
      ['Patient', [`${PP}PainPlatform-Patient`]],
      ['Flag', [`${PP}PainPlatform-Flag`]],
    ]),
    messaging: { definitions: [MESSAGE_DEFINITION] },
    software: { name: 'pain-platform-fhir-adapter', version: '0.1.0' },
    implementationUrl: 'https://adapter.example/fhir',
    date: '2026-11-27T03:00:00Z',
  };
}

/** The same routes with what profiles/ actually holds, as the lead wires it. */
function servedInput(): CapabilityInput {
  const served = ConformanceResources.load(PROFILES_DIR, `${PROJECT_ROOT}/mappings/conceptmaps`);
  return {
    ...input(),
    supportedProfiles: served.profilesByType(),
    messaging: { definitions: served.all('MessageDefinition').map((m) => String(m.url)) },
  };
}

function resource(cs: CapabilityStatement, type: string): CapabilityStatementRestResource | undefined {
  return cs.rest?.[0].resource?.find((r) => r.type === type);
}

function interactions(cs: CapabilityStatement, type: string): string[] | undefined {
  return resource(cs, type)?.interaction?.map((i) => i.code);
}

function errors(validator: FhirValidator, cs: CapabilityStatement): string[] {
  return validator
    .validate(cs, CS_PROFILE)
    .filter((i) => i.severity === 'error' || i.severity === 'fatal')
    .map((i) => `${i.code} ${i.details?.text} @ ${i.expression?.join(', ')}`);
}

let validator: FhirValidator;
beforeAll(() => {
  validator = projectValidator();
});

describe('validates against base R4', () => {
  test.each<[string, CapabilityInput]>([
    ['the realistic route list', input()],
    ['no messaging', { ...input(), messaging: undefined }],
    ['no implementation URL', { ...input(), implementationUrl: undefined }],
    ['the profiles and MessageDefinitions actually served', servedInput()],
    ['only the metadata route', { ...input([{ interaction: 'capabilities' }]), messaging: undefined }],
  ])('%s', (_n, given) => {
    expect(errors(validator, buildCapabilityStatement(given))).toEqual([]);
  });

  // The check can fail: R4's own rules, broken one at a time, are reported.
  test.each<[string, (cs: CapabilityStatement) => void, RegExp]>([
    ['no implementation for kind instance', (cs) => delete cs.implementation, /cpb-14/],
    ['a search parameter twice', (cs) => resource(cs, 'ServiceRequest')?.searchParam?.push({ name: 'status', type: 'token' }), /cpb-12/],
    ['an interaction code R4 does not define', (cs) => resource(cs, 'ServiceRequest')?.interaction?.push({ code: 'capabilities' as 'read' }), /type-restful-interaction/],
  ])('broken: %s → error', (_n, breakIt, message) => {
    const cs = structuredClone(buildCapabilityStatement(input()));
    breakIt(cs);
    expect(errors(validator, cs).join('\n')).toMatch(message);
  });
});

describe('the statement says what the routes say', () => {
  const cs = buildCapabilityStatement(input());

  it('kind, version, formats, software and implementation', () => {
    expect(cs).toMatchObject({
      resourceType: 'CapabilityStatement',
      status: 'active',
      kind: 'instance',
      fhirVersion: '4.0.1',
      date: '2026-11-27T03:00:00Z',
      software: { name: 'pain-platform-fhir-adapter', version: '0.1.0' },
      implementation: { url: 'https://adapter.example/fhir' },
    });
    expect(cs.format).toEqual(expect.arrayContaining(['json', 'xml', 'application/fhir+json', 'application/fhir+xml']));
    expect(cs.rest).toHaveLength(1);
    expect(cs.rest?.[0].mode).toBe('server');
  });

  it('one resource per routed type, sorted; types with only a profile are not listed', () => {
    const types = cs.rest?.[0].resource?.map((r) => r.type);
    expect(types).toEqual(['Bundle', ...CONFORMANCE_TYPES, 'Patient', 'QuestionnaireResponse', 'ServiceRequest'].sort());
    expect(resource(cs, 'Flag')).toBeUndefined();
  });

  test.each<[string, string[] | undefined]>([
    ['ServiceRequest', ['read', 'vread', 'history-instance', 'create', 'search-type']],
    ['QuestionnaireResponse', ['read', 'vread', 'history-instance', 'create', 'search-type']],
    ['StructureDefinition', ['read', 'search-type']],
    ['MessageDefinition', ['read', 'search-type']],
    ['Patient', undefined],
    ['Bundle', undefined],
  ])('%s interactions', (type, expected) => {
    expect(interactions(cs, type)).toEqual(expected);
  });

  it('search parameters with their types, each once, sorted by name', () => {
    expect(resource(cs, 'ServiceRequest')?.searchParam?.map((p) => [p.name, p.type])).toEqual([
      ['_lastUpdated', 'date'],
      ['authored', 'date'],
      ['identifier', 'token'],
      ['patient', 'reference'],
      ['status', 'token'],
    ]);
    expect(resource(cs, 'ServiceRequest')?.searchParam?.find((p) => p.name === 'identifier')?.documentation).toBe(
      'system|value of ServiceRequest.identifier',
    );
    expect(resource(cs, 'ValueSet')?.searchParam?.map((p) => `${p.name}:${p.type}`)).toEqual(['name:string', 'status:token', 'url:uri', 'version:token']);
  });

  it('supported profiles per type, and the base profile', () => {
    expect(resource(cs, 'ServiceRequest')).toMatchObject({
      profile: 'http://hl7.org/fhir/StructureDefinition/ServiceRequest',
      supportedProfile: [`${PP}PainPlatform-Inbound-ServiceRequest`, `${PP}PainPlatform-ServiceRequest`],
    });
    expect(resource(cs, 'Patient')?.supportedProfile).toEqual([`${PP}PainPlatform-Patient`]);
    expect(resource(cs, 'CodeSystem')?.supportedProfile).toBeUndefined();
  });

  it('versioning, history, conditional create', () => {
    expect(resource(cs, 'ServiceRequest')).toMatchObject({ versioning: 'versioned', readHistory: true, updateCreate: false, conditionalCreate: true });
    expect(resource(cs, 'ValueSet')).toMatchObject({ readHistory: false });
    expect(resource(cs, 'ValueSet')?.conditionalCreate).toBeUndefined();
  });

  it('operations: $validate on its types, $process-message at system level', () => {
    for (const type of ['ServiceRequest', 'QuestionnaireResponse', 'Patient', 'Bundle']) {
      expect(resource(cs, type)?.operation).toEqual([{ name: 'validate', definition: VALIDATE.definition }]);
    }
    expect(resource(cs, 'CodeSystem')?.operation).toBeUndefined();
    expect(cs.rest?.[0].operation).toEqual([{ name: 'process-message', definition: PROCESS_MESSAGE.definition }]);
  });

  it('system interactions transaction and batch; capabilities is implied', () => {
    expect(cs.rest?.[0].interaction).toEqual([{ code: 'transaction' }, { code: 'batch' }]);
  });

  it('messaging: the MessageDefinition received, at the $process-message endpoint', () => {
    expect(cs.messaging).toEqual([
      {
        endpoint: [
          {
            protocol: { system: 'http://terminology.hl7.org/CodeSystem/message-transport', code: 'http' },
            address: 'https://adapter.example/fhir/$process-message',
          },
        ],
        supportedMessage: [{ mode: 'receiver', definition: MESSAGE_DEFINITION }],
      },
    ]);
  });

  it('the same routes in another order give the same statement', () => {
    expect(buildCapabilityStatement(input([...realisticRoutes()].reverse()))).toEqual(cs);
  });
});

describe('a route removed → what it declared disappears', () => {
  const without = (drop: (r: FhirRouteMeta) => boolean): CapabilityStatement =>
    buildCapabilityStatement(input(realisticRoutes().filter((r) => !drop(r))));

  test.each<[string, (r: FhirRouteMeta) => boolean, (cs: CapabilityStatement) => unknown, unknown]>([
    ['ServiceRequest vread', (r) => r.type === 'ServiceRequest' && r.interaction === 'vread', (cs) => interactions(cs, 'ServiceRequest'), ['read', 'history-instance', 'create', 'search-type']],
    ['ServiceRequest vread → readHistory false', (r) => r.type === 'ServiceRequest' && r.interaction === 'vread', (cs) => resource(cs, 'ServiceRequest')?.readHistory, false],
    ['ServiceRequest history', (r) => r.type === 'ServiceRequest' && r.interaction === 'history-instance', (cs) => interactions(cs, 'ServiceRequest'), ['read', 'vread', 'create', 'search-type']],
    [
      'QuestionnaireResponse create',
      (r) => r.type === 'QuestionnaireResponse' && r.interaction === 'create',
      (cs) => [interactions(cs, 'QuestionnaireResponse'), resource(cs, 'QuestionnaireResponse')?.conditionalCreate],
      [['read', 'vread', 'history-instance', 'search-type'], undefined],
    ],
    ['ServiceRequest searches', (r) => r.type === 'ServiceRequest' && r.interaction === 'search-type', (cs) => resource(cs, 'ServiceRequest')?.searchParam, undefined],
    ['batch', (r) => r.interaction === 'batch', (cs) => cs.rest?.[0].interaction, [{ code: 'transaction' }]],
    ['transaction and batch', (r) => r.interaction === 'batch' || r.interaction === 'transaction', (cs) => cs.rest?.[0].interaction, undefined],
    ['$process-message', (r) => r.operation?.name === 'process-message', (cs) => [cs.rest?.[0].operation, cs.messaging?.[0].endpoint], [undefined, undefined]],
    ['Patient $validate', (r) => r.type === 'Patient', (cs) => resource(cs, 'Patient'), undefined],
    ['every GraphDefinition route', (r) => r.type === 'GraphDefinition', (cs) => resource(cs, 'GraphDefinition'), undefined],
  ])('%s', (_n, drop, pick, expected) => {
    expect(pick(buildCapabilityStatement(input()))).not.toEqual(expected);
    expect(pick(without(drop))).toEqual(expected);
  });

  it('a create route without conditionalCreate → conditionalCreate false', () => {
    const routes = realisticRoutes().map((r) => (r.interaction === 'create' ? { ...r, conditionalCreate: undefined } : r));
    expect(resource(buildCapabilityStatement(input(routes)), 'ServiceRequest')?.conditionalCreate).toBe(false);
  });
});

describe('inconsistent route metadata is a programming error', () => {
  test.each<[string, FhirRouteMeta[], RegExp]>([
    [
      'one search parameter with two types',
      [
        { type: 'ServiceRequest', interaction: 'search-type', searchParams: [{ name: 'authored', type: 'date' }] },
        { type: 'ServiceRequest', interaction: 'search-type', searchParams: [{ name: 'authored', type: 'string' }] },
      ],
      /ServiceRequest\.authored/,
    ],
    [
      'one operation with two definitions',
      [
        { type: 'Patient', interaction: 'operation', operation: VALIDATE },
        { type: 'Patient', interaction: 'operation', operation: { ...VALIDATE, definition: 'https://example.org/OperationDefinition/other' } },
      ],
      /\$validate/,
    ],
    ['an operation route without its operation', [{ type: 'Patient', interaction: 'operation' }], /no operation name/],
    ['a type-level interaction without a type', [{ interaction: 'read' }], /read route has no resource type/],
  ])('%s → throws', (_n, routes, message) => {
    expect(() => buildCapabilityStatement(input(routes))).toThrow(message);
  });
});

describe('routeMetaFromTable', () => {
  it('takes settings.app.fhir of the routes that have it, in order', () => {
    const read: FhirRouteMeta = { type: 'ServiceRequest', interaction: 'read' };
    const meta: FhirRouteMeta = { interaction: 'capabilities' };
    const table = [{ settings: { app: { fhir: meta } } }, { settings: {} }, { settings: { app: {} } }, { settings: { app: { fhir: read } } }];
    expect(routeMetaFromTable(table)).toEqual([meta, read]);
  });
});
