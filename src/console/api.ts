/** The console's calls: /admin/v1 with the operator's token, and /readyz. */

const TOKEN_KEY = 'ordered-sidecar.admin-token';

/** Kept for this tab only (sessionStorage), sent as a header, never put in a URL. */
export const token = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (value: string): void => sessionStorage.setItem(TOKEN_KEY, value),
  forget: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

/** An answer other than 2xx: shown as the CLI shows it, "409 CONFLICT: <the sidecar's message>". */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;

  constructor(status: number, code: string | undefined, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }

  override toString(): string {
    return `${this.status}${this.code ? ` ${this.code}` : ''}: ${this.message}`;
  }
}

/** Called on any 401, so the console asks for the token again (it was wrong, or rotated meanwhile). */
let onUnauthorized: (err: ApiError) => void = () => undefined;
export const whenUnauthorized = (handler: (err: ApiError) => void): void => {
  onUnauthorized = handler;
};

/** `path` segments are escaped one by one: group names may hold any character. */
export async function admin<T>(
  method: 'GET' | 'POST' | 'DELETE',
  path: string[],
  options: { query?: Record<string, string | undefined>; body?: unknown } = {},
): Promise<T> {
  const query = new URLSearchParams(Object.entries(options.query ?? {}).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
  const url = `../admin/v1/${path.map(encodeURIComponent).join('/')}${query.size > 0 ? `?${query}` : ''}`;
  const headers: Record<string, string> = { accept: 'application/json' };
  const bearer = token.get();
  if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
  // Every change is declared JSON, bodyless ones too: the sidecar refuses one that is not (a browser's form post).
  if (method !== 'GET') headers['content-type'] = 'application/json';
  const response = await fetch(url, { method, headers, body: options.body === undefined ? null : JSON.stringify(options.body), cache: 'no-store' });
  const body: unknown = await response.json().catch(() => undefined);
  if (response.ok) return body as T;
  const err = errorOf(response.status, body);
  if (response.status === 401) onUnauthorized(err);
  throw err;
}

function errorOf(status: number, body: unknown): ApiError {
  const error = typeof body === 'object' && body !== null && 'error' in body ? (body as { error: { code?: unknown; message?: unknown } }).error : undefined;
  return new ApiError(
    status,
    typeof error?.code === 'string' ? error.code : undefined,
    typeof error?.message === 'string' ? error.message : 'the sidecar gave no error body',
  );
}

/** /readyz answers 503 with the same body when not ready: both are read. */
export async function readiness<T>(): Promise<T> {
  const response = await fetch('../readyz', { cache: 'no-store' });
  return (await response.json()) as T;
}
