import calculateSlot from 'cluster-key-slot';
import { Cluster, type Redis } from 'ioredis';
import { StoreNotReplicatedError } from '../errors/store-errors.ts';
import type { RedisClient } from './redis-connection.ts';
import type { RedisGateway } from './redis-gateway.ts';

/** How many replicas must hold a route before anything is produced on it, and how long to wait for them. */
export interface ReplicaAckOptions {
  replicas: number;
  timeoutMs: number;
}

/** A write answered on one node connection: the WAITs sent there before its reply, and the socket it came on. */
interface Ticket {
  waitsBefore: number;
  socket: unknown;
}

/** A WAIT sent on one node connection: its number there, and its answer. */
interface Wait {
  id: number;
  socket: unknown;
  replicas: Promise<number>;
}

/**
 * The WAITs of one node connection, coalesced. A WAIT answers for every write its connection made before it
 * (the client's write offset), but blocks that connection on the server until it returns: one WAIT in flight
 * at a time. A write whose reply came before the in-flight WAIT was sent shares it; a later one cannot know
 * whether that WAIT came after it on the wire, so it joins the next WAIT, sent when the current one returns.
 * Deciding by the reply rather than by the send is what keeps ioredis's resends (EVALSHA then EVAL after a
 * NOSCRIPT, a resend after a reconnect) from slipping a write in behind a WAIT that counted it.
 */
class AckWaiter {
  readonly #node: Redis;
  readonly #wait: () => Promise<number>;
  #sent = 0;
  #inFlight: Wait | undefined;
  #next: PromiseWithResolvers<Wait> | undefined;

  constructor(node: Redis, wait: () => Promise<number>) {
    this.#node = node;
    this.#wait = wait;
  }

  /** Call as the write's reply arrives (its first continuation), before any other caller can send a WAIT. */
  answered(): Ticket {
    return { waitsBefore: this.#sent, socket: this.#node.stream };
  }

  /**
   * Replicas that acknowledged the ticket's write. 0 when the connection was replaced meanwhile: a WAIT on a
   * new connection answers for that connection's writes (none), not for this one.
   */
  async acked(ticket: Ticket): Promise<number> {
    const wait = await this.#waitAfter(ticket.waitsBefore);
    const replicas = await wait.replicas;
    return wait.socket === ticket.socket ? replicas : 0;
  }

  #waitAfter(waitsBefore: number): Wait | Promise<Wait> {
    const current = this.#inFlight;
    if (current === undefined) return this.#send();
    if (current.id > waitsBefore) return current;
    this.#next ??= Promise.withResolvers<Wait>();
    return this.#next.promise;
  }

  #send(): Wait {
    const wait: Wait = { id: ++this.#sent, socket: this.#node.stream, replicas: this.#wait() };
    this.#inFlight = wait;
    const settled = (): void => {
      this.#inFlight = undefined;
      const next = this.#next;
      this.#next = undefined;
      next?.resolve(this.#send());
    };
    wait.replicas.then(settled, settled);
    return wait;
  }
}

/**
 * Writes that must reach replicas before the sidecar acts on them (route-3, record-3, and the touches that
 * confirm cached routes), on a connection of their own: a WAIT blocks every command queued behind it, which
 * must not be the dedup and generation traffic of the shared connection. A write resolves once `replicas` replicas acknowledged it,
 * or fails with StoreNotReplicatedError. On a Cluster the WAIT goes to the master of the key's slot, over
 * the node connection the write ran on.
 */
export class ReplicatedWrites {
  readonly gateway: RedisGateway;
  readonly #options: ReplicaAckOptions;
  readonly #waiters = new WeakMap<Redis, AckWaiter>();

  constructor(gateway: RedisGateway, options: ReplicaAckOptions) {
    this.gateway = gateway;
    this.#options = options;
  }

  async write<T>(key: string, call: (redis: RedisClient) => Promise<T>): Promise<T> {
    const node = this.#masterOf(key);
    let ticket: Ticket | undefined;
    const result = await this.gateway.run(() =>
      call(this.gateway.redis).then((reply) => {
        ticket = node && this.#waiter(node).answered();
        return reply;
      }),
    );
    // The slot table changes on a MOVED (ioredis then resent the write elsewhere) or a refresh after a
    // failover: which node ran the write is then unknown, and a WAIT elsewhere would confirm nothing.
    if (node === undefined || ticket === undefined || this.#masterOf(key) !== node) {
      throw new StoreNotReplicatedError('the master of the Redis Cluster slot was unknown or changed while the write ran; its replication cannot be confirmed');
    }
    const { replicas, timeoutMs } = this.#options;
    const acked = await this.#waiter(node).acked(ticket);
    if (acked < replicas) {
      throw new StoreNotReplicatedError(`${acked} of the ${replicas} required Redis replicas acknowledged the write within ${timeoutMs} ms`);
    }
    return result;
  }

  #waiter(node: Redis): AckWaiter {
    let waiter = this.#waiters.get(node);
    if (!waiter) {
      const { replicas, timeoutMs } = this.#options;
      waiter = new AckWaiter(node, () => this.gateway.run(() => node.wait(replicas, timeoutMs)));
      this.#waiters.set(node, waiter);
    }
    return waiter;
  }

  /** The connection that writes `key`: the client itself, or on a Cluster its master node of the key's slot (as ioredis routes it). */
  #masterOf(key: string): Redis | undefined {
    const redis = this.gateway.redis;
    if (!(redis instanceof Cluster)) return redis;
    const master = redis.slots[calculateSlot(key)]?.[0];
    return master === undefined ? undefined : redis.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === master);
  }
}
