import { createServer, type Server, type ServerOptions } from 'node:http';
import type { AddressInfo } from 'node:net';
import { replicaAcksOf, type SidecarOptions } from './config/options.ts';
import { createApp, createOpsApp } from './http/app.ts';
import { HealthChecker } from './http/health.ts';
import { isLoopbackName } from './http/same-origin-guard.ts';
import { PartitionWriter } from './writer/partition-writer.ts';
import { defaultPartitioner } from './produce/key-partitioner.ts';
import { createKafkaEngine, createLogTopicClient } from './kafka/create-engine.ts';
import { kafkaConnection, type KafkaConnection } from './kafka/kafka-connection.ts';
import type { KafkaEngine } from './kafka/kafka-engine.ts';
import { KafkaRouteLog } from './kafka/kafka-route-log.ts';
import { TopicMetadata } from './kafka/topic-metadata.ts';
import { kafkaFailureCause } from './kafka/connection-problem.ts';
import { warnWeakKafkaSecurity } from './kafka/kafka-security.ts';
import { ListenerCheck } from './kafka/listener-probe.ts';
import type { Logger } from './logging/logger.ts';
import { SidecarMetrics } from './metrics/sidecar-metrics.ts';
import { LoadsRefresher } from './routing/load-refresher.ts';
import { SidecarError } from './errors/sidecar-error.ts';
import { ProduceService } from './produce/produce-service.ts';
import { RouterStore } from './redis/router-store.ts';
import { RedisDedupStore } from './redis/dedup-store.ts';
import { RedisGateway } from './redis/redis-gateway.ts';
import { ReplicatedWrites } from './redis/replica-acks.ts';
import { createRedisClient, type CommandBehaviour, type RedisClient } from './redis/redis-connection.ts';
import { DedupWindow } from './dedup/dedup-window.ts';
import { MappingCleaner } from './routing/cleanup.ts';
import { OrderedMessageRouter } from './routing/router.ts';
import { VERSION } from './version.ts';
import { RedisAdminStore } from './redis/redis-admin-store.ts';
import { AdminService } from './admin/index.ts';
import { warnIfAdminExposed } from './http/bearer-token.ts';
import { loadSubscriptions } from './consume/subscriptions.ts';
import { RedisBlockedStore } from './redis/blocked-store.ts';
import { RedisLeaseStore } from './redis/lease-store.ts';
import { bearerTokens } from './config/secret-file.ts';
import { startTracing } from './tracing/start-tracing.ts';

export interface RunningSidecar {
  url: string;
  /** The ops listener (OPS_PORT): /metrics, /healthz, /readyz. Undefined with one port. */
  opsUrl?: string | undefined;
  server: Server;
  router: OrderedMessageRouter;
  metrics: SidecarMetrics;
  /** Stops accepting, drains in-flight requests, flushes Kafka and Redis, disconnects. Idempotent. */
  close(): Promise<void>;
}

export async function startSidecar(options: SidecarOptions, log: Logger): Promise<RunningSidecar> {
  // A bad subscriptions file stops the start before anything connects (SubscriptionsError, one line).
  // `config check` runs the same two calls (src/cli/config-command.ts), so it refuses what this start refuses.
  const subscriptions = loadSubscriptions(options);
  // A token from a file is read again when the file changes (a rotated secret); one given directly is fixed. An unreadable
  // or empty file stops the start here, before anything connects.
  const { apiToken, adminToken } = bearerTokens(options, log);
  const metrics = new SidecarMetrics();
  // Before anything that makes spans; with tracing off the SDK is never loaded.
  const tracing = await startTracing(options.tracing, process.env, VERSION, log);
  warnWeakKafkaSecurity(options, log);
  const connection = kafkaConnection(options);
  const kafka = await createKafkaEngine(
    options.kafkaClient,
    connection,
    { writeTimeoutMs: options.kafkaWriteTimeoutMs, compression: options.kafkaCompression },
    log,
  );
  // Fail fast when Redis is away (no offline queue; RedisGateway bounds each command): the router then
  // degrades at once instead of holding requests; ioredis keeps reconnecting in the background.
  const behaviour = { maxRetriesPerRequest: 1, enableOfflineQueue: false, keepAlive: 5000 } as const;
  const redis = createRedisClient(options, { ...behaviour, connectionName: 'ordered-sidecar' });
  logConnectionErrors(redis, 'Redis connection', log);
  // A sidecar that never reached Redis has no route it can prove: not ready until it does (src/http/health.ts).
  let redisReached = false;
  redis.once('ready', () => (redisReached = true));
  await waitForRedis(redis, log);

  const gateway = new RedisGateway(redis, { commandTimeoutMs: options.redisCommandTimeoutMs });
  const replicated = await replicatedWrites(options, behaviour, log);
  const store = new RouterStore(gateway, options.redisPrefix, replicated);
  const metadata = new TopicMetadata((topic) => kafka.partitionCount(topic), options.metadataRefreshMs);
  const routeLog = options.routeLog ? await createRouteLog(options, connection, kafka, metrics, log) : undefined;
  const router = new OrderedMessageRouter(store, (topic, how) => metadata.partitionCount(topic, how), { ...options, routeLog }, metrics, log);
  const cleaner = new MappingCleaner(store, options, metrics, log, routeLog);
  const writer = new PartitionWriter(kafka, { ...options, maxQueueWaitMs: options.kafkaWriteTimeoutMs, lingerMs: options.kafkaLingerMs }, metrics);
  // A retry waits for an earlier attempt at most as long as that attempt's write could take behind one batch.
  const dedup = new DedupWindow(
    new RedisDedupStore(gateway, options.redisPrefix, options.dedupWindowMs),
    { leaseMs: options.dedupLeaseMs, pollMs: 100, maxWaitMs: 2 * options.kafkaWriteTimeoutMs },
    log,
  );
  const produce = new ProduceService({
    router,
    partitionCount: (t, how) => metadata.partitionCount(t, how),
    recheckTopic: (t) => metadata.recheck(t),
    routeLogTopic: options.routeLog ? options.routeLogTopic : undefined,
    writer,
    keyPartitioner: defaultPartitioner(),
    metrics,
    limits: options,
    dedup,
    log,
    maxQueuedBytes: options.maxQueuedBytes,
  });
  // "Cannot connect to any broker" may be TLS meeting a plaintext listener or the reverse: the brokers are asked.
  const listeners = new ListenerCheck(options.kafkaBrokers, connection.security.tls !== undefined, connection.problem, log);
  const kafkaFailed = (err: unknown): never => {
    listeners.afterFailure();
    throw err;
  };
  const health = new HealthChecker(
    { kafka: () => kafka.ping().catch(kafkaFailed), redis: () => redis.ping() },
    kafka.name,
    metrics,
    { degraded: () => router.degraded, redisReached: () => redisReached || redis.status === 'ready' },
    connection.problem,
    log,
  );

  // Scrapes read the loads from memory; this refreshes them in the background (docs/operations.md, "Metrics").
  const loads = new LoadsRefresher(store, (topic) => metadata.partitionCount(topic).catch(unknownTopicAsUndefined), options, metrics, log);

  // Kafka may still be starting next to us; connect in the background and let /readyz say when it is up.
  void kafka.connect().catch((err: unknown) => {
    // An authentication or certificate failure was logged once already, with its cause.
    if (!kafkaFailureCause(err)) log.warn('Kafka not reachable yet; will retry on demand', { err });
    listeners.afterFailure();
  });
  // The route log's topic is made (or found) before the first new group needs it; a failure is retried then.
  void routeLog?.ready().catch(() => undefined);
  router.start();
  cleaner.start();
  dedup.start();
  loads.start();

  // Consumption starts after the produce path exists: dead letters go through it.
  // Loaded only with subscriptions: the consumer and its client library would only take memory otherwise.
  const consumption =
    subscriptions.length === 0
      ? undefined
      : (await import('./consumption.ts')).createConsumption({
          subscriptions,
          produce,
          registry: metrics.registry,
          blocked: new RedisBlockedStore(gateway, options.redisPrefix),
          leases: new RedisLeaseStore(gateway, options.redisPrefix),
          options,
          log,
        });
  consumption?.service.start();

  const adminService = new AdminService({
    store: new RedisAdminStore(gateway, options.redisPrefix, store),
    partitionCount: (t) => metadata.partitionCount(t),
    forget: (t, g) => router.forget(t, g),
    routeLog,
    rebuild: (t) => router.rebuild(t),
    resume: (t) => router.resume(t),
    options,
    log,
  });
  warnIfAdminExposed({ host: options.host, apiToken, adminToken }, log);

  let draining = false;
  const app = createApp({
    produce,
    health,
    metrics,
    log,
    version: VERSION,
    kafkaClient: kafka.name,
    maxBodyBytes: options.maxBodyBytes,
    maxInflightBodyBytes: options.maxInflightBodyBytes,
    acceptEncodedBodies: options.acceptEncodedBodies,
    dedupWindowMs: options.dedupWindowMs,
    isDraining: () => draining,
    admin: {
      service: adminService,
      token: adminToken,
      consume: consumption?.service,
      overview: { version: VERSION, kafkaClient: kafka.name, kafkaWrites: () => metrics.kafkaWrites() },
    },
    consume: consumption?.service,
    apiToken,
    loopbackBind: isLoopbackName(options.host),
    metricsApart: options.opsPort !== undefined,
    console: options.console,
  });
  const server = createServer(readDeadlines(options.requestReadTimeoutMs), app);
  server.keepAliveTimeout = 65_000;
  const url = await listen(server, options.port, options.host, 'main');
  // Its own server, so Prometheus and the kubelet reach it while /v1 and /admin/v1 stay on loopback; it keeps
  // answering /healthz and /metrics through the drain and closes last.
  const opsServer =
    options.opsPort === undefined
      ? undefined
      : createServer(
          readDeadlines(options.requestReadTimeoutMs),
          createOpsApp({ health, metrics, log, maxBodyBytes: options.maxBodyBytes, isDraining: () => draining, consume: consumption?.service }),
        );
  const opsUrl =
    opsServer &&
    (await listen(opsServer, options.opsPort ?? 0, options.opsHost, 'ops').catch(async (err: unknown) => {
      await new Promise((resolve) => server.close(resolve));
      throw err;
    }));
  log.info('ordered-sidecar listening', {
    url,
    ...(opsUrl === undefined ? {} : { opsUrl }),
    version: VERSION,
    kafkaClient: kafka.name,
    kafkaBrokers: options.kafkaBrokers,
    redis: redisDescription(options),
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      draining = true;
      log.info('shutting down: draining in-flight requests');
      // Consumption drains alongside the HTTP server: stop fetching, finish in-flight deliveries, commit.
      const consumed = consumption?.service.stop(options.shutdownGraceMs);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // A keep-alive connection whose request finishes during the drain turns idle, and would otherwise hold
      // the server open until its keep-alive timeout; close such connections as they turn idle.
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      const grace = setTimeout(() => {
        log.warn('shutdown grace period over; closing remaining connections', { graceMs: options.shutdownGraceMs });
        server.closeAllConnections();
      }, options.shutdownGraceMs);
      await closed;
      clearInterval(sweep);
      clearTimeout(grace);
      await consumed;
      await consumption?.close();
      await writer.idle();
      dedup.stop();
      // A cleanup round under way finishes (its releases go to the route log, then it reads the groups back):
      // its Redis and Kafka calls are bounded by their timeouts, and it ran beside the drain.
      const cleaned = within(
        cleaner.stop().then(() => true),
        options.redisCommandTimeoutMs + 2 * options.kafkaWriteTimeoutMs,
        false,
      );
      // The rest of Redis's part takes one REDIS_COMMAND_TIMEOUT in all: against a frozen or cut-off Redis each
      // command waits that long, the last touch flush sends one per topic, and QUIT's reply never comes. What is
      // left unsent then is last-access times a second old (within the TTL), a loads read, and the rest of an
      // outage's recovery: routes hashed during it that this replica had not yet recorded.
      const redisStarted = performance.now();
      const stopped = await within(
        Promise.allSettled([router.stop(), loads.stop()]).then(() => true),
        options.redisCommandTimeoutMs,
        false,
      );
      const redisSpent = performance.now() - redisStarted;
      if (!stopped)
        log.warn('the last touches, loads read or recording of routes hashed in an outage did not end in time; shutting down without them', {
          timeoutMs: options.redisCommandTimeoutMs,
        });
      if (!(await cleaned)) log.warn('a cleanup round was still running at the end of its bound; shutting down without its end');
      await routeLog?.close();
      await kafka.close();
      if (opsServer) {
        opsServer.closeAllConnections();
        await new Promise((resolve) => opsServer.close(resolve));
      }
      const quitWithin = Math.max(0, options.redisCommandTimeoutMs - redisSpent);
      await Promise.all(
        [redis, replicated?.gateway.redis].map(async (client) => {
          if (!client) return;
          const quit = client.quit().then(
            () => true,
            () => false,
          );
          if (!(await within(quit, quitWithin, false))) client.disconnect();
        }),
      );
      // Last, so the spans of the drained requests and deliveries are exported too.
      await tracing?.shutdown().catch((err: unknown) => log.warn('exporting the last spans failed', { err }));
      log.info('shut down cleanly');
    })());

  return { url, opsUrl, server, router, metrics, close };
}

/**
 * A listener that could not bind: which one (the main one, HOST and PORT, or the ops one, OPS_HOST and OPS_PORT),
 * where it tried and the system's code, so the CLI can name the options to check. The Node error is the cause.
 */
export class ListenError extends Error {
  override name = 'ListenError';
  readonly listener: 'main' | 'ops';
  readonly code: string | undefined;

  constructor(listener: 'main' | 'ops', address: string, port: number, cause: NodeJS.ErrnoException) {
    const where = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
    const [what, options] = listener === 'ops' ? [' for the ops listener', 'OPS_HOST and OPS_PORT'] : ['', 'HOST and PORT'];
    super(`cannot listen on ${where}${what} (${cause.code ?? cause.message}); check ${options}`, { cause });
    this.listener = listener;
    this.code = cause.code;
  }
}

/**
 * A request must be read within `requestReadTimeoutMs` (Node answers 408 and closes the connection), checked every
 * second: Node's defaults (5 min, checked every 30 s) let a stalled upload hold its body's reservation for minutes.
 */
const readDeadlines = (requestReadTimeoutMs: number): ServerOptions => ({
  requestTimeout: requestReadTimeoutMs,
  // headersTimeout follows it (Node takes the lower of 60 s and requestTimeout).
  connectionsCheckingInterval: 1000,
});

/** Listens on `port` at `host`; resolves with the URL it answers at (the port the system chose for 0). */
async function listen(server: Server, port: number, host: string, listener: ListenError['listener']): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    // Node's listen errors carry the address and port it tried (a host name resolved); those are what is busy.
    server.once('error', (err: NodeJS.ErrnoException & { address?: string; port?: number }) =>
      reject(new ListenError(listener, err.address ?? host, err.port ?? port, err)),
    );
    server.listen(port, host, () => resolve());
  });
  const { address, port: bound } = server.address() as AddressInfo;
  return `http://${address.includes(':') ? `[${address}]` : address}:${bound}`;
}

/** Kafka saying it has no such topic is an answer (undefined) to the loads refresh, not a failure. */
function unknownTopicAsUndefined(err: unknown): undefined {
  if (err instanceof SidecarError && err.code === 'UNKNOWN_TOPIC') return undefined;
  throw err;
}

/** The route log (ROUTE_LOG): written through the sidecar's engine with a writer of its own, read with the engine's client library. */
async function createRouteLog(
  options: SidecarOptions,
  connection: KafkaConnection,
  kafka: KafkaEngine,
  metrics: SidecarMetrics,
  log: Logger,
): Promise<KafkaRouteLog> {
  const writer = new PartitionWriter(
    kafka,
    { maxBatchMessages: options.maxBatchMessages, maxBatchBytes: options.maxBatchBytes, maxQueueWaitMs: options.kafkaWriteTimeoutMs },
    metrics,
  );
  return new KafkaRouteLog(
    writer,
    await createLogTopicClient(options.kafkaClient, connection, log),
    (topic) => kafka.partitionCount(topic),
    {
      topic: options.routeLogTopic,
      prefix: options.redisPrefix,
      replicationFactor: options.routeLogReplicationFactor,
      readTimeoutMs: options.routeLogReadTimeoutMs,
    },
    log,
  );
}

/**
 * Route writes that replicas must acknowledge (REDIS_REPLICA_ACKS), on a second connection: their WAITs block
 * the connection they run on. A command on it may wait behind one WAIT, so its deadline is that much longer.
 */
async function replicatedWrites(options: SidecarOptions, behaviour: CommandBehaviour, log: Logger): Promise<ReplicatedWrites | undefined> {
  const replicas = replicaAcksOf(options);
  if (replicas === 0) return undefined;
  const client = createRedisClient(options, { ...behaviour, connectionName: 'ordered-sidecar-routes' });
  logConnectionErrors(client, 'Redis route connection', log);
  await waitForRedis(client, log);
  const gateway = new RedisGateway(client, { commandTimeoutMs: options.redisCommandTimeoutMs + options.redisReplicaAckTimeoutMs });
  return new ReplicatedWrites(gateway, { replicas, timeoutMs: options.redisReplicaAckTimeoutMs });
}

/** One warning per disconnection, not one per reconnect attempt. */
function logConnectionErrors(client: RedisClient, name: string, log: Logger): void {
  let logged = false;
  client.on('error', (err: Error) => {
    if (!logged) log.warn(`${name} error (repeats are not logged until it reconnects)`, { err });
    logged = true;
  });
  client.on('ready', () => {
    if (logged) log.info(`${name} ready`);
    logged = false;
  });
}

/** Starting degraded because Redis is a moment slower than us would be needless; wait a little, then go on. */
async function waitForRedis(redis: RedisClient, log: Logger): Promise<void> {
  if (redis.status === 'ready') return;
  const ready = new Promise<boolean>((resolve) => redis.once('ready', () => resolve(true)));
  if (!(await within(ready, 5000, false))) log.warn('Redis not reachable at start; routing starts in degraded mode until it is');
}

/** Where Redis is, for the start-up line: never a password. */
function redisDescription(options: SidecarOptions): string {
  if (options.redisClusterNodes) return `cluster ${options.redisClusterNodes.join(',')}`;
  if (options.redisSentinels) return `sentinel master ${options.redisSentinelMaster} via ${options.redisSentinels.join(',')}`;
  // Re-serialised so a password holds no "@", "/" or space (percent-encoded): the logger's URL scrubbing then
  // censors all of it, in the userinfo and in the query (?password=, test/e2e/startup-log.test.ts).
  return new URL(options.redisUrl).toString();
}

/** What `work` resolves to, or `timedOut` once `ms` have passed first. */
async function within<T>(work: Promise<T>, ms: number, timedOut: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<T>((resolve) => (timer = setTimeout(() => resolve(timedOut), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
