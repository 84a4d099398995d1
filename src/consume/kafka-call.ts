import { SidecarError, errorMessage } from '../errors/sidecar-error.ts';
import { GroupActiveError } from './group-offsets-admin.ts';

/**
 * Runs an operator's call to Kafka (a reset, a replay's reads): a failure of Kafka itself becomes a retriable
 * 503 naming what was being done; the sidecar's own refusals and GroupActiveError pass through unchanged.
 */
export async function kafkaCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof SidecarError || err instanceof GroupActiveError) throw err;
    throw new SidecarError('KAFKA_UNAVAILABLE', `cannot ${what}: ${errorMessage(err)}`, { cause: err });
  }
}
