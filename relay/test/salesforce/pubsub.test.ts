import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SalesforceClient } from '../../src/salesforce/index.ts';
import { createPubSubSubscriber } from '../../src/salesforce/pubsub.ts';
import type {
  CheckpointStore,
  PubSubSubscriber,
  PubSubSubscriberOptions,
  ReceivedEvent,
  UndecodableEvent
} from '../../src/salesforce/pubsub.ts';
import { silentLogger, startSalesforce } from './helpers.ts';
import type { SalesforceFixture } from './helpers.ts';

const TOPIC = '/event/D365_Sync_Result__e';

let fx: SalesforceFixture;
let sf: SalesforceClient;
let subscriber: PubSubSubscriber | undefined;

beforeAll(async () => {
  fx = await startSalesforce({ pubsubKeepaliveMs: 200 });
  sf = fx.jwtClient();
});

afterAll(async () => {
  await fx.close();
});

beforeEach(() => {
  fx.emulator.control.pubsub?.setSilent(false);
});

afterEach(async () => {
  await subscriber?.stop();
  subscriber = undefined;
});

class MemoryCheckpoints implements CheckpointStore {
  saved: Buffer[] = [];
  failNextSave = false;
  initial: Buffer | null;
  constructor(initial: Buffer | null = null) {
    this.initial = initial;
  }
  async load(): Promise<Buffer | null> {
    return this.saved.at(-1) ?? this.initial;
  }
  async save(_topic: string, replayId: Buffer): Promise<void> {
    if (this.failNextSave) {
      this.failNextSave = false;
      throw new Error('checkpoint store unavailable');
    }
    this.saved.push(Buffer.from(replayId));
  }
}

let published = 0;
async function publish(count = 1): Promise<string[]> {
  const keys: string[] = [];
  for (let i = 0; i < count; i += 1) {
    published += 1;
    const key = `key-${published}`;
    keys.push(key);
    await sf.request('POST', '/sobjects/D365_Sync_Result__e', {
      Record_Id__c: '001000000000001AAA',
      Idempotency_Key__c: key,
      Flow__c: 'account',
      Status__c: 'Synced',
      Message__c: `event ${published}`,
      D365_Key__c: 'usmf|US-001'
    });
  }
  return keys;
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function subscribe(
  overrides: Partial<PubSubSubscriberOptions> & { checkpoints: CheckpointStore }
): { events: ReceivedEvent[]; batches: number[] } {
  const events: ReceivedEvent[] = [];
  const batches: number[] = [];
  subscriber = createPubSubSubscriber({
    salesforce: sf,
    endpoint: fx.emulator.pubsubEndpoint,
    caCertPem: fx.emulator.pubsubCaPem,
    topic: TOPIC,
    onEvents: async (received) => {
      batches.push(received.length);
      events.push(...received);
    },
    reconnectBackoff: { baseMs: 50, capMs: 200 },
    logger: silentLogger,
    ...overrides
  });
  return { events, batches };
}

const keyOf = (event: ReceivedEvent): string => String(event.payload.Idempotency_Key__c);

type Unary<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  callback: (error: grpc.ServiceError | null, response: Res) => void
) => void;

/** Publishes raw bytes through the gRPC Publish call, which (like Salesforce) does not validate Avro. */
async function publishRawPayload(payload: Buffer): Promise<void> {
  const entry = createRequire(import.meta.url).resolve('salesforce-pubsub-api-client');
  const definition = protoLoader.loadSync(
    path.join(path.dirname(entry), '..', 'pubsub_api.proto'),
    { keepCase: true, defaults: true }
  );
  const { PubSub } = (
    grpc.loadPackageDefinition(definition) as unknown as {
      eventbus: { v1: { PubSub: grpc.ServiceClientConstructor } };
    }
  ).eventbus.v1;
  const client = new PubSub(
    fx.emulator.pubsubEndpoint,
    grpc.credentials.createSsl(Buffer.from(fx.emulator.pubsubCaPem))
  ) as unknown as grpc.Client & {
    GetTopic: Unary<{ topic_name: string }, { schema_id: string }>;
    Publish: Unary<
      { topic_name: string; events: unknown[] },
      { results: Array<{ error?: unknown }> }
    >;
  };
  const session = await sf.session();
  const metadata = new grpc.Metadata();
  metadata.set('accesstoken', session.accessToken);
  metadata.set('instanceurl', session.instanceUrl);
  metadata.set('tenantid', session.orgId);
  const call = <Req, Res>(method: Unary<Req, Res>, request: Req): Promise<Res> =>
    new Promise((resolve, reject) =>
      method.call(client, request, metadata, (error, response) =>
        error ? reject(error) : resolve(response)
      )
    );
  try {
    const topic = await call(client.GetTopic, { topic_name: TOPIC });
    await call(client.Publish, {
      topic_name: TOPIC,
      events: [{ id: '', schema_id: topic.schema_id, payload }]
    });
  } finally {
    client.close();
  }
}

describe('Pub/Sub subscriber', () => {
  it('delivers decoded events and checkpoints the last replay id of each stored batch', async () => {
    const checkpoints = new MemoryCheckpoints();
    const { events } = subscribe({ checkpoints, initialReplay: 'LATEST' });
    await subscriber?.start();
    await until(() => subscriber?.state().status === 'subscribed');
    const keys = await publish(3);
    await until(() => events.length === 3);
    expect(events.map(keyOf)).toEqual(keys);
    expect(events[0]).toMatchObject({
      topic: TOPIC,
      payload: { Flow__c: 'account', Status__c: 'Synced' }
    });
    expect(events[0]?.eventUuid).toMatch(/^[0-9a-f-]{36}$/i);
    await until(() => checkpoints.saved.at(-1)?.equals(events[2]?.replayId as Buffer) === true);
  });

  it('saves the checkpoint only after onEvents has resolved', async () => {
    const checkpoints = new MemoryCheckpoints();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let handled = 0;
    const received: ReceivedEvent[] = [];
    subscribe({
      checkpoints,
      initialReplay: 'LATEST',
      onEvents: async (batch) => {
        handled += batch.length;
        received.push(...batch);
        await gate;
      }
    });
    try {
      await subscriber?.start();
      await until(() => subscriber?.state().status === 'subscribed');
      await publish(1);
      await until(() => handled === 1);
      // Keepalives keep arriving meanwhile; none of them may move the checkpoint onto the unstored event.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(checkpoints.saved.some((id) => id.equals(received[0]?.replayId as Buffer))).toBe(
        false
      );
    } finally {
      release();
    }
    await until(() => checkpoints.saved.at(-1)?.equals(received[0]?.replayId as Buffer) === true);
  });

  it('asks for at most batchSize events at a time and re-requests as batches are processed', async () => {
    const checkpoints = new MemoryCheckpoints();
    const { events, batches } = subscribe({ checkpoints, initialReplay: 'LATEST', batchSize: 5 });
    await subscriber?.start();
    await until(() => subscriber?.state().status === 'subscribed');
    await publish(23);
    await until(() => events.length === 23);
    expect(Math.max(...batches)).toBeLessThanOrEqual(5);
    expect(new Set(events.map(keyOf)).size).toBe(23);
  });

  it('resubscribes from the checkpoint after the server closes the stream, without losing or repeating events', async () => {
    const checkpoints = new MemoryCheckpoints();
    const { events } = subscribe({ checkpoints, initialReplay: 'LATEST' });
    await subscriber?.start();
    await until(() => subscriber?.state().status === 'subscribed');
    await publish(2);
    await until(() => events.length === 2 && checkpoints.saved.length > 0);
    expect(fx.emulator.control.pubsub?.closeSubscribeStreams()).toBe(1);
    await publish(2);
    await until(() => events.length === 4);
    expect(subscriber?.state().reconnects).toBeGreaterThanOrEqual(1);
    expect(new Set(events.map(keyOf)).size).toBe(4);
  });

  it('re-reads a batch whose handler failed, so nothing is lost', async () => {
    const checkpoints = new MemoryCheckpoints();
    const seen: string[] = [];
    let failures = 1;
    subscribe({
      checkpoints,
      initialReplay: 'LATEST',
      onEvents: async (received) => {
        if (failures > 0) {
          failures -= 1;
          throw new Error('store unavailable');
        }
        seen.push(...received.map(keyOf));
      }
    });
    await subscriber?.start();
    // A keepalive checkpoint marks the position before the event, as after any earlier stored batch.
    await until(() => checkpoints.saved.length > 0);
    const [key] = await publish(1);
    await until(() => seen.includes(key as string));
    expect(failures).toBe(0);
    expect(subscriber?.state().reconnects).toBeGreaterThanOrEqual(1);
  });

  it('drops redelivered events by EventUuid when a checkpoint could not be saved', async () => {
    const checkpoints = new MemoryCheckpoints();
    const events: ReceivedEvent[] = [];
    let failSaveAfter: string | undefined;
    subscribe({
      checkpoints,
      initialReplay: 'LATEST',
      onEvents: async (batch) => {
        events.push(...batch);
        // Make the save that follows this batch fail, as if the store went away between the two writes.
        if (batch.some((event) => keyOf(event) === failSaveAfter)) {
          failSaveAfter = undefined;
          checkpoints.failNextSave = true;
        }
      }
    });
    await subscriber?.start();
    await until(() => subscriber?.state().status === 'subscribed');
    await publish(1);
    await until(
      () =>
        events.length === 1 &&
        checkpoints.saved.at(-1)?.equals(events[0]?.replayId as Buffer) === true
    );
    failSaveAfter = `key-${published + 1}`;
    await publish(1);
    // The failed save resubscribes from the previous checkpoint; the event comes again and is dropped.
    await until(() => (subscriber?.state().duplicates ?? 0) >= 1);
    expect(events.map(keyOf)).toHaveLength(2);
    expect(new Set(events.map(keyOf)).size).toBe(2);
  });

  it('logs in again when the resubscription is refused for an expired session', async () => {
    const checkpoints = new MemoryCheckpoints();
    const { events } = subscribe({ checkpoints, initialReplay: 'LATEST' });
    await subscriber?.start();
    await until(() => subscriber?.state().status === 'subscribed');
    const before = await sf.session();
    fx.emulator.control.expireSessions();
    fx.emulator.control.pubsub?.closeSubscribeStreams();
    await until(
      () =>
        subscriber?.state().status === 'subscribed' && (subscriber?.state().reconnects ?? 0) >= 2
    );
    expect((await sf.session()).accessToken).not.toBe(before.accessToken);
    await publish(1);
    await until(() => events.length === 1);
  });

  it('hands an event whose Avro does not match its schema to onUndecodable and moves past it', async () => {
    const checkpoints = new MemoryCheckpoints();
    const undecodable: UndecodableEvent[] = [];
    const { events } = subscribe({
      checkpoints,
      initialReplay: 'LATEST',
      onUndecodable: async (event) => {
        undecodable.push(event);
      }
    });
    await subscriber?.start();
    await until(() => subscriber?.state().status === 'subscribed');
    await publishRawPayload(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]));
    const [key] = await publish(1);
    await until(() => events.some((event) => keyOf(event) === key));
    expect(undecodable).toHaveLength(1);
    expect(undecodable[0]).toMatchObject({ topic: TOPIC });
    expect(subscriber?.state().undecodable).toBe(1);
    expect(events).toHaveLength(1);
  });

  it('reconnects when the stream goes silent (no events, no keepalive)', async () => {
    const checkpoints = new MemoryCheckpoints();
    const { events } = subscribe({ checkpoints, initialReplay: 'LATEST', silenceTimeoutMs: 600 });
    await subscriber?.start();
    await until(() => subscriber?.state().status === 'subscribed');
    fx.emulator.control.pubsub?.setSilent(true);
    await until(() => (subscriber?.state().watchdogReconnects ?? 0) >= 1, 5_000);
    fx.emulator.control.pubsub?.setSilent(false);
    await until(() => subscriber?.state().status === 'subscribed');
    await publish(1);
    await until(() => events.length === 1);
  });

  it('falls back to EARLIEST when Salesforce rejects the stored replay id', async () => {
    const before = await publish(1);
    const checkpoints = new MemoryCheckpoints(Buffer.from([0xde, 0xad, 0xbe]));
    const { events } = subscribe({ checkpoints });
    await subscriber?.start();
    await until(() => events.some((event) => keyOf(event) === before[0]));
    expect(subscriber?.state().replayFallbacks).toBe(1);
    await until(() => checkpoints.saved.length > 0);
  });

  it('starts from LATEST after a rejected replay id when configured so', async () => {
    const earlier = await publish(1);
    const checkpoints = new MemoryCheckpoints(Buffer.from([0xde, 0xad, 0xbe]));
    const { events } = subscribe({ checkpoints, onExpiredReplay: 'LATEST' });
    await subscriber?.start();
    await until(
      () => subscriber?.state().replayFallbacks === 1 && subscriber?.state().status === 'subscribed'
    );
    const later = await publish(1);
    await until(() => events.some((event) => keyOf(event) === later[0]));
    expect(events.some((event) => keyOf(event) === earlier[0])).toBe(false);
  });
});
