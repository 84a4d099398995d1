import { readFile } from 'node:fs/promises';
import type express from 'express';
import { SidecarError } from '../errors/sidecar-error.ts';
import type { BearerToken } from './bearer-token.ts';
import { sameOriginGuard } from './same-origin-guard.ts';

/**
 * The operations console's files, built by `npm run build` (scripts/build-console.mjs). src/ and dist/ sit side by
 * side, so from src/http (tests, `node src/cli.ts`) and from dist/http (the package) this is the same dist/console.
 */
const CONSOLE_DIR = new URL('../../dist/console/', import.meta.url);

/** The only files there are; anything else is a 404 without touching the disk. */
const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};

/** Its own scripts and styles only, its calls to this origin only: no inline script, nothing from elsewhere. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

async function send(res: express.Response, file: string): Promise<void> {
  let body: Buffer;
  try {
    body = await readFile(new URL(file, CONSOLE_DIR));
  } catch {
    throw new SidecarError('NOT_FOUND', `the console is not built (no dist/console/${file}): run npm run build`);
  }
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cache-Control', 'no-cache');
  res.type(FILES[file]!).send(body);
}

/**
 * GET /console/ and its two assets. The page holds no data: everything it shows comes from /admin/v1 and /readyz,
 * called with the ADMIN_TOKEN the operator types in, so serving it needs no token. The admin API's guard
 * (same-origin-guard.ts) applies all the same: no other website's page loads it, nor, without ADMIN_TOKEN, a page
 * reached under another name (DNS rebinding); a link followed from elsewhere (a top-level navigation) still opens it.
 */
export function addConsoleRoutes(app: express.Express, { token }: { token: BearerToken | undefined }): void {
  app.use('/console', sameOriginGuard({ name: 'console', token, jsonWrites: false, navigations: true }));
  app.get('/console', async (req, res) => {
    // Relative asset URLs need the trailing slash (non-strict routing matches both here).
    if (!req.path.endsWith('/')) return res.redirect(301, '/console/');
    await send(res, 'index.html');
  });
  app.get('/console/:file', async (req, res) => {
    const file = req.params.file;
    if (!Object.hasOwn(FILES, file) || file === 'index.html') throw new SidecarError('NOT_FOUND', `no route for GET ${req.path}`);
    await send(res, file);
  });
}
