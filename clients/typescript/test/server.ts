// Starts a real agentwire server (the repository's .venv) on a free loopback port with a temp SQLite db.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..', '..', '..');
const agentwire = join(repo, '.venv', 'bin', 'agentwire');
const SECRET = 'vitest-secret-for-agentwire-client-0123456789';

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => done(port));
    });
  });
}

export class LiveServer {
  private child: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'agentwire-vitest-'));
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private env(): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AGENTWIRE_ENV: 'test',
      AGENTWIRE_DATA_DIR: this.dir,
      AGENTWIRE_JWT_SECRET: SECRET,
      AGENTWIRE_PROGRESS_INTERVAL_SECONDS: '0.02',
      AGENTWIRE_LEASE_SECONDS: '2',
      AGENTWIRE_LOG_LEVEL: 'WARNING',
    };
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    this.child = spawn(agentwire, ['serve', '--host', '127.0.0.1', '--port', String(this.port)], {
      env: this.env(),
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`agentwire serve exited with ${this.child.exitCode}`);
      try {
        if ((await fetch(`${this.url}/healthz`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('agentwire serve did not answer /healthz within 30 s');
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }

  token(user: string): string {
    return execFileSync(agentwire, ['token', '--user', user], { env: this.env() }).toString().trim();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Waits for a condition, checking every 20 ms. */
export async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
