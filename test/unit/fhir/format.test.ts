// FHIR wire formats: negotiation, JSON parse errors with line/column, locations of FHIRPaths, XML
// through the fhir package with DOCTYPE/entity refusal, and JSON → XML → JSON round trips.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Fhir } from 'fhir';
import type { OperationOutcome } from 'fhir/r4.js';
import {
  parseFhirBody,
  requestFormat,
  responseFormat,
  serializeFhir,
  withLocations,
  type FhirFormat,
} from '../../../src/fhir/format.js';
import { OutcomeError, badRequest } from '../../../src/fhir/outcomes.js';

const fixturesDir = new URL('../../../fixtures/fhir/', import.meta.url);

/** The OutcomeError `fn` throws (fails the test if it throws nothing or something else). */
function refusal(fn: () => unknown): OutcomeError {
  try {
    fn();
  } catch (err) {
    if (err instanceof OutcomeError) return err;
    throw err;
  }
  throw new Error('expected an OutcomeError');
}

describe('requestFormat (Content-Type)', () => {
  it.each<[string, FhirFormat]>([
    ['application/fhir+json', 'json'],
    ['application/fhir+json; charset=utf-8', 'json'],
    ['application/fhir+json;fhirVersion=4.0', 'json'],
    ['Application/FHIR+JSON; charset="UTF-8"', 'json'],
    ['application/json', 'json'],
    ['application/json; charset=utf8', 'json'],
    ['application/fhir+xml', 'xml'],
    ['application/fhir+xml; charset=utf-8', 'xml'],
    ['application/xml', 'xml'],
    ['text/xml', 'xml'],
  ])('%s → %s', (contentType, format) => {
    expect(requestFormat(contentType)).toBe(format);
  });

  it.each([
    ['text/plain', 'text/plain'],
    ['application/fhir+json; charset=iso-8859-1', 'iso-8859-1'],
    ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded'],
    ['application/fhir+turtle', 'application/fhir+turtle'],
    ['', 'No Content-Type'],
    [undefined, 'No Content-Type'],
  ])('%s → 415 naming it and what is accepted', (contentType, named) => {
    const err = refusal(() => requestFormat(contentType));
    expect(err.status).toBe(415);
    const text = err.outcome.issue[0]!.details!.text!;
    expect(text).toContain(named);
    for (const accepted of ['application/fhir+json', 'application/json', 'application/fhir+xml', 'application/xml', 'text/xml']) expect(text).toContain(accepted);
  });
});

describe('responseFormat (_format, Accept)', () => {
  it.each<[string | undefined, string | undefined, FhirFormat | undefined, FhirFormat]>([
    // nothing said: the fallback (the request's format), else json
    [undefined, undefined, undefined, 'json'],
    [undefined, undefined, 'xml', 'xml'],
    ['', undefined, 'xml', 'xml'],
    // _format wins over Accept
    ['application/fhir+json', 'xml', undefined, 'xml'],
    ['application/fhir+xml', 'json', undefined, 'json'],
    [undefined, 'application/fhir+xml', undefined, 'xml'],
    [undefined, 'application/fhir xml', undefined, 'xml'], // an unencoded + arrives as a space
    [undefined, 'application/json', 'xml', 'json'],
    [undefined, 'text/xml', undefined, 'xml'],
    [undefined, 'application/xml', undefined, 'xml'],
    [undefined, 'application/fhir+json; fhirVersion=4.0', undefined, 'json'],
    // Accept
    ['application/fhir+xml', undefined, undefined, 'xml'],
    ['application/fhir+json', undefined, 'xml', 'json'],
    ['application/json', undefined, 'xml', 'json'],
    ['text/xml', undefined, undefined, 'xml'],
    ['application/xml;q=0.9, application/fhir+json;q=0.8', undefined, undefined, 'xml'],
    ['application/xml;q=0.5, application/json', undefined, undefined, 'json'],
    ['*/*', undefined, 'xml', 'xml'],
    ['*/*', undefined, undefined, 'json'],
    ['application/*', undefined, 'xml', 'xml'],
    ['text/*', undefined, undefined, 'xml'],
    ['text/html, */*;q=0.1', undefined, undefined, 'json'],
    // a browser: XML is named, JSON only through */*
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', undefined, undefined, 'xml'],
    // q=0 excludes, even under a wildcard
    ['application/fhir+json;q=0, application/json;q=0, */*', undefined, undefined, 'xml'],
    ['application/*;q=0, text/xml', undefined, undefined, 'xml'],
  ])('Accept %j, _format %j, fallback %j → %s', (accept, format, fallback, expected) => {
    expect(responseFormat(accept, format, fallback)).toBe(expected);
  });

  it.each<[string | undefined, string | undefined]>([
    ['text/html', undefined],
    ['image/png, text/plain;q=0.5', undefined],
    ['application/fhir+json;q=0, application/json;q=0, application/*;q=0, text/xml;q=0', undefined],
    ['*/*;q=0', undefined],
    [undefined, 'html'],
    [undefined, 'turtle'],
    ['application/fhir+json', 'text/html'],
    [undefined, ''],
  ])('Accept %j, _format %j → 406 listing what is supported', (accept, format) => {
    const err = refusal(() => responseFormat(accept, format));
    expect(err.status).toBe(406);
    expect(err.outcome.issue[0]!.code).toBe('not-supported');
    expect(err.outcome.issue[0]!.details!.text).toContain('application/fhir+json');
    expect(err.outcome.issue[0]!.details!.text).toContain('application/fhir+xml');
  });
});

describe('parseFhirBody: JSON', () => {
  it('parses a resource from bytes or text', () => {
    const text = '{"resourceType":"Patient","active":true}';
    expect(parseFhirBody(Buffer.from(text), 'json').resource).toEqual({ resourceType: 'Patient', active: true });
    expect(parseFhirBody(text, 'json').resource).toEqual({ resourceType: 'Patient', active: true });
  });

  it('accepts a UTF-8 byte order mark and keeps non-ASCII text unchanged', () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"resourceType":"Patient","name":[{"family":"Brontë-Ōhara"}]}')]);
    expect(parseFhirBody(body, 'json').resource).toEqual({ resourceType: 'Patient', name: [{ family: 'Brontë-Ōhara' }] });
  });

  it.each([
    ['truncated', '{\n  "resourceType": "Patient",\n  "name": [ { "family": "X"', 3, 28, /ends too early.*"}"/],
    ['truncated mid-string', '{\n  "resourceType": "Pati', 2, 19, /ends too early.*double quote/],
    ['trailing comma in object', '{\n  "resourceType": "Patient",\n}', 3, 1, /property name/],
    ['trailing comma in array', '{\n  "resourceType": "Patient",\n  "name": [{}, ]\n}', 3, 16, /value was expected/],
    ['missing comma', '{\n  "resourceType": "Patient"\n  "active": true\n}', 3, 3, /","/],
    ['missing colon', '{\n  "resourceType" "Patient"\n}', 2, 18, /":"/],
    ['single quotes', "{\n  'resourceType': 'Patient'\n}", 2, 3, /double quotes/],
    ['bare word', '{\n  "resourceType": "Patient",\n  "active": yes\n}', 3, 13, /JSON value was expected/],
    ['comment', '{\n  // a patient\n  "resourceType": "Patient"\n}', 2, 3, /comments are not allowed/],
    ['leading zero', '{\n  "resourceType": "Observation",\n  "valueInteger": 007\n}', 3, 20, /","/],
    ['raw tab in string', '{\n  "resourceType": "Patient",\n  "id": "a\tb"\n}', 3, 9, /must be escaped/],
    ['bad escape', '{\n  "resourceType": "Patient",\n  "id": "a\\qb"\n}', 3, 9, /escapes/],
    ['two values', '{"resourceType": "Patient"}\n{"resourceType": "Patient"}', 2, 1, /only one JSON value/],
  ])('%s → 400 with line, column and what was expected', (_name, text, line, column, expected) => {
    const err = refusal(() => parseFhirBody(text, 'json'));
    expect(err.status).toBe(400);
    expect(err.outcome.issue).toHaveLength(1);
    const i = err.outcome.issue[0]!;
    expect(i.diagnostics).toBe(`line ${line}, column ${column}`);
    expect(i.details!.text).toMatch(/^The body is not valid JSON: /);
    expect(i.details!.text).toMatch(expected);
    expect(i.expression).toBeUndefined();
  });

  it('refuses a repeated key, naming it and where the repeat is', () => {
    const text = '{\n  "resourceType": "Bundle",\n  "entry": [\n    {},\n    { "resource": { "resourceType": "Patient", "active": true,\n      "active": false } }\n  ]\n}';
    const err = refusal(() => parseFhirBody(text, 'json'));
    expect(err.status).toBe(400);
    expect(err.outcome.issue).toEqual([
      {
        severity: 'error',
        code: 'structure',
        details: { text: 'The key "active" appears more than once in one object; JSON.parse would keep only the last. Send each key once per object' },
        expression: ['Bundle.entry[1].resource.active'],
        diagnostics: 'line 6, column 7',
      },
    ]);
  });

  it.each([
    ['empty', ''],
    ['blank', ' \n\t '],
    ['an array', '[{"resourceType":"Patient"}]'],
    ['a string', '"Patient"'],
    ['null', 'null'],
    ['no resourceType', '{"id":"1"}'],
    ['resourceType not a string', '{"resourceType":7}'],
    ['resourceType empty', '{"resourceType":""}'],
  ])('%s → 400', (_name, text) => {
    const err = refusal(() => parseFhirBody(text, 'json'));
    expect(err.status).toBe(400);
    expect(err.outcome.issue[0]!.details!.text).toMatch(/resourceType|empty|not an object/);
  });

  it.each([
    ['Latin-1 ë', Buffer.from([...Buffer.from('{"resourceType":"Patient","name":[{"family":"Bront'), 0xeb, ...Buffer.from('"}]}')])],
    ['a lone continuation byte', Buffer.from([0x7b, 0x80, 0x7d])],
    ['an overlong encoding', Buffer.from([0x7b, 0xc0, 0xaf, 0x7d])],
    ['UTF-16 with a byte order mark', Buffer.from('\ufeff{"resourceType":"Patient"}', 'utf16le')],
    ['UTF-16 without one (ASCII with NULs)', Buffer.from('{"resourceType":"Patient"}', 'utf16le')],
  ])('%s → 400 not UTF-8 (no replacement characters stored)', (_name, bytes) => {
    const err = refusal(() => parseFhirBody(bytes, 'json'));
    expect(err.status).toBe(400);
    expect(err.outcome.issue[0]!.details!.text).toContain('UTF-8');
  });

  it('a body nested too deeply for a recursive walk → 400, not a stack overflow', () => {
    const text = `{"resourceType":"Basic","extension":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    const err = refusal(() => parseFhirBody(text, 'json'));
    expect(err.status).toBe(400);
    expect(err.outcome.issue[0]!.details!.text).toContain('nested too deeply');
  });

  it('a large body (5 MB, 20,000 entries) parses whole: the size limit is the route’s maxBytes (413)', () => {
    const entries = Array.from({ length: 20_000 }, (_, i) => ({ fullUrl: `urn:uuid:${i}`, resource: { resourceType: 'Basic', id: `b${i}`, code: { text: 'x'.repeat(200) } } }));
    const text = JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry: entries }, null, 1);
    expect(text.length).toBeGreaterThan(5_000_000);
    const parsed = parseFhirBody(Buffer.from(text), 'json');
    expect((parsed.resource.entry as unknown[]).length).toBe(20_000);
    expect(parsed.locate('Bundle.entry[19999].resource.id')?.line).toBe(text.split('\n').findIndex((l) => l.includes('"b19999"')) + 1);
  });
});

describe('locate', () => {
  const text = [
    '{', //                                                            1
    '  "resourceType": "Bundle",', //                                  2
    '  "type": "transaction",', //                                     3
    '  "entry": [', //                                                 4
    '    {', //                                                        5
    '      "fullUrl": "urn:uuid:1",', //                               6
    '      "resource": {', //                                          7
    '        "resourceType": "Patient",', //                           8
    '        "birthDate": "1970-01-01",', //                           9
    '        "_birthDate": { "extension": [ { "url": "u" } ] },', //   10
    '        "name": [ { "given": [ "A", "B" ],', //                   11
    '                    "_given": [ null, { "id": "g2" } ] } ]', //   12
    '      }', //                                                      13
    '    },', //                                                       14
    '    {', //                                                        15
    '      "resource": {', //                                          16
    '        "resourceType": "ServiceRequest",', //                    17
    '        "subject": { "reference": "urn:uuid:1" },', //            18
    '        "occurrenceDateTime": "2026-01-01",', //                  19
    '        "code": { "coding": [ { "system": "s", "code": "c" } ] }', // 20
    '      }', //                                                      21
    '    }', //                                                        22
    '  ]', //                                                          23
    '}', //                                                            24
  ].join('\n');
  const parsed = parseFhirBody(text, 'json');

  it.each<[string, [number, number] | undefined]>([
    ['Bundle', [1, 1]],
    ['Bundle.type', [3, 3]],
    ['type', [3, 3]], // without the type prefix
    ['Bundle.entry', [4, 3]],
    ['Bundle.entry[1]', [15, 5]],
    ['Bundle.entry[1].resource.subject.reference', [18, 22]],
    ['Bundle.entry[1].resource.subject', [18, 9]],
    ['Bundle.entry[1].resource.code.coding[0].system', [20, 33]],
    ['Bundle.entry[1].resource.code.coding.code', [20, 48]], // one-element list: the index may be left out
    // choice elements
    ['Bundle.entry[1].resource.occurrence', [19, 9]],
    ['Bundle.entry[1].resource.occurrence.ofType(dateTime)', [19, 9]],
    ['Bundle.entry[1].resource.ofType(ServiceRequest).subject', [18, 9]],
    // primitive extensions and ids live in _name
    ['Bundle.entry[0].resource.birthDate', [9, 9]],
    ['Bundle.entry[0].resource.birthDate.extension[0]', [10, 40]],
    ['Bundle.entry[0].resource.birthDate.extension[0].url', [10, 42]],
    ['Bundle.entry[0].resource.name[0].given[1].id', [12, 41]],
    // absent elements: the nearest ancestor that exists
    ['Bundle.entry[1].resource.subject.display', [18, 9]],
    ['Bundle.entry[1].resource.code.coding[3].code', [20, 19]],
    ['Bundle.entry[7].resource', [4, 3]],
    ['Bundle.entry.resource', [4, 3]], // two entries: ambiguous without an index
    ['Bundle.entry[1].resource.where(status = \'active\')', [16, 7]],
    ['Bundle.entry[0].resource.name[0].given[0].id', [11, 32]], // _given[0] is null: the value itself
    // not this resource: no location is invented
    ['Patient.birthDate', undefined],
    ['', undefined],
  ])('%s → %j', (expression, expected) => {
    const at = parsed.locate(expression);
    expect(at ? [at.line, at.column] : undefined).toEqual(expected);
  });

  it('XML bodies have no locations', () => {
    const xml = parseFhirBody('<Patient xmlns="http://hl7.org/fhir"><active value="true"/></Patient>', 'xml');
    expect(xml.locate('Patient.active')).toBeUndefined();
  });
});

describe('withLocations', () => {
  const text = '{\n  "resourceType": "Patient",\n  "gender": "mal",\n  "birthDate": "1970"\n}';
  const parsed = parseFhirBody(text, 'json');

  it('adds "line L, column C" before existing diagnostics, only where an expression locates', () => {
    const outcome: OperationOutcome = {
      resourceType: 'OperationOutcome',
      issue: [
        { severity: 'error', code: 'code-invalid', details: { text: 'gender must be male, female, other or unknown' }, expression: ['Patient.gender'] },
        { severity: 'warning', code: 'value', diagnostics: 'rule pp-1', expression: ['Patient.birthDate', 'Patient.gender'] },
        { severity: 'error', code: 'invalid', details: { text: 'no expression' } },
        { severity: 'error', code: 'invalid', details: { text: 'another resource' }, expression: ['Practitioner.name'] },
      ],
    };
    const located = withLocations(outcome, parsed);
    expect(located.issue.map((i) => i.diagnostics)).toEqual(['line 3, column 3', 'line 4, column 3: rule pp-1', undefined, undefined]);
    expect(outcome.issue[0]!.diagnostics).toBeUndefined(); // a copy
    expect(withLocations(located, parsed)).toEqual(located); // twice changes nothing
    expect(withLocations(badRequest('x', 'Patient.gender'), parsed).id).toBe('bad-request');
  });
});

// ---- XML -----------------------------------------------------------------------------------------

const BILLION_LAUGHS = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Patient xmlns="http://hl7.org/fhir"><name><family value="&lol9;"/></name></Patient>`;

describe('parseFhirBody: XML refusals', () => {
  it.each([
    ['billion laughs', BILLION_LAUGHS],
    ['external entity (XXE)', '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Patient xmlns="http://hl7.org/fhir"><id value="&xxe;"/></Patient>'],
    ['a bare DOCTYPE', '<!DOCTYPE Patient><Patient xmlns="http://hl7.org/fhir"/>'],
    ['lower-case doctype', '<!doctype Patient><Patient xmlns="http://hl7.org/fhir"/>'],
    ['an ENTITY declaration without DOCTYPE', '<Patient xmlns="http://hl7.org/fhir"><!ENTITY a "b"></Patient>'],
    ['a DOCTYPE after the root element', '<Patient xmlns="http://hl7.org/fhir"/><!DOCTYPE Patient>'],
    ['a DOCTYPE inside a comment', '<Patient xmlns="http://hl7.org/fhir"><!-- <!DOCTYPE x> --></Patient>'],
  ])('%s → 400, refused before parsing', (_name, xml) => {
    const err = refusal(() => parseFhirBody(xml, 'xml'));
    expect(err.status).toBe(400);
    expect(err.outcome.issue[0]!.details!.text).toContain('DOCTYPE and entity declarations are not accepted');
  });

  it('the converter itself never expands a declared entity either (second line of defence)', () => {
    // Past our check, sax keeps the internal subset as an uninterpreted string: the reference is an error, never 3 billion "lol"s.
    expect(() => new Fhir().xmlToObj(BILLION_LAUGHS)).toThrow(/Invalid character entity/);
  });

  it.each([
    ['truncated', '<Patient xmlns="http://hl7.org/fhir"><active value="true"/>', /not well-formed XML/],
    ['mismatched tags', '<Patient xmlns="http://hl7.org/fhir">\n<name><family value="X"/></nam>\n</Patient>', /not well-formed XML/],
    ['text before the root', 'hello <Patient xmlns="http://hl7.org/fhir"/>', /not well-formed XML/],
    ['two roots', '<Patient xmlns="http://hl7.org/fhir"/><Patient xmlns="http://hl7.org/fhir"/>', /not well-formed XML/],
    ['an undeclared entity', '<Patient xmlns="http://hl7.org/fhir"><id value="&foo;"/></Patient>', /not well-formed XML/],
    ['an HTML entity (undeclared in XML)', '<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml">a&nbsp;b</div></text></Patient>', /not well-formed XML/],
    ['unquoted attribute', '<Patient xmlns="http://hl7.org/fhir"><active value=true/></Patient>', /not well-formed XML/],
    ['JSON sent as XML', '{"resourceType":"Patient"}', /not well-formed XML/],
    ['no namespace', '<Patient><active value="true"/></Patient>', /not a FHIR R4 resource/],
    ['another namespace', '<Patient xmlns="urn:other"><active value="true"/></Patient>', /not a FHIR R4 resource/],
    ['a prefixed root', '<f:Patient xmlns:f="http://hl7.org/fhir"><f:active value="true"/></f:Patient>', /not a FHIR R4 resource/],
    ['an unknown root', '<Patientt xmlns="http://hl7.org/fhir"/>', /not a FHIR R4 resource/],
    ['a data type as root', '<HumanName xmlns="http://hl7.org/fhir"/>', /not a FHIR R4 resource/],
    ['a bad boolean', '<Patient xmlns="http://hl7.org/fhir"><active value="yes"/></Patient>', /could not be read as FHIR R4 Patient.*boolean/],
    ['another encoding', '<?xml version="1.0" encoding="ISO-8859-1"?><Patient xmlns="http://hl7.org/fhir"/>', /only UTF-8/],
    ['empty', '   ', /empty/],
  ])('%s → 400', (_name, xml, text) => {
    const err = refusal(() => parseFhirBody(xml, 'xml'));
    expect(err.status).toBe(400);
    expect(err.outcome.issue[0]!.details!.text).toMatch(text);
  });

  it('gives the line and column of a well-formedness error', () => {
    const err = refusal(() => parseFhirBody('<Patient xmlns="http://hl7.org/fhir">\n  <name>\n    <family value="X"/>\n  </nam>\n</Patient>', 'xml'));
    expect(err.outcome.issue[0]!.diagnostics).toMatch(/^line 4, column \d+$/);
  });

  it('refuses elements the converter would silently drop, naming each with its path and position', () => {
    const xml = [
      '<Bundle xmlns="http://hl7.org/fhir">',
      '  <type value="batch"/>',
      '  <entry><resource><Patient>',
      '    <name><given value="A"/><famly value="X"/></name>',
      '    <nickname value="Al"/>',
      '    <active value=""/>',
      '  </Patient></resource></entry>',
      '</Bundle>',
    ].join('\n');
    const err = refusal(() => parseFhirBody(xml, 'xml'));
    expect(err.status).toBe(400);
    expect(err.outcome.issue.map((i) => [i.code, i.expression, i.diagnostics])).toEqual([
      ['structure', ['Bundle.entry.resource.name.famly'], 'line 4, column 29'],
      ['structure', ['Bundle.entry.resource.nickname'], 'line 5, column 5'],
      ['structure', ['Bundle.entry.resource.active'], 'line 6, column 5'],
    ]);
    expect(err.outcome.issue[0]!.details!.text).toContain('<famly>');
  });
});

describe('XML ⇄ JSON round trips', () => {
  const fixtures = readdirSync(fixturesDir).filter((f) => f.endsWith('.json'));

  it('has fixtures to round-trip', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(3);
  });

  it.each(fixtures)('%s: JSON → XML → JSON is unchanged', (name) => {
    const resource = JSON.parse(readFileSync(new URL(name, fixturesDir), 'utf8'));
    const xml = serializeFhir(resource, 'xml');
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
    expect(parseFhirBody(Buffer.from(xml), 'xml').resource).toEqual(resource);
  });

  // What the fhir package must carry both ways: primitive extensions and ids (`_name`, with null
  // gaps in lists), the xhtml narrative, contained resources, decimals, escaping, non-ASCII text.
  const golden = {
    resourceType: 'Patient',
    id: 'p1',
    text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml"><p>Ann &amp; <b>Bob</b> &lt;3</p></div>' },
    contained: [{ resourceType: 'Organization', id: 'org1', name: 'Sürgery & Co <Leeds>' }],
    extension: [{ url: 'http://example.org/weight', valueDecimal: 72.25 }, { url: 'http://example.org/flag', valueBoolean: false }],
    active: true,
    name: [{ family: 'Ōhara', given: ['Ann', 'Marie'], _given: [null, { id: 'g2', extension: [{ url: 'http://example.org/pref', valueCode: 'yes' }] }] }],
    birthDate: '1970-01-01',
    _birthDate: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: '1970-01-01T08:30:00+01:00' }] },
    multipleBirthInteger: 2,
    managingOrganization: { reference: '#org1' },
  };

  it('a golden Patient with primitive extensions, _name lists, narrative and contained resources', () => {
    const xml = serializeFhir(golden, 'xml');
    expect(xml).toContain('<given id="g2" value="Marie"><extension url="http://example.org/pref"><valueCode value="yes"/></extension></given>');
    expect(xml).toContain('<birthDate value="1970-01-01"><extension url="http://hl7.org/fhir/StructureDefinition/patient-birthTime">');
    expect(xml).toContain('<div xmlns="http://www.w3.org/1999/xhtml"><p>Ann &amp; <b>Bob</b> &lt;3</p></div>');
    expect(xml).toContain('<name value="Sürgery &amp; Co &lt;Leeds&gt;"/>');
    expect(parseFhirBody(xml, 'xml').resource).toEqual(golden);
    expect(parseFhirBody(serializeFhir(golden, 'json'), 'json').resource).toEqual(golden);
  });

  it("reads XML's five entities and character references", () => {
    const xml = '<Patient xmlns="http://hl7.org/fhir"><name><family value="O&apos;Brien &amp; &lt;Sons&gt; &quot;Ltd&quot; &#233;&#x2603;"/></name></Patient>';
    expect(parseFhirBody(xml, 'xml').resource).toEqual({ resourceType: 'Patient', name: [{ family: 'O\'Brien & <Sons> "Ltd" é☃' }] });
  });

  it('drops XML comments and reads decimals as numbers', () => {
    const xml = '<Observation xmlns="http://hl7.org/fhir"><!-- sent by X --><status value="final"/><valueQuantity><!-- kg --><value value="72.50"/><unit value="kg"/></valueQuantity></Observation>';
    expect(parseFhirBody(xml, 'xml').resource).toEqual({ resourceType: 'Observation', status: 'final', valueQuantity: { value: 72.5, unit: 'kg' } });
  });

  it('a large XML Bundle (2,000 entries) is read whole', () => {
    const bundle = { resourceType: 'Bundle', type: 'batch', entry: Array.from({ length: 2000 }, (_, i) => ({ resource: { resourceType: 'Basic', id: `b${i}`, code: { text: `t${i}` } } })) };
    expect(parseFhirBody(serializeFhir(bundle, 'xml'), 'xml').resource).toEqual(bundle);
  });
});

// Third-party material (../shared/reference, outside this repository; the test fails if it is missing).
describe('third-party XML and JSON through the fhir package', () => {
  const reference = new URL('../../../../shared/reference/', import.meta.url).pathname;
  const filesUnder = (dir: string, ext: string): string[] =>
    readdirSync(join(reference, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith(ext) && !f.endsWith('package.json'))
      .map((f) => join(reference, dir, f));

  // Narrative XHTML is compared as XHTML, not as text: the package writes `"` for `&quot;`, `<pre/>`
  // for `<pre></pre>`, and drops whitespace-only text between narrative tags on the way out.
  const sameXhtml = (value: unknown): unknown =>
    JSON.parse(
      JSON.stringify(value, (key, v) =>
        key === 'div' && typeof v === 'string' ? v.replace(/&quot;/g, '"').replace(/>\s+</g, '><').replace(/<(\w+)([^<>]*)><\/\1>/g, '<$1$2/>') : v,
      ),
    );

  it('every HL7 R4 example: JSON → XML → JSON is unchanged', () => {
    const files = filesUnder('hl7-fhir-r4-examples-4.0.1', '.json');
    expect(files.length).toBeGreaterThan(100);
    const changed = files.filter((file) => {
      const resource = JSON.parse(readFileSync(file, 'utf8'));
      return !isDeepStrictEqual(sameXhtml(parseFhirBody(serializeFhir(resource, 'xml'), 'xml').resource), sameXhtml(resource));
    });
    expect(changed).toEqual([]);
  });

  it('every BaRS and UK Core XML example is read with no element lost', () => {
    const files = [
      ...filesUnder('nhs-bars/ig-NHSDigital-FHIR-BookingAndReferrals-0cf8fda/Examples', '.xml'),
      ...filesUnder('uk-core/main-55dd5f7/examples', '.xml'),
      ...filesUnder('uk-core/tag-2.0.2-62781c5/examples', '.xml'),
    ];
    expect(files.length).toBeGreaterThan(300);
    const refused = files.flatMap((file) => {
      try {
        const resource = parseFhirBody(readFileSync(file), 'xml').resource;
        expect(resource.resourceType).toMatch(/^[A-Z]/);
        return [];
      } catch (err) {
        if (!(err instanceof OutcomeError)) throw err;
        return [`${file.slice(reference.length)}: ${err.outcome.issue[0]!.details!.text}`];
      }
    });
    // One UK Core 2.0.2 example has no FHIR namespace on its root: rightly refused.
    expect(refused).toEqual([expect.stringMatching(/^uk-core\/tag-2\.0\.2-62781c5\/examples\/UKCore-Patient-Extension-PreferredDispenserOrganization-Example\.xml: The root element <Patient> is not a FHIR R4 resource/)]);
  });
});
