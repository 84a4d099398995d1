import type { ConsumeService } from '../consume/consume-service.ts';
import type { HotGroupView, OverviewView } from '../protocol/admin.ts';

/** Hot groups listed in the overview, across subscriptions: as many as /metrics exports per subscription. */
const HOT_GROUPS_SHOWN = 10;

export interface OverviewDeps {
  version: string;
  kafkaClient: string;
  /** Kafka writes since start, from the sidecar's own counters. */
  kafkaWrites: () => Promise<OverviewView['kafka_writes']>;
  consume?: ConsumeService | undefined;
}

/** GET /admin/v1/overview: what the operations console reads every few seconds, in one call. */
export async function overviewOf(deps: OverviewDeps): Promise<OverviewView> {
  const { consume } = deps;
  const subscriptions = consume?.status() ?? [];
  // A stopped subscription's view of its partitions is stale (another replica has them now), as on /metrics.
  const running = consume ? subscriptions.filter((s) => s.state !== 'stopped').map((s) => consume.runner(s.name)) : [];
  const hot: HotGroupView[] = running.flatMap((r) => r.hotGroups(HOT_GROUPS_SHOWN).map((g) => ({ subscription: r.subscription.name, ...g })));
  return {
    version: deps.version,
    kafka_client: deps.kafkaClient,
    kafka_writes: await deps.kafkaWrites(),
    subscriptions,
    hot_groups: hot.sort((a, b) => b.backlog - a.backlog).slice(0, HOT_GROUPS_SHOWN),
  };
}
