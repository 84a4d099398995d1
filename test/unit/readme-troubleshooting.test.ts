import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../src/protocol/error-codes.ts';
import type { KafkaFailureCause } from '../../src/kafka/connection-problem.ts';

/** Operators look an error code or a /readyz cause up in the README: each needs a row that says what to do. */
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('## Troubleshooting'), readme.indexOf('\n## ', readme.indexOf('## Troubleshooting') + 1));
const rows = section.split('\n').filter((line) => line.startsWith('| `') || line.startsWith('| ready'));
const cells = (line: string): string[] => line.split(' | ').map((c) => c.replace(/^\| |\|$/g, '').trim());

// Typed as a record over the union, so a new cause of connection-problem.ts fails to compile here until listed.
const CAUSES: Record<KafkaFailureCause, true> = {
  'authentication failed': true,
  'TLS verification failed': true,
  'TLS handshake failed': true,
  'TLS to a plaintext listener': true,
  'plaintext to a TLS listener': true,
};

describe("the README's Troubleshooting", () => {
  it('has one row per error code, with its real status and retriability and something to do', () => {
    const codes = Object.keys(ERROR_CODES) as ErrorCode[];
    for (const code of codes) {
      const row = rows.find((line) => line.startsWith(`| \`${code}\` |`));
      expect(row, code).toBeDefined();
      const [, status, retriable, meaning, todo] = cells(row!);
      expect(Number(status), code).toBe(ERROR_CODES[code].status);
      expect(retriable, code).toBe(ERROR_CODES[code].retriable ? 'yes' : 'no');
      expect(meaning!.length, code).toBeGreaterThan(10);
      expect(todo!.length, code).toBeGreaterThan(10);
    }
    expect(rows.filter((line) => /^\| `[A-Z_]+` \|/.test(line))).toHaveLength(codes.length);
  });

  it('says what to do for every /readyz cause, and for degraded mode', () => {
    for (const cause of Object.keys(CAUSES)) expect(section).toContain(`| \`kafka.cause: "${cause}"\` |`);
    expect(section).toContain('| `ready: true, degraded: true` (200) |');
  });
});
