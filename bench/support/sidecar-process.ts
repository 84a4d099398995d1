import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ENGINES, type Engine } from './load-job.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
/** What a user deploys: the compiled CLI (`npm run build`), not the TypeScript sources. */
const CLI = join(ROOT, 'dist', 'cli.js');

/** The engine a sidecar row measured, and how we know: the sidecar said so, or only what we asked for / assumed. */
export interface EngineReading {
  engine: Engine;
  source:
    | 'reported by /v1/api-versions'
    | 'requested with KAFKA_CLIENT, not confirmed by the sidecar'
    | 'assumed: the sidecar names no engine, and one without the engine interface has only kafkajs';
}

export interface SidecarProcess {
  url: string;
  pid: number;
  engine: EngineReading;
  /** SIGTERM, then waits for the drain and exit. */
  stop(): Promise<void>;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/**
 * Builds dist/ (`npm run build`) when it is missing or older than src/, so the run measures the code in front
 * of it; a fresh build is reused, because tsc takes a while on a busy 2-core machine.
 */
export function ensureBuilt(): void {
  let built = 0;
  try {
    built = statSync(CLI).mtimeMs;
  } catch {
    // not built yet
  }
  if (built >= newestMtime(join(ROOT, 'src'))) return;
  console.log(`   ${built === 0 ? 'dist/ is missing' : 'src/ changed since the last build'}: running npm run build`);
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2] }); // stdout ends with the summary line: keep npm's output off it
}

const isEngine = (v: unknown): v is Engine => typeof v === 'string' && (ENGINES as readonly string[]).includes(v);

/**
 * The engine an /v1/api-versions body names, read leniently: a string (or an object's `name`) under a key such
 * as `engine`, `kafka_client` or `kafkaClient`, at the top or one level down (e.g. under `features`).
 */
export function engineNamed(body: unknown, depth = 0): Engine | undefined {
  if (typeof body !== 'object' || body === null || depth > 1) return undefined;
  for (const [key, value] of Object.entries(body)) {
    if (!/^(engine|kafka_?client|kafka_?engine)$/i.test(key)) continue;
    const named = typeof value === 'object' && value !== null && 'name' in value ? value.name : value;
    const normalised = typeof named === 'string' ? ENGINES.find((e) => named.toLowerCase().includes(e)) : undefined;
    if (isEngine(normalised)) return normalised;
  }
  for (const value of Object.values(body)) {
    const found = engineNamed(value, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** Polls /readyz until the sidecar reports Kafka and Redis reachable. */
async function waitReady(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await fetch(`${url}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`sidecar at ${url} not ready after ${timeoutMs} ms (last status ${status})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function readEngine(url: string, requested: Engine | undefined): Promise<EngineReading> {
  const body: unknown = await fetch(`${url}/v1/api-versions`).then((r) => r.json());
  const reported = engineNamed(body);
  if (reported) return { engine: reported, source: 'reported by /v1/api-versions' };
  if (requested) return { engine: requested, source: 'requested with KAFKA_CLIENT, not confirmed by the sidecar' };
  return { engine: 'kafkajs', source: 'assumed: the sidecar names no engine, and one without the engine interface has only kafkajs' };
}

export interface SidecarLaunch {
  kafkaBrokers: readonly string[];
  redisUrl: string;
  redisPrefix: string;
  /** Passed as KAFKA_CLIENT; without it the sidecar runs its default engine (and KAFKA_CLIENT is removed from its environment). */
  engine?: Engine;
  /** Profile the sidecar with `node --cpu-prof` into this directory. */
  profileDir?: string;
  /** Variables set in (or, undefined, removed from) the sidecar's environment: TRACING and OTEL_* for the tracing section. */
  env?: Record<string, string | undefined>;
}

/** `node dist/cli.js serve` in its own process; resolves once it listens, is ready and has said which engine it runs. */
export async function startSidecarProcess(launch: SidecarLaunch): Promise<SidecarProcess> {
  const env = { ...process.env };
  if (launch.engine) env.KAFKA_CLIENT = launch.engine;
  else delete env.KAFKA_CLIENT;
  for (const [name, value] of Object.entries(launch.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  const args = [
    ...(launch.profileDir ? ['--cpu-prof', '--cpu-prof-dir', launch.profileDir] : []),
    CLI,
    'serve',
    '--port',
    '0',
    '--kafka-brokers',
    launch.kafkaBrokers.join(','),
    '--redis-url',
    launch.redisUrl,
    '--redis-prefix',
    launch.redisPrefix,
    '--log-level',
    'info',
  ];
  const child: ChildProcess = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const lines: string[] = [];
      const timer = setTimeout(() => reject(new Error(`sidecar did not start within 30 s:\n${lines.join('\n')}`)), 30_000);
      createInterface({ input: child.stderr! }).on('line', (line) => {
        if (lines.length < 50) lines.push(line);
        if (line.includes('"ordered-sidecar listening"')) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { url: string }).url);
        } else if (/"level":"(warn|error)"/.test(line)) {
          process.stderr.write(`   sidecar: ${line}\n`);
        }
      });
      void exited.then((code) => reject(new Error(`sidecar exited with ${code}:\n${lines.join('\n')}`)));
    });
    await waitReady(url);
    return { url, pid: child.pid!, engine: await readEngine(url, launch.engine), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Sum and count of a histogram in the sidecar's /metrics, over all label sets (undefined when it has no such metric). */
export async function scrapeHistogram(url: string, suffix: string): Promise<{ count: number; sum: number } | undefined> {
  const text = await fetch(`${url}/metrics`).then((r) => r.text());
  const total = (part: 'sum' | 'count'): number | undefined => {
    const values = text
      .split('\n')
      .filter((l) => new RegExp(`^\\w*${suffix}_${part}(\\{|\\s)`).test(l))
      .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
    return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0);
  };
  const count = total('count');
  const sum = total('sum');
  return count === undefined || sum === undefined ? undefined : { count, sum };
}

/** The sum of a counter's series (`<prefix>_<name>`, every label set) on the sidecar's /metrics; undefined when absent. */
export async function scrapeCounter(url: string, name: string): Promise<number | undefined> {
  const text = await fetch(`${url}/metrics`).then((r) => r.text());
  const values = text
    .split('\n')
    .filter((l) => new RegExp(`^\\w*${name}(\\{|\\s)`).test(l))
    .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
  return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0);
}
