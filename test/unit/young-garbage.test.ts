import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { pretenuringFlag } from '../../src/cli/young-garbage.ts';

const MODULE = new URL('../../src/cli/young-garbage.ts', import.meta.url).href;

describe('pretenuringFlag', () => {
  it('turns allocation-site pretenuring off by default', () => {
    expect(pretenuringFlag([])).toBe('--no-allocation-site-pretenuring');
    expect(pretenuringFlag(['--max-old-space-size=128', '--enable-source-maps'])).toBe('--no-allocation-site-pretenuring');
  });

  it("leaves an operator's own choice on node's command line alone, in either spelling", () => {
    for (const flag of [
      '--allocation-site-pretenuring',
      '--no-allocation-site-pretenuring',
      '--allocation_site_pretenuring',
      '--no-allocation_site_pretenuring',
    ]) {
      expect(pretenuringFlag([flag])).toBeUndefined();
    }
  });
});

// In a process of its own: V8 must accept the flag while running, and the process must carry on allocating.
it('is accepted by V8 at run time', async () => {
  const script = `
    import { keepShortLivedObjectsYoung } from ${JSON.stringify(MODULE)};
    keepShortLivedObjectsYoung([]);
    let kept = [];
    for (let i = 0; i < 1e6; i++) { kept.push({ i }); if (kept.length > 5e4) kept = []; }
    console.log(JSON.stringify({ done: kept.length }));`;
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
  expect(JSON.parse(stdout)).toEqual({ done: expect.any(Number) });
  expect(stderr).toBe('');
});
