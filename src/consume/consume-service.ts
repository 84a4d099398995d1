import { SidecarError, storeUnavailable } from '../errors/sidecar-error.ts';
import type { BlockedGroup } from './group-dispatcher.ts';
import type { SubscriptionRunner } from './subscription-runner.ts';
import type { SubscriptionStatus } from './subscription-status.ts';

export type UnblockAction = 'retry' | 'skip';

/** Readiness of one subscription, as /readyz shows it. */
export interface SubscriptionReadiness {
  name: string;
  ready: boolean;
  error?: string;
}

/** Every subscription of this sidecar: status, admin calls on blocked groups, start and graceful stop. */
export class ConsumeService {
  readonly #runners: Map<string, SubscriptionRunner>;

  constructor(runners: SubscriptionRunner[]) {
    this.#runners = new Map(runners.map((r) => [r.subscription.name, r]));
  }

  start(): void {
    for (const runner of this.#runners.values()) runner.start();
  }

  status(): SubscriptionStatus[] {
    return [...this.#runners.values()].map((r) => r.status());
  }

  readiness(): SubscriptionReadiness[] {
    return this.status().map((s) => ({ name: s.name, ready: s.ready, ...(s.error === undefined ? {} : { error: s.error }) }));
  }

  blocked(name: string): BlockedGroup[] {
    return this.#runner(name).blockedGroups();
  }

  /**
   * Retries or skips the head of a blocked group: here when this replica holds it, else through the blocked
   * store for the replica that owns the partition. 404 for an unknown subscription, 409 when the group is not
   * blocked anywhere, 503 when the store cannot be reached.
   */
  async unblock(name: string, action: UnblockAction, partition: number, group: string | null): Promise<BlockedGroup> {
    const runner = this.#runner(name);
    const done =
      (await runner.unblock(action, partition, group)) ??
      (await runner.requestUnblock(action, partition, group).catch((err: unknown) => {
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

  #runner(name: string): SubscriptionRunner {
    const runner = this.#runners.get(name);
    if (!runner) throw new SidecarError('NOT_FOUND', `no subscription named "${name}"`);
    return runner;
  }
}
