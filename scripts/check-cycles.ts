// Fails when src/ has an import cycle: each folder is one concern, and a cycle means two of them cannot be
// understood (or changed) apart. Reads relative imports only; run with Node 24: node scripts/check-cycles.ts
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve('src');
const files = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => join(root, f));
// Type-only imports are erased at run time and cannot form a cycle that matters.
const IMPORT = /^\s*(?:import|export)\s+(?!type\s)[^'"]*?from\s+'(\.{1,2}\/[^']+\.ts)'/gm;

const edges = new Map<string, string[]>();
for (const file of files) {
  const targets = [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((m) => resolve(dirname(file), m[1]!));
  edges.set(file, targets);
}

const state = new Map<string, 'visiting' | 'done'>();
const cycles: string[][] = [];
function visit(file: string, path: string[]): void {
  if (state.get(file) === 'done') return;
  if (state.get(file) === 'visiting') {
    cycles.push([...path.slice(path.indexOf(file)), file]);
    return;
  }
  state.set(file, 'visiting');
  for (const next of edges.get(file) ?? []) visit(next, [...path, file]);
  state.set(file, 'done');
}
for (const file of files) visit(file, []);

if (cycles.length > 0) {
  for (const cycle of cycles) process.stderr.write(`import cycle: ${cycle.map((f) => relative(root, f)).join(' -> ')}\n`);
  process.exit(1);
}
process.stdout.write(`no import cycles in ${files.length} files under src/\n`);
