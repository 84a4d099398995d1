import { SidecarError, errorMessage } from '../errors/sidecar-error.ts';

interface KafkaJsErrorShape {
  name?: string;
  type?: string;
  retriable?: boolean;
}

/** Broker answers meaning the records themselves are unacceptable; repeating them cannot succeed. */
const REJECTED = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_REQUIRED_ACKS',
  'INVALID_TOPIC_EXCEPTION',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
]);

/** True when the broker refused the batch outright: nothing of it was written, its fate is known. */
export const isDefinitiveRejection = (err: unknown): boolean => {
  const type = (typeof err === 'object' && err !== null ? (err as KafkaJsErrorShape).type : undefined) ?? '';
  return REJECTED.has(type) || type === 'UNKNOWN_TOPIC_OR_PARTITION';
};

/** Maps a kafkajs failure to the sidecar's error vocabulary, keeping the original as the cause. */
export function fromKafkaError(err: unknown, what: string): SidecarError {
  const shape = (typeof err === 'object' && err !== null ? err : {}) as KafkaJsErrorShape;
  const detail = errorMessage(err);
  if (shape.type && REJECTED.has(shape.type)) {
    return new SidecarError('KAFKA_REJECTED', `${what}: Kafka rejected the records (${shape.type}: ${detail})`, { cause: err });
  }
  if (shape.type === 'UNKNOWN_TOPIC_OR_PARTITION') {
    return new SidecarError('UNKNOWN_TOPIC', `${what}: unknown topic or partition`, { cause: err });
  }
  return new SidecarError('KAFKA_WRITE_FAILED', `${what}: ${detail}`, { cause: err });
}
