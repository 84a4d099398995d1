import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium (.ci/run installs it); playwright-core drives it and downloads no browser of its own. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Screenshots of each page, kept by CI as artefacts (gitignored). */
export const SCREENSHOTS = new URL('../../artifacts/console/', import.meta.url);

/**
 * Why the browser tests cannot run here, or undefined when they can. In CI a missing browser is a failure (the
 * tests throw this), never a silent pass; on a developer's machine the tests are skipped with this reason.
 */
export const missingBrowser = (): string | undefined =>
  existsSync(CHROMIUM) ? undefined : `no browser at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH) to run the console's browser tests`;

/** The console's files, as `npm run build` makes them (the sidecar serves dist/console). */
export function buildConsole(): void {
  execFileSync(process.execPath, ['scripts/build-console.mjs'], { stdio: 'pipe' });
}

export async function launchBrowser(): Promise<Browser> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

export const screenshot = (page: Page, name: string): Promise<Buffer> =>
  page.screenshot({ path: new URL(`${name}.png`, SCREENSHOTS).pathname, fullPage: true });
