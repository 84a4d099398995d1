/**
 * Offsets of one partition handed to delivery, and which of them are done. The committable offset is the
 * lowest offset not yet done, so a commit never skips a message still waiting or in flight.
 */
export class OffsetTracker {
  /** Offsets not yet passed by the commit point, in order; `#head` indexes the first one. */
  #offsets: bigint[] = [];
  #head = 0;
  readonly #done = new Set<bigint>();
  /** The offset after everything fetched so far. */
  #next: bigint;

  constructor(start: bigint) {
    this.#next = start;
  }

  /** Records fetched in order; `next` is the offset after them (past any control records). */
  add(offsets: readonly bigint[], next: bigint): void {
    for (const offset of offsets) this.#offsets.push(offset);
    if (next > this.#next) this.#next = next;
  }

  markDone(offset: bigint): void {
    this.#done.add(offset);
    while (this.#head < this.#offsets.length && this.#done.delete(this.#offsets[this.#head]!)) this.#head++;
    // Drop the passed prefix now and then, so a long-lived partition does not keep every offset it saw.
    if (this.#head > 1024 && this.#head * 2 > this.#offsets.length) {
      this.#offsets = this.#offsets.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The next offset to commit: the lowest not done, or the end of what was fetched when all are done. */
  committable(): bigint {
    return this.#head < this.#offsets.length ? this.#offsets[this.#head]! : this.#next;
  }

  /** Offsets fetched and not yet done. */
  get pending(): number {
    return this.#offsets.length - this.#head - this.#done.size;
  }

  /** Offsets held from the commit point on, done ones behind an unfinished one included: what this partition costs in memory. */
  get tracked(): number {
    return this.#offsets.length - this.#head;
  }

  /** The offset after everything fetched so far: where the next fetch of this partition continues. */
  get fetchedEnd(): bigint {
    return this.#next;
  }
}
