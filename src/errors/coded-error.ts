import { ERROR_CODES, type ErrorCode } from '../protocol/error-codes.ts';

/**
 * The base of the sidecar's own failures, the store's and Kafka's included: a code of ERROR_CODES, and so
 * exactly one HTTP status and whether repeating the request may succeed, plus the failure it stands for
 * (`cause`). SidecarError adds what an answer carries (field, Retry-After); the store errors add what the
 * core decides on (an outage, a hold's reason).
 */
export class CodedError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.retriable = ERROR_CODES[code].retriable;
  }
}
