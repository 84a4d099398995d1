import { invalid } from '../errors/sidecar-error.ts';
import type { ReplayFilter } from '../consume/dlq-replay.ts';
import type { OffsetTarget } from '../consume/group-offsets-admin.ts';

/** The largest time a JS Date holds (ECMA-262: 100,000,000 days after the epoch). */
const MAX_DATE_MS = 8.64e15;

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** A time given as an ISO 8601 date-time with its offset (`2026-12-04T21:00:00Z`) or as Unix milliseconds (`1764882000000`). */
export function timestampParam(field: string, raw: unknown): number {
  const problem = 'must be an ISO 8601 date-time with a time zone (2026-12-04T21:00:00Z) or Unix milliseconds, as a string';
  if (typeof raw !== 'string') throw invalid(field, problem);
  const ms = /^\d{1,16}$/.test(raw) ? Number(raw) : ISO_DATE_TIME.test(raw) ? Date.parse(raw) : Number.NaN;
  if (!Number.isSafeInteger(ms)) throw invalid(field, problem);
  // A time a JS Date cannot hold cannot be reported back (toISOString throws), and a negative one is Kafka's
  // earliest/latest sentinel (-2/-1) or before any record: refused here, before anything is changed.
  if (ms < 0 || ms > MAX_DATE_MS) throw invalid(field, `must be between 0 (1970-01-01T00:00:00Z) and ${MAX_DATE_MS} (+275760-09-13T00:00:00Z)`);
  return ms;
}

function objectBody(body: unknown, allowed: readonly string[], shape: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('body', `must be a JSON object ${shape}`);
  for (const key of Object.keys(body)) if (!allowed.includes(key)) throw invalid(`body.${key}`, `unknown field (allowed: ${allowed.join(', ')})`);
  return body as Record<string, unknown>;
}

/** Body of a reset: `{"to": "earliest" | "latest" | <time>}`. */
export function resetTarget(body: unknown): OffsetTarget {
  const { to } = objectBody(body, ['to'], '{"to": "earliest" | "latest" | "<ISO 8601 time or Unix ms>"}');
  if (to === undefined) throw invalid('to', 'is required: "earliest", "latest", or a time');
  if (to === 'earliest' || to === 'latest') return { kind: to };
  return { kind: 'timestamp', ms: timestampParam('to', to) };
}

/** Body of a replay: `{"message_group"?, "from"?, "to"?}`, times as in `timestampParam`, `from` before `to`. */
export function replayFilter(body: unknown, maxGroupBytes: number): ReplayFilter {
  const raw = objectBody(body, ['message_group', 'from', 'to'], '{"message_group"?: "...", "from"?: "<time>", "to"?: "<time>"}');
  const group = raw.message_group;
  if (group !== undefined && (typeof group !== 'string' || group === '' || Buffer.byteLength(group) > maxGroupBytes))
    throw invalid('message_group', `must be a non-empty string of at most ${maxGroupBytes} bytes`);
  const fromMs = raw.from === undefined ? undefined : timestampParam('from', raw.from);
  const toMs = raw.to === undefined ? undefined : timestampParam('to', raw.to);
  if (fromMs !== undefined && toMs !== undefined && fromMs >= toMs) throw invalid('to', 'must be later than from');
  return { group, fromMs, toMs };
}
