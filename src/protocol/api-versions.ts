/** The request type number of OrderedProduce; clients look for it in GET /v1/api-versions before using it. */
export const ORDERED_PRODUCE_TYPE = 22;

/** Request types the sidecar serves, by their request type numbers. */
export const REQUEST_TYPES = [
  { name: 'Produce', type: 0, method: 'POST', path: '/v1/produce', min_version: 1, max_version: 1 },
  { name: 'OrderedProduce', type: ORDERED_PRODUCE_TYPE, method: 'POST', path: '/v1/ordered-produce', min_version: 1, max_version: 1 },
] as const;

/** The answer to GET /v1/api-versions. */
export interface ApiVersionsBody {
  api_version: 1;
  sidecar_version: string;
  /** The Kafka client library the sidecar writes with (KAFKA_CLIENT): informational, for operators. */
  kafka_client: string;
  request_types: typeof REQUEST_TYPES;
  features: {
    message_group_header: string;
    encodings: ('utf8' | 'base64')[];
    dedup: { field: 'dedup_id'; window_ms: number };
  };
}
