/**
 * Every failure the sidecar reports is one of these codes. Each code maps to exactly one HTTP status
 * and says whether repeating the same request may succeed, so the HTTP layer and the SDK never guess.
 */
export const ERROR_CODES = {
  INVALID_REQUEST: { status: 400, retriable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retriable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retriable: false },
  UNKNOWN_TOPIC: { status: 404, retriable: false },
  NOT_FOUND: { status: 404, retriable: false },
  // A produce route called with another method than POST (the response's Allow header says so).
  METHOD_NOT_ALLOWED: { status: 405, retriable: false },
  UNAUTHORIZED: { status: 401, retriable: false },
  // Another website's page (an Origin not the request's own, DNS rebinding) on the admin API or the console.
  FORBIDDEN: { status: 403, retriable: false },
  CONFLICT: { status: 409, retriable: false },
  // An offset reset while a consumer of the subscription's group runs (here or on another replica).
  SUBSCRIPTION_RUNNING: { status: 409, retriable: false },
  DUPLICATE_IN_FLIGHT: { status: 503, retriable: true },
  ROUTING_UNAVAILABLE: { status: 503, retriable: true },
  // Redis lost the topic's routing state: new groups wait for its rebuild (cached routes keep flowing).
  ROUTING_STATE_LOST: { status: 503, retriable: true },
  // Its rebuild could not read the route log in time (or at all): the same wait, another cause to look at.
  ROUTE_LOG_UNAVAILABLE: { status: 503, retriable: true },
  KAFKA_UNAVAILABLE: { status: 503, retriable: true },
  KAFKA_WRITE_FAILED: { status: 503, retriable: true },
  KAFKA_REJECTED: { status: 422, retriable: false },
  SHUTTING_DOWN: { status: 503, retriable: true },
  OVERLOADED: { status: 503, retriable: true },
  // Mid rolling upgrade: a replica of the newer release can serve the request.
  STATE_FORMAT_UNSUPPORTED: { status: 503, retriable: true },
  INTERNAL: { status: 500, retriable: false },
} as const satisfies Record<string, { status: number; retriable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The body of every error answer: `code` is one of ERROR_CODES, but a reader must allow codes of newer sidecars. */
export interface ErrorBody {
  error: { code: string; message: string; field?: string; retriable?: boolean };
}
