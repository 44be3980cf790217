import Hapi from '@hapi/hapi';
import type { AppConfig } from './config/index.js';
import { openStore, type Store } from './store/db.js';
import { ReferralRepository } from './store/referrals.repo.js';
import { loadMappings } from './mapping/index.js';
import { createValidator } from './fhir/validator.js';
import { ReferralService } from './services/referrals.service.js';
import { AssessmentService } from './services/assessments.service.js';
import type { ReferralMapper, ResourceValidator } from './services/ports.js';
import { loggingPlugin } from './plugins/logging.js';
import { errorsPlugin } from './plugins/errors.js';
import { healthPlugin } from './plugins/health.js';
import { nativeRoutes } from './routes/native.routes.js';

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
const loaded = new Map<string, { mapper: ReferralMapper; validator: ResourceValidator }>();
export function loadDomain(config: AppConfig) {
  const key = `${config.mappingsDir}|${config.profilesDir}`;
  let domain = loaded.get(key);
  if (!domain) {
    domain = { mapper: loadMappings(config.mappingsDir), validator: createValidator({ profilesDir: config.profilesDir }) };
    loaded.set(key, domain);
  }
  return domain;
}

/** Builds the whole service (store opened and migrated, plugins and routes registered); never listens. */
export async function createServer(config: AppConfig, options: CreateServerOptions = {}): Promise<App> {
  const { mapper, validator } = loadDomain(config);
  const store = await openStore(config.databaseUrl, { schema: options.schema });
  const repo = new ReferralRepository(store.db);

  const server = Hapi.server({
    port: config.port,
    host: config.host,
    router: { stripTrailingSlash: true },
    routes: { response: { emptyStatusCode: 204 } },
  });
  await server.register([loggingPlugin(config.logLevel), { plugin: errorsPlugin }, { plugin: healthPlugin, options: { store } }]);
  server.route(
    nativeRoutes({
      referrals: new ReferralService({ repo, mapper, validator, now: options.now }),
      assessments: new AssessmentService({ repo, mapper, validator, now: options.now }),
      maxBodyBytes: config.maxBodyBytes,
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
