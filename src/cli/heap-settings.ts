import { setFlagsFromString } from 'node:v8';

/** A V8 setting `serve` makes unless node was started with the operator's own choice of it. */
interface HeapSetting {
  /** The flag's names in every spelling V8 accepts (dashes or underscores, `--no-` for booleans): any is a choice. */
  chosen: readonly RegExp[];
  flag: string;
  /** V8 reads it only when the heap is set up, at the start of the process: node is relaunched with it. */
  atStart: boolean;
  /** Set once the sidecar's modules have loaded, when the setting is for the start only. */
  afterStart?: string;
}

/** V8's own --invocation-count-for-turbofan (Node 24's V8 13.6; a unit test reads it from `node --v8-options`). */
export const V8_TURBOFAN_INVOCATIONS = 3000;
const STARTUP_TURBOFAN_INVOCATIONS = 100_000;

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
 * - Loading the modules calls node's path functions a few thousand times, enough for V8 to compile one of them
 *   with TurboFan, which pages in about 5 MiB of the optimising compiler's own code: an idle sidecar that never
 *   ran TurboFan holds 75-76 MiB instead of 80-81. So TurboFan needs 100,000 calls' worth of a function instead
 *   of V8's 3,000 until the sidecar's modules have loaded (not the engine's, imported as it starts: bundled, they
 *   cost few path calls), and V8's figure is set back then (V8 reads it anew at each tiering decision): the Kafka
 *   and Redis clients' code, first run when the sidecar connects, tiers as usual. A function that ran hot while
 *   the modules loaded (node's module loader) keeps its large budget until used up. (kafkajs's request queue
 *   once ran a 1 ms timer chain at idle, so TurboFan started within seconds on that engine anyway: 81 MiB idle,
 *   77-78 since kafkajs-request-queue.ts.)
 */
const SETTINGS: readonly HeapSetting[] = [
  { chosen: spellings('allocation-site-pretenuring'), flag: '--no-allocation-site-pretenuring', atStart: false },
  { chosen: spellings('heap-growing-percent'), flag: '--heap-growing-percent=30', atStart: false },
  { chosen: spellings('max-semi-space-size', 'min-semi-space-size'), flag: '--max-semi-space-size=16', atStart: true },
  {
    chosen: spellings('invocation-count-for-turbofan'),
    flag: `--invocation-count-for-turbofan=${STARTUP_TURBOFAN_INVOCATIONS}`,
    atStart: true,
    afterStart: `--invocation-count-for-turbofan=${V8_TURBOFAN_INVOCATIONS}`,
  },
];

export interface HeapFlags {
  atStart: string[];
  atRun: string[];
  /** What ends the start-only settings this process was started with. */
  afterStart: string[];
}

/**
 * The flags `serve` adds, given node's own (its command line, then NODE_OPTIONS): those the operator chose none
 * of. `relaunchedWith` holds the start-time flags a previous `serve` started this process with: they are not the
 * operator's choice.
 */
export function heapFlags(given: readonly string[], relaunchedWith: readonly string[] = []): HeapFlags {
  const flags: HeapFlags = { atStart: [], atRun: [], afterStart: [] };
  for (const setting of SETTINGS) {
    if (relaunchedWith.includes(setting.flag)) {
      if (setting.afterStart !== undefined) flags.afterStart.push(setting.afterStart);
      continue;
    }
    if (given.some((arg) => setting.chosen.some((name) => name.test(arg)))) continue;
    (setting.atStart ? flags.atStart : flags.atRun).push(setting.flag);
  }
  return flags;
}

/** Node's flags from its command line and from NODE_OPTIONS (which process.execArgv does not show). */
export function givenNodeFlags(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  return [...execArgv, ...(nodeOptions ?? '').split(/\s+/).filter((arg) => arg !== '')];
}

/** Names the start-time flags in the environment of the relaunched process, which removes it from its own. */
const RELAUNCHED_WITH = 'ORDERED_SIDECAR_RELAUNCHED_WITH';

/**
 * Applies {@link heapFlags} before the sidecar's modules load, and returns what ends the start-only settings, to
 * call once they have loaded. A start-time flag replaces the process with node started again with it
 * (execve: the same pid, stdio and environment; nothing has been opened yet), and the run-time ones are then set in
 * the new process, where they took effect in those measurements. Where node cannot execve (Windows), the
 * start-time flags are left out.
 */
export function applyHeapSettings(): () => void {
  const relaunchedWith = (process.env[RELAUNCHED_WITH] ?? '').split(' ').filter((flag) => flag !== '');
  delete process.env[RELAUNCHED_WITH];
  const { atStart, atRun, afterStart } = heapFlags(givenNodeFlags(process.execArgv, process.env.NODE_OPTIONS), relaunchedWith);
  if (atStart.length > 0 && process.execve && process.platform !== 'win32') {
    const env = { ...process.env, [RELAUNCHED_WITH]: atStart.join(' ') };
    process.execve(process.execPath, [process.execPath, ...atStart, ...process.execArgv, ...process.argv.slice(1)], env);
  }
  for (const flag of atRun) setFlagsFromString(flag);
  return () => {
    for (const flag of afterStart) setFlagsFromString(flag);
  };
}
