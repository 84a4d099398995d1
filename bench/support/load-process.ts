import { fork, type ChildProcess } from 'node:child_process';
import type { LoadJob, LoadMessage, LoadReport } from './load-job.ts';

const GENERATOR = new URL('./load-generator.ts', import.meta.url).pathname;
/** How long a job may take to connect and build its requests, and to drain, beyond its warm-up and measured window. */
const SETUP_GRACE_MS = 120_000;

/**
 * The load generator child process (load-generator.ts), started on first use and kept for the next rows (a
 * fresh Node process and its imports take seconds on a busy 2-core machine). One job at a time.
 */
export class LoadGenerator {
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  #spawn(): ChildProcess {
    // stdout goes to our stderr: the benchmark's stdout ends with the summary line, and nothing may follow it.
    const child = fork(GENERATOR, [], { stdio: ['ignore', 2, 'inherit', 'ipc'], serialization: 'advanced', execArgv: [] });
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.#exited.then(() => {
      if (this.#child === child) this.#child = undefined;
    });
    return child;
  }

  /**
   * Runs `job`. When the generator opens its measured window, `measure(pid)` is called; the function it returns
   * is called when the window closes, and its result comes back with the report.
   */
  run<T>(job: LoadJob, measure: (generatorPid: number) => () => T): Promise<{ report: LoadReport; measured: T }> {
    const child = (this.#child ??= this.#spawn());
    return new Promise((resolve, reject) => {
      let stop: (() => T) | undefined;
      let measured: T | undefined;
      const finish = (settle: () => void): void => {
        clearTimeout(hung);
        child.off('message', onMessage).off('exit', onExit);
        settle();
      };
      const onMessage = (message: LoadMessage): void => {
        if (message.type === 'measuring') stop = measure(child.pid!);
        else if (message.type === 'measured') measured = stop?.();
        else if (message.type === 'failed') finish(() => reject(new Error(`load generator failed: ${message.error}`)));
        else if (measured === undefined) finish(() => reject(new Error('load generator reported without marking its measured window')));
        else {
          const value = measured;
          finish(() => resolve({ report: message.report, measured: value }));
        }
      };
      const onExit = (): void => finish(() => reject(new Error('load generator exited during a job')));
      // A job that never reports (a client stuck connecting) would hang the run: kill the generator instead.
      const hung = setTimeout(() => child.kill('SIGKILL'), job.warmupMs + job.durationMs + SETUP_GRACE_MS);
      child.on('message', onMessage).once('exit', onExit);
      child.send(job);
    });
  }

  /** Lets the generator exit (it has nothing left once its IPC channel closes). */
  async close(): Promise<void> {
    this.#child?.disconnect();
    await this.#exited;
  }
}
