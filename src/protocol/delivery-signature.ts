import { createHmac } from 'node:crypto';

/**
 * The signature of a delivery (a subscription's `signing_secret_file`), shared by the sidecar that signs and the
 * SDK that verifies: HMAC-SHA256 over `<timestamp>.<raw body>` with the secret, hex, sent as `v1=<hex>`. The
 * timestamp (Unix seconds, signed with the body) lets the endpoint refuse an old request replayed.
 */
export const DELIVERY_TIMESTAMP_HEADER = 'x-ordered-sidecar-timestamp';
export const DELIVERY_SIGNATURE_HEADER = 'x-ordered-sidecar-signature';
export const DELIVERY_SIGNATURE_VERSION = 'v1';

/** The hex HMAC-SHA256 of `<timestamp>.<body>`: what follows `v1=` in the signature header. */
export function deliverySignature(secret: string, timestamp: string, body: Uint8Array): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}
