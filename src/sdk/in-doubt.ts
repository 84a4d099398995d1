import { GroupInDoubtError, type InDoubtGroup } from './errors.ts';
import type { OrderedMessage } from './message-types.ts';
import type { MessageOutcome } from './result-types.ts';

const keyOf = (topic: string, group: string): string => `${topic}\u0000${group}`;

function byGroup<T extends { messageGroup: string }, V>(items: readonly T[], pick: (item: T) => V): Map<string, V[]> {
  const groups = new Map<string, V[]>();
  for (const item of items) {
    const list = groups.get(item.messageGroup);
    if (list) list.push(pick(item));
    else groups.set(item.messageGroup, [pick(item)]);
  }
  return groups;
}

/**
 * The MessageGroups (per topic) whose last messages may or may not be in Kafka, with those messages' dedup
 * ids in send order. A late write of such a message (a sidecar still writing after the client's deadline, a
 * kafkajs batch that failed after the broker had it) could land after anything sent next, so the group takes
 * no new message until its in-doubt ones are resolved: resent and confirmed written, or given up on. With
 * deduplication a resend of a message that landed is reported as a duplicate at its first offset, except
 * when the sidecar itself could not learn its fate (Kafka timed out after the batch may have landed): the
 * resend is then written again, after the original, so order holds but it appears twice (docs/sdk.md).
 * The caller of `check` and `record` holds the group's turn in the GroupSequencer, so they see every
 * earlier send of the group settled.
 */
export class InDoubtGroups {
  readonly #groups = new Map<string, string[]>();

  /**
   * Throws GroupInDoubtError unless, for every in-doubt group of the send, the send's messages of that group
   * start with its in-doubt messages in order (then new ones may follow: they come after the resends), or
   * are a beginning of them.
   */
  check(topic: string, messages: readonly OrderedMessage[]): void {
    if (this.#groups.size === 0) return;
    const blocked: InDoubtGroup[] = [];
    for (const [group, ids] of byGroup(messages, (m) => m.dedupId)) {
      const doubt = this.#groups.get(keyOf(topic, group));
      if (!doubt) continue;
      const compared = Math.min(ids.length, doubt.length);
      for (let k = 0; k < compared; k++) {
        if (ids[k] !== doubt[k]) {
          blocked.push({ topic, messageGroup: group, dedupIds: [...doubt] });
          break;
        }
      }
    }
    if (blocked.length > 0) throw new GroupInDoubtError(blocked);
  }

  /** After a send: a message confirmed written leaves the doubt; one whose fate is unknown joins it. */
  record(topic: string, outcomes: readonly MessageOutcome[]): void {
    for (const [group, list] of byGroup(outcomes, (o) => o)) {
      const key = keyOf(topic, group);
      const written = new Set(list.filter((o) => o.status === 'written').map((o) => o.dedupId));
      const next = (this.#groups.get(key) ?? []).filter((id) => !written.has(id));
      const known = new Set(next);
      for (const o of list) if (o.status === 'unknown' && !known.has(o.dedupId)) next.push(o.dedupId);
      if (next.length > 0) this.#groups.set(key, next);
      else this.#groups.delete(key);
    }
  }

  /** The in-doubt dedup ids of a group, in send order (empty when it is not in doubt). */
  get(topic: string, group: string): string[] {
    return [...(this.#groups.get(keyOf(topic, group)) ?? [])];
  }

  /** Forgets a group's doubt; returns the dedup ids given up on. */
  reset(topic: string, group: string): string[] {
    const ids = this.get(topic, group);
    this.#groups.delete(keyOf(topic, group));
    return ids;
  }
}
