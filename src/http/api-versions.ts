import { GROUP_HEADER } from '../produce/group-header.ts';

/** The request type number of OrderedProduce in the original design; clients look for it before using it. */
export const ORDERED_PRODUCE_TYPE = 22;

/** Request types by the numbers of the original design. */
const REQUEST_TYPES = [
  { name: 'Produce', type: 0, method: 'POST', path: '/v1/produce', min_version: 1, max_version: 1 },
  { name: 'OrderedProduce', type: ORDERED_PRODUCE_TYPE, method: 'POST', path: '/v1/ordered-produce', min_version: 1, max_version: 1 },
] as const;

export function apiVersions(sidecarVersion: string, dedupWindowMs: number, kafkaClient: string): Record<string, unknown> {
  return {
    api_version: 1,
    sidecar_version: sidecarVersion,
    // The Kafka client library the sidecar writes with (KAFKA_CLIENT): informational, for operators.
    kafka_client: kafkaClient,
    request_types: REQUEST_TYPES,
    features: {
      message_group_header: GROUP_HEADER,
      encodings: ['utf8', 'base64'],
      dedup: { field: 'dedup_id', window_ms: dedupWindowMs },
    },
  };
}
