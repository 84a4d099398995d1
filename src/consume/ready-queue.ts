import type { GroupQueue } from './group-queue.ts';

/**
 * Groups waiting for a delivery slot, oldest first. A group that moved on (delivered by now, its partition
 * closed or let go) is not looked for and removed: `next` skips the entries its caller no longer accepts.
 */
export class ReadyQueue {
  #groups: GroupQueue[] = [];
  #first = 0;

  push(group: GroupQueue): void {
    this.#groups.push(group);
  }

  /** The oldest group `accept` takes; the entries before it are dropped. */
  next(accept: (group: GroupQueue) => boolean): GroupQueue | undefined {
    while (this.#first < this.#groups.length) {
      const group = this.#groups[this.#first++]!;
      if (!accept(group)) continue;
      // Drop the passed prefix now and then, so a long run of ready groups does not keep every entry.
      if (this.#first > 1024 && this.#first * 2 > this.#groups.length) {
        this.#groups = this.#groups.slice(this.#first);
        this.#first = 0;
      }
      return group;
    }
    this.#groups = [];
    this.#first = 0;
    return undefined;
  }
}
