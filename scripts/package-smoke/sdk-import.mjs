// Run by scripts/package-smoke.sh inside a fresh project where only the SDK tarball is installed: the SDK loads
// on this Node without any other package, and a client works up to its first network call.
import {
  Client,
  DELIVERY_SIGNATURE_HEADER,
  DELIVERY_TIMESTAMP_HEADER,
  ERROR_CODES,
  GROUP_HEADER,
  NonRetriableError,
  deliveryEndpoint,
  deliverySignature,
  verifyDeliverySignature,
} from 'ordered-sidecar-client';

const fail = (why) => {
  console.error(`sdk-import (node ${process.version}): ${why}`);
  process.exit(1);
};
if (typeof Client !== 'function' || typeof deliveryEndpoint !== 'function') fail('Client or deliveryEndpoint missing');
if (GROUP_HEADER !== 'message-group' || ERROR_CODES.INVALID_REQUEST?.status !== 400) fail('protocol constants missing');
// A delivery's signature (node:crypto only) verifies on this Node, and not with another secret.
const signed = Buffer.from('{"messages":[]}');
const timestamp = String(Math.floor(Date.now() / 1000));
const headers = { [DELIVERY_TIMESTAMP_HEADER]: timestamp, [DELIVERY_SIGNATURE_HEADER]: `v1=${deliverySignature('s', timestamp, signed)}` };
if (!verifyDeliverySignature(signed, headers, { secret: 's' }).ok || verifyDeliverySignature(signed, headers, { secret: 't' }).ok) fail('delivery signatures');
const client = new Client({ url: 'http://127.0.0.1:9' });
try {
  await client.orderedProducer().sendOrderedMessages('orders', [{ messageGroup: '', value: 'x' }]);
  fail('an empty messageGroup was accepted');
} catch (err) {
  if (!(err instanceof NonRetriableError) || err.code !== 'INVALID_REQUEST') fail(`unexpected error ${err}`);
}
// The fallback needs kafkajs, an optional peer this project does not have: refused at construction, saying so.
try {
  new Client({ fallback: { kafka: { brokers: ['127.0.0.1:9'] } } });
  fail('a fallback client was created without kafkajs installed');
} catch (err) {
  if (!/npm install kafkajs/.test(String(err))) fail(`unexpected error ${err}`);
}
await client.close();
console.log(`sdk-import: ordered-sidecar-client loads and validates on node ${process.version}`);
