import { SidecarError, errorMessage } from '../errors/sidecar-error.ts';
import { REJECTED, kafkaErrorType } from '../protocol/kafka-refusals.ts';

/** Maps a Kafka client's failure to the sidecar's error vocabulary, keeping the original as the cause. */
export function fromKafkaError(err: unknown, what: string): SidecarError {
  const type = kafkaErrorType(err);
  const detail = errorMessage(err);
  if (type && REJECTED.has(type)) {
    return new SidecarError('KAFKA_REJECTED', `${what}: Kafka rejected the records (${type}: ${detail})`, { cause: err });
  }
  if (type === 'UNKNOWN_TOPIC_OR_PARTITION') {
    return new SidecarError('UNKNOWN_TOPIC', `${what}: unknown topic or partition`, { cause: err });
  }
  return new SidecarError('KAFKA_WRITE_FAILED', `${what}: ${detail}`, { cause: err });
}
