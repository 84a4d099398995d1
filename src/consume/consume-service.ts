import { SidecarError, storeUnavailable } from '../errors/sidecar-error.ts';
import { parseOffset } from './blocked-store.ts';
import type { ProduceService } from '../produce/produce-service.ts';
import { replayDeadLetters, type ReplayFilter, type ReplayLimits, type ReplayResult } from './dlq-replay.ts';
import type { GroupOffsetsAdmin, OffsetTarget } from './group-offsets-admin.ts';
import { resetOffsets, type ResetResult } from './offset-reset.ts';
import type { SubscriptionRunner } from './subscription-runner.ts';
import type { BlockedGroup, SubscriptionStatus } from '../protocol/subscriptions.ts';
import type { Subscription } from './subscriptions.ts';

export type UnblockAction = 'retry' | 'skip';

/** Readiness of one subscription, as /readyz shows it. */
export interface SubscriptionReadiness {
  name: string;
  ready: boolean;
  error?: string;
}

export interface ConsumeServiceDeps {
  subscriptions: Subscription[];
  /** A fresh runner for a subscription: a stopped runner cannot start again, so a start builds a new one. */
  makeRunner(subscription: Subscription): SubscriptionRunner;
  /** Offset resets and the dead-letter topic's reads. */
  offsets: GroupOffsetsAdmin;
  /** Dead-letter replays go through the ordered produce path. */
  produce: ProduceService;
  /** The produce path's request limits, which each replay call keeps to. */
  replayLimits: ReplayLimits;
  /** How long an admin stop lets in-flight deliveries finish (SHUTDOWN_GRACE). */
  stopGraceMs: number;
}

/** One subscription's consumption on this replica, as the admin stop and start calls change it. */
export interface RunState {
  subscription: string;
  state: SubscriptionStatus['state'];
}

/**
 * Every subscription of this sidecar: status, admin calls on blocked groups, start and graceful stop, and
 * the operator's stop/start of one subscription, offset reset and dead-letter replay.
 */
export class ConsumeService {
  readonly #deps: ConsumeServiceDeps;
  readonly #runners: Map<string, SubscriptionRunner>;
  /** Subscriptions with a dead-letter replay running here. */
  readonly #replaying = new Set<string>();

  constructor(deps: ConsumeServiceDeps) {
    this.#deps = deps;
    this.#runners = new Map(deps.subscriptions.map((s) => [s.name, deps.makeRunner(s)]));
  }

  start(): void {
    for (const runner of this.#runners.values()) runner.start();
  }

  /** The current runner of `name` (a new one after each admin start). */
  runner(name: string): SubscriptionRunner {
    const runner = this.#runners.get(name);
    if (!runner) throw new SidecarError('NOT_FOUND', `no subscription named "${name}"`);
    return runner;
  }

  /** Admin: stops consuming `name` on this replica (gracefully; it leaves the consumer group). Stopping a stopped one is a no-op. */
  async stopOne(name: string): Promise<RunState> {
    const runner = this.runner(name);
    await runner.stop(this.#deps.stopGraceMs);
    return { subscription: name, state: runner.status().state };
  }

  /** Admin: consumes `name` again on this replica, from the group's committed offsets. Starting a running one is a no-op. */
  startOne(name: string): RunState {
    const current = this.runner(name);
    const { state } = current.status();
    if (state === 'stopping') throw new SidecarError('CONFLICT', `subscription "${name}" is still stopping; start it once it has stopped`);
    if (state !== 'stopped') return { subscription: name, state };
    const runner = this.#deps.makeRunner(current.subscription);
    this.#runners.set(name, runner);
    runner.start();
    return { subscription: name, state: runner.status().state };
  }

  /** Admin: moves the consumer group of `name` to `target`; only while no replica consumes it. */
  async reset(name: string, target: OffsetTarget): Promise<ResetResult> {
    const runner = this.runner(name);
    const { state } = runner.status();
    if (state !== 'stopped')
      throw new SidecarError(
        'SUBSCRIPTION_RUNNING',
        `subscription "${name}" is ${state} on this sidecar: stop it on every replica first (ordered-sidecar subscriptions stop ${name})`,
      );
    const result = await resetOffsets(runner.subscription, this.#deps.offsets, target);
    await runner.forgetSkipped(new Map(result.partitions.map((p) => [p.partition, parseOffset(p.previous_offset ?? undefined)])));
    return result;
  }

  /** Admin: produces the dead letters of `name` again (one replay of a subscription at a time per replica). */
  async replay(name: string, filter: ReplayFilter): Promise<ReplayResult> {
    const { subscription } = this.runner(name);
    if (this.#replaying.has(name)) throw new SidecarError('CONFLICT', `a dead-letter replay of "${name}" is already running on this sidecar`);
    this.#replaying.add(name);
    try {
      return await replayDeadLetters(subscription, this.#deps.offsets, this.#deps.produce, filter, this.#deps.replayLimits);
    } finally {
      this.#replaying.delete(name);
    }
  }

  status(): SubscriptionStatus[] {
    return [...this.#runners.values()].map((r) => r.status());
  }

  readiness(): SubscriptionReadiness[] {
    return this.status().map((s) => ({ name: s.name, ready: s.ready, ...(s.error === undefined ? {} : { error: s.error }) }));
  }

  blocked(name: string): BlockedGroup[] {
    return this.runner(name).blockedGroups();
  }

  /**
   * Retries or skips the head of a blocked group: here when this replica holds it, else through the blocked
   * store for the replica that owns the partition. `offset` (optional) is the head's first offset as the
   * operator saw it: the call acts on that head only. 404 for an unknown subscription, 409 when the group is
   * not blocked anywhere or its head is not at `offset` (nothing changed), 503 when the store cannot be reached.
   */
  async unblock(name: string, action: UnblockAction, partition: number, group: string | null, offset?: string): Promise<BlockedGroup> {
    const runner = this.runner(name);
    const done =
      (await runner.unblock(action, partition, group, offset).catch((err: unknown) => {
        throw storeUnavailable(err, 'storing the skip before it is made (the group stays blocked; call again to skip or retry it)') ?? err;
      })) ??
      (await runner.requestUnblock(action, partition, group, offset).catch((err: unknown) => {
        throw storeUnavailable(err, 'forwarding the admin call to the replica that owns the partition') ?? err;
      }));
    if (!done) {
      throw new SidecarError(
        'CONFLICT',
        `subscription "${name}": MessageGroup ${JSON.stringify(group)} of partition ${partition} is not blocked (see GET /v1/subscriptions on each replica)`,
      );
    }
    return done;
  }

  async stop(graceMs: number): Promise<void> {
    await Promise.all([...this.#runners.values()].map((r) => r.stop(graceMs)));
  }
}
