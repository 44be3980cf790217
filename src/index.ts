import cluster from 'node:cluster';
import { type AppConfig, ConfigError, loadConfig } from './config/index.js';
import { createServer, loadDomain } from './server.js';
import { openStore } from './store/db.js';

// Process entry: check configuration, build the service, listen, and shut down cleanly so that a
// request in flight finishes (and commits) before the store is closed. With WORKERS > 1 the primary
// applies migrations once, then forks that many HTTP workers sharing the port (one per core); the
// store's unique keys, not process memory, keep referrals from being stored twice.

function readConfig(): AppConfig {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

async function runServer(config: AppConfig): Promise<void> {
  const app = await createServer(config);
  await app.server.start();
  app.server.logger.info({ uri: app.server.info.uri, store: app.store.dialect, pid: process.pid }, 'Pain Platform FHIR adapter listening');

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

/** A worker that dies this soon after its start is failing to start, not crashing in service. */
const EARLY_EXIT_MS = 10_000;
const MAX_EARLY_EXITS = 3;

async function runPrimary(config: AppConfig): Promise<void> {
  loadDomain(config); // a bad mapping rule or profile stops start-up here, before any worker exists
  const store = await openStore(config.databaseUrl); // applies migrations before any worker starts
  await store.close();
  let stopping = false;
  let earlyExits = 0;
  const startedAt = new Map<number, number>();
  const fork = () => {
    const worker = cluster.fork();
    startedAt.set(worker.id, Date.now());
  };
  for (let i = 0; i < config.workers; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    const early = Date.now() - (startedAt.get(worker.id) ?? 0) < EARLY_EXIT_MS;
    earlyExits = early ? earlyExits + 1 : 0;
    if (earlyExits >= MAX_EARLY_EXITS) {
      process.stderr.write(`Start-up failed: workers keep exiting at start (last: ${signal ?? code}); stopping\n`);
      stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
      process.exit(1);
    }
    process.stderr.write(`worker ${worker.process.pid} exited (${signal ?? code}); starting another\n`);
    setTimeout(fork, 1000);
  });
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

const config = readConfig();
const main = config.workers > 1 && cluster.isPrimary ? runPrimary(config) : runServer(config);
main.catch((err: Error) => {
  // Start-up failures (bad mapping rule, bad profile, unreachable database) name their cause.
  process.stderr.write(`Start-up failed: ${err.message}\n`);
  process.exit(1);
});
