import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadsView, MappingView } from '../../src/protocol/admin.ts';
import type { RedisClient } from '../../src/redis/redis-connection.ts';
import type { RunningSidecar } from '../../src/sidecar.ts';
import { CHROMIUM, buildConsole, launchBrowser, missingBrowser, screenshot } from '../support/browser.ts';
import { deliveryEndpoint, waitFor } from '../support/delivery-endpoint.ts';
import { createTopic, useKafkaAdmin } from '../support/kafka.ts';
import { connectRedis, dropPrefix } from '../support/redis.ts';
import { startTestSidecar } from '../support/sidecar.ts';
import { produceGroups as produceToKafka, subscriptionsFile } from '../support/subscriptions.ts';
import { adminCall, makeIdle, produceGroups } from './admin-fixture.ts';

const TOKEN = 'console-test-token';
const missing = missingBrowser();
if (missing && process.env.CI === 'true') throw new Error(`CI must run the console's browser tests: ${missing}`);
if (missing) console.warn(`skipping the console's browser tests: ${missing}`);

/** Evaluated in the page: nothing wider than the window (no sideways scrolling). */
const FITS_WIDTH = 'document.documentElement.scrollWidth <= window.innerWidth';

/** What the chart shows for a topic: groups per partition, read from the bars' data attributes. */
const chartOf = (page: Page, topic: string): Promise<number[]> =>
  page.locator(`figure[data-topic="${topic}"] rect.bar`).evaluateAll((bars) => bars.map((b) => Number(b.getAttribute('data-groups'))));

describe.skipIf(missing !== undefined)(`the operations console in a real browser (${CHROMIUM})`, () => {
  const { kafka, admin } = useKafkaAdmin();
  let redis: RedisClient;
  let browser: Browser;
  let sidecar: RunningSidecar;
  let endpoint: Awaited<ReturnType<typeof deliveryEndpoint>>;
  let subscription: string;
  const prefix = `console-${randomUUID().slice(0, 8)}`;
  /** The ordered topic, its groups, and the partition each was routed to. */
  let topic: string;
  let routed: Map<string, number>;
  /** The records the endpoint refuses, by value: a subscription whose endpoint fails on purpose. */
  const failing = new Set(['stuck-a:0', 'stuck-b:0']);

  beforeAll(async () => {
    buildConsole();
    redis = connectRedis();
    browser = await launchBrowser();
    topic = await createTopic(admin, 3);
    const consumed = await createTopic(admin, 1);
    endpoint = await deliveryEndpoint({ answer: (b) => (b.messages.some((m) => failing.has(m.value ?? '')) ? 500 : 200) });
    const file = subscriptionsFile({ topic: consumed, endpoint: endpoint.url, max_attempts: 2, retry_backoff: '5ms' });
    subscription = file.name;
    sidecar = await startTestSidecar({
      redisPrefix: prefix,
      adminToken: TOKEN,
      subscriptionsFile: file.path,
      consumeCommitIntervalMs: 200,
      shutdownGraceMs: 5000,
    });
    routed = await produceGroups(sidecar.url, topic, ['user-1', 'user-2', 'user-3', 'user-4', 'user-5', 'order-1', 'order-2']);
    await produceToKafka(kafka, consumed, ['stuck-a', 'stuck-b', 'fine'], 1, () => 0);
  });

  afterAll(async () => {
    await browser?.close();
    await sidecar?.close();
    await endpoint?.close();
    if (redis) await dropPrefix(redis, prefix);
    redis?.disconnect();
  });

  /** A page of the console, signed in with the token typed into its form. */
  async function signedIn(width = 1200): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    await page.goto(`${sidecar.url}/console/`);
    await page.getByLabel('ADMIN_TOKEN').fill(TOKEN);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Overview', level: 2 }).waitFor();
    return page;
  }

  it('asks for ADMIN_TOKEN with the admin API’s own answer, keeps it in sessionStorage (never the URL), under a strict CSP', async () => {
    const page = await browser.newPage();
    const requests: string[] = [];
    const violations: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    const response = await page.goto(`${sidecar.url}/console`);
    expect(page.url()).toBe(`${sidecar.url}/console/`);
    const csp = response!.headers()['content-security-policy'];
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");

    // Without a token: what GET /admin/v1/overview answers, word for word.
    const refusal = await adminCall(sidecar.url, 'GET', '/overview');
    expect(refusal.status).toBe(401);
    await expect.poll(() => page.getByRole('alert').first().textContent()).toBe(`401 UNAUTHORIZED: ${refusal.body.error.message}`);
    await screenshot(page, 'sign-in');

    await page.getByLabel('ADMIN_TOKEN').fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toBe('401 UNAUTHORIZED: admin API: wrong bearer token');

    await page.getByLabel('ADMIN_TOKEN').fill(TOKEN);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Overview', level: 2 }).waitFor();
    expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([TOKEN]);
    for (const url of requests) {
      expect(url.startsWith(`${sidecar.url}/`), url).toBe(true);
      expect(url).not.toContain(TOKEN);
    }
    // A new tab of the same session keeps nothing: sessionStorage is per tab.
    const other = await browser.newPage();
    await other.goto(`${sidecar.url}/console/`);
    await other.getByLabel('ADMIN_TOKEN').waitFor();
    await other.close();
    expect(violations).toEqual([]);
    await page.close();
  });

  it('shows version, engine, readiness, Kafka writes and the partition chart of a topic with known loads, updated without a reload', async () => {
    const page = await signedIn();
    const expected = [0, 1, 2].map((p) => [...routed.values()].filter((at) => at === p).length);
    await expect.poll(() => chartOf(page, topic)).toEqual(expected);
    const loads = (await adminCall<LoadsView>(sidecar.url, 'GET', `/topics/${topic}/loads`, { token: TOKEN })).body;
    await expect
      .poll(() => page.locator(`figure[data-topic="${topic}"] figcaption`).textContent())
      .toBe(`${topic}: 7 groups on 3 partitions, max−min ${loads.max_minus_min}, deviation ${loads.deviation.toFixed(3)}`);
    const version = (await (await fetch(`${sidecar.url}/v1/api-versions`)).json()) as { sidecar_version: string; kafka_client: string };
    const facts = page.locator('section[aria-labelledby="sidecar-title"]');
    await expect.poll(() => facts.textContent()).toContain(`Version${version.sidecar_version}`);
    expect(await facts.textContent()).toContain(`Kafka engine${version.kafka_client}`);
    expect(await facts.textContent()).toContain('Ready (/readyz)yes');
    const writes = page.locator('section[aria-labelledby="writes-title"]');
    // The rate needs two readings, the second a refresh later.
    await expect.poll(() => writes.textContent(), { timeout: 15_000 }).toMatch(/Messages written\d+ \(\d+\.\d\/s\)Messages failed0 \(0\.0\/s\)/);
    // The subscription's two blocked groups each hold their one record: the hot groups.
    const hot = page.locator('section[aria-labelledby="hot-title"] tbody');
    await expect.poll(() => hot.textContent(), { timeout: 15_000 }).toContain(`${subscription}0stuck-a1`);
    expect(await hot.textContent()).toContain(`${subscription}0stuck-b1`);
    await screenshot(page, 'overview');

    // New groups appear in the chart on the next refresh, without a reload.
    const more = await produceGroups(sidecar.url, topic, ['late-1', 'late-2', 'late-3']);
    for (const [g, p] of more) routed.set(g, p);
    const now = [0, 1, 2].map((p) => [...routed.values()].filter((at) => at === p).length);
    await expect.poll(() => chartOf(page, topic), { timeout: 15_000 }).toEqual(now);
    await expect.poll(() => writes.textContent(), { timeout: 15_000 }).toMatch(/Messages written\d+ \((?!0\.0)\d+\.\d\/s\)/);
    await page.close();
  });

  it('charts the topics it can read when one listed has gone from Kafka, and opens the overview for an unknown page name', async () => {
    // Listed in Redis (it had mappings) but gone from Kafka: its loads are a 404.
    const gone = `a-gone-topic-${randomUUID().slice(0, 8)}`;
    await redis.sadd(`${prefix}:topics`, gone);
    try {
      const page = await signedIn();
      const expected = [0, 1, 2].map((p) => [...routed.values()].filter((at) => at === p).length);
      // The gone topic's 404 comes after a metadata read from Kafka: a refresh takes longer than usual.
      await expect.poll(() => chartOf(page, topic), { timeout: 15_000 }).toEqual(expected);
      await expect
        .poll(() => page.locator('section[aria-labelledby="topics-title"]').textContent(), { timeout: 15_000 })
        .toContain(`Loads not read (the topic may be gone from Kafka): ${gone}`);
      await page.goto(`${sidecar.url}/console/#constructor`);
      await page.reload();
      await expect.poll(() => page.locator('h2').first().textContent()).toBe('Overview');
      await page.close();
    } finally {
      await redis.srem(`${prefix}:topics`, gone);
    }
  });

  it('looks a group up and moves it after a confirmation; a group in use is refused with the CLI’s message', async () => {
    const page = await signedIn();
    await page.getByRole('link', { name: 'Groups' }).click();
    await page.getByLabel('Topic').selectOption(topic);

    // Used a moment ago: the sidecar's safety rule refuses, and the console says so as the CLI does.
    await page.getByLabel('Group', { exact: true }).fill('order-2');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Group order-2' }).waitFor();
    await expect.poll(() => page.locator('#group-partition').textContent()).toBe(String(routed.get('order-2')));
    await page.getByRole('button', { name: 'Move…' }).click();
    await page.getByRole('button', { name: 'Move', exact: true }).click();
    await expect
      .poll(() => page.getByRole('status').textContent(), { timeout: 15_000 })
      .toMatch(/^409 CONFLICT: group "order-2" was used too recently for a move: last access in the minute from /);

    // Idle long enough: moved, after the confirmation (Cancel first changes nothing).
    await makeIdle(redis, prefix, topic, 'order-1');
    const from = routed.get('order-1')!;
    const to = (from + 2) % 3;
    await page.getByLabel('Group', { exact: true }).fill('order-1');
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByRole('heading', { name: 'Group order-1' }).waitFor();
    await expect.poll(() => page.locator('#group-partition').textContent()).toBe(String(from));
    await page.getByLabel(/Move to partition/).fill(String(to));
    await page.getByRole('button', { name: 'Move…' }).click();
    await page.getByRole('button', { name: 'Cancel' }).click();
    expect((await adminCall<MappingView>(sidecar.url, 'GET', `/topics/${topic}/groups/order-1`, { token: TOKEN })).body.partition).toBe(from);
    await page.getByRole('button', { name: 'Move…' }).click();
    await screenshot(page, 'groups-confirm');
    await page.getByRole('button', { name: 'Move', exact: true }).click();
    await expect
      .poll(() => page.getByRole('status').textContent(), { timeout: 15_000 })
      .toBe(`moved group "order-1" of topic "${topic}": partition ${from} -> ${to}`);
    expect((await adminCall<MappingView>(sidecar.url, 'GET', `/topics/${topic}/groups/order-1`, { token: TOKEN })).body.partition).toBe(to);
    await expect.poll(() => page.locator('#group-partition').textContent()).toBe(String(to));

    // Listed by prefix, a page at a time.
    await page.getByLabel('Group name starts with').fill('user-');
    await page.getByLabel('Per page').selectOption('25');
    await page.getByRole('button', { name: 'List' }).click();
    const listed = page.locator('table tbody tr td:first-child');
    await expect.poll(async () => (await listed.allTextContents()).toSorted()).toEqual(['user-1', 'user-2', 'user-3', 'user-4', 'user-5']);
    await screenshot(page, 'groups');
    await page.close();
  });

  it('lists blocked groups with their error and attempt; Retry delivers one again, Skip gives another up after a confirmation', async () => {
    const page = await signedIn();
    await page.getByRole('link', { name: 'Subscriptions' }).click();
    await page.getByText('Blocked groups are listed per replica').waitFor();
    const section = page.locator(`section[data-subscription="${subscription}"]`);
    const retryA = section.getByRole('button', { name: 'Retry group stuck-a on partition 0' });
    const skipB = section.getByRole('button', { name: 'Skip the head of group stuck-b on partition 0' });
    await retryA.waitFor({ timeout: 30_000 });
    await skipB.waitFor();
    const rows = await section.locator('tbody tr').allTextContents();
    expect(rows).toContain('0stuck-a02HTTP 500RetrySkip…');
    expect(rows).toContain('0stuck-b12HTTP 500RetrySkip…');
    await screenshot(page, 'subscriptions');

    failing.delete('stuck-a:0');
    await retryA.click();
    await expect.poll(() => page.getByRole('status').textContent()).toBe('retrying partition 0 group "stuck-a" offsets 0 attempt 2: HTTP 500');
    await waitFor(
      () => 'stuck-a delivered after the retry',
      () => endpoint.acked().get('stuck-a')?.length === 1,
    );
    await retryA.waitFor({ state: 'detached' });

    await skipB.click();
    await page.getByRole('button', { name: 'Skip', exact: true }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toBe('skipped partition 0 group "stuck-b" offsets 1 attempt 2: HTTP 500');
    await skipB.waitFor({ state: 'detached' });
    await expect.poll(() => section.textContent()).toContain('No blocked groups on this replica.');
    expect(endpoint.acked().get('stuck-b')).toBeUndefined();
    expect(endpoint.acked().get('fine')).toEqual(['fine:0']);
    await page.close();
  });

  it('is readable in a narrow window and usable from the keyboard', async () => {
    const page = await signedIn(380);
    await expect.poll(() => chartOf(page, topic)).toHaveLength(3);
    expect(await page.evaluate(FITS_WIDTH)).toBe(true);
    await screenshot(page, 'overview-narrow');
    // Tab from the top of the page to the Groups link and follow it with Enter.
    for (let i = 0; i < 10; i++) {
      await page.keyboard.press('Tab');
      if ((await page.evaluate('document.activeElement?.textContent')) === 'Groups') break;
    }
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Groups', level: 2 }).waitFor();
    expect(await page.evaluate(FITS_WIDTH)).toBe(true);
    await page.close();
  });

  it('works without ADMIN_TOKEN (no sign-in), and CONSOLE=false serves nothing', async () => {
    const [openPrefix, offPrefix] = [`${prefix}-open`, `${prefix}-off`];
    const open = await startTestSidecar({ redisPrefix: openPrefix });
    const off = await startTestSidecar({ redisPrefix: offPrefix, console: false });
    try {
      const page = await browser.newPage();
      await page.goto(`${open.url}/console/`);
      await page.getByRole('heading', { name: 'Overview', level: 2 }).waitFor();
      expect(await page.getByLabel('ADMIN_TOKEN').count()).toBe(0);
      await page.close();
      const gone = await fetch(`${off.url}/console/`);
      expect(gone.status).toBe(404);
    } finally {
      await Promise.all([open.close(), off.close()]);
      await Promise.all([dropPrefix(redis, openPrefix), dropPrefix(redis, offPrefix)]);
    }
  });
});
