/**
 * Salesforce Pub/Sub API subscriber (gRPC, the official `eventbus.v1` proto).
 *
 * Delivery is at-least-once end to end: a batch's replay id is checkpointed only after `onEvents` has
 * resolved (the events are stored durably), so a crash at any point re-reads from the last stored batch
 * and never skips one. Duplicates that this causes are dropped by EventUuid (bounded LRU) within a process
 * and by the store's idempotency key across restarts.
 *
 * Flow control: `batchSize` events are requested up front; each processed batch re-requests as many events
 * as it held, so at most `batchSize` events are ever buffered.
 *
 * Failure handling: the stream is re-opened with THE backoff formula after a server close, a gRPC error, a
 * failed `onEvents` (so later batches cannot overtake it and checkpoint past it) or silence: no event and no
 * keepalive within `silenceTimeoutMs` (Salesforce sends a keepalive at least every 270 s).
 *
 * Expired or corrupted replay id (older than the 72-hour retention, or damaged): by default the subscriber
 * falls back to EARLIEST. Handling is idempotent, so re-reading everything still retained is safe and only
 * costs time, whereas LATEST would silently drop every event published since the checkpoint. Either way
 * events may have been lost while the checkpoint was beyond retention, so a reconciliation hint is logged.
 */

import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import avro from 'avsc';
import type { Logger } from 'pino';
import { backoffDelayMs } from '../net/backoff.ts';
import type { BackoffPolicy } from '../net/backoff.ts';
import type { ClientObserver } from '../net/observer.ts';
import type { SalesforceClient } from './client.ts';

export interface ReceivedEvent {
  topic: string;
  replayId: Buffer;
  eventUuid: string;
  schemaId: string;
  payload: Record<string, unknown>;
  receivedAt: Date;
}

export interface CheckpointStore {
  load(topic: string): Promise<Buffer | null>;
  save(topic: string, replayId: Buffer): Promise<void>;
}

export interface UndecodableEvent {
  topic: string;
  replayId: Buffer;
  eventUuid: string;
  schemaId: string;
  error: Error;
}

export type ReplayPreset = 'EARLIEST' | 'LATEST';

export interface PubSubSubscriberOptions {
  salesforce: Pick<SalesforceClient, 'session' | 'invalidateSession'>;
  /** host:port, e.g. api.pubsub.salesforce.com:7443. */
  endpoint: string;
  caCertPem?: string;
  topic: string;
  checkpoints: CheckpointStore;
  /** Resolves once the events are stored durably; only then is the checkpoint saved. */
  onEvents(events: ReceivedEvent[]): Promise<void>;
  /**
   * Called for an event whose payload does not decode with its schema (e.g. to dead-letter it); the
   * subscriber then moves past it. Without this hook the event is logged and skipped.
   */
  onUndecodable?(event: UndecodableEvent): Promise<void>;
  /** Events requested at a time; Salesforce caps it at 100. */
  batchSize?: number;
  silenceTimeoutMs?: number;
  /** Where to restart after Salesforce rejects the stored replay id. Default EARLIEST (see above). */
  onExpiredReplay?: ReplayPreset;
  /** Where to start when no checkpoint exists yet. Default EARLIEST, for the same reason. */
  initialReplay?: ReplayPreset;
  reconnectBackoff?: BackoffPolicy;
  /** EventUuids remembered for in-process dedupe. */
  dedupeCapacity?: number;
  logger: Logger;
  observer?: ClientObserver;
}

export type SubscriberStatus = 'idle' | 'connecting' | 'subscribed' | 'reconnecting' | 'stopped';

export interface SubscriberState {
  status: SubscriberStatus;
  topic: string;
  delivered: number;
  duplicates: number;
  undecodable: number;
  reconnects: number;
  watchdogReconnects: number;
  replayFallbacks: number;
  lastEventAt?: Date;
  lastKeepaliveAt?: Date;
  lastCheckpointAt?: Date;
  lastError?: string;
}

export interface PubSubSubscriber {
  start(): Promise<void>;
  stop(): Promise<void>;
  state(): SubscriberState;
}

/** Salesforce Pub/Sub: "The maximum value for num_requested is 100." */
export const PUBSUB_MAX_BATCH_SIZE = 100;
/** Salesforce sends a keepalive within 270 s; a little more than that means the stream is dead. */
export const DEFAULT_SILENCE_TIMEOUT_MS = 300_000;
const DEFAULT_DEDUPE_CAPACITY = 10_000;
const DEFAULT_RECONNECT_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 60_000 };
/** Salesforce allows up to 1 MB per event and 100 events per response; gRPC's default cap is 4 MB. */
const MAX_RECEIVE_MESSAGE_BYTES = 128 * 1024 * 1024;
const REPLAY_ERROR = /replayid\.(corrupted|validation\.failed)/;
const AUTH_ERROR = /auth\.(error|refresh\.invalid)/;

interface PubSubProtoClient extends grpc.Client {
  Subscribe(metadata: grpc.Metadata): grpc.ClientDuplexStream<FetchRequest, FetchResponse>;
  GetSchema(
    request: { schema_id: string },
    metadata: grpc.Metadata,
    callback: (error: grpc.ServiceError | null, response?: { schema_json: string }) => void
  ): grpc.ClientUnaryCall;
}

interface FetchRequest {
  topic_name: string;
  replay_preset?: 'LATEST' | 'EARLIEST' | 'CUSTOM';
  replay_id?: Buffer;
  num_requested: number;
}

interface FetchResponse {
  events: Array<{ replay_id: Buffer; event: { id: string; schema_id: string; payload: Buffer } }>;
  latest_replay_id: Buffer;
  pending_num_requested: number;
}

interface Stream {
  generation: number;
  call: grpc.ClientDuplexStream<FetchRequest, FetchResponse>;
  outstanding: number;
  chain: Promise<void>;
  batchesQueued: number;
  broken: boolean;
  accessToken: string;
}

let pubSubConstructor: grpc.ServiceClientConstructor | undefined;

function loadPubSubService(): grpc.ServiceClientConstructor {
  if (pubSubConstructor) return pubSubConstructor;
  // The proto ships with salesforce-pubsub-api-client; its `exports` hide package.json, so resolve the entry.
  const entry = createRequire(import.meta.url).resolve('salesforce-pubsub-api-client');
  const protoPath = path.join(path.dirname(entry), '..', 'pubsub_api.proto');
  const definition = protoLoader.loadSync(protoPath, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    eventbus: { v1: { PubSub: grpc.ServiceClientConstructor } };
  };
  pubSubConstructor = loaded.eventbus.v1.PubSub;
  return pubSubConstructor;
}

/**
 * Avro longs beyond 2^53 (e.g. CDC commitNumber) would lose precision as numbers; they decode to BigInt,
 * every other long to a plain number.
 */
const SafeLongType = avro.types.LongType.__with({
  fromBuffer: (buffer: Buffer) => {
    const value = buffer.readBigInt64LE();
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;
  },
  toBuffer: (value: number | bigint) => {
    const buffer = Buffer.alloc(8);
    buffer.writeBigInt64LE(BigInt(value));
    return buffer;
  },
  fromJSON: (value: unknown) => value,
  toJSON: (value: number | bigint) => (typeof value === 'bigint' ? value.toString() : value),
  isValid: (value: unknown) => typeof value === 'bigint' || Number.isInteger(value),
  compare: (a: number | bigint, b: number | bigint) => (a === b ? 0 : a < b ? -1 : 1)
});

export function createPubSubSubscriber(options: PubSubSubscriberOptions): PubSubSubscriber {
  const batchSize = Math.min(
    PUBSUB_MAX_BATCH_SIZE,
    Math.max(1, Math.floor(options.batchSize ?? PUBSUB_MAX_BATCH_SIZE))
  );
  const silenceTimeoutMs = options.silenceTimeoutMs ?? DEFAULT_SILENCE_TIMEOUT_MS;
  const topic = options.topic;
  const logger = options.logger.child({ component: 'pubsub', topic });
  const seen = new Map<string, true>();
  const dedupeCapacity = options.dedupeCapacity ?? DEFAULT_DEDUPE_CAPACITY;
  const schemas = new Map<string, Promise<avro.Type>>();
  const Service = loadPubSubService();
  const credentials = grpc.credentials.createSsl(
    options.caCertPem ? Buffer.from(options.caCertPem) : null
  );
  const client = new Service(options.endpoint, credentials, {
    'grpc.max_receive_message_length': MAX_RECEIVE_MESSAGE_BYTES
  }) as unknown as PubSubProtoClient;

  const state: SubscriberState = {
    status: 'idle',
    topic,
    delivered: 0,
    duplicates: 0,
    undecodable: 0,
    reconnects: 0,
    watchdogReconnects: 0,
    replayFallbacks: 0
  };
  let stopped = false;
  let generation = 0;
  let stream: Stream | undefined;
  let reconnectAttempt = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let watchdog: NodeJS.Timeout | undefined;
  /** Set after Salesforce rejects the stored replay id; cleared once a newer checkpoint is saved. */
  let replayOverride: ReplayPreset | undefined;
  let lastSavedHex: string | undefined;

  function metadataFor(session: {
    accessToken: string;
    instanceUrl: string;
    orgId: string;
  }): grpc.Metadata {
    const metadata = new grpc.Metadata();
    metadata.set('accesstoken', session.accessToken);
    metadata.set('instanceurl', session.instanceUrl);
    metadata.set('tenantid', session.orgId);
    return metadata;
  }

  function schemaFor(schemaId: string, metadata: grpc.Metadata): Promise<avro.Type> {
    let cached = schemas.get(schemaId);
    if (!cached) {
      cached = new Promise<avro.Type>((resolve, reject) => {
        client.GetSchema({ schema_id: schemaId }, metadata, (error, response) => {
          if (error || !response) {
            reject(error ?? new Error(`GetSchema returned nothing for ${schemaId}`));
            return;
          }
          try {
            resolve(
              avro.Type.forSchema(JSON.parse(response.schema_json), {
                registry: { long: SafeLongType }
              } as unknown as avro.ForSchemaOptions)
            );
          } catch (parseError) {
            reject(parseError);
          }
        });
      });
      cached.catch(() => schemas.delete(schemaId));
      schemas.set(schemaId, cached);
    }
    return cached;
  }

  function armWatchdog(current: Stream): void {
    if (watchdog) clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      if (current !== stream || stopped) return;
      state.watchdogReconnects += 1;
      logger.warn(
        { silenceTimeoutMs },
        'Pub/Sub stream silent (no events, no keepalive); reconnecting'
      );
      reconnect(current, 'silence', false);
    }, silenceTimeoutMs);
    watchdog.unref?.();
  }

  function remember(uuid: string): void {
    seen.delete(uuid);
    seen.set(uuid, true);
    if (seen.size > dedupeCapacity) seen.delete(seen.keys().next().value as string);
  }

  async function saveCheckpoint(replayId: Buffer): Promise<void> {
    await options.checkpoints.save(topic, replayId);
    lastSavedHex = replayId.toString('hex');
    state.lastCheckpointAt = new Date();
    replayOverride = undefined;
  }

  async function processBatch(
    current: Stream,
    events: FetchResponse['events'],
    metadata: grpc.Metadata
  ): Promise<void> {
    if (current.broken) return;
    const receivedAt = new Date();
    const fresh: ReceivedEvent[] = [];
    for (const consumerEvent of events) {
      const replayId = Buffer.from(consumerEvent.replay_id);
      const { id, schema_id: schemaId, payload } = consumerEvent.event;
      let decoded: Record<string, unknown>;
      try {
        const type = await schemaFor(schemaId, metadata);
        decoded = type.fromBuffer(Buffer.from(payload)) as Record<string, unknown>;
      } catch (error) {
        state.undecodable += 1;
        const failure = error instanceof Error ? error : new Error(String(error));
        logger.error(
          { replayId: replayId.toString('hex'), schemaId, eventId: id, err: failure.message },
          'Pub/Sub event does not decode with its schema; skipping it'
        );
        await options.onUndecodable?.({ topic, replayId, eventUuid: id, schemaId, error: failure });
        continue;
      }
      const eventUuid =
        typeof decoded.EventUuid === 'string' && decoded.EventUuid ? decoded.EventUuid : id;
      if (seen.has(eventUuid) || fresh.some((event) => event.eventUuid === eventUuid)) {
        state.duplicates += 1;
        continue;
      }
      fresh.push({ topic, replayId, eventUuid, schemaId, payload: decoded, receivedAt });
    }
    if (current.broken) return;
    if (fresh.length > 0) await options.onEvents(fresh);
    for (const event of fresh) remember(event.eventUuid);
    const last = events.at(-1);
    if (last) await saveCheckpoint(Buffer.from(last.replay_id));
    state.delivered += fresh.length;
    if (fresh.length > 0) state.lastEventAt = receivedAt;
    if (!current.broken && current === stream) {
      // Re-request what this batch consumed, keeping `batchSize` events in flight.
      current.outstanding += events.length;
      current.call.write({ topic_name: topic, num_requested: events.length });
    }
  }

  function onResponse(current: Stream, response: FetchResponse, metadata: grpc.Metadata): void {
    if (current !== stream || current.broken) return;
    armWatchdog(current);
    reconnectAttempt = 0;
    state.status = 'subscribed';
    const events = response.events ?? [];
    if (events.length === 0) {
      state.lastKeepaliveAt = new Date();
      const latest = response.latest_replay_id;
      // A keepalive means "nothing more to deliver". When everything received is also processed, its replay id
      // is a safe checkpoint; saving it keeps a quiet topic's checkpoint inside the 72-hour retention.
      if (
        latest?.length &&
        current.batchesQueued === 0 &&
        current.outstanding > 0 &&
        latest.toString('hex') !== lastSavedHex
      ) {
        const replayId = Buffer.from(latest);
        current.chain = current.chain.then(() =>
          current.broken
            ? undefined
            : saveCheckpoint(replayId).catch((error: unknown) => {
                // Only an optimisation for quiet topics: the next batch or keepalive saves again.
                logger.warn(
                  { err: error instanceof Error ? error.message : String(error) },
                  'Keepalive checkpoint not saved'
                );
              })
        );
      }
      return;
    }
    current.outstanding -= events.length;
    current.batchesQueued += 1;
    current.chain = current.chain
      .then(() => processBatch(current, events, metadata))
      .catch((error: unknown) => {
        state.lastError = error instanceof Error ? error.message : String(error);
        logger.error(
          { err: state.lastError },
          'Pub/Sub batch not stored; resubscribing from the last checkpoint'
        );
        reconnect(current, 'handler failure', false);
      })
      .finally(() => {
        current.batchesQueued -= 1;
      });
  }

  function onStreamError(current: Stream, error: grpc.ServiceError): void {
    if (current !== stream || current.broken) return;
    const errorCode = String(error.metadata?.get('error-code')?.[0] ?? '');
    state.lastError = `${error.code} ${errorCode || error.details}`;
    if (REPLAY_ERROR.test(errorCode) || REPLAY_ERROR.test(error.details ?? '')) {
      const preset = options.onExpiredReplay ?? 'EARLIEST';
      replayOverride = preset;
      state.replayFallbacks += 1;
      logger.warn(
        { errorCode, fallback: preset, checkpoint: lastSavedHex },
        `Stored replay id rejected (expired beyond retention or corrupted); resubscribing from ${preset}. ` +
          'Events published while the checkpoint was outside retention may be missing: run a reconciliation sync for this topic.'
      );
      reconnect(current, 'replay id rejected', true);
      return;
    }
    if (AUTH_ERROR.test(errorCode) || error.code === grpc.status.UNAUTHENTICATED) {
      options.salesforce.invalidateSession(current.accessToken);
    }
    logger.warn(
      { code: error.code, errorCode, details: error.details },
      'Pub/Sub stream failed; resubscribing'
    );
    reconnect(current, 'stream error', false);
  }

  function reconnect(current: Stream | undefined, reason: string, immediate: boolean): void {
    if (current) {
      if (current.broken) return;
      current.broken = true;
      current.call.cancel();
    }
    if (watchdog) clearTimeout(watchdog);
    if (stopped) return;
    stream = undefined;
    state.status = 'reconnecting';
    state.reconnects += 1;
    reconnectAttempt += 1;
    const delayMs = immediate
      ? 0
      : backoffDelayMs(
          Math.min(reconnectAttempt, 30),
          options.reconnectBackoff ?? DEFAULT_RECONNECT_BACKOFF
        );
    logger.info({ reason, delayMs, attempt: reconnectAttempt }, 'Pub/Sub resubscribe scheduled');
    // Wait for the broken stream's batches to finish so the new stream starts after their checkpoint.
    const drained = current?.chain ?? Promise.resolve();
    if (reconnectTimer) clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      void drained.then(() => connect());
    }, delayMs);
  }

  async function connect(): Promise<void> {
    if (stopped) return;
    state.status = 'connecting';
    let session;
    let checkpoint: Buffer | null;
    try {
      session = await options.salesforce.session();
      checkpoint = replayOverride ? null : await options.checkpoints.load(topic);
    } catch (error) {
      state.lastError = error instanceof Error ? error.message : String(error);
      logger.warn({ err: state.lastError }, 'Pub/Sub could not prepare the subscription');
      reconnect(undefined, 'prepare failed', false);
      return;
    }
    if (stopped) return;
    const metadata = metadataFor(session);
    generation += 1;
    const current: Stream = {
      generation,
      call: client.Subscribe(metadata),
      outstanding: batchSize,
      chain: Promise.resolve(),
      batchesQueued: 0,
      broken: false,
      accessToken: session.accessToken
    };
    stream = current;
    current.call.on('data', (response: FetchResponse) => onResponse(current, response, metadata));
    current.call.on('error', (error: grpc.ServiceError) => onStreamError(current, error));
    current.call.on('end', () => {
      if (current === stream && !current.broken)
        reconnect(current, 'server closed the stream', false);
    });
    const request: FetchRequest = checkpoint?.length
      ? {
          topic_name: topic,
          replay_preset: 'CUSTOM',
          replay_id: checkpoint,
          num_requested: batchSize
        }
      : {
          topic_name: topic,
          replay_preset: replayOverride ?? options.initialReplay ?? 'EARLIEST',
          num_requested: batchSize
        };
    if (checkpoint?.length) lastSavedHex = checkpoint.toString('hex');
    current.call.write(request);
    armWatchdog(current);
    logger.info(
      { preset: request.replay_preset, batchSize, generation },
      'Pub/Sub subscription requested'
    );
  }

  return {
    async start() {
      // stop() closes the gRPC channel for good; a lease holder that regains the lease creates a new subscriber.
      if (state.status === 'stopped')
        throw new Error('A stopped Pub/Sub subscriber cannot be restarted');
      if (state.status !== 'idle') return;
      await connect();
    },
    async stop() {
      stopped = true;
      state.status = 'stopped';
      if (reconnectTimer) clearTimeout(reconnectTimer);
      if (watchdog) clearTimeout(watchdog);
      const current = stream;
      stream = undefined;
      if (current) {
        // Let the batch being handled finish and checkpoint; nothing after it is processed.
        const chain = current.chain;
        current.broken = true;
        current.call.cancel();
        await chain;
      }
      client.close();
    },
    state: () => ({ ...state })
  };
}
