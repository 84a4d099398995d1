import { readSecret } from '../config/read-secret.ts';

/** The admin token from --token, else ADMIN_TOKEN, else the file ADMIN_TOKEN_FILE names (as the sidecar in the same pod reads it). */
export function adminToken(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const file = env.ADMIN_TOKEN_FILE;
  if (flag !== undefined || env.ADMIN_TOKEN !== undefined || !file) return flag ?? env.ADMIN_TOKEN;
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

export interface AdminClientOptions {
  url: string;
  token: string | undefined;
  /** A move waits a few touch-flush intervals on purpose; anything far beyond that is stuck. */
  timeoutMs?: number;
}

/** Thin fetch wrapper over /admin/v1: JSON in, JSON out, errors with the sidecar's reason. */
export class AdminClient {
  readonly #base: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;

  constructor(options: AdminClientOptions) {
    this.#base = `${options.url.replace(/\/+$/, '')}/admin/v1`;
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  /**
   * `segments` are path parts, each URL-encoded (group names may hold "/", "?", spaces...). The answer is
   * parsed JSON of unknown shape: each command checks it (answers.ts).
   */
  async call(
    method: 'GET' | 'POST' | 'DELETE',
    segments: string[],
    options: { query?: Record<string, string | undefined>; body?: unknown } = {},
  ): Promise<unknown> {
    const url = new URL(`${this.#base}/${segments.map(encodeURIComponent).join('/')}`);
    for (const [name, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(name, value);
    const headers: Record<string, string> = {};
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: options.body === undefined ? null : JSON.stringify(options.body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
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
