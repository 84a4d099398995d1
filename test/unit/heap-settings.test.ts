import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { givenNodeFlags, heapFlags } from '../../src/cli/heap-settings.ts';

const MODULE = new URL('../../src/cli/heap-settings.ts', import.meta.url).href;
const ALL = { atStart: ['--max-semi-space-size=16'], atRun: ['--no-allocation-site-pretenuring', '--heap-growing-percent=30'] };

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
      expect(heapFlags([flag])).toEqual({ ...ALL, atStart: [] });
    }
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
 */
async function runApplied(
  nodeOptions?: string,
): Promise<{ pid: number; reported: { pid: number; execArgv: string[]; newSpaceMiB: number }[]; stderr: string }> {
  const script = `
    import { getHeapSpaceStatistics } from 'node:v8';
    import { applyHeapSettings } from ${JSON.stringify(MODULE)};
    applyHeapSettings();
    let kept = [];
    for (let i = 0; i < 3e6; i++) {
      kept.push({ i, s: 'x' + i });
      if (kept.length > 2e5) kept = [];
    }
    gc({ type: 'minor' });
    const newSpace = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
    console.log(JSON.stringify({ pid: process.pid, execArgv: process.execArgv.filter((a) => a.startsWith('--') && a !== '--input-type=module' && a !== '--expose-gc'), newSpaceMiB: newSpace / 2 ** 20 }));`;
  const { NODE_OPTIONS: _ignored, ...inherited } = process.env;
  const env = nodeOptions === undefined ? inherited : { ...inherited, NODE_OPTIONS: nodeOptions };
  // Rejects, with its stderr, unless the process exits 0.
  const running = promisify(execFile)(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { env, timeout: 30_000 });
  const { stdout, stderr } = await running;
  const reported = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { pid: number; execArgv: string[]; newSpaceMiB: number });
  return { pid: running.child.pid!, reported, stderr };
}

it('starts node again, in the same process, with a 16 MiB semi-space', async () => {
  const { pid, reported, stderr } = await runApplied();
  expect(reported).toEqual([{ pid, execArgv: ['--max-semi-space-size=16'], newSpaceMiB: 32 }]);
  expect(stderr).toBe('');
}, 30_000);

it("keeps the operator's young generation from NODE_OPTIONS, without starting node again", async () => {
  const { pid, reported, stderr } = await runApplied('--max-semi-space-size=64');
  expect(reported).toEqual([{ pid, execArgv: [], newSpaceMiB: 128 }]);
  expect(stderr).toBe('');
}, 30_000);
