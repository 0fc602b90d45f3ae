import { randomUUID } from 'node:crypto';

import {
  type Metadata,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type sendUnaryData,
  status
} from '@grpc/grpc-js';

import { type EventBus, EventValidationError } from './event-bus.ts';
import { pubSubError, PubSubErrorCode, type PubSubStatusError } from './errors.ts';
import { loadPubSubService } from './proto.ts';
import { type FetchRequest, type FetchResponse, Subscription } from './subscription.ts';
import { generateTlsMaterial } from './tls.ts';
import type { PubSubAuthMetadata, PubSubCaller } from './types.ts';

// "The empty fetch response is sent within 270 seconds." (proto, FetchResponse)
export const DEFAULT_KEEPALIVE_INTERVAL_MS = 270_000;

// "Each event message in a batch in a PublishRequest has a maximum size of 1 MB" (Allocations).
export const MAX_EVENT_PAYLOAD_BYTES = 1024 * 1024;

const SHUTDOWN_GRACE_MS = 2_000;

export interface PubSubServerOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  bus: EventBus;
  /** Checks the call metadata; null means the credentials are not valid. */
  authenticate(md: PubSubAuthMetadata): PubSubCaller | null | Promise<PubSubCaller | null>;
  keepaliveIntervalMs?: number;
}

export interface PubSubCounters {
  eventsPublished: number;
  eventsDelivered: number;
  keepalivesSent: number;
  /** Subscribe streams that have named their topic and are receiving. */
  activeSubscriptions: number;
}

export interface CloseStreamsOptions {
  /** gRPC status; UNAVAILABLE by default. */
  code?: status;
  /** `error-code` trailer; `sfdc.platform.eventbus.grpc.service.unavailable` by default. */
  errorCode?: string;
  message?: string;
}

/** Test-only levers on a running server. */
export interface PubSubFaults {
  /** Ends every active Subscribe stream with the given status; returns how many were closed. */
  closeSubscribeStreams(opts?: CloseStreamsOptions): number;
  /** While silent, Subscribe streams send neither events nor keepalives. */
  setSilent(silent: boolean): void;
  setKeepaliveIntervalMs(ms: number): void;
  counters(): PubSubCounters;
}

export interface PubSubServer {
  /** '127.0.0.1:PORT' */
  endpoint: string;
  /** The self-signed certificate clients must trust (it is its own CA). */
  caCertPem: string;
  close(): Promise<void>;
  faults: PubSubFaults;
}

interface TopicRequest {
  topic_name: string;
}
interface SchemaRequest {
  schema_id: string;
}
interface PublishRequest {
  topic_name: string;
  events: { id: string; schema_id: string; payload: Buffer }[];
}
interface PublishResult {
  replay_id: Buffer;
  error: { code: 'PUBLISH'; msg: string } | null;
  correlation_key: string;
}
interface PublishResponse {
  results: PublishResult[];
  schema_id: string;
  rpc_id: string;
}

function metadataValue(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return value === undefined ? undefined : String(value);
}

function isStatusError(error: unknown): error is PubSubStatusError {
  return typeof error === 'object' && error !== null && 'code' in error && 'metadata' in error;
}

/** Anything thrown while handling a call ends it with a status, never an unhandled rejection. */
function toStatusError(error: unknown): PubSubStatusError | { code: status; details: string } {
  if (isStatusError(error)) return error;
  return { code: status.INTERNAL, details: error instanceof Error ? error.message : String(error) };
}

/** Starts the `eventbus.v1.PubSub` gRPC service over TLS with a certificate made for this run. */
export async function startPubSubServer(opts: PubSubServerOptions): Promise<PubSubServer> {
  const { bus } = opts;
  const host = opts.host ?? '127.0.0.1';
  const subscriptions = new Set<Subscription>();
  let keepaliveIntervalMs = opts.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS;
  let silent = false;
  let eventsDelivered = 0;
  let keepalivesSent = 0;

  const subscriptionHost = {
    bus,
    isSilent: () => silent,
    keepaliveIntervalMs: () => keepaliveIntervalMs,
    recordDelivered: (count: number) => {
      eventsDelivered += count;
    },
    recordKeepalive: () => {
      keepalivesSent += 1;
    },
    detach: (subscription: Subscription) => {
      subscriptions.delete(subscription);
    }
  };

  async function authenticate(metadata: Metadata, rpcId: string): Promise<PubSubCaller> {
    const md: PubSubAuthMetadata = {
      accesstoken: metadataValue(metadata, 'accesstoken'),
      instanceurl: metadataValue(metadata, 'instanceurl'),
      tenantid: metadataValue(metadata, 'tenantid')
    };
    if (!md.accesstoken || !md.instanceurl || !md.tenantid) {
      throw pubSubError(
        status.UNAUTHENTICATED,
        PubSubErrorCode.authHeadersInvalid,
        'The accesstoken, instanceurl and tenantid headers are required.',
        rpcId
      );
    }
    const caller = await opts.authenticate(md);
    // tenantid may be the 15- or 18-character form of the org id.
    if (caller === null || caller.orgId.slice(0, 15) !== md.tenantid.slice(0, 15)) {
      throw pubSubError(
        status.UNAUTHENTICATED,
        PubSubErrorCode.authError,
        'Authentication exception.',
        rpcId
      );
    }
    return caller;
  }

  function unary<Req, Res>(
    handle: (request: Req, caller: PubSubCaller, rpcId: string) => Res
  ): (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void {
    return (call, callback) => {
      const rpcId = randomUUID();
      authenticate(call.metadata, rpcId)
        .then((caller) => callback(null, handle(call.request, caller, rpcId)))
        .catch((error: unknown) => callback(toStatusError(error)));
    };
  }

  function requireTopic(topicName: string, rpcId: string, emptyCode: string): void {
    if (topicName === '') {
      throw pubSubError(status.INVALID_ARGUMENT, emptyCode, 'The topic name is blank.', rpcId);
    }
    if (bus.topicSchema(topicName) === undefined) {
      throw pubSubError(
        status.NOT_FOUND,
        PubSubErrorCode.topicNotFound,
        `Topic ${topicName} not found.`,
        rpcId
      );
    }
  }

  function publish(request: PublishRequest, rpcId: string): PublishResponse {
    requireTopic(request.topic_name, rpcId, PubSubErrorCode.publishTopicEmpty);
    if (!bus.canPublish(request.topic_name)) {
      // The docs are silent on publishing to a change event channel (GetTopic says
      // can_publish=false); the "Topic metadata access error" code is the closest listed.
      throw pubSubError(
        status.PERMISSION_DENIED,
        PubSubErrorCode.topicPermission,
        `Publishing to ${request.topic_name} is not allowed.`,
        rpcId
      );
    }
    if (request.events.length === 0) {
      throw pubSubError(
        status.INVALID_ARGUMENT,
        PubSubErrorCode.publishEventCountInvalid,
        'The publish request contains no events.',
        rpcId
      );
    }
    const results = request.events.map((event): PublishResult => {
      if (event.payload.length > MAX_EVENT_PAYLOAD_BYTES) {
        return publishFailure(event.id, `The event exceeds the maximum size of 1 MB.`);
      }
      try {
        const published = bus.publishEncoded(request.topic_name, event);
        return { replay_id: published.replayId, error: null, correlation_key: published.eventUuid };
      } catch (error) {
        if (!(error instanceof EventValidationError)) throw error;
        return publishFailure(event.id, error.message);
      }
    });
    return { results, schema_id: bus.topicSchema(request.topic_name)!.schemaId, rpc_id: rpcId };
  }

  const handlers = {
    GetTopic: unary<TopicRequest, object>((request, caller, rpcId) => {
      requireTopic(request.topic_name, rpcId, PubSubErrorCode.topicNameEmpty);
      return {
        topic_name: request.topic_name,
        tenant_guid: caller.orgId,
        can_publish: bus.canPublish(request.topic_name),
        can_subscribe: true,
        schema_id: bus.topicSchema(request.topic_name)!.schemaId,
        rpc_id: rpcId
      };
    }),

    GetSchema: unary<SchemaRequest, object>((request, _caller, rpcId) => {
      if (request.schema_id === '') {
        throw pubSubError(
          status.INVALID_ARGUMENT,
          PubSubErrorCode.schemaIdEmpty,
          'The schema ID is blank.',
          rpcId
        );
      }
      const schema = bus.schemaById(request.schema_id);
      if (schema === undefined) {
        // The docs' nearest code for a schema the caller cannot read ("Schema access error").
        throw pubSubError(
          status.NOT_FOUND,
          PubSubErrorCode.schemaNotFound,
          `Schema ${request.schema_id} not found.`,
          rpcId
        );
      }
      return { schema_json: schema.schemaJson, schema_id: schema.schemaId, rpc_id: rpcId };
    }),

    Publish: unary<PublishRequest, PublishResponse>((request, _caller, rpcId) =>
      publish(request, rpcId)
    ),

    PublishStream: (call: ServerDuplexStream<PublishRequest, PublishResponse>) => {
      const rpcId = randomUUID();
      let topicName: string | null = null;
      const ready = authenticate(call.metadata, rpcId).then(
        () => true,
        (error: unknown) => {
          call.emit('error', toStatusError(error));
          return false;
        }
      );
      call.on('data', (request: PublishRequest) => {
        void ready.then((authenticated) => {
          if (!authenticated) return;
          try {
            if (topicName !== null && request.topic_name !== topicName) {
              throw pubSubError(
                status.INVALID_ARGUMENT,
                PubSubErrorCode.publishTopicMismatch,
                `The topic cannot change within a publish stream: ${request.topic_name}.`,
                rpcId
              );
            }
            const response = publish(request, rpcId);
            topicName = request.topic_name;
            call.write(response);
          } catch (error) {
            call.emit('error', toStatusError(error));
          }
        });
      });
      call.on('end', () => void ready.then((authenticated) => authenticated && call.end()));
    },

    Subscribe: (call: ServerDuplexStream<FetchRequest, FetchResponse>) => {
      const rpcId = randomUUID();
      // Requests that arrive while the credentials are checked are replayed in order afterwards.
      call.pause();
      authenticate(call.metadata, rpcId).then(
        () => {
          subscriptions.add(new Subscription(call, subscriptionHost, rpcId));
          call.resume();
        },
        (error: unknown) => call.emit('error', toStatusError(error))
      );
    }
  };

  const tls = await generateTlsMaterial();
  const server = new Server();
  server.addService(loadPubSubService().service, handlers);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${host}:${opts.port}`,
      ServerCredentials.createSsl(
        null,
        [{ private_key: Buffer.from(tls.keyPem), cert_chain: Buffer.from(tls.certPem) }],
        false
      ),
      (error, boundPort) => (error ? reject(error) : resolve(boundPort))
    );
  });

  const faults: PubSubFaults = {
    closeSubscribeStreams(closeOpts = {}) {
      const closing = [...subscriptions];
      for (const subscription of closing) {
        subscription.fail(
          pubSubError(
            closeOpts.code ?? status.UNAVAILABLE,
            closeOpts.errorCode ?? PubSubErrorCode.serviceUnavailable,
            closeOpts.message ?? 'The Pub/Sub API service is unavailable.',
            randomUUID()
          )
        );
      }
      return closing.length;
    },
    setSilent(value) {
      silent = value;
      if (!silent) for (const subscription of subscriptions) subscription.wake();
    },
    setKeepaliveIntervalMs(ms) {
      if (!Number.isInteger(ms) || ms <= 0) {
        throw new RangeError(`keepalive interval must be a positive integer, got ${ms}`);
      }
      keepaliveIntervalMs = ms;
      for (const subscription of subscriptions) subscription.wake();
    },
    counters() {
      return {
        eventsPublished: bus.publishedCount,
        eventsDelivered,
        keepalivesSent,
        activeSubscriptions: [...subscriptions].filter((s) => s.isOpen).length
      };
    }
  };

  return {
    endpoint: `${host}:${port}`,
    caCertPem: tls.certPem,
    faults,
    async close() {
      // Streams end with status OK rather than an error: clients that already dropped their
      // listeners (the pozil client's close() does) would otherwise see an unhandled 'error'.
      for (const subscription of [...subscriptions]) subscription.end();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, SHUTDOWN_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    }
  };
}

function publishFailure(correlationKey: string, msg: string): PublishResult {
  return {
    replay_id: Buffer.alloc(0),
    error: { code: 'PUBLISH', msg },
    correlation_key: correlationKey
  };
}
