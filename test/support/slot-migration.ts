import { Redis, type Cluster } from 'ioredis';

/** One master of the Cluster, on a connection of its own (not the Cluster client's, which follows redirections). */
export interface ClusterMaster {
  id: string;
  address: string;
  redis: Redis;
}

const connect = (address: string): Redis => {
  const at = address.lastIndexOf(':');
  return new Redis({ host: address.slice(0, at), port: Number(address.slice(at + 1)), maxRetriesPerRequest: 1 });
};

/**
 * A live move of one hash slot to another master, by hand and in the steps `redis-cli --cluster reshard` takes
 * (the Redis Cluster specification, "Live resharding"): the target is set IMPORTING, the source MIGRATING,
 * keys are moved with MIGRATE in batches the caller paces, and the slot is then assigned to the target on every
 * master. Between `begin` and `finish` clients see the intermediate states: ASK redirections for keys already
 * moved, TRYAGAIN for multi-key commands whose keys are split between the two nodes (or partly missing).
 */
export class SlotMigration {
  readonly slot: number;
  readonly source: ClusterMaster;
  readonly target: ClusterMaster;
  readonly #masters: ClusterMaster[];
  #finished = false;

  private constructor(slot: number, source: ClusterMaster, target: ClusterMaster, masters: ClusterMaster[]) {
    this.slot = slot;
    this.source = source;
    this.target = target;
    this.#masters = masters;
  }

  /** Every master the Cluster client knows, each on a connection of its own; the caller closes them with `close`. */
  static async masters(cluster: Cluster): Promise<ClusterMaster[]> {
    await cluster.ping(); // the client has its slot map once it answered
    return Promise.all(
      cluster.nodes('master').map(async (node) => {
        const address = `${node.options.host}:${node.options.port}`;
        const redis = connect(address);
        return { id: String(await redis.cluster('MYID')), address, redis };
      }),
    );
  }

  /** Starts moving `slot` from the master serving it to another master. */
  static async begin(cluster: Cluster, slot: number): Promise<SlotMigration> {
    const masters = await SlotMigration.masters(cluster);
    const owner = cluster.slots[slot]?.[0];
    const source = masters.find((m) => m.address === owner);
    const target = masters.find((m) => m.address !== owner);
    if (!source || !target) throw new Error(`slot ${slot} is served by ${owner}, masters are ${masters.map((m) => m.address).join(',')}`);
    const migration = new SlotMigration(slot, source, target, masters);
    // Target first: once the source is MIGRATING it sends ASK there, which the target must then accept.
    await target.redis.cluster('SETSLOT', slot, 'IMPORTING', source.id);
    await source.redis.cluster('SETSLOT', slot, 'MIGRATING', target.id);
    return migration;
  }

  /** Moves up to `count` of the keys still on the source; returns how many it moved (0: none left). */
  async migrateBatch(count: number): Promise<number> {
    const keys = (await this.source.redis.cluster('GETKEYSINSLOT', this.slot, count)) as string[];
    if (keys.length === 0) return 0;
    const at = this.target.address.lastIndexOf(':');
    await this.source.redis.call('MIGRATE', this.target.address.slice(0, at), this.target.address.slice(at + 1), '', 0, 5000, 'KEYS', ...keys);
    return keys.length;
  }

  /**
   * Moves whatever is left, then assigns the slot to the target: on the target first, then the source (which
   * then answers MOVED), then every other master. Idempotent, so a failed test can call it to leave the Cluster
   * whole.
   */
  async finish(): Promise<void> {
    if (this.#finished) return;
    while ((await this.migrateBatch(100)) > 0);
    const others = this.#masters.filter((m) => m !== this.source && m !== this.target);
    for (const master of [this.target, this.source, ...others]) await master.redis.cluster('SETSLOT', this.slot, 'NODE', this.target.id);
    this.#finished = true;
  }

  close(): void {
    for (const master of this.#masters) master.redis.disconnect();
  }
}

/** Counts of the error replies a Redis has sent, by error code (INFO errorstats, Redis 6.2+). */
export async function errorStats(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('errorstats');
  return new Map([...info.matchAll(/^errorstat_(\w+):count=(\d+)/gm)].map(([, code, count]) => [code!, Number(count)]));
}
