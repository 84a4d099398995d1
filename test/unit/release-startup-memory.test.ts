import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const MODULE = new URL('../../src/cli/release-startup-memory.ts', import.meta.url).href;

// In a process of its own: it toggles a V8 flag and collects the whole heap.
it('gives the grown young generation back and leaves no global gc behind', async () => {
  const script = `
    import { getHeapSpaceStatistics } from 'node:v8';
    import { releaseStartupMemory } from ${JSON.stringify(MODULE)};
    const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
    let kept = [];
    for (let i = 0; i < 2e6; i++) { kept.push({ i }); if (kept.length > 5e4) kept = []; }
    const before = young();
    releaseStartupMemory();
    console.log(JSON.stringify({ before, after: young(), gc: typeof globalThis.gc }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
  const { before, after, gc } = JSON.parse(stdout) as { before: number; after: number; gc: string };
  expect(after).toBeLessThan(before);
  expect(gc).toBe('undefined');
});
