import { Metadata, status } from '@grpc/grpc-js';

// "The Pub/Sub API adds a custom error code in the Trailers section" under the key `error-code`
// (Pub/Sub API guide, Handle Errors; forcedotcom/pub-sub-api Subscribe.java).
export const ERROR_CODE_TRAILER = 'error-code';

const PREFIX = 'sfdc.platform.eventbus.grpc.';

/** Error codes from the Pub/Sub API "Handle Errors" table. */
export const PubSubErrorCode = {
  authError: `${PREFIX}service.auth.error`,
  authHeadersInvalid: `${PREFIX}service.auth.headers.invalid`,
  serviceUnavailable: `${PREFIX}service.unavailable`,
  topicNotFound: `${PREFIX}topic.not.found`,
  topicNameEmpty: `${PREFIX}topic.validation.empty`,
  topicPermission: `${PREFIX}topic.meta.permission`,
  schemaIdEmpty: `${PREFIX}schema.validation.failed`,
  schemaNotFound: `${PREFIX}schema.meta.permission`,
  replayIdCorrupted: `${PREFIX}subscription.fetch.replayid.corrupted`,
  replayIdMissing: `${PREFIX}subscription.fetch.replayid.validation.failed`,
  requestedEventsInvalid: `${PREFIX}subscription.fetch.requested.events.invalid`,
  subscribeTopicMismatch: `${PREFIX}subscription.fetch.topic.mismatch`,
  publishEventCountInvalid: `${PREFIX}publish.event.count.invalid`,
  publishTopicEmpty: `${PREFIX}publish.topic.validation.empty`,
  publishTopicMismatch: `${PREFIX}publish.topic.mismatch`
} as const;

export interface PubSubStatusError {
  code: status;
  details: string;
  metadata: Metadata;
}

/**
 * Builds the status a failing call ends with. The gRPC status paired with each error code is not
 * documented; we use the closest standard status (UNAUTHENTICATED for auth, NOT_FOUND for unknown
 * names, INVALID_ARGUMENT for bad requests), as public fakes of the service do.
 */
export function pubSubError(
  code: status,
  errorCode: string,
  message: string,
  rpcId: string
): PubSubStatusError {
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_TRAILER, errorCode);
  // "the exception contains an RPC ID that the Pub/Sub API appends to the error message after the
  // rpcId: prefix" (Handle Errors).
  return { code, details: `${message} rpcId: ${rpcId}`, metadata };
}
