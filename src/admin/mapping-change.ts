import { SidecarError } from '../errors/sidecar-error.ts';
import type { Logger } from '../logging/logger.ts';
import type { AdminStore, ReassignOutcome, Reassignment } from './admin-store.ts';
import { groupHash } from '../routing/hashing.ts';

export interface ChangeTiming {
  /** Idle time required by Redis's clock (see requiredIdleMs). */
  minIdleMs: number;
  /** Pause after the generation bump that precedes the change (see generationWaitMs). */
  waitMs: number;
  sleep: (ms: number) => Promise<void>;
}

export interface ChangeRequest {
  topic: string;
  buckets: number;
  group: string;
  /** The partition the operator saw; the change applies only if the mapping still names it. */
  from: number;
  /** Target partition; undefined releases the mapping. */
  to: number | undefined;
}

/** 409 for a group used too recently; carries the last access for machines as well as in the message. */
class MappingBusyError extends SidecarError {
  readonly lastAccess: string;

  constructor(message: string, lastAccess: string) {
    super('CONFLICT', message, { field: 'group' });
    this.lastAccess = lastAccess;
  }

  override toJSON(): { error: ReturnType<SidecarError['toJSON']>['error'] & { last_access: string } } {
    return { error: { ...super.toJSON().error, last_access: this.lastAccess } };
  }
}

/**
 * Changes one live mapping without breaking the group's order. A replica may route the group from its local
 * cache without asking Redis, and reports such uses only at its next touch flush, so checking Redis's
 * last access once is not enough. The protocol:
 *
 *   1. dry run: refuse at once a group that Redis already shows as recently used (no cache disturbed);
 *   2. bump the topic's mapping generation and wait more than two touch-flush intervals. Every replica
 *      took its baseline generation when it registered the topic, before caching any route of it, so each
 *      observes the bump: it drops its cached routes of the topic, and the uses it made from cache before
 *      that reach Redis as touches (which refresh the last access). From then on every route of the group
 *      goes through Redis;
 *   3. apply atomically in Redis, re-checking idleness and that the mapping still names `from` (CAS);
 *   4. bump the generation again, so a route that Redis answered just before step 3 but that reached its
 *      replica's cache after that replica's generation check is dropped too.
 *
 * With the route log on, the change is written to it before step 3 (`logChange`), so the log never lags a
 * partition a message may already be on; when step 3 does not apply, the mapping Redis reports is written
 * back over it.
 *
 * Any route made in the meantime goes through route-3.lua, which stamps the current minute, so step 3 sees
 * it and refuses. Limit: a replica that cannot reach Redis keeps its cache (and cannot report its uses);
 * docs/operations.md says what that means.
 */
export async function applyChange(
  store: AdminStore,
  timing: ChangeTiming,
  req: ChangeRequest,
  log: Logger,
  logChange: (partition: number | null) => Promise<void> = async () => undefined,
): Promise<ReassignOutcome> {
  const { topic, buckets } = req;
  const base: Reassignment = { group: req.group, hash: groupHash(req.group), from: req.from, to: req.to, minIdleMs: timing.minIdleMs, dryRun: true };
  check(await store.reassign(topic, buckets, base), req, timing);

  await store.bumpGeneration(topic);
  await timing.sleep(timing.waitMs);

  await logChange(req.to ?? null);
  let applied: ReassignOutcome;
  try {
    applied = await store.reassign(topic, buckets, { ...base, dryRun: false });
  } catch (err) {
    await logWhatStoreHolds(store, req, base.hash, log, logChange);
    throw err;
  }
  if (applied.status !== 'ok') await logChange(applied.status === 'missing' ? null : applied.partition);
  const outcome = check(applied, req, timing);
  try {
    await store.bumpGeneration(topic);
  } catch (err) {
    // The change is made; touches of any stale cached copy now fail (the mapping names another partition)
    // and drop it within one flush. Worth a warning, not a failed request.
    log.warn('admin change applied but the final generation bump failed', { topic, group: req.group, err });
  }
  return outcome;
}

/**
 * After step 3 failed without an answer: the change may or may not have been applied (a command that timed out
 * may still have run), so the log, which already names the target, is set to what Redis holds. Otherwise a
 * rebuild after a later loss of Redis would restore a partition the group never used, away from its messages.
 */
async function logWhatStoreHolds(
  store: AdminStore,
  req: ChangeRequest,
  hash: number,
  log: Logger,
  logChange: (partition: number | null) => Promise<void>,
): Promise<void> {
  try {
    const held = (await store.lookup(req.topic, req.buckets, req.group, hash))?.partition ?? null;
    if (held !== (req.to ?? null)) await logChange(held);
  } catch (err) {
    log.error(
      `an admin change failed, and the route log may now name partition ${req.to ?? 'none'} for the group whatever Redis holds: ` +
        `check it with \`ordered-sidecar groups get ${req.topic} ${req.group}\`, then run the change again or \`ordered-sidecar groups backfill ${req.topic}\``,
      { topic: req.topic, group: req.group, err },
    );
  }
}

function check(outcome: ReassignOutcome, req: ChangeRequest, timing: ChangeTiming): ReassignOutcome {
  const action = req.to === undefined ? 'a release' : 'a move';
  switch (outcome.status) {
    case 'ok':
      return outcome;
    case 'missing':
      throw new SidecarError('NOT_FOUND', `group "${req.group}" has no mapping in topic "${req.topic}" (released or expired meanwhile)`, { field: 'group' });
    case 'changed':
      throw new SidecarError(
        'CONFLICT',
        `group "${req.group}" is now mapped to partition ${outcome.partition}, not ${req.from}: someone changed it meanwhile; look again before retrying`,
        { field: 'group' },
      );
    case 'busy': {
      const lastAccess = outcome.lastAccess!;
      const idleAtMost = Math.max(0, Math.floor((outcome.now.getTime() - lastAccess.getTime()) / 1000));
      throw new MappingBusyError(
        `group "${req.group}" was used too recently for ${action}: last access in the minute from ${lastAccess.toISOString()} ` +
          `(Redis's clock; idle ${idleAtMost} s at most), and ${action} needs it idle for ${Math.ceil(timing.minIdleMs / 1000)} s. ` +
          'Stop its producers, let its consumers catch up, and retry',
        lastAccess.toISOString(),
      );
    }
  }
}
