// A server for the load benchmark, in its own process so that autocannon does not share its event
// loop. `adapter` is the whole service on a fresh SQLite file; `bare` is hapi parsing and returning
// the same payload, the floor the adapter is compared with.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Hapi from '@hapi/hapi';
import { loadConfig } from '../src/config/index.js';
import { createServer } from '../src/server.js';

const kind = process.argv[2];

async function start(): Promise<Hapi.Server> {
  if (kind === 'bare') {
    const server = Hapi.server({ port: 0, host: '127.0.0.1' });
    server.route({ method: 'POST', path: '/referrals', handler: (request, h) => h.response(request.payload as object).code(201) });
    return server;
  }
  const databaseUrl = process.env.BENCH_DATABASE_URL ?? `sqlite:${join(mkdtempSync(join(tmpdir(), 'pp-bench-')), 'adapter.db')}`;
  const app = await createServer(loadConfig({ ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', DATABASE_URL: databaseUrl }));
  return app.server;
}

const server = await start();
await server.start();
process.stdout.write(`${JSON.stringify({ uri: server.info.uri })}\n`);
