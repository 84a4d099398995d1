import type { RedisGateway } from './redis-gateway.ts';
import { topicKeys } from './keys.ts';
import type { ClaimState, DedupStore, HeldClaim, Outcome } from '../dedup/dedup-store.ts';

/**
 * Slices per window. A claim reads this many slices plus two: the one after the newest by its clock (for writers
 * whose clocks run ahead) and one more before the window (for a reader whose own clock runs ahead), so clock skew
 * between replicas up to a slice either way shortens the window by nothing.
 */
const SLICES_PER_WINDOW = 5;

/** The deduplication window in Redis. */
export class RedisDedupStore implements DedupStore {
  readonly #gateway: RedisGateway;
  readonly #prefix: string;
  readonly #sliceMs: number;
  readonly #ttlSeconds: number;

  constructor(gateway: RedisGateway, prefix: string, windowMs: number) {
    this.#gateway = gateway;
    this.#prefix = prefix;
    this.#sliceMs = Math.max(1000, Math.ceil(windowMs / SLICES_PER_WINDOW));
    // Counted from a slice's last write (every claim and settle renews it). Claims read a slice until their clock
    // is the window plus two slices past the slice's start; a writer whose clock ran a slice ahead wrote it as
    // much earlier: one slice more.
    this.#ttlSeconds = Math.ceil((windowMs + 3 * this.#sliceMs) / 1000);
  }

  /** Claims `ids`; new claims are written to `sliceKey`, which renewals must name. */
  async claim(topic: string, ids: readonly string[], owner: string, leaseMs: number, now = Date.now()): Promise<{ states: ClaimState[]; sliceKey: string }> {
    const keys = topicKeys(this.#prefix, topic);
    const newest = Math.floor(now / this.#sliceMs);
    // The newest slice by our clock takes new claims; the one after it holds what replicas whose clocks run
    // ahead wrote, and the window's slices plus one older one cover a window that started before our clock
    // says (our clock ahead of the writer's). The script reads them all, so skew up to a slice hides nothing.
    const slices = [
      keys.dedupSlice(newest),
      keys.dedupSlice(newest + 1),
      ...Array.from({ length: SLICES_PER_WINDOW + 1 }, (_, i) => keys.dedupSlice(newest - 1 - i)),
    ];
    const raw = await this.#gateway.run(() => this.#gateway.redis.osDedupClaim(slices.length, ...slices, leaseMs, owner, this.#ttlSeconds, ...ids));
    return { states: raw.map(parseState), sliceKey: slices[0]! };
  }

  /** Extends the leases of claims still held by `owner`; returns how many were renewed. */
  async renew(claims: readonly HeldClaim[], owner: string, leaseMs: number): Promise<number> {
    if (claims.length === 0) return 0;
    return this.#gateway.run(() =>
      this.#gateway.redis.osDedupRenew(claims.length, ...claims.map((c) => c.sliceKey), owner, leaseMs, ...claims.map((c) => c.id)),
    );
  }

  /**
   * Records outcomes in the slice that holds each claim (`sliceKey`, from `claim`), overwriting its pending
   * state; an outcome without one goes to the newest slice.
   */
  async settle(topic: string, outcomes: readonly (Outcome & { sliceKey?: string })[], now = Date.now()): Promise<void> {
    const newest = topicKeys(this.#prefix, topic).dedupSlice(Math.floor(now / this.#sliceMs));
    const bySlice = new Map<string, string[]>();
    for (const o of outcomes) {
      const slice = o.sliceKey ?? newest;
      const pairs = bySlice.get(slice) ?? [];
      if (pairs.length === 0) bySlice.set(slice, pairs);
      pairs.push(o.id, 'released' in o ? 'r' : `d:${o.partition}:${o.offset}`);
    }
    for (const [slice, pairs] of bySlice) await this.#gateway.run(() => this.#gateway.redis.osDedupSettle(slice, this.#ttlSeconds, ...pairs));
  }
}

function parseState(raw: string): ClaimState {
  if (raw === 'c') return { kind: 'claimed' };
  const [kind, a, ...rest] = raw.split(':');
  if (kind === 'd') return { kind: 'done', partition: Number(a), offset: rest[0]! };
  return { kind: 'pending', deadline: Number(a), owner: rest.join(':') };
}
