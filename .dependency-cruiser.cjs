/**
 * The architecture as rules: which folder of src/ may import which, type-only imports included. Dependencies
 * point inward: `routing`, `dedup` and `writer` are the core and own their ports; `redis` and `kafka` are adapters that
 * implement them; `produce`, `consume` and `admin` are application layers; `http`, `cli` and `sdk` are the
 * edges; `errors`, `logging` and `metrics` are leaves anyone may use (the core excepted for metrics: it
 * declares the few instruments it needs). The files at the top of src/ (sidecar.ts, cli.ts, index.ts) are the
 * composition root and may import anything; no folder imports them. README.md ("Architecture") draws this.
 *
 *   npx depcruise src --config .dependency-cruiser.cjs      (part of `npm run typecheck`)
 */

/** Folder -> the other folders of src/ it may import. A new file in a folder follows its folder's row. */
const LAYERS = {
  errors: [],
  logging: [],
  metrics: [],
  config: ['logging', 'errors'],
  routing: ['errors', 'logging'],
  dedup: ['errors', 'logging'],
  // The partition writer: batches per partition, one request per broker; it owns its send port.
  writer: ['errors'],
  // src/kafka/consumer implements the consumer port that src/consume owns; the engines, the writer's send port;
  // kafka-route-log.ts the route log port of src/routing.
  kafka: ['consume', 'routing', 'writer', 'errors', 'logging', 'config', 'metrics'],
  // src/redis/blocked-store.ts implements the blocked-group port that src/consume owns.
  redis: ['routing', 'dedup', 'consume', 'errors', 'logging', 'config'],
  produce: ['routing', 'dedup', 'writer', 'errors', 'logging', 'config', 'metrics'],
  consume: ['produce', 'errors', 'logging', 'config', 'metrics'],
  // The admin tools read and change mappings through the Redis adapter's AdminStore (no port of their own yet).
  admin: ['routing', 'produce', 'consume', 'redis', 'errors', 'logging', 'config'],
  http: ['produce', 'consume', 'admin', 'errors', 'logging', 'config', 'metrics'],
  // The CLI reads the admin API's answers through the server's own types.
  cli: ['admin', 'consume', 'config', 'logging', 'errors'],
  // The client SDK shares the wire types (produce and delivery) and the Kafka fallback's producer with the server.
  sdk: ['produce', 'consume', 'http', 'kafka', 'errors', 'logging'],
};

/** External clients, and the folders (besides the composition root) that may use them. */
const CLIENTS = {
  ioredis: ['redis'],
  'cluster-key-slot': ['redis'],
  kafkajs: ['kafka', 'sdk'],
  '@platformatic/kafka': ['kafka', 'sdk'],
  express: ['http', 'admin'],
  'prom-client': ['metrics', 'sdk'],
};

const folders = (names) => names.join('|');

module.exports = {
  forbidden: [
    ...Object.entries(LAYERS).map(([layer, allowed]) => ({
      name: `layer-${layer}`,
      comment: `src/${layer} may import only ${allowed.length ? allowed.map((a) => `src/${a}`).join(', ') : 'itself'} (see .dependency-cruiser.cjs)`,
      severity: 'error',
      from: { path: `^src/${layer}/` },
      to: { path: `^src/`, pathNot: `^src/(${folders([layer, ...allowed])})/` },
    })),
    {
      name: 'unknown-folder',
      comment: 'every folder of src/ has a row in LAYERS: add one for a new folder',
      severity: 'error',
      from: { path: `^src/[^/]+/`, pathNot: `^src/(${folders(Object.keys(LAYERS))})/` },
      to: {},
    },
    ...Object.entries(CLIENTS).map(([client, allowed]) => ({
      name: `client-${client.replace(/[^a-z]/g, '-')}`,
      comment: `${client} is used only in ${allowed.map((a) => `src/${a}`).join(', ')} and the composition root`,
      severity: 'error',
      from: { path: '^src/', pathNot: `^src/((${folders(allowed)})/|[^/]+\\.ts$)` },
      to: { path: `node_modules/${client}/` },
    })),
    {
      name: 'no-circular',
      comment:
        'a cycle means two modules cannot be understood or changed apart (a cycle closed only by type imports, such as a class and the object it hands itself to, is allowed: it is erased at run time)',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.lua$' },
  },
};
