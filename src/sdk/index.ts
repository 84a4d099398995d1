/**
 * ordered-sidecar's client SDK: `Client`, `OrderedProducer`, their options, results and errors; the
 * delivery body of ordered consumption and `deliveryEndpoint`, which turns a handler into an endpoint for it.
 * It imports only the protocol (src/protocol), so an application gets none of the sidecar's server libraries;
 * the sidecar itself is the `ordered-sidecar` package and CLI.
 */
export { Client } from './client.ts';
export { OrderedProducer, type SingleMessageOptions } from './ordered-producer.ts';
export {
  DEFAULT_CLIENT_OPTIONS,
  type ClientOptions,
  type ClientLogger,
  type FallbackKafkaConfig,
  type FallbackOptions,
  type MetricsRegistry,
  type RetryPolicy,
  type ResolvedClientOptions,
} from './client-options.ts';
export type { GroupMessage, MessageData, OrderedMessage, SendOptions } from './message-types.ts';
export type { MessageError, MessageOutcome, OrderedProduceResult, PartitionFailure, PartitionResult } from './result-types.ts';
export type { SidecarCapabilities } from './capabilities.ts';
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
} from './errors.ts';
export { deliveryEndpoint, messageBytes, type DeliveryEndpointOptions, type DeliveryHandler } from './delivery-handler.ts';
export { DEFAULT_SIGNATURE_TOLERANCE_SECONDS, verifyDeliverySignature, type SignatureOptions, type SignatureVerdict } from './delivery-signature.ts';
export type { DeliveredMessage, DeliveryBody } from '../protocol/delivery.ts';
export { DELIVERY_SIGNATURE_HEADER, DELIVERY_TIMESTAMP_HEADER, deliverySignature } from '../protocol/delivery-signature.ts';
export { ERROR_CODES, type ErrorBody, type ErrorCode } from '../protocol/error-codes.ts';
export { GROUP_HEADER } from '../protocol/group-header.ts';
