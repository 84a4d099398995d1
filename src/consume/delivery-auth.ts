import { secretFile } from '../config/secret-file.ts';
import type { Logger } from '../logging/logger.ts';
import { DELIVERY_SIGNATURE_HEADER, DELIVERY_SIGNATURE_VERSION, DELIVERY_TIMESTAMP_HEADER, deliverySignature } from '../protocol/delivery-signature.ts';
import type { Subscription } from './subscriptions.ts';

/** The headers that let the endpoint authenticate one delivery, made for each attempt (a fresh timestamp). */
export type AuthHeaders = (body: Buffer) => Record<string, string>;

/**
 * A subscription's `auth_token_file` as `authorization: Bearer`, and its `signing_secret_file` as the signature
 * headers over the timestamp and the body. Both files are read again when they change (a rotated secret
 * applies without a restart), as API_TOKEN_FILE is; neither secret is ever logged.
 */
export function authHeaders(subscription: Subscription, log: Logger, now: () => number = Date.now): AuthHeaders {
  const setting = (field: string) => `subscription ${subscription.name} ${field}`;
  const token =
    subscription.authTokenFile === undefined ? undefined : secretFile(subscription.authTokenFile, setting('auth_token_file'), log, { bearerToken: true });
  const secret = subscription.signingSecretFile === undefined ? undefined : secretFile(subscription.signingSecretFile, setting('signing_secret_file'), log);
  return (body) => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token()}`;
    if (secret) {
      const timestamp = String(Math.floor(now() / 1000));
      headers[DELIVERY_TIMESTAMP_HEADER] = timestamp;
      headers[DELIVERY_SIGNATURE_HEADER] = `${DELIVERY_SIGNATURE_VERSION}=${deliverySignature(secret(), timestamp, body)}`;
    }
    return headers;
  };
}
