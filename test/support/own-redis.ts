import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

/**
 * A real redis-server of the test's own, which the test may stop, start, freeze and thaw (for degraded-mode
 * and fault tests). `persistent` keeps its data in an append-only file across a kill and restart, as a
 * production Redis holding the router's state does. `replicaOf` makes it a replica of the own Redis on that
 * port (asynchronous replication, as in production).
 */
export class OwnRedis {
  readonly port: number;
  readonly #dir: string | undefined;
  readonly #persistent: boolean;
  readonly #replicaOf: number | undefined;
  #child: ChildProcess | undefined;

  constructor(port: number, { persistent = false, replicaOf }: { persistent?: boolean; replicaOf?: number } = {}) {
    this.port = port;
    this.#persistent = persistent;
    this.#replicaOf = replicaOf;
    // A replica stores the snapshot of its first sync in its directory: not the working directory.
    this.#dir = persistent || replicaOf !== undefined ? mkdtempSync(join(tmpdir(), 'own-redis-')) : undefined;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const persistence = ['--appendonly', this.#persistent ? 'yes' : 'no', ...(this.#dir === undefined ? [] : ['--dir', this.#dir])];
    const replication = this.#replicaOf === undefined ? [] : ['--replicaof', '127.0.0.1', String(this.#replicaOf)];
    this.#child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...persistence, ...replication], {
      stdio: 'ignore',
    });
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined); // refusals are expected until the server listens
    for (let i = 0; i < 100; i++) {
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        await sleep(50);
      }
    }
    throw new Error(`redis-server on ${this.port} did not start`);
  }

  /** SIGSTOP: the server keeps its connections open but answers nothing, as a paused VM or a fork stall. */
  freeze(): void {
    this.#child?.kill('SIGSTOP');
  }

  thaw(): void {
    this.#child?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Stops the server and removes its data directory. */
  async destroy(): Promise<void> {
    await this.stop();
    if (this.#dir !== undefined) rmSync(this.#dir, { recursive: true, force: true });
  }
}
