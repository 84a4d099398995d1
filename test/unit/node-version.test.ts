import { describe, expect, it } from 'vitest';
import { MIN_NODE_MAJOR, unsupportedNode } from '../../src/cli/node-version.ts';

describe('the Node.js serve runs on', () => {
  it.each(['v24.0.0', 'v24.21.0', 'v25.1.0', 'v100.0.0'])('takes %s', (version) => {
    expect(unsupportedNode(version)).toBeUndefined();
  });

  it.each(['v20.19.5', 'v22.12.0', 'v23.11.1', 'v8.0.0'])('refuses %s, naming it and the Node to use', (version) => {
    const why = unsupportedNode(version);
    expect(why).toContain(version);
    expect(why).toContain(`Node.js ${MIN_NODE_MAJOR} or later`);
    expect(why).toContain('node_modules/.bin/node');
  });

  it('is what package.json asks for', async () => {
    const { engines } = (await import('../../package.json', { with: { type: 'json' } })).default as { engines: { node: string } };
    expect(engines.node).toBe(`>=${MIN_NODE_MAJOR}`);
  });
});
