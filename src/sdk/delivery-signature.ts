import { timingSafeEqual } from 'node:crypto';
import { DELIVERY_SIGNATURE_HEADER, DELIVERY_SIGNATURE_VERSION, DELIVERY_TIMESTAMP_HEADER, deliverySignature } from '../protocol/delivery-signature.ts';

/** How far a delivery's timestamp may be from the endpoint's clock, either way, by default: 5 minutes. */
export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300;

export interface SignatureOptions {
  /**
   * The subscription's signing secret; several during a rotation (any one verifying is enough). Must not be
   * empty, nor hold an empty string: anyone can sign with an empty key.
   */
  secret: string | readonly string[];
  /** Largest distance between the signed timestamp and now: a finite number, 0 or more. @defaultValue 300 */
  toleranceSeconds?: number;
  /** The endpoint's clock in milliseconds (tests). @defaultValue Date.now */
  now?: () => number;
}

/** Why a delivery's signature is refused, or that it verifies. */
export type SignatureVerdict = { ok: true } | { ok: false; reason: string };

/**
 * The secrets to verify against, or a reason why there are none usable: not a string or a list of strings,
 * an empty list, or an empty string (which would let anyone sign).
 */
export function signingSecrets(secret: unknown): { secrets: readonly string[] } | { problem: string } {
  const secrets: unknown[] = typeof secret === 'string' ? [secret] : Array.isArray(secret) ? secret : [undefined];
  if (secrets.length === 0) return { problem: 'the list of signing secrets is empty' };
  if (!secrets.every((s): s is string => typeof s === 'string')) return { problem: 'a signing secret must be a string, or a list of strings' };
  if (secrets.some((s) => s === '')) return { problem: 'a signing secret is empty (anyone could sign with it)' };
  return { secrets };
}

/** Throws unless `value` is a usable window: a finite number of seconds, 0 or more. */
export function checkToleranceSeconds(value: unknown, name: string): void {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number of seconds, got ${typeof value}`);
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number of seconds, 0 or more, got ${value}`);
}

const single = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/**
 * Checks a delivery's `x-ordered-sidecar-signature` against its raw body and `x-ordered-sidecar-timestamp`
 * (docs/consumption.md, "Authenticated deliveries"). The signature is compared in constant time; a timestamp
 * further than `toleranceSeconds` from now is refused, so a captured request cannot be replayed later.
 * Throws a TypeError for an empty secret (or list, or a list holding one) and a TypeError or RangeError for a
 * `toleranceSeconds` that is not a finite number, 0 or more: both would let forged or replayed requests in.
 */
export function verifyDeliverySignature(
  body: Uint8Array,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  options: SignatureOptions,
): SignatureVerdict {
  const usable = signingSecrets(options.secret);
  if ('problem' in usable) throw new TypeError(`verifyDeliverySignature: ${usable.problem}`);
  const toleranceSeconds = options.toleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_SECONDS;
  checkToleranceSeconds(toleranceSeconds, 'verifyDeliverySignature: toleranceSeconds');
  const timestamp = single(headers[DELIVERY_TIMESTAMP_HEADER]);
  const signature = single(headers[DELIVERY_SIGNATURE_HEADER]);
  if (timestamp === undefined || signature === undefined) return { ok: false, reason: `missing ${DELIVERY_TIMESTAMP_HEADER} or ${DELIVERY_SIGNATURE_HEADER}` };
  if (!/^\d{1,15}$/.test(timestamp)) return { ok: false, reason: `${DELIVERY_TIMESTAMP_HEADER} is not Unix seconds` };
  const ageSeconds = Math.abs((options.now ?? Date.now)() / 1000 - Number(timestamp));
  if (ageSeconds > toleranceSeconds) return { ok: false, reason: `timestamp outside the ${toleranceSeconds} s window` };
  // `v1=<hex>`, possibly among others (comma-separated) should a later version be sent beside it.
  const offered = signature
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.startsWith(`${DELIVERY_SIGNATURE_VERSION}=`))
    .map((part) => Buffer.from(part.slice(DELIVERY_SIGNATURE_VERSION.length + 1), 'utf8'));
  for (const secret of usable.secrets) {
    const expected = Buffer.from(deliverySignature(secret, timestamp, body), 'utf8');
    // The length of a hex SHA-256 is public; only equal lengths reach the constant-time compare.
    if (offered.some((candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected))) return { ok: true };
  }
  return { ok: false, reason: 'signature mismatch' };
}
