import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../src/config/config-error.ts';
import { bearerTokens, secretFile } from '../../src/config/secret-file.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { tempDir } from '../support/temp-dir.ts';

afterEach(() => {
  vi.useRealTimers();
});

function setUp(content: string) {
  const file = join(tempDir('secret-file-'), 'token');
  writeFileSync(file, content);
  const lines: string[] = [];
  const log = createLogger('info', {}, (line) => void lines.push(line));
  return { file, lines, log };
}

describe('secretFile', () => {
  it('refuses at start a bearer token an HTTP header cannot carry, and takes the same bytes as another secret', () => {
    const { file, log } = setUp('tok\nen\n');
    expect(() => secretFile(file, 'API_TOKEN_FILE', log, { bearerToken: true })).toThrow(ConfigError);
    expect(() => secretFile(file, 'API_TOKEN_FILE', log, { bearerToken: true })).toThrow(/line break or another character an HTTP header cannot carry/);
    expect(secretFile(file, 'signing_secret_file', log)()).toBe('tok\nen');
  });

  it('keeps the last good bearer token, with one warning that names no secret, when a rotation brings one a header cannot carry', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const { file, lines, log } = setUp('good-token\n');
    const token = secretFile(file, 'auth_token_file', log, { bearerToken: true });
    expect(token()).toBe('good-token');

    writeFileSync(file, 'bad\u0001token-of-another-size\n');
    vi.setSystemTime(1_002_000);
    expect(token()).toBe('good-token');
    vi.setSystemTime(1_004_000);
    expect(token()).toBe('good-token');
    expect(lines.filter((l) => l.includes('the last secret read stays in use'))).toHaveLength(1);
    expect(lines.join('\n')).not.toContain('bad\u0001token');

    writeFileSync(file, 'next-token\n');
    vi.setSystemTime(1_006_000);
    expect(token()).toBe('next-token');
  });

  it('refuses at start a bearer token holding a space or a tab (a request sends one word), and takes it as another secret', () => {
    for (const content of ['abc def\n', 'abc\tdef\n', 'abc\u00a0def\n']) {
      const { file, log } = setUp(content);
      expect(() => secretFile(file, 'ADMIN_TOKEN_FILE', log, { bearerToken: true })).toThrow(ConfigError);
      expect(() => secretFile(file, 'ADMIN_TOKEN_FILE', log, { bearerToken: true })).toThrow(
        `ADMIN_TOKEN_FILE=${file} cannot be used: the token holds a space or a tab`,
      );
      expect(secretFile(file, 'signing_secret_file', log)()).toBe(content.trim());
    }
  });

  it('keeps the last good bearer token, with one warning, when a rotation brings one holding a space', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const { file, lines, log } = setUp('good-token\n');
    const token = secretFile(file, 'API_TOKEN_FILE', log, { bearerToken: true });
    writeFileSync(file, 'spaced new-token\n');
    vi.setSystemTime(1_002_000);
    expect(token()).toBe('good-token');
    vi.setSystemTime(1_004_000);
    expect(token()).toBe('good-token');
    expect(lines.filter((l) => l.includes('the last secret read stays in use'))).toHaveLength(1);
    expect(lines.join('\n')).not.toContain('new-token');
  });
});

describe('bearerTokens', () => {
  it('takes API_TOKEN / ADMIN_TOKEN as given, and reads their files as the start does, refusing what it refuses', () => {
    const { file, log } = setUp('file-token\n');
    const tokens = bearerTokens({ apiToken: 'api', adminTokenFile: file }, log);
    expect(tokens.apiToken).toBe('api');
    expect(typeof tokens.adminToken === 'function' && tokens.adminToken()).toBe('file-token');
    const empty = setUp('\n');
    expect(() => bearerTokens({ apiTokenFile: empty.file }, log)).toThrow(`API_TOKEN_FILE=${empty.file} cannot be used: the file is empty`);
  });
});
