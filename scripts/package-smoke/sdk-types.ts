// Type-checked by scripts/package-smoke.sh in a project holding only the SDK: its declarations must not need
// kafkajs or prom-client (optional peers) or anything else to be installed.
import { Client, deliveryEndpoint, type DeliveryBody, type OrderedProduceResult } from 'ordered-sidecar-client';

const client = new Client({ url: 'http://127.0.0.1:8080', fallback: { kafka: { brokers: ['kafka:9092'], clientId: 'app' } } });
const sent: Promise<OrderedProduceResult> = client.orderedProducer().sendMessageGroupBatch('orders', 'user-1', [{ value: 'created' }]);
const handler = deliveryEndpoint(async (delivery: DeliveryBody) => void delivery.messages.length);
void sent;
void handler;
