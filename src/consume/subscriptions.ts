import { readFileSync } from 'node:fs';
import { MAX_TIMER_MS } from '../retry/retry.ts';
import { parseDuration } from '../config/parse-duration.ts';
import { readSecretFile } from '../config/secret-file.ts';
import { topicNameProblem } from '../protocol/topic-name.ts';
import { readCaBundle } from './endpoint-ca.ts';

/** What to do with a delivery that failed `max_attempts` times. */
export type OnExhausted = 'dead-letter' | 'block';

/** One entry of the subscriptions file, with its defaults applied (see docs/consumption.md). */
export interface Subscription {
  name: string;
  topic: string;
  consumerGroup: string;
  endpoint: string;
  /** Where a consumer group without a committed offset starts. */
  startFrom: 'earliest' | 'latest';
  /** Most MessageGroups with a delivery in flight at once, per sidecar. */
  maxInFlightGroups: number;
  /** Most consecutive messages of one group in one delivery. */
  batchMaxMessages: number;
  ackTimeoutMs: number;
  maxAttempts: number;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  onExhausted: OnExhausted;
  /** Set exactly when `onExhausted` is `dead-letter`. */
  deadLetterTopic: string | undefined;
  /** File holding the bearer token each delivery carries (`authorization`); read again when it changes. */
  authTokenFile: string | undefined;
  /** File holding the secret each delivery is signed with (HMAC-SHA256, src/protocol/delivery-signature.ts). */
  signingSecretFile: string | undefined;
  /** PEM CA bundle that verifies an https endpoint's certificate, instead of the system's CAs. */
  endpointCaFile: string | undefined;
}

/** Every field but name, topic, consumer_group and endpoint is optional; these are the defaults (docs/consumption.md). */
const SUBSCRIPTION_DEFAULTS = {
  startFrom: 'earliest',
  maxInFlightGroups: 64,
  batchMaxMessages: 1,
  ackTimeoutMs: 30_000,
  maxAttempts: 5,
  retryBackoffMs: 200,
  retryBackoffMaxMs: 30_000,
  onExhausted: 'dead-letter',
} as const satisfies Partial<Subscription>;

/** A subscriptions file the sidecar cannot start with; the message names the field. */
export class SubscriptionsError extends Error {
  override name = 'SubscriptionsError';
}

const FIELDS = new Set([
  'name',
  'topic',
  'consumer_group',
  'endpoint',
  'start_from',
  'max_in_flight_groups',
  'batch_max_messages',
  'ack_timeout',
  'max_attempts',
  'retry_backoff',
  'retry_backoff_max',
  'on_exhausted',
  'dead_letter_topic',
  'auth_token_file',
  'signing_secret_file',
  'endpoint_ca_file',
]);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads and checks a subscriptions file; any problem is one `SubscriptionsError` line naming the field. */
export function readSubscriptionsFile(path: string): Subscription[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SubscriptionsError(`subscriptions file ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SubscriptionsError(`subscriptions file ${path}: not JSON (${(err as Error).message})`);
  }
  try {
    const subscriptions = parseSubscriptions(json);
    subscriptions.forEach(checkDeliveryAuthFiles);
    return subscriptions;
  } catch (err) {
    if (err instanceof SubscriptionsError) throw new SubscriptionsError(`subscriptions file ${path}: ${err.message}`);
    throw err;
  }
}

/**
 * The files a subscription names are read once here, so that a missing, unreadable or empty one stops the start
 * (and `config check`) with the field named, before anything connects. Only the path and the reason are told.
 */
function checkDeliveryAuthFiles(s: Subscription, i: number): void {
  const check = (field: string, file: string | undefined, read: (file: string) => unknown) => {
    if (file === undefined) return;
    try {
      read(file);
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
      throw new SubscriptionsError(`subscriptions[${i}].${field}: cannot use ${file} (${why})`);
    }
  };
  // As src/consume/delivery-auth.ts reads them (secretFile), so what would stop the consumption stops the start.
  check('auth_token_file', s.authTokenFile, (file) => readSecretFile(file, { bearerToken: true }));
  check('signing_secret_file', s.signingSecretFile, (file) => readSecretFile(file));
  check('endpoint_ca_file', s.endpointCaFile, readCaBundle);
}

/**
 * Every `ack_timeout` must be below the consumer session timeout: a delivery that may outlast the session
 * could outlive this replica's membership (a stalled heartbeat, a drain cut short), and the next owner of
 * its partition would deliver the same group at the same time.
 */
/** The sidecar's settings a subscription must fit. */
export interface SubscriptionLimits {
  consumeSessionTimeoutMs: number;
  /** A dead-lettered delivery is one produce call: its batch must pass the produce path's request limit. */
  maxMessagesPerRequest: number;
}

/** Refuses a subscription the sidecar's settings would make fail at run time, naming the field and the setting. */
export function checkSubscriptionsFit(path: string, subscriptions: readonly Subscription[], limits: SubscriptionLimits): void {
  const refuse = (i: number, what: string) => {
    throw new SubscriptionsError(`subscriptions file ${path}: subscriptions[${i}].${what}`);
  };
  subscriptions.forEach((s, i) => {
    if (s.ackTimeoutMs >= limits.consumeSessionTimeoutMs) {
      refuse(
        i,
        `ack_timeout: ${s.ackTimeoutMs} ms must be below CONSUME_SESSION_TIMEOUT (${limits.consumeSessionTimeoutMs} ms); lower it or raise the session timeout`,
      );
    }
    if (s.deadLetterTopic !== undefined && s.batchMaxMessages > limits.maxMessagesPerRequest) {
      refuse(
        i,
        `batch_max_messages: ${s.batchMaxMessages} must be at most MAX_MESSAGES_PER_REQUEST (${limits.maxMessagesPerRequest}) with a dead_letter_topic: an exhausted delivery is written there in one request; lower it or raise the limit`,
      );
    }
  });
}

/**
 * SUBSCRIPTIONS_FILE read and checked as the start does it, against the sidecar's settings too: one function
 * for `serve` and `config check`, so the check never passes what the start would refuse. None without a file.
 */
export function loadSubscriptions(options: { subscriptionsFile?: string | undefined } & SubscriptionLimits): Subscription[] {
  if (options.subscriptionsFile === undefined) return [];
  const subscriptions = readSubscriptionsFile(options.subscriptionsFile);
  checkSubscriptionsFit(options.subscriptionsFile, subscriptions, options);
  return subscriptions;
}

/** Strict: unknown fields are errors, so a typo never runs silently with a default. */
export function parseSubscriptions(json: unknown): Subscription[] {
  const fail = (field: string, why: string): never => {
    throw new SubscriptionsError(`${field}: ${why}`);
  };
  if (!isRecord(json)) fail('(root)', 'must be an object {"subscriptions": [...]}');
  const root = json as Record<string, unknown>;
  for (const key of Object.keys(root)) if (key !== 'subscriptions') fail(key, 'unknown field');
  const list = root.subscriptions;
  if (!Array.isArray(list)) return fail('subscriptions', 'must be an array');
  const names = new Set<string>();
  return list.map((raw: unknown, i) => {
    const at = (f: string) => `subscriptions[${i}].${f}`;
    if (!isRecord(raw)) fail(`subscriptions[${i}]`, 'must be an object');
    const entry = raw as Record<string, unknown>;
    for (const key of Object.keys(entry)) if (!FIELDS.has(key)) fail(at(key), 'unknown field');
    const text = (f: string): string => {
      const v = entry[f];
      return typeof v === 'string' && v.trim() !== '' ? v : fail(at(f), v === undefined ? 'is required' : 'must be a non-empty string');
    };
    const optionalText = (f: string): string | undefined => (entry[f] === undefined ? undefined : text(f));
    const topicName = (f: string): string => {
      const v = text(f);
      const problem = topicNameProblem(v);
      return problem === undefined ? v : fail(at(f), problem);
    };
    const int = (f: string, dflt: number, min: number, max: number): number => {
      const v = entry[f] ?? dflt;
      return Number.isInteger(v) && (v as number) >= min && (v as number) <= max ? (v as number) : fail(at(f), `must be a whole number from ${min} to ${max}`);
    };
    // Every duration here feeds a timer (the ack deadline, the backoff), and Node fires a longer one at once.
    const duration = (f: string, dflt: number, min: number): number => {
      const v = entry[f];
      if (v === undefined) return dflt;
      const ms = typeof v === 'string' ? parseDuration(v) : undefined;
      if (ms === undefined) return fail(at(f), 'must be a duration string such as "200ms", "30s"');
      if (ms > MAX_TIMER_MS) return fail(at(f), `must be at most ${MAX_TIMER_MS} ms (about 24.8 days), the longest timer Node keeps`);
      return ms >= min ? ms : fail(at(f), `must be at least ${min} ms`);
    };
    const oneOf = <T extends string>(f: string, dflt: T, allowed: readonly T[]): T => {
      const v = entry[f] ?? dflt;
      return (allowed as readonly unknown[]).includes(v) ? (v as T) : fail(at(f), `must be one of ${allowed.join(', ')}`);
    };

    const name = text('name');
    if (names.has(name)) fail(at('name'), `"${name}" is used twice`);
    names.add(name);
    const endpoint = text('endpoint');
    let url: URL | undefined;
    try {
      url = new URL(endpoint);
    } catch {
      fail(at('endpoint'), 'must be an http:// or https:// URL');
    }
    if (url && url.protocol !== 'http:' && url.protocol !== 'https:') fail(at('endpoint'), 'must be an http:// or https:// URL');
    const authTokenFile = optionalText('auth_token_file');
    if (authTokenFile !== undefined && (url?.username || url?.password))
      fail(at('auth_token_file'), 'cannot go with credentials in the endpoint URL (both are the Authorization header)');
    const endpointCaFile = optionalText('endpoint_ca_file');
    if (endpointCaFile !== undefined && url?.protocol !== 'https:') fail(at('endpoint_ca_file'), 'only applies to an https:// endpoint');
    const retryBackoffMs = duration('retry_backoff', SUBSCRIPTION_DEFAULTS.retryBackoffMs, 1);
    const retryBackoffMaxMs = duration('retry_backoff_max', Math.max(SUBSCRIPTION_DEFAULTS.retryBackoffMaxMs, retryBackoffMs), retryBackoffMs);
    const onExhausted = oneOf<OnExhausted>('on_exhausted', SUBSCRIPTION_DEFAULTS.onExhausted, ['dead-letter', 'block']);
    let deadLetterTopic: string | undefined;
    if (onExhausted === 'dead-letter') deadLetterTopic = topicName('dead_letter_topic');
    else if (entry.dead_letter_topic !== undefined) fail(at('dead_letter_topic'), 'only applies with on_exhausted "dead-letter"');
    const topic = topicName('topic');
    if (deadLetterTopic === topic) fail(at('dead_letter_topic'), 'must differ from topic');
    return {
      name,
      topic,
      consumerGroup: text('consumer_group'),
      endpoint,
      startFrom: oneOf('start_from', SUBSCRIPTION_DEFAULTS.startFrom, ['earliest', 'latest']),
      maxInFlightGroups: int('max_in_flight_groups', SUBSCRIPTION_DEFAULTS.maxInFlightGroups, 1, 10_000),
      batchMaxMessages: int('batch_max_messages', SUBSCRIPTION_DEFAULTS.batchMaxMessages, 1, 10_000),
      ackTimeoutMs: duration('ack_timeout', SUBSCRIPTION_DEFAULTS.ackTimeoutMs, 10),
      maxAttempts: int('max_attempts', SUBSCRIPTION_DEFAULTS.maxAttempts, 1, 1_000_000),
      retryBackoffMs,
      retryBackoffMaxMs,
      onExhausted,
      deadLetterTopic,
      authTokenFile,
      signingSecretFile: optionalText('signing_secret_file'),
      endpointCaFile,
    };
  });
}
