import http, { type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/cli/admin-client.ts';
import type { SubscriptionStatus } from '../../src/protocol/subscriptions.ts';
import { CHROMIUM, buildConsole, launchBrowser, missingBrowser } from '../support/browser.ts';
import { deliveryEndpoint, waitFor } from '../support/delivery-endpoint.ts';
import { createTopic, useKafkaAdmin } from '../support/kafka.ts';
import { spawnSidecar, testOptions, type SidecarProcess } from '../support/sidecar.ts';
import { subscriptionsFile } from '../support/subscriptions.ts';

/**
 * Another website's page must not drive the admin API of a sidecar on this machine: not by a form POST or a
 * no-cors fetch (no preflight), nor by DNS rebinding (its own name pointed at 127.0.0.1), token or no token.
 */
const TOKEN = 'same-origin-admin-token';
const missing = missingBrowser();
if (missing && process.env.CI === 'true') throw new Error(`CI must run the browser tests: ${missing}`);

interface Answer {
  status: number;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

/** A request with exactly these headers (fetch would not let a test set Host). */
function raw(url: string, method: string, path: string, headers: OutgoingHttpHeaders = {}, body?: string): Promise<Answer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: hostname, port, method, path, headers: { ...headers, ...(body === undefined ? {} : { 'content-length': Buffer.byteLength(body) }) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: text.startsWith('{') ? JSON.parse(text) : { text } }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const stateOf = async (sidecar: SidecarProcess): Promise<string> => {
  const { subscriptions } = (await (await fetch(`${sidecar.url}/v1/subscriptions`)).json()) as { subscriptions: SubscriptionStatus[] };
  return subscriptions[0]!.state;
};

describe('the admin API and the console refuse other websites', () => {
  const { admin } = useKafkaAdmin();
  let endpoint: Awaited<ReturnType<typeof deliveryEndpoint>>;
  let open: SidecarProcess;
  let guarded: SidecarProcess;
  let name: string;
  let topic: string;
  let port: string;

  beforeAll(async () => {
    buildConsole();
    topic = await createTopic(admin, 1);
    endpoint = await deliveryEndpoint();
    const file = subscriptionsFile({ topic, endpoint: endpoint.url });
    name = file.name;
    const unset = { ADMIN_TOKEN: undefined, ADMIN_TOKEN_FILE: undefined };
    [open, guarded] = await Promise.all([
      spawnSidecar(testOptions(), { flags: ['--subscriptions-file', file.path], env: unset }),
      spawnSidecar(testOptions(), { env: { ...unset, ADMIN_TOKEN: TOKEN } }),
    ]);
    port = new URL(open.url).port;
    await waitFor(
      () => 'the subscription running',
      async () => (await stateOf(open)) === 'running',
    );
  });

  afterAll(async () => {
    await Promise.all([open?.stop(), guarded?.stop()]);
    await endpoint?.close();
  });

  it('refuses a cross-site form POST or no-cors fetch (403, or 415 without a JSON type), and nothing changes', async () => {
    const stop = `/admin/v1/subscriptions/${name}/stop`;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const evil = { origin: 'http://evil.example' };
    for (const [headers, status] of [
      [{ ...evil, ...form }, 403],
      [{ ...evil, 'content-type': 'text/plain' }, 403],
      [{ ...evil, 'content-type': 'application/json' }, 403],
      [{ origin: 'null', ...form }, 403],
      [{ 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', ...form }, 403],
      [{ origin: `http://127.0.0.1:${Number(port) + 1}`, 'content-type': 'application/json' }, 403],
      // No Origin (an older browser, or a form it did not label): its type alone needs no preflight.
      [form, 415],
      [{}, 415],
    ] as const) {
      const answer = await raw(open.url, 'POST', stop, headers, headers === form ? 'a=1' : undefined);
      expect(answer.status, JSON.stringify(headers)).toBe(status);
      expect(answer.body.error!.code).toBe(status === 403 ? 'FORBIDDEN' : 'UNSUPPORTED_MEDIA_TYPE');
    }
    const rebuild = await raw(open.url, 'POST', `/admin/v1/topics/${topic}/rebuild`, { ...evil, 'content-type': 'text/plain' });
    expect(rebuild.status).toBe(403);
    expect(rebuild.body.error!.message).toMatch(/^admin API: refused a request from another origin \(Origin: http:\/\/evil\.example\)/);
    // The token changes nothing: with it set, the same requests are refused before it is even asked for.
    expect((await raw(guarded.url, 'POST', `/admin/v1/topics/${topic}/rebuild`, { ...evil, ...form, authorization: `Bearer ${TOKEN}` })).status).toBe(403);
    expect(await stateOf(open)).toBe('running');
  });

  it('refuses, without ADMIN_TOKEN, a Host that is not a loopback name (DNS rebinding), admin API and console alike', async () => {
    for (const path of ['/admin/v1/overview', '/console/', '/console/console.js']) {
      const rebound = await raw(open.url, 'GET', path, { host: `attacker.example:${port}` });
      expect(rebound.status, path).toBe(403);
      expect(rebound.body.error!.code).toBe('FORBIDDEN');
    }
    expect((await raw(open.url, 'GET', '/admin/v1/overview', { host: `attacker.example:${port}` })).body.error!.message).toContain('set ADMIN_TOKEN');
    expect((await raw(open.url, 'GET', '/admin/v1/overview', { host: `10.1.2.3:${port}` })).status).toBe(403);
    expect((await raw(open.url, 'GET', '/admin/v1/overview', { host: `localhost.attacker.example:${port}` })).status).toBe(403);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `127.1.2.3:${port}`, `[::1]:${port}`, `app.localhost:${port}`, 'localhost']) {
      expect((await raw(open.url, 'GET', '/admin/v1/overview', { host })).status, host).toBe(200);
    }
    // The page's own origin, same-origin reads: served.
    expect((await raw(open.url, 'GET', '/admin/v1/overview', { origin: open.url, 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    // /v1 and the health routes are not the admin API's: untouched.
    expect((await raw(open.url, 'GET', '/readyz', { host: `attacker.example:${port}` })).status).toBe(200);
    // With ADMIN_TOKEN the token guards it, whatever the name (a rebinding page does not have it).
    expect((await raw(guarded.url, 'GET', '/admin/v1/overview', { host: 'sidecar.internal' })).status).toBe(401);
    expect((await raw(guarded.url, 'GET', '/admin/v1/overview', { host: 'sidecar.internal', authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  });

  it('still serves the CLI’s calls, bodyless changes included', async () => {
    const client = new AdminClient({ url: open.url, token: undefined });
    expect(await client.call('POST', ['subscriptions', name, 'stop'])).toMatchObject({ subscription: name });
    await waitFor(
      () => 'stopped',
      async () => (await stateOf(open)) === 'stopped',
    );
    expect(await client.call('POST', ['subscriptions', name, 'start'])).toMatchObject({ subscription: name });
    await waitFor(
      () => 'running again',
      async () => (await stateOf(open)) === 'running',
    );
    // A DELETE needs no JSON type (no browser sends one to another origin without a preflight).
    expect((await raw(open.url, 'DELETE', `/admin/v1/topics/${topic}/groups/nobody`)).status).toBe(404);
  });

  describe.skipIf(missing !== undefined)(`in a real browser (${CHROMIUM})`, () => {
    let browser: Browser;
    let evil: http.Server;
    beforeAll(async () => {
      browser = await launchBrowser();
      // The reviewer's page: a no-cors fetch, then a form POST, to the sidecar on 127.0.0.1.
      const page = `<!doctype html><html><body>
<form id=f method=POST action="${open.url}/admin/v1/subscriptions/${name}/stop"></form>
<script>
fetch('${open.url}/admin/v1/topics/${topic}/rebuild', {method:'POST', mode:'no-cors'}).finally(() => document.getElementById('f').submit());
</script></body></html>`;
      evil = http.createServer((_req, res) => res.setHeader('content-type', 'text/html').end(page));
      await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    });
    afterAll(async () => {
      await browser?.close();
      await new Promise((resolve) => evil?.close(resolve));
    });

    it('a page of another site cannot stop a subscription', async () => {
      const page = await browser.newPage();
      const answers: number[] = [];
      page.on('response', (r) => {
        if (r.url().startsWith(open.url)) answers.push(r.status());
      });
      // localhost: another site than 127.0.0.1 (cross-site), as the attacker's page is.
      await page.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`);
      await page.waitForURL(`${open.url}/**`);
      expect(await page.content()).toContain('FORBIDDEN');
      expect(answers).toContain(403);
      expect(answers.filter((s) => s < 400)).toEqual([]);
      await page.close();
      expect(await stateOf(open)).toBe('running');
    });

    it('the console opens and reads the admin API, without ADMIN_TOKEN', async () => {
      const page = await browser.newPage();
      await page.goto(`${open.url}/console/`);
      await page.getByRole('heading', { name: 'Overview', level: 2 }).waitFor();
      // A call as the console makes a change (console/api.ts): its own origin, declared JSON.
      const answer = await page.evaluate(async (path) => {
        const res = await fetch(path, { method: 'POST', headers: { accept: 'application/json', 'content-type': 'application/json' } });
        return res.status;
      }, `../admin/v1/subscriptions/${name}/start`);
      expect(answer).toBe(200);
      await page.close();
    });
  });
});
