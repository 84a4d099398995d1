import type { FailureInfo } from './errors.ts';

/** The request type number of OrderedProduce in the design; the client looks for it before using it. */
export const ORDERED_PRODUCE_TYPE = 22;

/** What the sidecar said about itself on GET /v1/api-versions. */
export interface SidecarCapabilities {
  sidecarVersion: string | undefined;
  /** Path of OrderedProduce, or undefined when the sidecar does not offer it. */
  orderedProducePath: string | undefined;
  /** Dedup window, when the sidecar deduplicates `dedup_id`s. */
  dedupWindowMs: number | undefined;
}

interface WireApiVersions {
  sidecar_version?: unknown;
  request_types?: unknown;
  features?: { dedup?: { window_ms?: unknown } };
}

/** Reads an api-versions body leniently: unknown fields are ignored, a missing type 22 means "not offered". */
export function parseCapabilities(body: unknown): SidecarCapabilities | FailureInfo {
  if (typeof body !== 'object' || body === null) {
    return { code: 'INVALID_RESPONSE', message: 'GET /v1/api-versions: the answer is not a JSON object', retriable: false };
  }
  const wire = body as WireApiVersions;
  const types = Array.isArray(wire.request_types) ? (wire.request_types as { type?: unknown; path?: unknown }[]) : [];
  const ordered = types.find((t) => t?.type === ORDERED_PRODUCE_TYPE);
  const windowMs = wire.features?.dedup?.window_ms;
  return {
    sidecarVersion: typeof wire.sidecar_version === 'string' ? wire.sidecar_version : undefined,
    orderedProducePath: ordered ? (typeof ordered.path === 'string' ? ordered.path : '/v1/ordered-produce') : undefined,
    dedupWindowMs: typeof windowMs === 'number' && windowMs > 0 ? windowMs : undefined,
  };
}
