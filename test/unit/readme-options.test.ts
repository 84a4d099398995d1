import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OPTION_KEYS, SETTINGS, loadConfig } from '../../src/config/load-config.ts';
import { DEFAULT_OPTIONS, type SidecarOptions } from '../../src/config/options.ts';

/**
 * The README's configuration table is what operators read: every option must be in it, and every default
 * it shows must be the real one (written as an operator would set it, so it must also parse).
 */

interface Row {
  line: string;
  envs: string[];
  /** The defaults shown, one per variable (or one for all); undefined when the row says `unset`. */
  defaults: string[] | undefined;
}

function readmeRows(): Row[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1));
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const [names = '', shown = ''] = line.split(' | ');
      const ticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
      return { line, envs: ticked(names), defaults: shown.trim() === 'unset' ? undefined : ticked(shown) };
    });
}

const rows = readmeRows();
const keyOf = new Map(OPTION_KEYS.map((key) => [SETTINGS[key].env, key]));
const defaults: Partial<Record<keyof SidecarOptions, unknown>> = DEFAULT_OPTIONS;

describe('the README configuration table', () => {
  it('lists every option, and only options', () => {
    const documented = rows.flatMap((r) => r.envs);
    expect(documented.filter((env) => !keyOf.has(env))).toEqual([]);
    expect([...keyOf.keys()].filter((env) => !documented.includes(env))).toEqual([]);
    expect(new Set(documented).size).toBe(documented.length);
  });

  it.each(rows.map((r) => [r.envs.join(', '), r] as const))('shows the real defaults of %s', (_, row) => {
    if (row.defaults === undefined) {
      for (const env of row.envs) expect(defaults[keyOf.get(env)!], `${env} has no default`).toBeUndefined();
      return;
    }
    expect([1, row.envs.length], row.line).toContain(row.defaults.length);
    const unconfigured = loadConfig([], {});
    row.envs.forEach((env, i) => {
      const shown = row.defaults![row.defaults!.length === 1 ? 0 : i]!;
      // Set to the value shown, the option must come out exactly as it is by default.
      expect(loadConfig([], { [env]: shown })[keyOf.get(env)!], `${env}=${shown}`).toEqual(unconfigured[keyOf.get(env)!]);
      expect(unconfigured[keyOf.get(env)!], `${env} has a default`).toBeDefined();
    });
  });
});
