import type { BlockedStore, StoredBlock, StoredPartition, UnblockRequest } from '../consume/blocked-store.ts';
import { blockedKey } from './keys.ts';
import type { RedisGateway } from './redis-gateway.ts';

/**
 * A blocked group outlives no committed offset: its head is never committed past while it is blocked, and a
 * block whose head is below the partition's commit point is dropped by the owner. The expiry is only a
 * backstop for subscriptions removed while they had blocked groups; it is renewed at every write.
 */
const EXPIRE_SECONDS = 30 * 24 * 3600;

const blockField = (group: string | null) => `b:${JSON.stringify(group)}`;
const requestField = (group: string | null) => `r:${JSON.stringify(group)}`;
const skipField = (firstOffset: string) => `s:${firstOffset}`;

/** The group a field names (JSON after its one-letter kind). */
const groupOf = (field: string): string | null => JSON.parse(field.slice(2)) as string | null;

const isOffsets = (v: unknown): v is string[] => Array.isArray(v) && v.every((o) => typeof o === 'string');

const isBlock = (v: unknown): v is StoredBlock =>
  typeof v === 'object' &&
  v !== null &&
  isOffsets((v as StoredBlock).offsets) &&
  typeof (v as StoredBlock).attempt === 'number' &&
  ((v as StoredBlock).error === undefined || typeof (v as StoredBlock).error === 'string');

/**
 * Blocked groups in one Redis hash per subscription and partition: `b:<group>` -> block, `r:<group>` -> request,
 * `s:<first offset>` -> the offsets of a skipped head.
 */
export class RedisBlockedStore implements BlockedStore {
  readonly #gateway: RedisGateway;
  readonly #prefix: string;

  constructor(gateway: RedisGateway, prefix: string) {
    this.#gateway = gateway;
    this.#prefix = prefix;
  }

  async load(subscription: string, partition: number): Promise<StoredPartition> {
    const fields = await this.#gateway.run(() => this.#gateway.redis.hgetall(blockedKey(this.#prefix, subscription, partition)));
    const out: StoredPartition = { blocks: new Map(), requests: new Map(), skipped: new Map() };
    for (const [field, value] of Object.entries(fields)) {
      if (field.startsWith('b:')) {
        const block: unknown = JSON.parse(value);
        if (isBlock(block)) out.blocks.set(groupOf(field), block);
      } else if (field.startsWith('r:')) {
        const [action, offset] = value.split('@');
        if ((action === 'retry' || action === 'skip') && offset !== undefined) out.requests.set(groupOf(field), { action, offset });
      } else if (field.startsWith('s:')) {
        const offsets: unknown = JSON.parse(value);
        if (isOffsets(offsets)) out.skipped.set(field.slice(2), offsets);
      }
    }
    return out;
  }

  async save(subscription: string, partition: number, group: string | null, block: StoredBlock): Promise<void> {
    const skipOfHead = block.offsets[0] === undefined ? [] : [skipField(block.offsets[0])];
    await this.#write(subscription, partition, [blockField(group), JSON.stringify(block)], skipOfHead);
  }

  async request(subscription: string, partition: number, group: string | null, request: UnblockRequest): Promise<void> {
    await this.#write(subscription, partition, [requestField(group), `${request.action}@${request.offset}`]);
  }

  async remove(subscription: string, partition: number, group: string | null, head?: string): Promise<void> {
    const key = blockedKey(this.#prefix, subscription, partition);
    const fields = [blockField(group), requestField(group), ...(head === undefined ? [] : [skipField(head)])];
    await this.#gateway.run(() => this.#gateway.redis.hdel(key, ...fields));
  }

  async skip(subscription: string, partition: number, group: string | null, offsets: readonly string[]): Promise<void> {
    await this.#write(subscription, partition, [skipField(offsets[0] ?? ''), JSON.stringify(offsets)], [blockField(group), requestField(group)]);
  }

  async forgetSkips(subscription: string, partition: number, firstOffsets: readonly string[]): Promise<void> {
    if (firstOffsets.length === 0) return;
    const key = blockedKey(this.#prefix, subscription, partition);
    await this.#gateway.run(() => this.#gateway.redis.hdel(key, ...firstOffsets.map(skipField)));
  }

  /** Sets one field and deletes `remove` in one MULTI, renewing the backstop expiry. */
  async #write(subscription: string, partition: number, [field, value]: [string, string], remove: string[] = []): Promise<void> {
    const key = blockedKey(this.#prefix, subscription, partition);
    await this.#gateway.run(async () => {
      const multi = this.#gateway.redis.multi().hset(key, field, value);
      if (remove.length > 0) multi.hdel(key, ...remove);
      const replies = await multi.expire(key, EXPIRE_SECONDS).exec();
      const failed = replies?.find(([err]) => err !== null)?.[0];
      if (failed) throw failed;
    });
  }
}
