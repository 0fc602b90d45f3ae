import { randomUUID } from 'node:crypto';

import {
  type ChangeInput,
  changeEventRecord,
  changeEventTopicName,
  compileChangeEventSchema
} from './change-events.ts';
import { decodeReplayId, encodeReplayId, REPLAY_ID_BYTES } from './replay-id.ts';
import { compileEventSchema, type CompiledEventSchema } from './schema.ts';
import type { ChangeEventEntity, PlatformEventDefinition, PlatformEventField } from './types.ts';

// "Salesforce stores platform events and change data capture events for 72 hours."
// (Pub/Sub API guide, Event Message Durability)
export const EVENT_RETENTION_MS = 72 * 60 * 60 * 1000;

// Replay ids start from a large non-zero value, like a live org's (the pozil README shows 18098167).
const REPLAY_ID_BASE = 18_000_000n;

// Default lengths Salesforce gives field types that carry none in their metadata.
const DEFAULT_LENGTH: Partial<Record<PlatformEventField['type'], number>> = {
  Text: 255,
  TextArea: 255,
  LongTextArea: 131_072,
  Email: 80,
  Phone: 40,
  Url: 255,
  Picklist: 255
};

const PLATFORM_EVENT_TOPIC_PREFIX = '/event/';
const STANDARD_FIELDS = new Set(['CreatedDate', 'CreatedById']);
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const ISO_DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const MS_PER_DAY = 86_400_000;

/** Bad event data. `errorCode` and `fields` follow the REST error body so callers can pass them on. */
export class EventValidationError extends Error {
  readonly errorCode: string;
  readonly fields: string[];

  constructor(message: string, errorCode: string, fields: string[] = []) {
    super(message);
    this.name = 'EventValidationError';
    this.errorCode = errorCode;
    this.fields = fields;
  }
}

/** A CUSTOM replay id the bus cannot start from. */
export class ReplayIdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayIdError';
  }
}

/** ConsumerEvent as the proto names it, built once at publish time and reused for every delivery. */
export interface ConsumerEventMessage {
  event: { id: string; schema_id: string; payload: Buffer; headers: never[] };
  replay_id: Buffer;
}

interface StoredEvent {
  replayId: bigint;
  storedAt: number;
  message: ConsumerEventMessage;
}

export type ReplayStart =
  { preset: 'LATEST' } | { preset: 'EARLIEST' } | { preset: 'CUSTOM'; replayId: Uint8Array };

export interface PublishedEvent {
  replayId: Buffer;
  eventUuid: string;
}

export interface ProducerEventInput {
  id: string;
  schema_id: string;
  payload: Uint8Array;
}

type TopicSource =
  | { kind: 'platform-event'; definition: PlatformEventDefinition }
  | { kind: 'change-event'; entity: ChangeEventEntity };

class TopicLog {
  readonly name: string;
  readonly source: TopicSource;
  readonly schema: CompiledEventSchema;
  readonly listeners = new Set<() => void>();
  /** Retained events in replay order; events[0] has absolute position `evictedCount`. */
  events: StoredEvent[] = [];
  evictedCount = 0;
  lastEvictedReplayId: bigint | null = null;

  constructor(name: string, source: TopicSource) {
    this.name = name;
    this.source = source;
    this.schema =
      source.kind === 'platform-event'
        ? compileEventSchema(source.definition)
        : compileChangeEventSchema(source.entity);
  }

  get endPosition(): number {
    return this.evictedCount + this.events.length;
  }

  /** The replay id just before the first retained event. */
  get replayIdBeforeFirst(): bigint {
    return this.lastEvictedReplayId ?? REPLAY_ID_BASE;
  }

  get latestReplayId(): bigint {
    return this.events.at(-1)?.replayId ?? this.replayIdBeforeFirst;
  }

  evictAll(): void {
    const last = this.events.at(-1);
    if (last === undefined) return;
    this.lastEvictedReplayId = last.replayId;
    this.evictedCount += this.events.length;
    this.events = [];
  }

  evictOlderThan(cutoff: number): void {
    const first = this.events[0];
    if (first === undefined || first.storedAt >= cutoff) return;
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.events[mid]!.storedAt < cutoff) lo = mid + 1;
      else hi = mid;
    }
    this.lastEvictedReplayId = this.events[lo - 1]!.replayId;
    this.events.splice(0, lo);
    this.evictedCount += lo;
  }

  /** Absolute position of the first event whose replay id is greater than `replayId`. */
  positionAfter(replayId: bigint): number {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.events[mid]!.replayId <= replayId) lo = mid + 1;
      else hi = mid;
    }
    return this.evictedCount + lo;
  }
}

/** A subscriber's place in one topic. Reads never scan: they slice from the position. */
export class TopicCursor {
  readonly #bus: EventBus;
  readonly #log: TopicLog;
  #position: number;
  #lastReplayId: Buffer;

  constructor(bus: EventBus, log: TopicLog, position: number, lastReplayId: bigint) {
    this.#bus = bus;
    this.#log = log;
    this.#position = position;
    this.#lastReplayId = encodeReplayId(lastReplayId);
  }

  get topicName(): string {
    return this.#log.name;
  }

  /** Replay id of the last event handed out (or of the start point), for `latest_replay_id`. */
  get lastReplayId(): Buffer {
    return this.#lastReplayId;
  }

  available(): number {
    this.#bus.evictExpired(this.#log);
    // A subscriber that lagged past the retention window loses those events, as on the platform.
    if (this.#position < this.#log.evictedCount) this.#position = this.#log.evictedCount;
    return this.#log.endPosition - this.#position;
  }

  /**
   * Hands out up to `max` events, stopping early (after at least one) once their payloads would
   * exceed `maxBytes`.
   */
  take(max: number, maxBytes = Number.POSITIVE_INFINITY): ConsumerEventMessage[] {
    const limit = Math.min(max, this.available());
    const start = this.#position - this.#log.evictedCount;
    const batch: ConsumerEventMessage[] = [];
    let bytes = 0;
    for (let i = start; i < start + limit; i += 1) {
      const message = this.#log.events[i]!.message;
      bytes += message.event.payload.length;
      if (batch.length > 0 && bytes > maxBytes) break;
      batch.push(message);
    }
    if (batch.length === 0) return batch;
    this.#position += batch.length;
    this.#lastReplayId = batch[batch.length - 1]!.replay_id;
    return batch;
  }

  /** Calls `listener` after each event appended to this topic; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void {
    this.#log.listeners.add(listener);
    return () => this.#log.listeners.delete(listener);
  }
}

export interface EventBusOptions {
  definitions: PlatformEventDefinition[];
  /** Objects with Change Data Capture enabled (topic `/data/<Entity>ChangeEvent`). */
  changeEntities?: ChangeEventEntity[];
  retentionMs?: number;
  now?: () => number;
}

/** Per-org event store: one append-only log per topic, bounded by the retention window. */
export class EventBus {
  readonly #topics = new Map<string, TopicLog>();
  readonly #topicsBySchemaId = new Map<string, TopicLog>();
  readonly #retentionMs: number;
  readonly #now: () => number;
  #lastReplayId = REPLAY_ID_BASE;
  #publishedCount = 0;
  #commitNumber = 0;

  constructor(opts: EventBusOptions) {
    this.#retentionMs = opts.retentionMs ?? EVENT_RETENTION_MS;
    this.#now = opts.now ?? Date.now;
    const logs = [
      ...opts.definitions.map(
        (definition) =>
          new TopicLog(PLATFORM_EVENT_TOPIC_PREFIX + definition.apiName, {
            kind: 'platform-event',
            definition
          })
      ),
      ...(opts.changeEntities ?? []).map(
        (entity) =>
          new TopicLog(changeEventTopicName(entity.entityName), { kind: 'change-event', entity })
      )
    ];
    for (const log of logs) {
      this.#topics.set(log.name, log);
      this.#topicsBySchemaId.set(log.schema.schemaId, log);
    }
  }

  /** Platform event topics accept publishes; change event topics only the platform's own. */
  canPublish(topicName: string): boolean {
    return this.#topics.get(topicName)?.source.kind === 'platform-event';
  }

  topicNames(): string[] {
    return [...this.#topics.keys()];
  }

  /** Events accepted since start (REST and gRPC publishes alike). */
  get publishedCount(): number {
    return this.#publishedCount;
  }

  topicSchema(topicName: string): CompiledEventSchema | undefined {
    return this.#topics.get(topicName)?.schema;
  }

  schemaById(schemaId: string): CompiledEventSchema | undefined {
    return this.#topicsBySchemaId.get(schemaId)?.schema;
  }

  /**
   * Publishes one event from plain field values (the REST path). CreatedDate (epoch ms) and
   * CreatedById are filled in when absent.
   */
  publish(topicName: string, fields: Record<string, unknown>, createdById: string): PublishedEvent {
    const log = this.#requireTopic(topicName);
    const definition = platformDefinition(log);
    const { CreatedDate, CreatedById, ...custom } = fields;
    const record: Record<string, unknown> = {
      CreatedDate: CreatedDate ?? this.#now(),
      CreatedById: CreatedById ?? createdById,
      ...normaliseCustomFields(definition, custom)
    };
    if (typeof record.CreatedDate !== 'number' || !Number.isSafeInteger(record.CreatedDate)) {
      throw new EventValidationError(
        `CreatedDate: value not of required type: ${String(record.CreatedDate)}`,
        'INVALID_TYPE_ON_FIELD_IN_RECORD',
        ['CreatedDate']
      );
    }
    if (typeof record.CreatedById !== 'string') {
      throw new EventValidationError(
        `CreatedById: value not of required type: ${String(record.CreatedById)}`,
        'INVALID_TYPE_ON_FIELD_IN_RECORD',
        ['CreatedById']
      );
    }
    const eventUuid = randomUUID();
    return { replayId: this.#append(log, eventUuid, log.schema.type.toBuffer(record)), eventUuid };
  }

  /**
   * Publishes an already Avro-encoded ProducerEvent (the gRPC path). Payloads that decode with the
   * topic schema are validated like REST input; payloads that do not decode are stored as sent,
   * because "The Publish and PublishStream calls complete successfully even if an event payload
   * isn't in valid Avro format" (Pub/Sub API guide, Event Avro Serialization).
   */
  publishEncoded(topicName: string, event: ProducerEventInput): PublishedEvent {
    const log = this.#requireTopic(topicName);
    const definition = platformDefinition(log);
    if (event.schema_id !== log.schema.schemaId) {
      throw new EventValidationError(
        `Schema ID ${event.schema_id} does not match the current schema of ${topicName}`,
        'INVALID_SCHEMA_ID'
      );
    }
    const payload = Buffer.from(event.payload);
    let decoded: Record<string, unknown> | undefined;
    try {
      decoded = log.schema.type.fromBuffer(payload) as Record<string, unknown>;
    } catch {
      decoded = undefined;
    }
    if (decoded !== undefined) {
      const custom = Object.entries(decoded).filter(([name]) => !STANDARD_FIELDS.has(name));
      normaliseCustomFields(definition, Object.fromEntries(custom));
    }
    const eventUuid = event.id === '' ? randomUUID() : event.id;
    return { replayId: this.#append(log, eventUuid, payload), eventUuid };
  }

  /**
   * Publishes a Change Data Capture event for `entityName` (what the platform does after a
   * committed CREATE/UPDATE/DELETE/UNDELETE of a record).
   */
  publishChange(entityName: string, change: ChangeInput): PublishedEvent {
    const log = this.#requireTopic(changeEventTopicName(entityName));
    if (log.source.kind !== 'change-event') throw new Error(`${log.name} is not a change topic`);
    let payload: Buffer;
    try {
      this.#commitNumber += 1;
      const record = changeEventRecord(log.source.entity, change, {
        commitTimestamp: this.#now(),
        commitNumber: this.#commitNumber
      });
      payload = log.schema.type.toBuffer(record);
    } catch (error) {
      throw new EventValidationError(
        `Invalid change event: ${error instanceof Error ? error.message : String(error)}`,
        'INVALID_TYPE_ON_FIELD_IN_RECORD'
      );
    }
    const eventUuid = randomUUID();
    return { replayId: this.#append(log, eventUuid, payload), eventUuid };
  }

  /** Opens a cursor at a replay start point; throws ReplayIdError for an unusable CUSTOM id. */
  openCursor(topicName: string, start: ReplayStart): TopicCursor {
    const log = this.#requireTopic(topicName);
    this.evictExpired(log);
    switch (start.preset) {
      case 'LATEST':
        return new TopicCursor(this, log, log.endPosition, log.latestReplayId);
      case 'EARLIEST':
        return new TopicCursor(this, log, log.evictedCount, log.replayIdBeforeFirst);
      case 'CUSTOM': {
        const replayId = decodeReplayId(start.replayId);
        if (replayId === null) {
          throw new ReplayIdError(
            `Replay ID must be ${REPLAY_ID_BYTES} bytes, got ${start.replayId.length}`
          );
        }
        if (replayId < log.replayIdBeforeFirst) {
          throw new ReplayIdError(`Replay ID ${replayId} is outside the retention window`);
        }
        if (replayId > this.#lastReplayId) {
          throw new ReplayIdError(`Replay ID ${replayId} was never issued`);
        }
        return new TopicCursor(this, log, log.positionAfter(replayId), replayId);
      }
    }
  }

  /**
   * Drops every retained event (a test reset). Replay ids keep increasing, so ids stored before
   * the reset are refused like ids past the retention window.
   */
  clear(): void {
    for (const log of this.#topics.values()) log.evictAll();
  }

  evictExpired(log: TopicLog): void {
    log.evictOlderThan(this.#now() - this.#retentionMs);
  }

  #requireTopic(topicName: string): TopicLog {
    const log = this.#topics.get(topicName);
    if (log === undefined) {
      throw new EventValidationError(`Unknown topic: ${topicName}`, 'NOT_FOUND');
    }
    return log;
  }

  #append(log: TopicLog, eventUuid: string, payload: Buffer): Buffer {
    this.evictExpired(log);
    this.#lastReplayId += 1n;
    const replayIdBytes = encodeReplayId(this.#lastReplayId);
    log.events.push({
      replayId: this.#lastReplayId,
      storedAt: this.#now(),
      message: {
        event: { id: eventUuid, schema_id: log.schema.schemaId, payload, headers: [] },
        replay_id: replayIdBytes
      }
    });
    this.#publishedCount += 1;
    for (const listener of log.listeners) listener();
    return replayIdBytes;
  }
}

function platformDefinition(log: TopicLog): PlatformEventDefinition {
  if (log.source.kind !== 'platform-event') {
    throw new EventValidationError(
      `Topic ${log.name} does not accept publishing`,
      'INVALID_OPERATION'
    );
  }
  return log.source.definition;
}

/** Validates custom field values and returns them in Avro-ready form (all fields present). */
function normaliseCustomFields(
  def: PlatformEventDefinition,
  values: Record<string, unknown>
): Record<string, unknown> {
  const known = new Set(def.fields.map((f) => f.apiName));
  for (const name of Object.keys(values)) {
    if (!known.has(name)) {
      throw new EventValidationError(
        `No such column '${name}' on sobject of type ${def.apiName}`,
        'INVALID_FIELD',
        [name]
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const field of def.fields) {
    out[field.apiName] = normaliseValue(field, values[field.apiName]);
  }
  return out;
}

function normaliseValue(field: PlatformEventField, value: unknown): unknown {
  const name = field.apiName;
  const wrongType = (): EventValidationError =>
    new EventValidationError(
      `${name}: value not of required type: ${String(value)}`,
      'INVALID_TYPE_ON_FIELD_IN_RECORD',
      [name]
    );
  // A checkbox is never null in Salesforce: absent means false.
  if (field.type === 'Checkbox') {
    if (value === undefined || value === null) return false;
    if (typeof value !== 'boolean') throw wrongType();
    return value;
  }
  if (value === undefined || value === null) return null;
  switch (field.type) {
    case 'Number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw wrongType();
      const scale = field.scale ?? 0;
      const integerDigits = (field.precision ?? 18) - scale;
      if (Math.abs(value) >= 10 ** integerDigits) {
        throw new EventValidationError(
          `${name}: value outside of valid range on numeric field: ${value}`,
          'NUMBER_OUTSIDE_VALID_RANGE',
          [name]
        );
      }
      return value;
    }
    case 'DateTime': {
      if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
      const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
      if (Number.isNaN(ms)) throw wrongType();
      return ms;
    }
    case 'Date': {
      if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
      if (typeof value !== 'string' || !ISO_DATE_PATTERN.test(value)) throw wrongType();
      const ms = Date.parse(`${value}T00:00:00Z`);
      if (Number.isNaN(ms)) throw wrongType();
      return ms / MS_PER_DAY;
    }
    default: {
      if (typeof value !== 'string') throw wrongType();
      const maxLength = field.length ?? DEFAULT_LENGTH[field.type] ?? 255;
      if (value.length > maxLength) {
        throw new EventValidationError(
          `${name}: data value too large: ${value.slice(0, 40)} (max length=${maxLength})`,
          'STRING_TOO_LONG',
          [name]
        );
      }
      if (field.type === 'Email' && !EMAIL_PATTERN.test(value)) {
        throw new EventValidationError(
          `${name}: invalid email address: ${value}`,
          'INVALID_EMAIL_ADDRESS',
          [name]
        );
      }
      return value;
    }
  }
}
