import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * The README's "How it works" map of src/ is where a newcomer starts: every folder (and every file at the
 * top of src/) must be on it, and nothing that is gone.
 */
function mapEntries(): string[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## How it works'));
  const block = section.slice(section.indexOf('```\nsrc/\n') + 4, section.indexOf('\n```', section.indexOf('```\nsrc/\n') + 4));
  // An entry is a line indented by two spaces, its name first: `  routing/    the router core ...`.
  return block
    .split('\n')
    .flatMap((line) => /^ {2}(\S+)/.exec(line)?.[1] ?? [])
    .map((name) => name.replace(/\/$/, ''));
}

describe('the README map of src/', () => {
  const src = readdirSync(new URL('../../src/', import.meta.url), { withFileTypes: true });
  const actual = src.filter((e) => e.isDirectory() || e.name.endsWith('.ts')).map((e) => e.name);
  const mapped = mapEntries();

  it('names every folder and top-level file of src/', () => {
    expect(actual.filter((name) => !mapped.includes(name))).toEqual([]);
  });

  it('names nothing src/ does not have', () => {
    expect(mapped.filter((name) => !actual.includes(name))).toEqual([]);
  });
});
