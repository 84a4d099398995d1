/**
 * The architecture as rules: which folder of src/ may import which, type-only imports included. Dependencies
 * point inward: `routing`, `dedup` and `writer` are the core and own their ports; `redis` and `kafka` are adapters that
 * implement them; `produce`, `consume` and `admin` are application layers; `http`, `cli` and `sdk` are the
 * edges; `errors`, `logging` and `metrics` are leaves anyone may use (the core excepted for metrics: it
 * declares the few instruments it needs). `protocol` is the wire (JSON shapes, error codes, constants) and
 * `retry` the backoff both sides use: they import nothing, and the SDK imports nothing else, so the SDK
 * package (packages/sdk) ships without the server's libraries. The files at the top of src/ (sidecar.ts, cli.ts, consumption.ts) are the
 * composition root and may import anything; no folder imports them. README.md ("Architecture") draws this.
 *
 *   npx depcruise src --config .dependency-cruiser.cjs      (part of `npm run typecheck`)
 */

/**
 * Folder -> the other folders of src/ it may import (or single files, named with their extension). A new
 * file in a folder follows its folder's row.
 */
const LAYERS = {
  protocol: [],
  // Backoff with jitter, Retry-After and the Kafka client's retry budget: shared by the server and the SDK
  // package (which compiles it with src/sdk), so it imports nothing.
  retry: [],
  errors: ['protocol'],
  logging: [],
  metrics: [],
  // Spans through @opentelemetry/api; start-tracing.ts alone loads the SDK, and only when tracing is on.
  tracing: ['logging', 'config'],
  // Node's longest timer, MAX_TIMER_MS, is the retry module's (the SDK checks its options against it too).
  config: ['logging', 'errors', 'retry'],
  routing: ['errors', 'logging'],
  dedup: ['errors', 'logging'],
  // The partition writer: batches per partition, one request per broker; it owns its send port.
  writer: ['errors'],
  // src/kafka/consumer implements the consumer port that src/consume owns; the engines, the writer's send port;
  // kafka-route-log.ts the route log port of src/routing. The kafkajs engine writes through the SDK's
  // ResettableProducer (the fallback's producer, kept in the SDK because the SDK imports no server code).
  kafka: ['consume', 'routing', 'writer', 'errors', 'logging', 'config', 'metrics', 'protocol', 'retry', 'sdk/resettable-producer.ts'],
  // src/redis/blocked-store.ts and lease-store.ts implement the blocked-group and delivery-lease ports that src/consume
  // owns; redis-admin-store.ts the AdminStore port of src/admin.
  redis: ['routing', 'dedup', 'consume', 'admin/admin-store.ts', 'errors', 'logging', 'config', 'protocol'],
  produce: ['routing', 'dedup', 'writer', 'errors', 'logging', 'config', 'metrics', 'protocol', 'tracing'],
  // The runner's admin calls take turns per partition through the SDK's keyed GroupSequencer (no server code in it).
  consume: ['produce', 'errors', 'logging', 'config', 'metrics', 'protocol', 'retry', 'tracing', 'sdk/group-sequencer.ts'],
  // The admin tools read and change mappings through their own port (AdminStore), which src/redis implements.
  admin: ['routing', 'produce', 'consume', 'errors', 'logging', 'config', 'protocol'],
  // The admin part through its public entry only (the service); its routes and request parsing live here.
  http: ['produce', 'consume', 'admin/index.ts', 'errors', 'logging', 'config', 'metrics', 'protocol', 'tracing'],
  // The CLI reads the admin API's answers through the protocol's types.
  cli: ['admin', 'consume', 'config', 'logging', 'errors', 'protocol'],
  // The client SDK: the protocol and the retry module only, so its package carries no server library.
  sdk: ['protocol', 'retry'],
  // The operations console runs in the browser: it reads the admin API's answers through the protocol's types only.
  console: ['protocol'],
};

/** npm packages a folder may import at all (besides node: built-ins); folders not named here may import any. */
const PACKAGES = {
  protocol: [],
  retry: [],
  // Optional peer dependencies of the SDK package, loaded only by the clients that use them.
  sdk: ['kafkajs', 'prom-client', '@opentelemetry/api'],
  // Bundled for the browser: no npm package (and so nothing of the server's) goes in.
  console: [],
};

/** External clients, and the folders (besides the composition root) that may use them. */
const CLIENTS = {
  ioredis: ['redis'],
  'cluster-key-slot': ['redis'],
  kafkajs: ['kafka', 'sdk'],
  '@platformatic/kafka': ['kafka', 'sdk'],
  express: ['http'],
  'prom-client': ['metrics', 'sdk'],
  '@opentelemetry/api': ['tracing', 'sdk'],
  // The OpenTelemetry SDK: loaded by src/tracing/start-tracing.ts only; the cores and adapters never see it.
  '@opentelemetry/sdk-trace': ['tracing'],
  '@opentelemetry/exporter-trace-otlp-http': ['tracing'],
  '@opentelemetry/resources': ['tracing'],
  '@opentelemetry/core': ['tracing'],
  '@opentelemetry/context-async-hooks': ['tracing'],
};

const folders = (names) => names.map((n) => n.replace(/\./g, '\\.')).join('|');

module.exports = {
  forbidden: [
    ...Object.entries(LAYERS).map(([layer, allowed]) => ({
      name: `layer-${layer}`,
      comment: `src/${layer} may import only ${allowed.length ? allowed.map((a) => `src/${a}`).join(', ') : 'itself'} (see .dependency-cruiser.cjs)`,
      severity: 'error',
      from: { path: `^src/${layer}/` },
      to: { path: `^src/`, pathNot: `^src/(${folders([layer, ...allowed])})(/|$)` },
    })),
    ...Object.entries(PACKAGES).map(([layer, allowed]) => ({
      name: `packages-${layer}`,
      comment: `src/${layer} may import ${allowed.length ? `only the packages ${allowed.join(', ')}` : 'no package'} (it ships in the SDK package)`,
      severity: 'error',
      from: { path: `^src/${layer}/` },
      to: { path: 'node_modules/', pathNot: `node_modules/(${folders(allowed)})/` },
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
      name: 'opentelemetry-sdk-on-demand',
      comment: 'the OpenTelemetry SDK is imported dynamically, when tracing starts, so a sidecar with tracing off loads none of it',
      severity: 'error',
      from: { path: '^src/' },
      to: {
        path: 'node_modules/@opentelemetry/(sdk-trace|exporter-trace-otlp-http|resources|core|context-async-hooks)/',
        dependencyTypesNot: ['dynamic-import', 'type-only'],
      },
    },
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
