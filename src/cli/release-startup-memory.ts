import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * One memory-reducing full GC, run by `serve` once the sidecar has started. Loading the modules and starting up
 * grow V8's young generation to 16-32 MiB and leave garbage in the old one, and V8 keeps those pages until a GC
 * that reduces memory, which an idle process never gets: idle RSS 125 -> 89 MiB (docs/benchmarks.md, "Memory").
 * Only V8's last-resort flavour gives the pages back (a plain major GC does not); it takes about 40 ms, once.
 * Nothing exposes it without --expose-gc, so `gc` is taken from a throwaway context while that flag is on for a
 * moment (as jest's leak detector does): no global `gc` is left behind.
 */
export function releaseStartupMemory(): void {
  setFlagsFromString('--expose-gc');
  let gc: NodeJS.GCFunction | undefined;
  try {
    gc = runInNewContext('gc') as NodeJS.GCFunction | undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
