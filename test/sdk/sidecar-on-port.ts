import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import type { SidecarOptions } from '../../src/config/options.ts';

/** A free loopback port, so a sidecar can be restarted where its clients expect it. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface PortSidecar {
  child: ChildProcess;
  exited: Promise<number | null>;
  logs: string[];
}

/**
 * `ordered-sidecar serve` on a fixed port (test/support's spawnSidecar always takes an ephemeral one).
 * Extra CLI flags go in `flags`, e.g. a short Kafka write timeout, which also shortens the dedup lease.
 */
export async function spawnOnPort(options: SidecarOptions, port: number, flags: string[] = []): Promise<PortSidecar> {
  const args = ['src/cli.ts', 'serve', '--port', String(port), '--kafka-brokers', options.kafkaBrokers.join(','), '--redis-url', options.redisUrl, '--redis-prefix', options.redisPrefix, '--log-level', 'info', ...flags];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sidecar did not start within 30 s:\n${logs.join('\n')}`)), 30_000);
    createInterface({ input: child.stderr! }).on('line', (line) => {
      logs.push(line);
      if (line.includes('"ordered-sidecar listening"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => reject(new Error(`sidecar exited with ${code}:\n${logs.join('\n')}`)));
  });
  return { child, exited, logs };
}
