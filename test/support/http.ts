import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { vi } from 'vitest';
import type { ProduceResponse } from '../../src/protocol/produce.ts';

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

/**
 * Waits until this process's node:http requests to `host` (`127.0.0.1:port`) have failed `count` times with
 * `code` (ECONNREFUSED: nothing listening): the moment clients have seen a server down, whatever their timing.
 */
export async function refusedRequests(host: string, count: number, timeoutMs: number, code = 'ECONNREFUSED'): Promise<void> {
  let refused = 0;
  const onError = (message: unknown): void => {
    const { request, error } = message as { request: ClientRequest; error: { code?: unknown } };
    if (request.getHeader('host') === host && error.code === code) refused++;
  };
  subscribe('http.client.request.error', onError);
  try {
    await vi.waitUntil(() => refused >= count, { timeout: timeoutMs, interval: 20 });
  } finally {
    unsubscribe('http.client.request.error', onError);
  }
}
