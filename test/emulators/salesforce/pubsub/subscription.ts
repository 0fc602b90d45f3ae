import { type ServerDuplexStream, status } from '@grpc/grpc-js';

import {
  type ConsumerEventMessage,
  type EventBus,
  ReplayIdError,
  type TopicCursor
} from './event-bus.ts';
import { pubSubError, PubSubErrorCode, type PubSubStatusError } from './errors.ts';

// "The maximum value for num_requested is 100." and "If a client requests more than 100 events,
// the server considers the number of requested events to be 100." (Pub/Sub API, Subscribe RPC
// reference and Allocations page)
export const MAX_NUM_REQUESTED = 100;

// gRPC clients refuse messages above 4 MB by default; the docs do not say how the service splits
// large batches, so responses are cut before their payloads pass 3 MB (the size the docs
// recommend for a PublishRequest).
export const MAX_RESPONSE_PAYLOAD_BYTES = 3 * 1024 * 1024;

export interface FetchRequest {
  topic_name: string;
  replay_preset: string;
  replay_id: Buffer;
  num_requested: number;
  auth_refresh: string;
}

export interface FetchResponse {
  events: ConsumerEventMessage[];
  latest_replay_id: Buffer;
  rpc_id: string;
  pending_num_requested: number;
}

export type SubscribeCall = ServerDuplexStream<FetchRequest, FetchResponse>;

/** What a subscription needs from the server that owns it. */
export interface SubscriptionHost {
  readonly bus: EventBus;
  isSilent(): boolean;
  keepaliveIntervalMs(): number;
  recordDelivered(count: number): void;
  recordKeepalive(): void;
  detach(subscription: Subscription): void;
}

/** One Subscribe stream: flow control, fan-out from the bus, keepalives. */
export class Subscription {
  readonly #call: SubscribeCall;
  readonly #host: SubscriptionHost;
  readonly #rpcId: string;
  #cursor: TopicCursor | null = null;
  #stopListening: (() => void) | null = null;
  #keepalive: NodeJS.Timeout | null = null;
  #pending = 0;
  #drainScheduled = false;
  #waitingForDrain = false;
  #closed = false;

  constructor(call: SubscribeCall, host: SubscriptionHost, rpcId: string) {
    this.#call = call;
    this.#host = host;
    this.#rpcId = rpcId;
    call.on('data', (request: FetchRequest) => this.#onRequest(request));
    // A client that half-closes gets the stream ended, with everything already written flushed.
    call.on('end', () => this.#finish(() => call.end()));
    call.on('cancelled', () => this.#finish(() => undefined));
    call.on('error', () => this.#finish(() => undefined));
  }

  /** True once the first FetchRequest has set the topic and start point. */
  get isOpen(): boolean {
    return this.#cursor !== null && !this.#closed;
  }

  /** Ends the stream with a status and an `error-code` trailer. */
  fail(error: PubSubStatusError): void {
    this.#finish(() => this.#call.emit('error', error));
  }

  /** Ends the stream with status OK (server shutdown). */
  end(): void {
    this.#finish(() => this.#call.end());
  }

  /** Called when the server stops being silent or its keepalive interval changes. */
  wake(): void {
    if (this.#closed || this.#cursor === null) return;
    this.#armKeepalive();
    this.#drain();
  }

  #onRequest(request: FetchRequest): void {
    if (this.#closed) return;
    if (request.num_requested <= 0) {
      this.#reject(
        PubSubErrorCode.requestedEventsInvalid,
        `num_requested must be greater than zero, got ${request.num_requested}.`
      );
      return;
    }
    if (this.#cursor === null) {
      if (!this.#open(request)) return;
    } else if (request.topic_name !== '' && request.topic_name !== this.#cursor.topicName) {
      this.#reject(
        PubSubErrorCode.subscribeTopicMismatch,
        `The topic cannot change within a subscription: ${request.topic_name}.`
      );
      return;
    }
    // "If a client requests more events before the server finishes the last requested amount,
    // the server appends the new amount." (proto, FetchRequest.num_requested)
    this.#pending += Math.min(request.num_requested, MAX_NUM_REQUESTED);
    this.#drain();
  }

  /** Reads the start point from the first FetchRequest only, as the proto specifies. */
  #open(request: FetchRequest): boolean {
    const topicName = request.topic_name;
    if (topicName === '') {
      this.#reject(PubSubErrorCode.topicNameEmpty, 'The topic name is blank.');
      return false;
    }
    if (this.#host.bus.topicSchema(topicName) === undefined) {
      this.#fail(status.NOT_FOUND, PubSubErrorCode.topicNotFound, `Topic ${topicName} not found.`);
      return false;
    }
    try {
      if (request.replay_preset === 'CUSTOM') {
        if (request.replay_id.length === 0) {
          this.#reject(
            PubSubErrorCode.replayIdMissing,
            'The replay_preset field in FetchRequest is set to ReplayPreset.CUSTOM, but no Replay ID value is set.'
          );
          return false;
        }
        this.#cursor = this.#host.bus.openCursor(topicName, {
          preset: 'CUSTOM',
          replayId: request.replay_id
        });
      } else {
        // Unset or unknown presets start at the tip: "By default, the subscription will start
        // at the tip of the stream if ReplayPreset is not specified." (proto, ReplayPreset)
        const preset = request.replay_preset === 'EARLIEST' ? 'EARLIEST' : 'LATEST';
        this.#cursor = this.#host.bus.openCursor(topicName, { preset });
      }
    } catch (error) {
      if (!(error instanceof ReplayIdError)) throw error;
      this.#reject(
        PubSubErrorCode.replayIdCorrupted,
        `The Replay ID validation failed: ${error.message}.`
      );
      return false;
    }
    this.#stopListening = this.#cursor.onAppend(() => this.#scheduleDrain());
    this.#armKeepalive();
    return true;
  }

  #scheduleDrain(): void {
    if (this.#drainScheduled || this.#pending === 0) return;
    this.#drainScheduled = true;
    // Coalesce a burst of publishes into batches instead of one response per event.
    setImmediate(() => {
      this.#drainScheduled = false;
      this.#drain();
    });
  }

  #drain(): void {
    const cursor = this.#cursor;
    if (this.#closed || this.#waitingForDrain || cursor === null || this.#host.isSilent()) return;
    while (this.#pending > 0) {
      const events = cursor.take(
        Math.min(this.#pending, MAX_NUM_REQUESTED),
        MAX_RESPONSE_PAYLOAD_BYTES
      );
      if (events.length === 0) return;
      this.#pending -= events.length;
      this.#host.recordDelivered(events.length);
      const writable = this.#write(events, cursor.lastReplayId);
      if (!writable) {
        this.#waitingForDrain = true;
        this.#call.once('drain', () => {
          this.#waitingForDrain = false;
          this.#drain();
        });
        return;
      }
    }
  }

  #write(events: ConsumerEventMessage[], latestReplayId: Buffer): boolean {
    this.#keepalive?.refresh();
    return this.#call.write({
      events,
      latest_replay_id: latestReplayId,
      rpc_id: this.#rpcId,
      pending_num_requested: this.#pending
    });
  }

  /**
   * "If there are no events to deliver, the server sends an empty batch fetch response with the
   * latest replay ID. The empty fetch response is sent within 270 seconds." (proto, FetchResponse)
   * The docs do not say when a stream with nothing pending is closed; we keep it open.
   */
  #armKeepalive(): void {
    if (this.#keepalive !== null) clearTimeout(this.#keepalive);
    const interval = this.#host.keepaliveIntervalMs();
    this.#keepalive = setTimeout(() => {
      if (this.#closed || this.#cursor === null) return;
      if (!this.#host.isSilent() && !this.#waitingForDrain) {
        this.#host.recordKeepalive();
        this.#write([], this.#cursor.lastReplayId);
      }
      this.#keepalive?.refresh();
    }, interval);
  }

  #reject(errorCode: string, message: string): void {
    this.#fail(status.INVALID_ARGUMENT, errorCode, message);
  }

  #fail(code: status, errorCode: string, message: string): void {
    this.fail(pubSubError(code, errorCode, message, this.#rpcId));
  }

  #finish(then: () => void): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#keepalive !== null) clearTimeout(this.#keepalive);
    this.#stopListening?.();
    this.#host.detach(this);
    then();
  }
}
