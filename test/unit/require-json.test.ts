import type { IncomingMessage, ServerResponse } from 'node:http';
import typeis from 'type-is';
import { describe, expect, it } from 'vitest';
import { requireJson } from '../../src/http/json-body.ts';
import { SidecarError } from '../../src/errors/sidecar-error.ts';

/** What requireJson passes to `next` for a request with these headers: undefined (let through) or its error. */
function verdict(headers: Record<string, string>): unknown {
  let passed: unknown = 'not called';
  requireJson({ headers } as unknown as IncomingMessage, {} as ServerResponse, (err) => (passed = err));
  return passed;
}

describe('requireJson', () => {
  // The SDK's exact header takes a shorter path than type-is: every verdict must stay type-is's.
  const cases: Record<string, string>[] = [
    { 'content-type': 'application/json', 'content-length': '2' },
    { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    { 'content-type': 'application/json' },
    { 'content-type': 'application/json', 'content-length': 'x' },
    { 'content-type': 'application/json; charset=utf-8', 'content-length': '2' },
    { 'content-type': 'Application/JSON', 'content-length': '2' },
    { 'content-type': 'application/vnd.api+json', 'content-length': '2' },
    { 'content-type': 'text/plain', 'content-length': '2' },
    { 'content-length': '2' },
  ];

  it.each(cases)('lets a body through exactly when type-is finds it JSON, and names a missing body: %o', (headers) => {
    const request = { headers } as unknown as IncomingMessage;
    const isJson = Boolean(typeis(request, ['application/json']));
    const passed = verdict(headers);
    if (isJson) expect(passed).toBeUndefined();
    else {
      expect(passed).toBeInstanceOf(SidecarError);
      expect((passed as SidecarError).code).toBe(typeis.hasBody(request) ? 'UNSUPPORTED_MEDIA_TYPE' : 'INVALID_REQUEST');
    }
  });

  it('lets the SDK’s request through; refuses one of another type with 415, and one without a body with 400 whatever its type', () => {
    expect(verdict({ 'content-type': 'application/json', 'content-length': '10' })).toBeUndefined();
    expect(verdict({ 'content-type': 'text/plain', 'content-length': '10' })).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', status: 415 });
    for (const headers of [{ 'content-type': 'application/json' }, { 'content-type': 'text/plain' }, {}]) {
      expect(verdict(headers)).toMatchObject({ code: 'INVALID_REQUEST', status: 400, field: 'body', message: expect.stringContaining('body: missing') });
    }
  });
});
