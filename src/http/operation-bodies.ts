import { invalid } from '../errors/sidecar-error.ts';
import type { ReplayFilter } from '../consume/dlq-replay.ts';
import type { OffsetTarget } from '../consume/group-offsets-admin.ts';

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** A time given as an ISO 8601 date-time with its offset (`2026-12-04T21:00:00Z`) or as Unix milliseconds (`1764882000000`). */
export function timestampParam(field: string, raw: unknown): number {
  const problem = 'must be an ISO 8601 date-time with a time zone (2026-12-04T21:00:00Z) or Unix milliseconds, as a string';
  if (typeof raw !== 'string') throw invalid(field, problem);
  const ms = /^\d{1,16}$/.test(raw) ? Number(raw) : ISO_DATE_TIME.test(raw) ? Date.parse(raw) : Number.NaN;
  if (!Number.isSafeInteger(ms)) throw invalid(field, problem);
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
