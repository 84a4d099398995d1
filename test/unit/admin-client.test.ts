import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generationWaitMs } from '../../src/admin/admin-service.ts';
import { AdminCallError, AdminClient, adminToken, callTimeoutMs, READ_TIMEOUT_MS } from '../../src/cli/admin-client.ts';
import { groupsCommand } from '../../src/cli/groups-command.ts';
import { subscriptionsCommand } from '../../src/cli/subscriptions-command.ts';
import { tempDir } from '../support/temp-dir.ts';

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** A sidecar that takes every request and never answers (one stuck, or a move still waiting). */
async function silentSidecar(): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  server = createServer(() => void requests++);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests };
}

const failure = async (call: Promise<unknown>): Promise<AdminCallError> => {
  const err: unknown = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AdminCallError);
  return err as AdminCallError;
};

describe('admin client timeouts', () => {
  it('waits for a change longer than a move waits at the largest TOUCH_FLUSH_INTERVAL (60 s), and a minute for a read', () => {
    expect(callTimeoutMs('GET')).toBe(READ_TIMEOUT_MS);
    for (const method of ['POST', 'DELETE'] as const) {
      expect(callTimeoutMs(method)).toBeGreaterThan(generationWaitMs(60_000) + 60_000);
      expect(callTimeoutMs(method)).toBeGreaterThanOrEqual(5 * 60_000);
    }
  });

  it('says a change that got no answer in time has an unknown outcome and how to check it; a read is just not answered', async () => {
    const sidecar = await silentSidecar();
    const client = new AdminClient({ url: sidecar.url, token: undefined, timeoutMs: 200 });
    const check = 'see where the group is now with: ordered-sidecar groups get t g';
    const move = await failure(client.call('POST', ['topics', 't', 'groups', 'g', 'move'], { body: { partition: 1 }, check }));
    expect(move.message).toBe(
      `no answer from the sidecar at ${sidecar.url}/admin/v1 within 200 ms: the outcome is unknown (the sidecar may have applied the change, or may still be applying it); ${check}`,
    );
    const release = await failure(client.call('DELETE', ['topics', 't', 'groups', 'g']));
    expect(release.message).toContain('the outcome is unknown');
    expect(release.message).toContain('check the state before retrying');
    const read = await failure(client.call('GET', ['topics']));
    expect(read.message).toBe(`no answer from the sidecar at ${sidecar.url}/admin/v1 within 200 ms; try again`);
    expect(sidecar.requests()).toBe(3);
  });
});

describe('adminToken', () => {
  const file = join(tempDir('admin-token-'), 'token');
  writeFileSync(file, 'file-token\n');

  it('takes --token, else ADMIN_TOKEN, else ADMIN_TOKEN_FILE', () => {
    expect(adminToken('flag', { ADMIN_TOKEN: 'env', ADMIN_TOKEN_FILE: file })).toBe('flag');
    expect(adminToken(undefined, { ADMIN_TOKEN: 'env', ADMIN_TOKEN_FILE: file })).toBe('env');
    expect(adminToken(undefined, { ADMIN_TOKEN_FILE: file })).toBe('file-token');
    expect(adminToken(undefined, {})).toBeUndefined();
  });

  it('treats an empty ADMIN_TOKEN as unset, as the sidecar does, so ADMIN_TOKEN_FILE applies', () => {
    expect(adminToken(undefined, { ADMIN_TOKEN: '', ADMIN_TOKEN_FILE: file })).toBe('file-token');
    expect(adminToken(undefined, { ADMIN_TOKEN: '' })).toBeUndefined();
  });
});

describe('admin paths and addresses', () => {
  it('refuses a --url that is not an http(s) URL, an empty name and a --limit out of range as a malformed command line (exit 2), asking nothing', async () => {
    const errors: string[] = [];
    const io = { out: () => undefined, err: (text: string) => void errors.push(text) };
    for (const url of ['notaurl', '127.0.0.1:8080', 'localhost:8080']) {
      expect(await groupsCommand(['topics', '--url', url], {}, io)).toBe(2);
      expect(await subscriptionsCommand(['blocked', 'x', '--url', url], {}, io)).toBe(2);
    }
    expect(errors.every((e) => e.includes("give the sidecar's address as http://host:port"))).toBe(true);
    const sidecar = await silentSidecar();
    errors.length = 0;
    expect(await groupsCommand(['get', 't', '', '--url', sidecar.url], {}, io)).toBe(2);
    expect(await groupsCommand(['release', '', 'g', '--url', sidecar.url], {}, io)).toBe(2);
    expect(await subscriptionsCommand(['blocked', '', '--url', sidecar.url], {}, io)).toBe(2);
    expect(errors.map((e) => e.split('\n')[0])).toEqual([
      'ordered-sidecar groups: <group> must not be empty',
      'ordered-sidecar groups: <topic> must not be empty',
      expect.stringContaining('<subscription> must not be empty'),
    ]);
    for (const limit of ['0', '1001', 'ten']) expect(await groupsCommand(['list', 't', '--limit', limit, '--url', sidecar.url], {}, io)).toBe(2);
    expect(errors.at(-1)).toContain('--limit must be a whole number from 1 to 1000, got "ten"');
    expect(sidecar.requests()).toBe(0);
  });
});
