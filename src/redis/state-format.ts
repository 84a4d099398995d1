import { SidecarError } from '../errors/sidecar-error.ts';

/**
 * Version of the router's state layout in Redis (keys.ts), stored per topic as the `format` field of its
 * meta hash. Format 1 is the layout every release so far has written; topics first used before the field
 * existed have no `format` and are format 1. A release that changes the layout bumps STATE_FORMAT, keeps
 * reading the formats listed in READABLE_STATE_FORMATS, and says in docs/operations.md how to roll it out.
 */
export const STATE_FORMAT = 1;
const READABLE_STATE_FORMATS: readonly number[] = [1];

/** The format a topic's stored `format` field names (absent: 1, written before the field existed). */
const storedFormat = (raw: string | null): number => (raw === null ? 1 : Number(raw));

/** Refuses, with one clear error, a topic whose state this sidecar cannot read (written by a newer release). */
export function checkStateFormat(topic: string, raw: string | null): void {
  const format = storedFormat(raw);
  if (READABLE_STATE_FORMATS.includes(format)) return;
  const newer = !(format < STATE_FORMAT);
  throw new SidecarError(
    'STATE_FORMAT_UNSUPPORTED',
    newer
      ? `the router state of topic "${topic}" in Redis is format ${raw}, newer than this sidecar reads (${READABLE_STATE_FORMATS.join(', ')}): upgrade this sidecar (docs/operations.md, "Router state format")`
      : `the router state of topic "${topic}" in Redis is format ${raw}, which this sidecar no longer reads (${READABLE_STATE_FORMATS.join(', ')}): upgrade through a release that reads both (docs/operations.md, "Router state format")`,
  );
}
