import { Partitioners, type Message, type PartitionerArgs } from 'kafkajs';

/** Kafka's own default partitioner (murmur2 of the key, as the Java client), so plain produce behaves as Kafka users expect. */
export type DefaultPartitioner = (topic: string, partitionCount: number, message: Message) => number;

export function defaultPartitioner(): DefaultPartitioner {
  const partition = Partitioners.DefaultPartitioner();
  return (topic, partitionCount, message) => {
    const partitionMetadata = Array.from({ length: partitionCount }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      replicas: [],
      isr: [],
      partitionErrorCode: 0,
    }));
    const args: PartitionerArgs = { topic, partitionMetadata, message };
    return partition(args);
  };
}
