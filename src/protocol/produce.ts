/**
 * The produce API's JSON (api_version 1), shared by the sidecar that answers and the SDK that asks. Readers
 * of these bodies still check them at run time: a sidecar of another version may add or omit fields.
 */

/** One message of a produce request (POST /v1/ordered-produce, /v1/produce), as JSON. */
export interface WireMessage {
  message_group: string;
  key: string | null;
  value: string | null;
  key_encoding?: 'base64';
  value_encoding?: 'base64';
  headers?: Record<string, string>;
  dedup_id?: string;
}

/** The body of POST /v1/ordered-produce. */
export interface OrderedProduceBody {
  topic: string;
  messages: WireMessage[];
}

/** Result of one request message, in request order. Offsets are decimal strings (64-bit safe). */
export type MessageResult = { partition: number; offset: string; duplicate?: true } | { partition?: number; error: string };

export interface PartitionResponse {
  partition: number;
  base_offset: string;
  message_count: number;
}

export interface PartitionError {
  partition: number;
  code: string;
  error: string;
  retriable: boolean;
  message_count: number;
}

/** The answer to a produce request (OrderedProduceResponse, type 22), plus `results` (one per request message, in order). */
export interface ProduceResponse {
  topic: string;
  partition_responses: PartitionResponse[];
  partition_errors: PartitionError[];
  total_messages: number;
  successful_messages: number;
  /** Messages not written because their dedup_id was written before (counted in successful_messages). */
  duplicate_messages: number;
  /** Present when Redis was unreachable: dedup_ids were not checked, so a retried message may repeat. */
  dedup_unavailable?: true;
  results: MessageResult[];
}

/**
 * Why no MessageGroup may be "." or "..": the admin API names a group in its URL path, where URL parsers (fetch's,
 * every browser's) take these, encoded or not, as dot segments, so such a group could never be got, moved or released.
 */
export const UNNAMEABLE_GROUP = 'cannot be "." or ".." (the admin API names a group in its URL path)';

export const isUnnameableGroup = (group: string): boolean => group === '.' || group === '..';
