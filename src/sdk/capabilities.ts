import { backoffMs, pause } from '../retry/retry.ts';
import type { ResolvedClientOptions } from './client-options.ts';
import type { FailureInfo } from './errors.ts';
import { endpointUrl, type HttpClient } from './http.ts';
import { ORDERED_PRODUCE_TYPE } from '../protocol/api-versions.ts';

/** Deadline of one api-versions attempt: it answers at once when the sidecar is up. */
const PROBE_TIMEOUT_MS = 5_000;

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
function parseCapabilities(body: unknown): SidecarCapabilities | FailureInfo {
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

/**
 * GET /v1/api-versions, retried for `probeMaxElapsedMs` on retriable failures (a sidecar still starting or
 * restarting must not send the client to the fallback for good); a 404 means a sidecar from before
 * api-versions. A short deadline per attempt lets a black-holed sidecar be asked several times.
 */
export async function probeCapabilities(http: HttpClient, options: ResolvedClientOptions, signal: AbortSignal): Promise<SidecarCapabilities | FailureInfo> {
  const { url, requestTimeoutMs, retry, probeMaxElapsedMs } = options;
  const endpoint = endpointUrl(url, 'v1/api-versions');
  const timeoutMs = Math.min(requestTimeoutMs, PROBE_TIMEOUT_MS);
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    const answer = await http.requestJson(endpoint, { method: 'GET' }, timeoutMs, signal);
    if (answer.ok)
      return answer.status === 200
        ? parseCapabilities(answer.body)
        : { code: 'INVALID_RESPONSE', message: `GET ${endpoint} answered ${answer.status}`, retriable: false, status: answer.status };
    if (answer.failure.status === 404) return { sidecarVersion: undefined, orderedProducePath: undefined, dedupWindowMs: undefined };
    // A `Retry-After` is the floor of the wait; one past the probe's budget ends it now.
    const wait = backoffMs({ initialMs: retry.initialBackoffMs, maxMs: retry.maxBackoffMs }, attempt, Math.random, answer.failure.retryAfterMs);
    if (!answer.failure.retriable || Date.now() - started + wait > probeMaxElapsedMs) return answer.failure;
    if (!(await pause(wait, signal))) return answer.failure;
  }
}
