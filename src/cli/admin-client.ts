import { readSecret } from '../config/read-secret.ts';

/**
 * The admin token from --token, else ADMIN_TOKEN, else the file ADMIN_TOKEN_FILE names (as the sidecar in the same
 * pod reads it). An empty ADMIN_TOKEN is unset, as the sidecar takes it (src/config/load-config.ts), so the file applies.
 */
export function adminToken(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const file = env.ADMIN_TOKEN_FILE;
  const token = env.ADMIN_TOKEN === '' ? undefined : env.ADMIN_TOKEN;
  if (flag !== undefined || token !== undefined || !file) return flag ?? token;
  try {
    return readSecret(file).trim();
  } catch (err) {
    throw new AdminCallError(`ADMIN_TOKEN_FILE=${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** A sidecar's answer that was not 2xx, with its own reason (the `{"error": {...}}` body) when it sent one. */
export class AdminCallError extends Error {
  override name = 'AdminCallError';
  readonly status: number | undefined;
  readonly code: string | undefined;

  constructor(message: string, status?: number, code?: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export type AdminMethod = 'GET' | 'POST' | 'DELETE';

/** A read (a mapping, a page, loads) answers at once; anything far beyond that is stuck. */
export const READ_TIMEOUT_MS = 60_000;
/**
 * A change may take long on purpose: a move or release waits 2T + T/2 after bumping the generation (T =
 * TOUCH_FLUSH_INTERVAL, up to 60 s: 150 s), and a rebuild or backfill of a large topic reads or writes every
 * mapping. Giving up sooner reports a failure while the sidecar goes on and completes the change.
 */
export const CHANGE_TIMEOUT_MS = 5 * 60_000;

/** How long a call waits for its answer: reads are quick, changes (POST, DELETE) may wait on purpose. */
export const callTimeoutMs = (method: AdminMethod): number => (method === 'GET' ? READ_TIMEOUT_MS : CHANGE_TIMEOUT_MS);

/**
 * What a call that got no answer in time says. A read can simply be repeated; a change was sent and may have
 * been applied (or still be applied) by the sidecar, so the operator is told to look before repeating it.
 */
export function noAnswerMessage(base: string, method: AdminMethod, timeoutMs: number, check: string | undefined): string {
  const waited = `no answer from the sidecar at ${base} within ${timeoutMs < 1000 ? `${timeoutMs} ms` : `${Math.round(timeoutMs / 1000)} s`}`;
  if (method === 'GET') return `${waited}; try again`;
  return `${waited}: the outcome is unknown (the sidecar may have applied the change, or may still be applying it); ${check ?? 'check the state before retrying'}`;
}

/** Why `url` (--url) cannot be a sidecar's address, or undefined when it can: an http(s) URL, as fetch takes. */
export function urlProblem(url: string): string | undefined {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    return `--url "${url}" is not a URL: give the sidecar's address as http://host:port`;
  }
  return protocol === 'http:' || protocol === 'https:' ? undefined : `--url "${url}" is not an http(s) URL: give the sidecar's address as http://host:port`;
}

export interface AdminClientOptions {
  url: string;
  token: string | undefined;
  /** One timeout for every call (a replay's long read); by default `callTimeoutMs` of each call's method. */
  timeoutMs?: number;
}

/** Thin fetch wrapper over /admin/v1: JSON in, JSON out, errors with the sidecar's reason. */
export class AdminClient {
  readonly #base: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number | undefined;

  constructor(options: AdminClientOptions) {
    this.#base = `${options.url.replace(/\/+$/, '')}/admin/v1`;
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs;
  }

  /**
   * `segments` are path parts, each URL-encoded (group names may hold "/", "?", spaces...). The answer is
   * parsed JSON of unknown shape: each command checks it (answers.ts). `check` tells the operator how to see
   * whether a change whose answer never came was applied (an `ordered-sidecar` command to run).
   */
  async call(
    method: AdminMethod,
    segments: string[],
    options: { query?: Record<string, string | undefined>; body?: unknown; check?: string } = {},
  ): Promise<unknown> {
    const url = new URL(`${this.#base}/${segments.map(encodeURIComponent).join('/')}`);
    for (const [name, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(name, value);
    const headers: Record<string, string> = {};
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    // Every change is declared JSON, bodyless ones too: the sidecar refuses one that is not (a browser's form post).
    if (method !== 'GET') headers['content-type'] = 'application/json';
    const timeoutMs = this.#timeoutMs ?? callTimeoutMs(method);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: options.body === undefined ? null : JSON.stringify(options.body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      // AbortSignal.timeout rejects with a DOMException named TimeoutError (the request was sent).
      if (err instanceof Error && err.name === 'TimeoutError') throw new AdminCallError(noAnswerMessage(this.#base, method, timeoutMs, options.check));
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new AdminCallError(`cannot reach the sidecar at ${this.#base}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!response.ok) {
      const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new AdminCallError(error?.message ?? `HTTP ${response.status} ${text.slice(0, 200)}`, response.status, error?.code);
    }
    return body;
  }
}
