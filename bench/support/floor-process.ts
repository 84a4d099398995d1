import { fork } from 'node:child_process';

const SERVER = new URL('./floor-server.ts', import.meta.url).pathname;
const START_TIMEOUT_MS = 30_000;

/** The floor server (floor-server.ts) in its own process. */
export interface FloorProcess {
  url: string;
  pid: number;
  /** Closes its IPC channel, on which it closes its producer and exits, and waits for that. */
  stop(): Promise<void>;
}

export async function startFloorProcess(brokers: readonly string[], partitions: number): Promise<FloorProcess> {
  // stdout goes to our stderr: the benchmark's stdout ends with the summary line.
  const child = fork(SERVER, [brokers.join(','), String(partitions)], { stdio: ['ignore', 2, 'inherit', 'ipc'], execArgv: [] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (): Promise<void> => {
    if (child.connected) child.disconnect();
    await exited;
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`floor server did not listen within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      child.once('message', (message: { port: number }) => {
        clearTimeout(timer);
        resolve(message.port);
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`floor server exited with ${code}`));
      });
    });
    return { url: `http://127.0.0.1:${port}`, pid: child.pid!, stop };
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
}
