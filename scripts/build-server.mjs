// Builds the server (src/cli.ts and what it imports) into dist/ with esbuild: dist/cli.js plus one file per lazily
// loaded part (the sidecar, each engine, consumption) and the chunks they share. Run by `npm run build`; tsc
// only type-checks (`npm run typecheck`).
//
// Why a bundle: an idle sidecar held 131 MiB RSS, much of it module code. @platformatic/kafka's package
// `exports` offer only its root, whose index loads every client, the schema registries, ajv and avsc: bundled,
// only what the engines reach stays, and a few files replace hundreds of modules (1,076 loaded at start before,
// 484 after; docs/benchmarks.md, "Memory").
// The other dependencies stay ordinary imports from node_modules: bundling them saved nothing measurable.
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { relative } from 'node:path';
import { build } from 'esbuild';
import { LAZY_AJV_MEMBERS } from './lazy-ajv.ts';

const root = new URL('../', import.meta.url).pathname;
const src = `${root}src/`;
const manifest = JSON.parse(readFileSync(new URL('package.json', `file://${root}`), 'utf8'));
const bundled = new Set(['@platformatic/kafka']);

// Every file of the bundle sits directly in dist/, so `import.meta.url` in a source file would name the bundle
// file, not the file tsc would have emitted. The sources read files next to themselves (the Lua scripts, the
// OpenAPI document, the console, package.json): each one's `import.meta.url` is turned into its own emitted place.
const ownUrl = {
  name: 'own-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\/src\/.*\.ts$/ }, (args) => {
      const emitted = relative(src, args.path).replace(/\.ts$/, '.js');
      const contents = readFileSync(args.path, 'utf8').replaceAll('import.meta.url', `new URL(${JSON.stringify(`./${emitted}`)}, import.meta.url).href`);
      return { contents, loader: 'ts' };
    });
  },
};

// The package declares no `sideEffects`, so importing its root keeps every module its index re-exports (the
// consumer, admin, schema registries with avsc): its modules are declared free of side effects here, so only what
// the engines use stays. (Its modules define classes, functions and constants; ajv stays, made on first use: lazy-ajv below.)
const kafkaDir = `${root}node_modules/@platformatic/kafka/`;
const kafkaWithoutSideEffects = {
  name: 'platformatic-kafka-side-effect-free',
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === 'resolving' || !(args.path.startsWith('@platformatic/kafka') || args.importer.startsWith(kafkaDir))) return undefined;
      const resolved = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'resolving' });
      return resolved.path.startsWith(kafkaDir) ? { ...resolved, sideEffects: false } : resolved;
    });
  },
};

// Node's built-in modules are taken with process.getBuiltinModule, as CommonJS's require() takes them, and not
// by an ES module import: such an import builds the module's namespace from every export, which runs its lazy
// getters. `import { createServer } from 'node:http'` so loads undici (for http.WebSocket), http2 and
// worker_threads; node:crypto loads webcrypto, node:util parseArgs, node:fs fs/promises. In a bare Node 24, ESM
// imports of node:http and node:crypto held 59.7 MiB RSS, getBuiltinModule 48.3 MiB; an idle sidecar 89.0 ->
// 87.1 MiB and 89.8 -> 86.9 MiB (medians of 5 interleaved starts, two runs). It also gives the bundled CommonJS packages (ajv, mnemonist,
// debug, ...) their require() of built-ins.
const builtinsAsCommonJs = {
  name: 'builtins-as-commonjs',
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z_/0-9]+$/ }, (args) => {
      const id = args.path.replace(/^node:/, '');
      return builtinModules.includes(id) ? { path: `node:${id}`, namespace: 'builtin' } : undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = process.getBuiltinModule(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

// @platformatic/wasm-utils compiles its WebAssembly module and allocates the module's memory (1.1 MiB) when it
// is imported, and V8's WebAssembly compiler comes with it. @platformatic/kafka needs it only for snappy and lz4
// (and for CRC32C without the native @node-rs/crc32), so its imports of it become functions that load it, from
// node_modules as before, on their first call: idle RSS 87.1 -> 85.8 MiB (medians of 5 interleaved starts).
const wasmUtils = '@platformatic/wasm-utils';
const lazyWasmUtils = {
  name: 'lazy-wasm-utils',
  setup(b) {
    b.onResolve({ filter: /^@platformatic\/wasm-utils$/ }, () => ({ path: wasmUtils, namespace: 'lazy-wasm-utils' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-wasm-utils' }, async () => {
      const exported = Object.entries(await import(wasmUtils));
      const notFunction = exported.find(([, value]) => typeof value !== 'function');
      if (notFunction) throw new Error(`${wasmUtils} exports ${notFunction[0]}, which is not a function: it cannot be loaded on first call`);
      const contents = [
        "import { createRequire } from 'node:module';",
        'let loaded;',
        `const load = () => (loaded ??= createRequire(import.meta.url)(${JSON.stringify(wasmUtils)}));`,
        ...exported.map(([name]) => `export function ${name}(...args) { return load().${name}(...args); }`),
      ].join('\n');
      return { contents, loader: 'js', resolveDir: root };
    });
  },
};

// @platformatic/kafka's utils.js makes one Ajv and its option modules compile 38 validators with it when they are
// imported (6 of them in an idle sidecar, whose route log clients load on first use); the library calls them only
// for a client made with its `strict` option, which the sidecar never sets. Its import of `Ajv2020` gets the class
// of scripts/lazy-ajv.ts, which makes the real Ajv and compiles a schema on a validator's first call; only then is
// ajv required, from node_modules as the library resolves it (a dependency of the library, installed with it), so
// its code is not in the bundle: idle RSS 82.8 -> 80.8 MiB, and 80.0 -> 78.8 MiB for leaving ajv out of the bundle
// (medians of 5-6 alternating starts). The class has only the members the library calls on its Ajv
// (LAZY_AJV_MEMBERS): the build fails when the library calls another, or no longer imports Ajv2020 in utils.js.
const kafkaUtils = `${kafkaDir}dist/utils.js`;
const lazyAjv = {
  name: 'lazy-ajv',
  setup(b) {
    let replaced = false;
    const called = new Map();
    b.onResolve({ filter: /^ajv\/dist\/2020\.js$/ }, (args) => {
      if (args.importer !== kafkaUtils) return undefined;
      replaced = true;
      return { path: args.path, namespace: 'lazy-ajv' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-ajv' }, () => ({
      contents: [
        "import { createRequire } from 'node:module';",
        `import { lazyAjvClass } from ${JSON.stringify(`${root}scripts/lazy-ajv.ts`)};`,
        "export const Ajv2020 = lazyAjvClass(() => createRequire(import.meta.resolve('@platformatic/kafka'))('ajv/dist/2020.js').Ajv2020);",
      ].join('\n'),
      loader: 'js',
      resolveDir: `${kafkaDir}dist`,
    }));
    b.onLoad({ filter: /\/node_modules\/@platformatic\/kafka\/dist\/.*\.js$/ }, (args) => {
      for (const [, member] of readFileSync(args.path, 'utf8').matchAll(/\bajv\.(\w+)/g)) called.set(member, args.path);
      return undefined;
    });
    b.onEnd((result) => {
      if (result.errors.length > 0) return;
      const unknown = [...called].filter(([member]) => !LAZY_AJV_MEMBERS.includes(member));
      if (!replaced) throw new Error(`lazy-ajv: ${kafkaUtils} no longer imports ajv/dist/2020.js; see scripts/build-server.mjs`);
      if (unknown.length > 0)
        throw new Error(`lazy-ajv: @platformatic/kafka calls ${unknown.map(([m, f]) => `ajv.${m} (${f})`).join(', ')}, which scripts/lazy-ajv.ts lacks`);
    });
  },
};

await build({
  entryPoints: [`${src}cli.ts`],
  outdir: `${root}dist`,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  sourcemap: true,
  // Classes and functions keep their names (stack traces, logged errors), though the bundle renames clashes.
  keepNames: true,
  // Kept out: the other dependencies (installed beside the package). @platformatic/kafka's WASM helpers, which
  // read their .wasm file next to themselves, its native CRC addon and ajv are found by require() from node_modules.
  external: Object.keys(manifest.dependencies).filter((name) => !bundled.has(name)),
  plugins: [builtinsAsCommonJs, lazyWasmUtils, lazyAjv, ownUrl, kafkaWithoutSideEffects],
  logLevel: 'warning',
});
