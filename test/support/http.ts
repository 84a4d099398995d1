import type { ProduceResponse } from '../../src/produce/produce-types.ts';

export interface HttpResult<T> {
  status: number;
  body: T;
}

/** POSTs JSON (or a raw string, to send malformed bodies) and parses the JSON answer. */
export async function postJson<T = ProduceResponse>(url: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpResult<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

export interface ErrorBody {
  error: { code: string; message: string; field?: string; retriable: boolean };
}
