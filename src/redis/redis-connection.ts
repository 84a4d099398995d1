import { readFileSync } from 'node:fs';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import { readSecret } from '../config/read-secret.ts';

/** One Redis, a Cluster, or a Sentinel-managed Redis: the stores work with either client. */
export type RedisClient = Redis | Cluster;

/** Where Redis is and how to reach it (the sidecar's options of the same names, checked at start). */
export interface RedisConnectionOptions {
  redisUrl: string;
  redisTls: boolean;
  redisTlsCaFile?: string | undefined;
  redisUsername?: string | undefined;
  redisPassword?: string | undefined;
  redisPasswordFile?: string | undefined;
  redisClusterNodes?: string[] | undefined;
  redisSentinels?: string[] | undefined;
  redisSentinelMaster?: string | undefined;
}

/** How a command behaves when Redis is away; the part of the options the caller decides. */
export type CommandBehaviour = Pick<
  RedisOptions,
  'maxRetriesPerRequest' | 'enableOfflineQueue' | 'commandTimeout' | 'keepAlive' | 'connectionName' | 'lazyConnect'
>;

const hostPort = (item: string): { host: string; port: number } => {
  const at = item.lastIndexOf(':');
  return { host: item.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(item.slice(at + 1)) };
};

/**
 * The client REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS asks for, with TLS and credentials applied.
 * A password file is read again before every reconnect, so a rotated secret applies without a restart.
 */
export function createRedisClient(options: RedisConnectionOptions, behaviour: CommandBehaviour): RedisClient {
  const ca = options.redisTlsCaFile === undefined ? undefined : readFileSync(options.redisTlsCaFile);
  const tls: ConnectionOptions | undefined = options.redisTls ? (ca ? { ca } : {}) : undefined;
  const credentials = {
    ...(options.redisUsername === undefined ? {} : { username: options.redisUsername }),
    ...(options.redisPassword === undefined ? {} : { password: options.redisPassword }),
    ...(options.redisPasswordFile === undefined ? {} : { password: readSecret(options.redisPasswordFile) }),
  };

  if (options.redisClusterNodes) {
    // lazyConnect is the Cluster's: a node connection is always made lazily, so that what '+node' sets below
    // (the password) is what it connects with.
    const { enableOfflineQueue, lazyConnect, ...perNode } = behaviour;
    const clusterOptions: ClusterOptions = {
      enableOfflineQueue,
      ...(lazyConnect === undefined ? {} : { lazyConnect }),
      // While a lost master fails over, CLUSTERDOWN is retried for about a node timeout, then surfaces as an
      // error that is not a Redis reply: the router counts it as an outage, like a lost connection.
      retryDelayOnClusterDown: 200,
      retryDelayOnFailover: 200,
      // While a slot moves between masters, a script whose keys are split between them (or partly not created
      // yet) gets TRYAGAIN until the move ends. 16 tries 50 ms apart end well inside the command deadline
      // (REDIS_COMMAND_TIMEOUT_MS, 2 s by default), so the client gives up with a redirection error, which
      // RedisGateway reports as busy (a retriable 503), not as an unanswered command (an outage after three).
      retryDelayOnTryAgain: 50,
      maxRedirections: 16,
      slotsRefreshTimeout: 2000,
      redisOptions: { ...perNode, ...credentials, ...(tls ? { tls } : {}) },
      // Managed clusters (ElastiCache, Memorystore) present certificates for the names they announce; a
      // TLS client must connect by those names, not by resolved addresses.
      ...(tls ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) } : {}),
    };
    const cluster = new Cluster(options.redisClusterNodes.map(hostPort), clusterOptions);
    const passwordFile = options.redisPasswordFile;
    if (passwordFile !== undefined) {
      // A node whose connection drops is dropped and made anew at the next slots refresh, from the options
      // given here: it must read the file when it is made (it connects later), not only when it reconnects.
      cluster.on('+node', (node: Redis) => {
        refreshPassword(node, passwordFile);
        rereadOnReconnect(node, passwordFile);
      });
    }
    return cluster;
  }

  const client = options.redisSentinels
    ? new Redis({
        ...behaviour,
        ...credentials,
        sentinels: options.redisSentinels.map(hostPort),
        name: options.redisSentinelMaster,
        ...(tls ? { tls, enableTLSForSentinelMode: true } : {}),
      })
    : new Redis(options.redisUrl, { ...behaviour, ...credentials, ...(ca ? { tls: { ca } } : {}) });
  if (options.redisPasswordFile !== undefined) rereadOnReconnect(client, options.redisPasswordFile);
  return client;
}

function rereadOnReconnect(client: Redis, file: string): void {
  client.on('reconnecting', () => refreshPassword(client, file));
}

function refreshPassword(client: Redis, file: string): void {
  try {
    client.options.password = readSecret(file);
  } catch {
    // The file is being replaced right now; the next connection reads it again.
  }
}
