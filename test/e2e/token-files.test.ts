import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/load-config.ts';
import { spawnSidecar, testOptions, type SidecarProcess } from '../support/sidecar.ts';

const dir = mkdtempSync(join(tmpdir(), 'token-files-'));
const apiFile = join(dir, 'api-token');
writeFileSync(apiFile, 'api-token-one\n');

/**
 * The admin token as a Kubernetes Secret volume holds it: `token` is a symlink into `..data`, itself a symlink
 * to a timestamped directory that a rotation replaces by swapping `..data` atomically.
 */
const secretVolume = join(dir, 'admin-secret');
mkdirSync(secretVolume);
let generation = 0;
function writeAdminSecret(token: string): void {
  const version = `..${++generation}`;
  mkdirSync(join(secretVolume, version));
  writeFileSync(join(secretVolume, version, 'token'), token);
  symlinkSync(version, join(secretVolume, '..data_tmp'));
  renameSync(join(secretVolume, '..data_tmp'), join(secretVolume, '..data'));
  if (generation === 1) symlinkSync(join('..data', 'token'), join(secretVolume, 'token'));
}
writeAdminSecret('admin-token-one');

let sidecar: SidecarProcess;
beforeAll(async () => {
  sidecar = await spawnSidecar(testOptions(), { flags: ['--api-token-file', apiFile, '--admin-token-file', join(secretVolume, 'token')] });
});
afterAll(async () => {
  await sidecar?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const status = async (path: string, token: string): Promise<number> =>
  (await fetch(`${sidecar.url}${path}`, { headers: { authorization: `Bearer ${token}` } })).status;
const logged = (text: string): number => sidecar.logs.filter((line) => line.includes(text)).length;
const api = (token: string) => status('/v1/api-versions', token);
const admin = (token: string) => status('/admin/v1/topics', token);

describe('API_TOKEN_FILE and ADMIN_TOKEN_FILE', () => {
  it('take the tokens from the files', async () => {
    expect(await api('api-token-one')).toBe(200);
    expect(await api('admin-token-one')).toBe(401);
    expect(await admin('admin-token-one')).toBe(200);
    expect(await admin('api-token-one')).toBe(401);
  });

  it('apply a token rewritten in place without a restart; the old one stops working', async () => {
    writeFileSync(apiFile, 'api-token-two\n');
    await vi.waitUntil(async () => (await api('api-token-two')) === 200, { timeout: 10_000, interval: 100 });
    expect(await api('api-token-one')).toBe(401);
  });

  it('apply a token rotated as a Kubernetes Secret volume does (symlink swap)', async () => {
    writeAdminSecret('admin-token-two');
    await vi.waitUntil(async () => (await admin('admin-token-two')) === 200, { timeout: 10_000, interval: 100 });
    expect(await admin('admin-token-one')).toBe(401);
  });

  it('keep the last token while the file is empty or missing, then take the next one', async () => {
    writeFileSync(apiFile, '');
    // The file is looked at when a request comes (at most once a second).
    await vi.waitUntil(async () => (await api('api-token-two')) === 200 && logged('API_TOKEN_FILE: the file cannot be read') === 1, {
      timeout: 10_000,
      interval: 100,
    });
    expect(sidecar.logs.find((line) => line.includes('cannot be read'))).toContain('the file is empty');
    expect(await api('api-token-two')).toBe(200);
    // Missing for longer than the sidecar's once-a-second look: every request in that time still passes.
    unlinkSync(apiFile);
    for (const until = Date.now() + 1500; Date.now() < until;) expect(await api('api-token-two')).toBe(200);
    writeFileSync(apiFile, 'api-token-three');
    await vi.waitUntil(async () => (await api('api-token-three')) === 200, { timeout: 10_000, interval: 100 });
    expect(await api('api-token-two')).toBe(401);
    expect(logged('API_TOKEN_FILE: the file can be read again')).toBe(1);
    // One warning for the whole spell, and no token in any line.
    expect(logged('API_TOKEN_FILE: the file cannot be read')).toBe(1);
    for (const token of ['api-token-one', 'api-token-two', 'api-token-three', 'admin-token-one', 'admin-token-two']) expect(logged(token)).toBe(0);
  });

  it('refuse a token given both ways, and a file that cannot be read, at start', () => {
    expect(() => loadConfig([], { API_TOKEN: 'x', API_TOKEN_FILE: apiFile })).toThrow(/API_TOKEN or API_TOKEN_FILE, not both/);
    expect(() => loadConfig([], { ADMIN_TOKEN_FILE: join(dir, 'nowhere') })).toThrow(/ADMIN_TOKEN_FILE=.* cannot be read/);
  });
});
