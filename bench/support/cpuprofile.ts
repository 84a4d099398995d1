import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

/** The parts of a V8 .cpuprofile (written by `node --cpu-prof`) that the summary needs. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  /** Self time per function (leaf of the sampled stack), largest first. */
  functions: { name: string; ms: number }[];
  /** Self time per owner: the nearest frame in our code or a package, so Node internals count for their caller. */
  owners: { name: string; ms: number }[];
}

const ROOT = new URL('../..', import.meta.url).pathname;

/** "express", "kafkajs", "src/kafka/partition-writer.ts", "node internals", or a V8 pseudo-frame like "(garbage collector)". */
function ownerOf(url: string, functionName: string): string | undefined {
  if (url === '') return functionName.startsWith('(') ? functionName : undefined;
  if (url.startsWith('node:')) return undefined;
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return pkg[1];
  return relative(ROOT, path);
}

/** Where a frame is, shortly: "kafkajs/src/protocol/encoder.js:366", "src/routing/router.ts:78", "node:buffer:571". */
function location(url: string, line: number): string {
  if (url.startsWith('node:')) return `${url}:${line}`;
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  const inPackage = /node_modules\/(.*)$/.exec(path);
  return `${inPackage ? inPackage[1] : relative(ROOT, path)}:${line}`;
}

const sortedEntries = (m: Map<string, number>): { name: string; ms: number }[] => [...m].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms);

export function summariseProfile(path: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const selfMs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));

  const functions = new Map<string, number>();
  const owners = new Map<string, number>();
  let totalMs = 0;
  for (const [id, ms] of selfMs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    totalMs += ms;
    const name = `${functionName || '(anonymous)'}${url ? ` ${location(url, lineNumber + 1)}` : ''}`;
    functions.set(name, (functions.get(name) ?? 0) + ms);
    let owner: string | undefined;
    for (let at: number | undefined = id; at !== undefined && owner === undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      owner = ownerOf(frame.url, frame.functionName);
    }
    if (owner === undefined || owner === '(root)') owner = 'Node internals (no caller of ours on the stack)';
    owners.set(owner, (owners.get(owner) ?? 0) + ms);
  }
  return { totalMs, functions: sortedEntries(functions), owners: sortedEntries(owners) };
}
