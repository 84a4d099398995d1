import type { ErrorCode } from '../protocol/error-codes.ts';
import { CodedError } from './coded-error.ts';
import { StoreBusyError, StoreError, StoreUnreachableError } from './store-errors.ts';

/** A failure as a request is answered with it: its code, status and retriability (CodedError), the field, Retry-After. */
export class SidecarError extends CodedError {
  /** The request field the error is about, in JSON-path style (`messages[3].message_group`). */
  readonly field: string | undefined;
  /** When a retry may succeed, in seconds; sent as `Retry-After`. */
  readonly retryAfterSeconds: number | undefined;
  /**
   * The condition behind it is logged by whoever raised it, once and in periodic counts (an outage's
   * refusals): a line per request would flood the log, so the HTTP layer logs the request at debug only.
   */
  readonly summarized: boolean;

  constructor(code: ErrorCode, message: string, options: { field?: string; cause?: unknown; retryAfterSeconds?: number; summarized?: boolean } = {}) {
    super(code, message, { cause: options.cause });
    this.name = 'SidecarError';
    this.field = options.field;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.summarized = options.summarized ?? false;
  }

  toJSON(): { error: { code: ErrorCode; message: string; field?: string; retriable: boolean } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.field === undefined ? {} : { field: this.field }),
        retriable: this.retriable,
      },
    };
  }
}

export const invalid = (field: string, reason: string): SidecarError => new SidecarError('INVALID_REQUEST', `${field}: ${reason}`, { field });

/** Re-exported for the server's layers that may import errors/ but not protocol/ (the writer core). */
export { errorMessage } from '../protocol/error-message.ts';

/** Seconds a client should wait after Redis said it cannot serve now (a slot moving, a failover, loading). */
const STORE_BUSY_RETRY_AFTER_S = 1;

/**
 * A failure of the shared store (Redis) as every API path reports it: the store error's own code (a retriable
 * 503), since the store may answer the next try. Undefined for anything else, which stays what it was (a
 * defect remains a 500). An outage (connection lost, or commands unanswered in a row) is logged where the
 * sidecar notices it (the connection's error, routing's degraded mode), and a busy store is counted by
 * routing_failures_total{reason="busy"} (a slot migration answers busy to every request of its topic for its
 * whole length), so the requests they refuse are logged at debug only.
 */
export function storeUnavailable(err: unknown, doing: string): SidecarError | undefined {
  if (!(err instanceof StoreError)) return undefined;
  if (err instanceof StoreBusyError) {
    return new SidecarError(err.code, `${doing}: ${err.message}; nothing was written, retry shortly`, {
      cause: err,
      retryAfterSeconds: STORE_BUSY_RETRY_AFTER_S,
      summarized: true,
    });
  }
  const summarized = err instanceof StoreUnreachableError && err.outage;
  return new SidecarError(err.code, `${doing}: ${err.message}`, { cause: err, summarized });
}
