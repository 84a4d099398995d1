import { untilAborted } from './abort.ts';

/**
 * Per-MessageGroup serialisation: a send touching a group starts only once every earlier send touching that
 * group has settled; sends with no group in common run concurrently. The queue position is taken
 * synchronously when the send is called, so "earlier" means call order, whatever happens afterwards.
 */
export class GroupSequencer {
  readonly #tails = new Map<string, Promise<void>>();

  /**
   * Takes a place behind the current tail of each group. Resolves `{ release }` when it is this send's turn;
   * rejects with the signal's reason if aborted first (the place is still released in turn: a later send
   * must not overtake the ones this send was waiting for).
   */
  acquire(groups: Iterable<string>, signal?: AbortSignal): Promise<{ release: () => void }> {
    const unique = [...new Set(groups)];
    const predecessors = unique.map((g) => this.#tails.get(g)).filter((p): p is Promise<void> => p !== undefined);
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    for (const g of unique) this.#tails.set(g, done);
    void done.then(() => {
      for (const g of unique) if (this.#tails.get(g) === done) this.#tails.delete(g);
    });
    if (predecessors.length === 0) return Promise.resolve({ release });
    const ready = Promise.all(predecessors).then(() => undefined);
    return untilAborted(ready, signal).then(
      () => ({ release }),
      (err: unknown) => {
        void ready.then(release);
        throw err;
      },
    );
  }

  /** Groups with a send running or waiting (for tests and diagnostics). */
  get busyGroups(): number {
    return this.#tails.size;
  }
}
