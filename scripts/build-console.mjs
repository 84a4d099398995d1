// Builds the operations console (src/console) into dist/console: one script, one style sheet, the page. Run by
// `npm run build`; the browser test runs it too, as the sidecar serves dist/console from src/ and dist/ alike.
import { copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = new URL('../', import.meta.url);
const source = new URL('src/console/', root);
const out = new URL('dist/console/', root);
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [new URL('main.ts', source).pathname, new URL('console.css', source).pathname],
  entryNames: 'console',
  outdir: out.pathname,
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome120', 'firefox120', 'safari17'],
  tsconfig: new URL('tsconfig.json', source).pathname,
  logLevel: 'warning',
});
copyFileSync(new URL('index.html', source), new URL('index.html', out));

const sizes = ['index.html', 'console.js', 'console.css'].map((file) => {
  const url = new URL(file, out);
  return `${file} ${statSync(url).size} B (${gzipSync(readFileSync(url)).length} B gzipped)`;
});
console.log(`console built in dist/console: ${sizes.join(', ')}`);
