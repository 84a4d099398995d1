import { SidecarError } from '../errors/sidecar-error.ts';
import type { BlockedGroup } from '../protocol/admin.ts';
import type { SubscriptionRunner, SubscriptionStatus } from './subscription-runner.ts';

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

  /** Retries or skips the head of a blocked group. 404 for an unknown subscription, 409 when the group is not blocked here. */
  async unblock(name: string, action: UnblockAction, partition: number, group: string | null): Promise<BlockedGroup> {
    const done = await this.#runner(name).unblock(action, partition, group);
    if (!done) {
      throw new SidecarError(
        'CONFLICT',
        `subscription "${name}": MessageGroup ${JSON.stringify(group)} of partition ${partition} is not blocked on this sidecar (see GET /v1/subscriptions)`,
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
