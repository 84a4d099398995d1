import { GROUP_HEADER } from '../produce/group-header.ts';

/** Request types by the numbers of the original design; clients look for 22 before using ordered produce. */
export const REQUEST_TYPES = [
  { name: 'Produce', type: 0, method: 'POST', path: '/v1/produce', min_version: 1, max_version: 1 },
  { name: 'OrderedProduce', type: 22, method: 'POST', path: '/v1/ordered-produce', min_version: 1, max_version: 1 },
] as const;

export const ORDERED_PRODUCE_TYPE = 22;

export function apiVersions(sidecarVersion: string, dedupWindowMs: number): Record<string, unknown> {
  return {
    api_version: 1,
    sidecar_version: sidecarVersion,
    request_types: REQUEST_TYPES,
    features: {
      message_group_header: GROUP_HEADER,
      encodings: ['utf8', 'base64'],
      dedup: { field: 'dedup_id', window_ms: dedupWindowMs },
    },
  };
}
