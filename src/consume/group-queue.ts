import type { ConsumedRecord } from './consumer-engine.ts';
import type { Delivery } from './delivery.ts';

/**
 * Where one MessageGroup of one partition stands:
 * - `idle`: nothing to send (or, on a fenced partition, nothing it may send);
 * - `ready`: waiting for a free delivery slot;
 * - `leasing`: in a slot, taking the group's delivery lease (held while the group stays active);
 * - `delivering` / `dead-lettering`: its head is at the endpoint / on its way to the dead-letter topic;
 * - `backoff`: its head failed and waits for the next attempt, or another replica holds the group's lease;
 * - `blocked`: its head exhausted its attempts under `on_exhausted: block`; only an admin call moves it.
 */
export type GroupPhase = 'idle' | 'ready' | 'leasing' | 'delivering' | 'dead-lettering' | 'backoff' | 'blocked';

/** A MessageGroup's FIFO of fetched records, and the delivery at its head. */
export class GroupQueue {
  phase: GroupPhase = 'idle';
  /** The delivery taken from the queue and not yet done; retries send exactly these records again. */
  head: Delivery | undefined;
  lastError: string | undefined;
  cancelTimer: (() => void) | undefined;
  /** In a long wait before another delivery attempt (GroupDispatcher's LONG_WAIT_MS): when it is due, on the dispatcher's clock. */
  retryAt: number | undefined;
  /** This replica holds the group's delivery lease: taken at its first delivery, released when it goes idle or blocks. */
  leased = false;
  #records: ConsumedRecord[] = [];
  #first = 0;

  readonly partition: number;
  readonly group: string | null;

  constructor(partition: number, group: string | null) {
    this.partition = partition;
    this.group = group;
  }

  push(record: ConsumedRecord): void {
    this.#records.push(record);
  }

  get queued(): number {
    return this.#records.length - this.#first;
  }

  /** Records waiting plus those of the head: what this group holds of its partition. */
  get backlog(): number {
    return this.queued + (this.head?.records.length ?? 0);
  }

  /**
   * Makes the next `max` queued records the head delivery (consecutive in the group, by construction). With
   * `before`, a head that starts below that offset ends below it too (a restored block's head is taken on its own).
   */
  takeHead(max: number, before?: bigint): Delivery {
    let end = Math.min(this.#first + max, this.#records.length);
    if (before !== undefined && this.#first < end && this.#records[this.#first]!.offset < before) {
      for (let i = this.#first + 1; i < end; i++) {
        if (this.#records[i]!.offset >= before) {
          end = i;
          break;
        }
      }
    }
    const records = this.#records.slice(this.#first, end);
    this.#first += records.length;
    if (this.#first === this.#records.length) {
      this.#records = [];
      this.#first = 0;
    } else if (this.#first > 1024 && this.#first * 2 > this.#records.length) {
      this.#records = this.#records.slice(this.#first);
      this.#first = 0;
    }
    this.head = { partition: this.partition, group: this.group, attempt: 1, records };
    return this.head;
  }
}
