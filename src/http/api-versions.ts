import { REQUEST_TYPES, type ApiVersionsBody } from '../protocol/api-versions.ts';
import { GROUP_HEADER } from '../protocol/group-header.ts';

export function apiVersions(sidecarVersion: string, dedupWindowMs: number, kafkaClient: string): ApiVersionsBody {
  return {
    api_version: 1,
    sidecar_version: sidecarVersion,
    kafka_client: kafkaClient,
    request_types: REQUEST_TYPES,
    features: {
      message_group_header: GROUP_HEADER,
      encodings: ['utf8', 'base64'],
      dedup: { field: 'dedup_id', window_ms: dedupWindowMs },
    },
  };
}
