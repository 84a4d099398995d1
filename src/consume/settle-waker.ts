/**
 * Waits, pass after pass, for a promise to settle or a pause to end, whichever comes first. A loop over
 * `Promise.race([done, sleep(ms)])` adds a reaction to `done` on every pass, each kept until `done` settles:
 * about 300 bytes a second for each partition held busy, for as long as it stays busy (hours in a Redis
 * outage). This subscribes to `done` once.
 */
export class SettleWaker {
  #settled = false;
  #wake: (() => void) | undefined;

  constructor(done: Promise<unknown>) {
    void done.then(() => {
      this.#settled = true;
      this.#wake?.();
    });
  }

  get settled(): boolean {
    return this.#settled;
  }

  /** Resolves when the promise has settled, or after `ms` (a timer that does not hold the process open). */
  wait(ms: number): Promise<void> {
    if (this.#settled) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.#woken(resolve), ms).unref();
      this.#wake = () => {
        clearTimeout(timer);
        this.#woken(resolve);
      };
    });
  }

  #woken(resolve: () => void): void {
    this.#wake = undefined;
    resolve();
  }
}
