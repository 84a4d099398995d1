/** What listens for the signals: the process, or a test's emitter. */
export interface SignalSource {
  on(signal: 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
}

/**
 * SIGTERM and SIGINT, listened for from the start of `serve` to its exit. Without a listener, Node's default action
 * ends the process at once: a second signal would cut the drain short, and a signal during the start would end it,
 * or, as PID 1 in a container, be dropped by the kernel (the stop then waits for SIGKILL). The first signal stops
 * the sidecar, at once or once it has started; later ones are reported and change nothing.
 */
export class StopSignals {
  #first: string | undefined;
  #stop: ((signal: string) => void) | undefined;
  #again: ((signal: string) => void) | undefined;

  constructor(source: SignalSource) {
    source.on('SIGTERM', () => this.#received('SIGTERM'));
    source.on('SIGINT', () => this.#received('SIGINT'));
  }

  /** `stop` runs on the first signal (now, if one came during the start); `again` on each one after it. */
  onStop(stop: (signal: string) => void, again: (signal: string) => void): void {
    this.#stop = stop;
    this.#again = again;
    if (this.#first !== undefined) stop(this.#first);
  }

  #received(signal: string): void {
    if (this.#first !== undefined) {
      this.#again?.(signal);
      return;
    }
    this.#first = signal;
    this.#stop?.(signal);
  }
}
