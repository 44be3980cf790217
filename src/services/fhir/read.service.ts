// Reads at /fhir: a stored resource by id, one of its versions, its history, and searches answered as
// searchset Bundles with self/next links. The platform's own definitions (profiles/, ConceptMaps) are
// read from the ConformanceResources loaded at boot.
import type { Bundle, BundleEntry, BundleLink, Resource } from 'fhir/r4.js';
import { randomUUID } from 'node:crypto';
import { notFound, OutcomeError } from '../../fhir/outcomes.js';
import { parseSearchQuery } from '../../fhir/search-params.js';
import type { FhirRepository, StoredResource } from '../../store/fhir.repo.js';
import type { ConformanceResources } from '../conformance-resources.js';

export interface ReadAnswer {
  resource: Record<string, unknown>;
  versionId: string;
  lastUpdated?: string;
}

export class FhirReadService {
  constructor(private readonly deps: { repo: FhirRepository; conformance: ConformanceResources }) {}

  isConformanceType(type: string): boolean {
    return this.deps.conformance.types().includes(type);
  }

  async read(type: string, id: string): Promise<ReadAnswer> {
    if (this.isConformanceType(type)) {
      const resource = this.deps.conformance.read(type, id);
      if (!resource) throw new OutcomeError(notFound(`${type}/${id}`));
      const meta = resource.meta as { versionId?: string; lastUpdated?: string } | undefined;
      return { resource, versionId: meta?.versionId ?? '1', lastUpdated: meta?.lastUpdated };
    }
    const stored = await this.deps.repo.read(type, id);
    if (!stored) throw new OutcomeError(notFound(`${type}/${id}`));
    return answer(stored);
  }

  async vread(type: string, id: string, versionId: string): Promise<ReadAnswer> {
    const n = Number(versionId);
    const stored = Number.isInteger(n) && n > 0 ? await this.deps.repo.vread(type, id, n) : undefined;
    if (!stored) {
      // Say which: the resource is unknown, or only that version is.
      const current = await this.deps.repo.read(type, id);
      throw new OutcomeError(notFound(current ? `${type}/${id}/_history/${versionId} (versions 1 to ${current.versionId} exist)` : `${type}/${id}`));
    }
    return answer(stored);
  }

  async history(type: string, id: string, baseUrl: string): Promise<Bundle> {
    const versions = await this.deps.repo.history(type, id);
    if (versions.length === 0) throw new OutcomeError(notFound(`${type}/${id}`));
    return {
      resourceType: 'Bundle',
      id: randomUUID(),
      type: 'history',
      total: versions.length,
      link: [{ relation: 'self', url: `${baseUrl}/${type}/${id}/_history` }],
      entry: versions.map((v, i) => ({
        fullUrl: `${baseUrl}/${type}/${id}`,
        resource: v.resource as unknown as Resource,
        request: { method: i === versions.length - 1 ? 'POST' : 'PUT', url: i === versions.length - 1 ? type : `${type}/${id}` },
        response: { status: i === versions.length - 1 ? '201 Created' : '200 OK', etag: `W/"${v.versionId}"`, lastModified: v.lastUpdated },
      })),
    };
  }

  /** `query` is hapi's parsed query; `selfUrl` the request URL as received (base + path + query). */
  async search(type: string, query: Record<string, string | string[]>, baseUrl: string): Promise<Bundle> {
    if (this.isConformanceType(type)) {
      const found = this.deps.conformance.search(type, query);
      return searchset(found.map((r) => entry(baseUrl, type, r)), found.length, [{ relation: 'self', url: pageUrl(baseUrl, type, query) }]);
    }
    const { criteria, count, offset } = parseSearchQuery(type, query);
    const { resources, total } = await this.deps.repo.search(type, criteria, { count, offset });
    const link: BundleLink[] = [{ relation: 'self', url: pageUrl(baseUrl, type, query) }];
    if (offset + resources.length < total) link.push({ relation: 'next', url: pageUrl(baseUrl, type, { ...query, _count: String(count), _offset: String(offset + count) }) });
    if (offset > 0) link.push({ relation: 'previous', url: pageUrl(baseUrl, type, { ...query, _count: String(count), _offset: String(Math.max(0, offset - count)) }) });
    return searchset(resources.map((s: StoredResource) => entry(baseUrl, type, s.resource)), total, link);
  }
}

function answer(stored: StoredResource): ReadAnswer {
  return { resource: stored.resource, versionId: String(stored.versionId), lastUpdated: stored.lastUpdated };
}

function entry(baseUrl: string, type: string, resource: Record<string, unknown>): BundleEntry {
  return { fullUrl: `${baseUrl}/${type}/${resource.id as string}`, resource: resource as unknown as Resource, search: { mode: 'match' } };
}

function searchset(entries: BundleEntry[], total: number, link: BundleLink[]): Bundle {
  return { resourceType: 'Bundle', id: randomUUID(), type: 'searchset', total, link, entry: entries };
}

/** The search URL with the given parameters (repeats kept; _format left out, it is not a search parameter). */
function pageUrl(baseUrl: string, type: string, query: Record<string, string | string[]>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (k === '_format') continue;
    for (const one of Array.isArray(v) ? v : [v]) params.append(k, one);
  }
  const qs = params.toString();
  return `${baseUrl}/${type}${qs ? `?${qs}` : ''}`;
}
