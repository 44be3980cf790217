// The servers a load benchmark runs against, each in its own process so that autocannon (in the bench
// process) does not share their event loop: the adapter in one process (bench/target.ts), the adapter
// as `npm start` runs it with WORKERS=2, or the bare hapi floor. Each adapter gets a new SQLite file.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Target = 'adapter' | 'adapter-2-workers' | 'bare';

const root = new URL('../', import.meta.url).pathname;

export interface RunningTarget {
  child: ChildProcess;
  uri: string;
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The service as `npm start` runs it, with WORKERS=2 (one HTTP worker per core), on a fresh SQLite file. */
async function startCluster(): Promise<RunningTarget> {
  const port = await freePort();
  const databaseUrl = `sqlite:${join(mkdtempSync(join(tmpdir(), 'pp-bench-')), 'adapter.db')}`;
  const child = spawn(process.execPath, ['--import', 'tsx', `${root}src/index.ts`], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, WORKERS: '2', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', DATABASE_URL: databaseUrl },
  });
  const uri = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`${uri}/health/ready`).then((r) => r.ok, () => false);
    if (ok) return { child, uri };
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error('the clustered service did not become ready');
}

/** Starts `kind`; `nodeArgs` go to the one-process targets (e.g. `--cpu-prof` to profile the adapter). */
export async function startTarget(kind: Target, nodeArgs: string[] = []): Promise<RunningTarget> {
  if (kind === 'adapter-2-workers') return startCluster();
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', `${root}bench/target.ts`, kind], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const uri = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /"uri":"([^"]+)"/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`${kind} target exited with ${code}`)));
  });
  return { child, uri };
}

/** Stops a target and waits for it to exit (a --cpu-prof profile is written on the way out). */
export async function stopTarget(target: RunningTarget): Promise<void> {
  if (target.child.exitCode !== null || target.child.signalCode !== null) return;
  const exited = new Promise((resolve) => target.child.once('exit', resolve));
  target.child.kill('SIGTERM');
  await exited;
}
