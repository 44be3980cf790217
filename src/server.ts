import Hapi from '@hapi/hapi';
import type { AppConfig } from './config/index.js';
import { openStore, type Store } from './store/db.js';
import { ReferralRepository } from './store/referrals.repo.js';
import { loadMappings, type CompiledMappings } from './mapping/index.js';
import { createValidator } from './fhir/validator.js';
import { ReferralService } from './services/referrals.service.js';
import { AssessmentService } from './services/assessments.service.js';
import type { ReferralMapper, ResourceValidator } from './services/ports.js';
import { loggingPlugin } from './plugins/logging.js';
import { errorsPlugin } from './plugins/errors.js';
import { healthPlugin } from './plugins/health.js';
import { nativeRoutes } from './routes/native.routes.js';
import { fhirRoutes } from './routes/fhir.routes.js';
import { fhirHttpPlugin } from './plugins/fhir-http.js';
import { FhirRepository } from './store/fhir.repo.js';
import { RequestLog } from './store/request-log.repo.js';
import { ConformanceResources } from './services/conformance-resources.js';
import { FhirIntakeService } from './services/fhir/intake.service.js';
import { FhirReadService } from './services/fhir/read.service.js';
import { QuestionnaireRegistry } from './questionnaires/response-validator.js';
import { loadMessageRules, type MessageRules } from './fhir/message-definition.js';
import { loadInboundMapping, type InboundMapper } from './mapping/inbound.js';
import type { FhirValidator } from './fhir/validator.js';
import type { Questionnaire } from 'fhir/r4.js';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';

export interface App {
  server: Hapi.Server;
  store: Store;
  /** stops the server and closes the store */
  stop(): Promise<void>;
}

export interface CreateServerOptions {
  /** PostgreSQL schema to work in (tests); see openStore */
  schema?: string;
  /** clock for services (tests) */
  now?: () => Date;
}

// Mappings and profiles are loaded and checked once per process: a bad rule or profile stops
// start-up before the port opens, naming the file.
export interface Domain {
  mapper: ReferralMapper & CompiledMappings;
  validator: ResourceValidator & FhirValidator;
  inbound: InboundMapper;
  conformance: ConformanceResources;
  questionnaires: QuestionnaireRegistry;
  messageRules: Map<string, MessageRules>;
}
const loaded = new Map<string, Domain>();
export function loadDomain(config: AppConfig): Domain {
  const key = `${config.mappingsDir}|${config.profilesDir}`;
  let domain = loaded.get(key);
  if (!domain) {
    const conformance = ConformanceResources.load(config.profilesDir, join(config.mappingsDir, 'conceptmaps'));
    const mapper = loadMappings(config.mappingsDir);
    domain = {
      mapper,
      validator: createValidator({ profilesDir: config.profilesDir }),
      inbound: loadInboundMapping(config.mappingsDir, mapper),
      conformance,
      questionnaires: new QuestionnaireRegistry(conformance.all('Questionnaire') as unknown as Questionnaire[]),
      messageRules: loadMessageRules(config.profilesDir),
    };
    loaded.set(key, domain);
  }
  return domain;
}

const software = (() => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
  return { name: pkg.name, version: pkg.version };
})();

/** Builds the whole service (store opened and migrated, plugins and routes registered); never listens. */
export async function createServer(config: AppConfig, options: CreateServerOptions = {}): Promise<App> {
  const { mapper, validator, inbound, conformance, questionnaires, messageRules } = loadDomain(config);
  const store = await openStore(config.databaseUrl, { schema: options.schema });
  const repo = new ReferralRepository(store.db);

  const server = Hapi.server({
    port: config.port,
    host: config.host,
    router: { stripTrailingSlash: true },
    routes: { response: { emptyStatusCode: 204 } },
  });
  await server.register([loggingPlugin(config.logLevel), { plugin: errorsPlugin }, { plugin: fhirHttpPlugin }, { plugin: healthPlugin, options: { store } }]);
  server.route(
    nativeRoutes({
      referrals: new ReferralService({ repo, mapper, validator, now: options.now }),
      assessments: new AssessmentService({ repo, mapper, validator, now: options.now }),
      maxBodyBytes: config.maxBodyBytes,
    }),
  );
  const fhirRepo = new FhirRepository(store.db, store.dialect);
  const now = options.now ?? (() => new Date());
  const intake = new FhirIntakeService({
    repo: fhirRepo,
    referrals: repo,
    mapper,
    validator,
    inbound,
    assessments: mapper,
    questionnaires,
    messageRules,
    defaultRecipientOds: config.platformOdsCode,
    now,
    // Type, message and stack only: never a body, which would hold patient data.
    onError: (err) => server.log(['error'], { err: { type: (err as Error)?.name, message: (err as Error)?.message, stack: (err as Error)?.stack } }),
  });
  server.route(
    fhirRoutes({
      intake,
      reads: new FhirReadService({ repo: fhirRepo, conformance }),
      conformance,
      requestLog: new RequestLog(store.db),
      supportedProfiles: conformance.profilesByType(),
      maxBodyBytes: config.maxBodyBytes,
      software,
      startedAt: now().toISOString(),
    }),
  );

  return {
    server,
    store,
    async stop() {
      await server.stop({ timeout: 10_000 });
      await store.close();
    },
  };
}
