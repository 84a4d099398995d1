import { fork } from 'node:child_process';
import type { LoadJob, LoadMessage, LoadReport } from './load-job.ts';

const GENERATOR = new URL('./load-generator.ts', import.meta.url).pathname;
/** How long a generator may take to close its connections after reporting before it is killed. */
const EXIT_GRACE_MS = 10_000;
/** How long it may take to connect and build its requests, beyond its warm-up and measured window. */
const SETUP_GRACE_MS = 120_000;

/**
 * Runs `job` in a load generator child process. When the generator starts its measured window, `measure(pid)`
 * is called and returns the function that ends the measurement; that is called the moment the report
 * arrives, before the generator closes its connections.
 */
export function runLoad<T>(job: LoadJob, measure: (generatorPid: number) => () => T): Promise<{ report: LoadReport; measured: T }> {
  // stdout goes to our stderr: the benchmark's stdout ends with the summary line, and nothing may follow it.
  const child = fork(GENERATOR, [], { stdio: ['ignore', 2, 'inherit', 'ipc'], serialization: 'advanced', execArgv: [] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let stop: (() => T) | undefined;
    let outcome: { report: LoadReport; measured: T } | undefined;
    child.on('message', (message: LoadMessage) => {
      if (message.type === 'measuring') stop = measure(child.pid!);
      else if (message.type === 'done') {
        outcome = { report: message.report, measured: stop ? stop() : measure(child.pid!)() };
        setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), EXIT_GRACE_MS).unref();
      } else reject(new Error(`load generator failed: ${message.error}`));
    });
    child.once('error', reject);
    void exited.then(() => (outcome ? resolve(outcome) : reject(new Error('load generator exited without a report'))));
    const hung = setTimeout(() => child.kill('SIGKILL'), job.warmupMs + job.durationMs + SETUP_GRACE_MS);
    void exited.finally(() => clearTimeout(hung));
    child.send(job);
  });
}
