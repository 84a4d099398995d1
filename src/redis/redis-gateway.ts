import { Cluster, ReplyError } from 'ioredis';
import type { RedisClient } from './redis-connection.ts';
import { StoreBusyError, StoreRefusedError, StoreUnreachableError } from '../errors/store-errors.ts';
import { registerScripts } from './scripts.ts';

/** Consecutive unanswered commands that count as an outage even while the connection looks open. */
const TIMEOUTS_BEFORE_OUTAGE = 3;

/**
 * The base class of the errors ioredis raises itself (redis-errors' RedisError): its connection aborts
 * (AbortError, MaxRetriesPerRequestError, InterruptError), parse failures, and Redis's own error replies.
 */
const RedisError: abstract new (...args: never[]) => Error = Object.getPrototypeOf(ReplyError);

/**
 * Error codes with which Redis says it cannot serve a command now but will shortly (StoreBusyError): a slot being
 * moved between Cluster masters (ASK, TRYAGAIN, MOVED), a Cluster or master failing over (CLUSTERDOWN, MASTERDOWN,
 * READONLY from a master demoted to replica), a node loading its data set (LOADING), a script still running (BUSY).
 */
const TRANSIENT_REPLY_CODES: ReadonlySet<string> = new Set(['ASK', 'TRYAGAIN', 'MOVED', 'CLUSTERDOWN', 'MASTERDOWN', 'READONLY', 'LOADING', 'BUSY']);

/**
 * The error code of a Redis error reply. This is the protocol's own field, not free text: RESP defines the first
 * word of an error reply, up to the first space, as the kind of error (`-TRYAGAIN Multiple keys request...`), and
 * ioredis keeps the reply unchanged as the ReplyError's message (it reads the same word to follow redirections).
 * ioredis has no field or class for it, so this is the one place that reads it.
 */
const replyCode = (reply: Error): string => reply.message.split(' ', 1)[0]!;

/** Our own deadline on a command (ioredis's commandTimeout raises a plain Error that only its text tells apart). */
class CommandDeadline extends Error {}

/**
 * The sidecar's one way to its Redis connection: it registers every script (scripts.ts), and every command
 * goes through `run`, which bounds it by the command timeout and says
 * what a failure means: unreachable (connection-level: refused, lost, or unanswered), busy (Redis answered
 * that it cannot serve the command now: a slot moving, a failover), refused (any other error reply), or neither, which is let through unchanged (a programming error is a 500,
 * never an outage).
 */
export class RedisGateway {
  readonly redis: RedisClient;
  readonly #commandTimeoutMs: number;
  #unanswered = 0;

  constructor(redis: RedisClient, { commandTimeoutMs = 2000 }: { commandTimeoutMs?: number } = {}) {
    this.redis = redis;
    this.#commandTimeoutMs = commandTimeoutMs;
    registerScripts(redis);
  }

  async run<T>(call: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CommandDeadline()), this.#commandTimeoutMs);
    });
    try {
      const result = await Promise.race([call(), deadline]);
      this.#unanswered = 0;
      return result;
    } catch (err) {
      throw this.#classify(err);
    } finally {
      clearTimeout(timer);
    }
  }

  #classify(err: unknown): unknown {
    if (err instanceof CommandDeadline) {
      this.#unanswered++;
      const outage = !this.#connected() || this.#unanswered >= TIMEOUTS_BEFORE_OUTAGE;
      return new StoreUnreachableError(`Redis did not answer within ${this.#commandTimeoutMs} ms (${this.#unanswered} in a row)`, { outage });
    }
    if (err instanceof ReplyError) {
      const reply = err as Error; // ioredis exports ReplyError as a value only
      if (TRANSIENT_REPLY_CODES.has(replyCode(reply))) return new StoreBusyError(`Redis cannot serve the command now: ${reply.message}`, { cause: err });
      return new StoreRefusedError(`Redis refused the command: ${reply.message}`, { cause: err });
    }
    // ioredis rejects commands with its own abort classes, or with a plain Error when the connection is not
    // (or no longer) usable: closed, reconnecting, or its socket ended before ioredis noticed.
    // A Cluster client stays 'ready' while the master of one slot is gone; its plain Errors are routing and
    // node connection failures ("Too many Cluster redirections. Last error: Connection is closed.", "Cluster
    // isn't ready"): outages of that slot. Unless every master is connected: then no node is lost, and the client
    // gave up following MOVED/ASK/TRYAGAIN/CLUSTERDOWN, as it does while a slot moves between masters for longer
    // than its redirections last. The store answers then: degraded routing or an unchecked dedup write would be wrong.
    const plainError = err instanceof Error && Object.getPrototypeOf(err) === Error.prototype;
    if (plainError && this.#everyMasterConnected()) {
      return new StoreBusyError('the Redis Cluster kept redirecting the command while every master is connected (a slot moving?)', { cause: err });
    }
    if (err instanceof RedisError || (plainError && (this.redis instanceof Cluster || !this.#connected()))) {
      return new StoreUnreachableError(`Redis connection unavailable (${this.redis.status})`, { outage: true, cause: err });
    }
    return err;
  }

  /**
   * The Cluster client is ready and holds a ready connection to every master of its slot map ('wait': a node it
   * has not needed yet, so nothing says it is lost).
   */
  #everyMasterConnected(): boolean {
    if (!(this.redis instanceof Cluster) || this.redis.status !== 'ready') return false;
    return this.redis.nodes('master').every((node) => node.status === 'ready' || node.status === 'wait');
  }

  /** The connection as ioredis holds it: ready, and (one Redis) its socket still open for writing. */
  #connected(): boolean {
    if (this.redis instanceof Cluster) return this.redis.status === 'ready';
    const { status, stream } = this.redis;
    return status === 'ready' && stream.writable && !stream.writableEnded;
  }
}
