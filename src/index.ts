/**
 * ordered-sidecar's client SDK: `Client`, `OrderedProducer`, their options, results and errors; the
 * delivery body of ordered consumption and `deliveryEndpoint`, which turns a handler into an endpoint for it.
 * The sidecar itself is started with the `ordered-sidecar` CLI, not from here.
 */
export { Client } from './sdk/client.ts';
export { OrderedProducer, type SingleMessageOptions } from './sdk/ordered-producer.ts';
export {
  DEFAULT_CLIENT_OPTIONS,
  type ClientOptions,
  type ClientLogger,
  type FallbackOptions,
  type RetryPolicy,
  type ResolvedClientOptions,
} from './sdk/client-options.ts';
export type { GroupMessage, MessageData, OrderedMessage, SendOptions } from './sdk/message-types.ts';
export type { MessageError, MessageOutcome, OrderedProduceResult, PartitionFailure, PartitionResult } from './sdk/result-types.ts';
export type { SidecarCapabilities } from './sdk/capabilities.ts';
export {
  AbortError,
  ClientClosedError,
  GroupInDoubtError,
  NonRetriableError,
  RetriableError,
  SidecarClientError,
  type ClientErrorCode,
  type FailureInfo,
  type InDoubtGroup,
} from './sdk/errors.ts';
export {
  deliveryEndpoint,
  messageBytes,
  type DeliveredMessage,
  type DeliveryBody,
  type DeliveryEndpointOptions,
  type DeliveryHandler,
} from './sdk/delivery-handler.ts';
