import { invalid } from '../errors/sidecar-error.ts';

/**
 * Where a listing stopped: a bucket, the HSCAN cursor inside it, and, when the page filled up in the
 * middle of one HSCAN reply, the last group returned (the step is repeated and groups up to it skipped;
 * replies are sorted by group so that is well defined). Opaque to clients: base64url of a JSON array.
 */
export interface ListPosition {
  bucket: number;
  scan: string;
  after?: string;
}

/** HSCAN cursors are unsigned 64-bit integers. */
const MAX_SCAN_CURSOR = 2n ** 64n - 1n;

export const START: ListPosition = { bucket: 0, scan: '0' };

export function encodeCursor(position: ListPosition): string {
  const parts: (number | string)[] = [position.bucket, position.scan];
  if (position.after !== undefined) parts.push(position.after);
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

export function decodeCursor(raw: string | undefined, buckets: number): ListPosition {
  if (raw === undefined) return START;
  const bad = () => invalid('cursor', 'is not a cursor this topic returned (pass next_cursor unchanged)');
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(parts) || parts.length < 2 || parts.length > 3) throw bad();
  const [bucket, scan, after] = parts as unknown[];
  if (!Number.isSafeInteger(bucket) || (bucket as number) < 0 || (bucket as number) >= buckets) throw bad();
  // Redis refuses a cursor past 64 bits with an error reply; a forged one is the caller's mistake.
  if (typeof scan !== 'string' || !/^\d{1,20}$/.test(scan) || BigInt(scan) > MAX_SCAN_CURSOR) throw bad();
  if (after !== undefined && typeof after !== 'string') throw bad();
  return after === undefined ? { bucket: bucket as number, scan } : { bucket: bucket as number, scan, after };
}
