import { setFlagsFromString } from 'node:v8';

/** A V8 setting `serve` makes unless node was started with the operator's own choice of it. */
interface HeapSetting {
  /** The flag's names in every spelling V8 accepts (dashes or underscores, `--no-` for booleans): any is a choice. */
  chosen: readonly RegExp[];
  flag: string;
  /** V8 reads it only when the heap is set up, at the start of the process: node is relaunched with it. */
  atStart: boolean;
}

const spellings = (...names: string[]): RegExp[] => names.map((name) => new RegExp(`^--(no-)?${name.replaceAll('-', '[-_]')}(=|$)`));

/**
 * Measured in docs/benchmarks.md ("Pretenuring" and "Peak memory: the heap settings `serve` makes", under Memory).
 * - Allocation-site pretenuring allocates objects straight into the old generation once objects made at the same
 *   place were seen surviving. Kafka clients' per-send objects get that under load, but die within milliseconds,
 *   and until the next full collection each dead one keeps the young objects it points to alive: a sidecar on
 *   kafkajs promoted 2.1-2.3 MB a scavenge of 7-8 ms with it, 0.17 MB of 2 ms without.
 * - Node lets each semi-space grow to 64 MiB, so a saturated sidecar held a 128 MiB young generation (peak RSS
 *   276-290 MiB); with 16 MiB it peaked at 179-194 MiB, at about 10 % fewer messages a second at the median of
 *   three rounds, within their spread.
 * - V8 lets the old generation grow to up to 4x what a full collection left alive before the next one. At 1.3x,
 *   the saturated old space stayed near its ~20 MiB live size (another 15-30 MiB off the peak). There is no hard
 *   cap: a sidecar holding more (messages queued while Kafka is away) still grows, with more frequent full GCs.
 */
const SETTINGS: readonly HeapSetting[] = [
  { chosen: spellings('allocation-site-pretenuring'), flag: '--no-allocation-site-pretenuring', atStart: false },
  { chosen: spellings('heap-growing-percent'), flag: '--heap-growing-percent=30', atStart: false },
  { chosen: spellings('max-semi-space-size', 'min-semi-space-size'), flag: '--max-semi-space-size=16', atStart: true },
];

/** The flags `serve` adds, given node's own (its command line, then NODE_OPTIONS): those the operator chose none of. */
export function heapFlags(given: readonly string[]): { atStart: string[]; atRun: string[] } {
  const atStart: string[] = [];
  const atRun: string[] = [];
  for (const setting of SETTINGS) {
    if (given.some((arg) => setting.chosen.some((name) => name.test(arg)))) continue;
    (setting.atStart ? atStart : atRun).push(setting.flag);
  }
  return { atStart, atRun };
}

/** Node's flags from its command line and from NODE_OPTIONS (which process.execArgv does not show). */
export function givenNodeFlags(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  return [...execArgv, ...(nodeOptions ?? '').split(/\s+/).filter((arg) => arg !== '')];
}

/**
 * Applies {@link heapFlags} before the sidecar's modules load. A start-time flag replaces the process with node
 * started again with it (execve: the same pid, stdio and environment; nothing has been opened yet), and the
 * run-time ones are then set in the new process, where they took effect in those measurements. Where node cannot
 * execve (Windows), the start-time flags are left out.
 */
export function applyHeapSettings(): void {
  const { atStart, atRun } = heapFlags(givenNodeFlags(process.execArgv, process.env.NODE_OPTIONS));
  if (atStart.length > 0 && process.execve && process.platform !== 'win32') {
    process.execve(process.execPath, [process.execPath, ...atStart, ...process.execArgv, ...process.argv.slice(1)], process.env);
  }
  for (const flag of atRun) setFlagsFromString(flag);
}
