import { ConfigError, loadConfig } from './config/index.js';
import { createServer } from './server.js';

// Process entry: check configuration, build the service, listen, and shut down cleanly so that a
// request in flight finishes (and commits) before the store is closed.
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const app = await createServer(config);
  await app.server.start();
  app.server.logger.info({ uri: app.server.info.uri, store: app.store.dialect }, 'Pain Platform FHIR adapter listening');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.server.logger.info({ signal }, 'shutting down');
    await app.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err: Error) => {
  // Start-up failures (bad mapping rule, bad profile, unreachable database) name their cause.
  process.stderr.write(`Start-up failed: ${err.message}\n`);
  process.exit(1);
});
