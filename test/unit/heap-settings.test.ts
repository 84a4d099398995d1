import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { V8_TURBOFAN_INVOCATIONS, givenNodeFlags, heapFlags } from '../../src/cli/heap-settings.ts';

const MODULE = new URL('../../src/cli/heap-settings.ts', import.meta.url).href;
const STARTUP_TIERING = '--invocation-count-for-turbofan=100000';
const ALL = {
  atStart: ['--max-semi-space-size=16', STARTUP_TIERING],
  atRun: ['--no-allocation-site-pretenuring', '--heap-growing-percent=30'],
  afterStart: [],
};

describe('heapFlags', () => {
  it('adds every setting when node was given none of them', () => {
    expect(heapFlags([])).toEqual(ALL);
    expect(heapFlags(['--max-old-space-size=128', '--enable-source-maps', '--cpu-prof'])).toEqual(ALL);
  });

  it("leaves each of the operator's own choices alone, in any spelling", () => {
    for (const flag of [
      '--allocation-site-pretenuring',
      '--no-allocation-site-pretenuring',
      '--allocation_site_pretenuring',
      '--no-allocation_site_pretenuring',
    ]) {
      expect(heapFlags([flag])).toEqual({ ...ALL, atRun: ['--heap-growing-percent=30'] });
    }
    expect(heapFlags(['--heap_growing_percent=50'])).toEqual({ ...ALL, atRun: ['--no-allocation-site-pretenuring'] });
    for (const flag of ['--max-semi-space-size=64', '--max_semi_space_size=8', '--min-semi-space-size=32', '--max-semi-space-size']) {
      expect(heapFlags([flag])).toEqual({ ...ALL, atStart: [STARTUP_TIERING] });
    }
    // The operator's tiering is kept for the whole life of the process: nothing is set after the start.
    expect(heapFlags(['--invocation_count_for_turbofan=500'])).toEqual({ ...ALL, atStart: ['--max-semi-space-size=16'] });
  });

  it('ends only the start-only settings a previous serve started the process with', () => {
    const relaunched = ['--max-semi-space-size=16', STARTUP_TIERING, '--cpu-prof'];
    expect(heapFlags(relaunched, ['--max-semi-space-size=16', STARTUP_TIERING])).toEqual({
      atStart: [],
      atRun: ALL.atRun,
      afterStart: [`--invocation-count-for-turbofan=${V8_TURBOFAN_INVOCATIONS}`],
    });
    // Relaunched for the semi-space only (the operator chose the tiering): nothing to end.
    expect(heapFlags(['--max-semi-space-size=16', '--invocation-count-for-turbofan=500'], ['--max-semi-space-size=16'])).toEqual({
      atStart: [],
      atRun: ALL.atRun,
      afterStart: [],
    });
  });

  it("sets V8's own figure back after the start (read from this node's V8)", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--v8-options'], { maxBuffer: 16 * 2 ** 20 });
    expect(stdout).toMatch(new RegExp(`default: --invocation-count-for-turbofan=${V8_TURBOFAN_INVOCATIONS}\\n`));
  });

  it('reads NODE_OPTIONS as well as the command line', () => {
    expect(givenNodeFlags(['--cpu-prof'], ' --max-semi-space-size=32  --max-old-space-size=128 ')).toEqual([
      '--cpu-prof',
      '--max-semi-space-size=32',
      '--max-old-space-size=128',
    ]);
    expect(givenNodeFlags([], undefined)).toEqual([]);
  });
});

/**
 * A process of its own applies the settings, then allocates with many survivors and reports how far its young
 * generation grew (V8's new space is two semi-spaces): 2 x 16 MiB once relaunched, 2 x 64 MiB when the operator
 * chose 64. The size is read after a scavenge: while allocating under load, V8 briefly held up to 3.5 MiB more
 * pages than its capacity (seen beside the unit project). It keeps its pid, its stderr stays empty (V8 accepted
 * the run-time flags, node warned of nothing), and what it prints comes from the relaunched process only.
 * It also reports V8's tiering (%GetOptimizationStatus): a function called 12,000 times while it starts is not
 * compiled by TurboFan (with V8's own 3,000 it is), and one called as often after the start's end is.
 */
interface Report {
  pid: number;
  execArgv: string[];
  newSpaceMiB: number;
  marker: string | null;
  turbofanWhileStarting: boolean;
  turbofanAfterStart: boolean;
}

async function runApplied(nodeOptions?: string): Promise<{ pid: number; reported: Report[]; stderr: string }> {
  const script = `
    import { getHeapSpaceStatistics } from 'node:v8';
    import { applyHeapSettings } from ${JSON.stringify(MODULE)};
    const endStartupSettings = applyHeapSettings();
    let kept = [];
    for (let i = 0; i < 3e6; i++) {
      kept.push({ i, s: 'x' + i });
      if (kept.length > 2e5) kept = [];
    }
    gc({ type: 'minor' });
    const newSpace = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
    // Called from a driver V8 never optimises, so no optimised caller inlines them; V8 compiles on this thread
    // (--no-concurrent-recompilation), so a busy machine cannot delay a compile past the calls that follow it.
    const TURBOFAN = 64;
    function drive(f, n) { let s = 0; for (let i = 0; i < n; i++) s = f(s + i); return s; }
    %NeverOptimizeFunction(drive);
    const tieredBy = (f, calls) => { drive(f, calls); return (%GetOptimizationStatus(f) & TURBOFAN) !== 0; };
    const turbofanWhileStarting = tieredBy(function whileStarting(x) { return (x * 31 + 7) | 0; }, 12000);
    endStartupSettings();
    const turbofanAfterStart = tieredBy(function afterStart(x) { return (x * 17 + 3) | 0; }, 12000);
    const ours = (a) => a.startsWith('--') && !['--input-type=module', '--expose-gc', '--allow-natives-syntax', '--no-concurrent-recompilation'].includes(a);
    console.log(JSON.stringify({
      pid: process.pid,
      execArgv: process.execArgv.filter(ours),
      newSpaceMiB: newSpace / 2 ** 20,
      marker: process.env.ORDERED_SIDECAR_RELAUNCHED_WITH ?? null,
      turbofanWhileStarting,
      turbofanAfterStart,
    }));`;
  const { NODE_OPTIONS: _ignored, ...inherited } = process.env;
  const env = nodeOptions === undefined ? inherited : { ...inherited, NODE_OPTIONS: nodeOptions };
  // Rejects, with its stderr, unless the process exits 0.
  const args = ['--expose-gc', '--allow-natives-syntax', '--no-concurrent-recompilation', '--input-type=module', '-e', script];
  const running = promisify(execFile)(process.execPath, args, { env, timeout: 30_000 });
  const { stdout, stderr } = await running;
  const reported = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Report);
  return { pid: running.child.pid!, reported, stderr };
}

const TIERING = { marker: null, turbofanWhileStarting: false, turbofanAfterStart: true };

it('starts node again, in the same process, with a 16 MiB semi-space and TurboFan held back until the start ends', async () => {
  const { pid, reported, stderr } = await runApplied();
  expect(reported).toEqual([{ pid, execArgv: ['--max-semi-space-size=16', STARTUP_TIERING], newSpaceMiB: 32, ...TIERING }]);
  expect(stderr).toBe('');
}, 30_000);

it("keeps the operator's young generation from NODE_OPTIONS, starting node again for the tiering only", async () => {
  const { pid, reported, stderr } = await runApplied('--max-semi-space-size=64');
  expect(reported).toEqual([{ pid, execArgv: [STARTUP_TIERING], newSpaceMiB: 128, ...TIERING }]);
  expect(stderr).toBe('');
}, 30_000);
