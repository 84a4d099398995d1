import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { authHeaders } from '../../src/consume/delivery-auth.ts';
import { parseSubscriptions } from '../../src/consume/subscriptions.ts';
import { createLogger } from '../../src/logging/logger.ts';
import {
  DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
  DELIVERY_SIGNATURE_HEADER,
  DELIVERY_TIMESTAMP_HEADER,
  deliverySignature,
  verifyDeliverySignature,
} from '../../src/sdk/index.ts';
import { tempDir } from '../support/temp-dir.ts';

const body = Buffer.from('{"subscription":"s","messages":[]}');
const T = 1_764_000_000;
const at = (seconds: number) => () => seconds * 1000;
const signed = (secret: string, timestamp = T, payload: Uint8Array = body) => ({
  [DELIVERY_TIMESTAMP_HEADER]: String(timestamp),
  [DELIVERY_SIGNATURE_HEADER]: `v1=${deliverySignature(secret, String(timestamp), payload)}`,
});

describe('delivery signature', () => {
  it('is the hex HMAC-SHA256 of "<timestamp>.<body>", as docs/consumption.md tells an endpoint without the SDK', () => {
    const manual = createHmac('sha256', 'k').update(`${T}.${body.toString()}`).digest('hex');
    expect(deliverySignature('k', String(T), body)).toBe(manual);
    expect(deliverySignature('k', String(T + 1), body)).not.toBe(manual);
  });

  it('verifies within the window either way, and refuses outside it (a replay), 300 s by default', () => {
    expect(DEFAULT_SIGNATURE_TOLERANCE_SECONDS).toBe(300);
    const headers = signed('k');
    for (const now of [T, T + 300, T - 300]) expect(verifyDeliverySignature(body, headers, { secret: 'k', now: at(now) })).toEqual({ ok: true });
    for (const now of [T + 301, T - 301])
      expect(verifyDeliverySignature(body, headers, { secret: 'k', now: at(now) })).toEqual({ ok: false, reason: 'timestamp outside the 300 s window' });
    expect(verifyDeliverySignature(body, headers, { secret: 'k', now: at(T + 20), toleranceSeconds: 10 })).toEqual({
      ok: false,
      reason: 'timestamp outside the 10 s window',
    });
  });

  it('refuses a changed body, a changed timestamp, another secret, a missing or malformed header', () => {
    const options = { secret: 'k', now: at(T) };
    const mismatch = { ok: false, reason: 'signature mismatch' };
    expect(verifyDeliverySignature(Buffer.from(`${body.toString()} `), signed('k'), options)).toEqual(mismatch);
    expect(verifyDeliverySignature(body, { ...signed('k'), [DELIVERY_TIMESTAMP_HEADER]: String(T + 1) }, options)).toEqual(mismatch);
    expect(verifyDeliverySignature(body, signed('other'), options)).toEqual(mismatch);
    expect(verifyDeliverySignature(body, { ...signed('k'), [DELIVERY_SIGNATURE_HEADER]: 'v1=abc' }, options)).toEqual(mismatch);
    expect(
      verifyDeliverySignature(body, { ...signed('k'), [DELIVERY_SIGNATURE_HEADER]: signed('k')[DELIVERY_SIGNATURE_HEADER]!.replace('v1=', 'v0=') }, options),
    ).toEqual(mismatch);
    expect(verifyDeliverySignature(body, { [DELIVERY_TIMESTAMP_HEADER]: String(T) }, options)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('missing'),
    });
    expect(verifyDeliverySignature(body, { ...signed('k'), [DELIVERY_TIMESTAMP_HEADER]: '1.5e9' }, options)).toEqual({
      ok: false,
      reason: `${DELIVERY_TIMESTAMP_HEADER} is not Unix seconds`,
    });
  });

  it('accepts any of several secrets (a rotation) and a v1 among several signatures', () => {
    expect(verifyDeliverySignature(body, signed('new'), { secret: ['old', 'new'], now: at(T) })).toEqual({ ok: true });
    const headers = { ...signed('k'), [DELIVERY_SIGNATURE_HEADER]: `v2=ffff, ${signed('k')[DELIVERY_SIGNATURE_HEADER]}` };
    expect(verifyDeliverySignature(body, headers, { secret: 'k', now: at(T) })).toEqual({ ok: true });
    expect(verifyDeliverySignature(body, { ...headers, [DELIVERY_TIMESTAMP_HEADER]: [String(T)] }, { secret: 'k', now: at(T) })).toEqual({ ok: true });
  });

  it('refuses to run with a window that is not a finite number, 0 or more: NaN would switch the replay check off', () => {
    const old = signed('k', 1_000_000_000);
    for (const toleranceSeconds of [Number.NaN, Number.POSITIVE_INFINITY, -1])
      expect(() => verifyDeliverySignature(body, old, { secret: 'k', now: at(T), toleranceSeconds }), String(toleranceSeconds)).toThrow(RangeError);
    expect(() => verifyDeliverySignature(body, old, { secret: 'k', now: at(T), toleranceSeconds: '300' as unknown as number })).toThrow(TypeError);
    // 0 is a window (the same second only), not "off".
    expect(verifyDeliverySignature(body, signed('k'), { secret: 'k', now: at(T), toleranceSeconds: 0 })).toEqual({ ok: true });
    expect(verifyDeliverySignature(body, signed('k'), { secret: 'k', now: at(T + 1), toleranceSeconds: 0 })).toMatchObject({ ok: false });
  });

  it('refuses to verify against an empty secret, an empty list, or a list holding an empty secret (anyone could sign)', () => {
    const forged = signed('');
    for (const secret of ['', [], ['new', ''], [''], undefined as unknown as string, [42] as unknown as string[]])
      expect(() => verifyDeliverySignature(body, forged, { secret, now: at(T) }), JSON.stringify(secret)).toThrow(TypeError);
    expect(() => verifyDeliverySignature(body, forged, { secret: '', now: at(T) })).toThrow(/signing secret is empty/);
    expect(() => verifyDeliverySignature(body, forged, { secret: [], now: at(T) })).toThrow(/list of signing secrets is empty/);
  });

  it("the sidecar's headers for a subscription: bearer token and a signature the SDK verifies, timestamped now", () => {
    const dir = tempDir('auth-headers-');
    writeFileSync(join(dir, 'token'), 'tok\n');
    writeFileSync(join(dir, 'secret'), 'sec\n');
    const [both, none] = parseSubscriptions({
      subscriptions: [
        {
          name: 'a',
          topic: 't',
          consumer_group: 'c',
          endpoint: 'http://x/',
          on_exhausted: 'block',
          auth_token_file: join(dir, 'token'),
          signing_secret_file: join(dir, 'secret'),
        },
        { name: 'b', topic: 't', consumer_group: 'c', endpoint: 'http://x/', on_exhausted: 'block' },
      ],
    });
    const log = createLogger('warn', { test: true });
    const headers = authHeaders(both!, log, () => T * 1000 + 999)(body);
    expect(headers).toMatchObject({ authorization: 'Bearer tok', [DELIVERY_TIMESTAMP_HEADER]: String(T) });
    expect(verifyDeliverySignature(body, headers, { secret: 'sec', now: at(T) })).toEqual({ ok: true });
    expect(authHeaders(none!, log)(body)).toEqual({});
  });
});
