import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlowRegistry } from '../../src/flows/registry.ts';
import { createPubSubIntake, platformEventKey } from '../../src/intake/pubsub.ts';
import type { ReceivedEvent } from '../../src/salesforce/pubsub.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';
import { silentLogger } from '../helpers.ts';

const TOPIC = '/event/D365_Account_Sync__e';
let store: SqliteStore;
let wakes: number;
let intake: (events: ReceivedEvent[]) => Promise<void>;

beforeEach(async () => {
  store = new SqliteStore(':memory:');
  await store.migrate();
  wakes = 0;
  intake = createPubSubIntake({
    store,
    registry: createFlowRegistry([{ name: 'account', topics: [TOPIC], handle: async () => {} }], {
      defaultMaxAttempts: 4
    }),
    logger: silentLogger,
    onEnqueued: () => (wakes += 1)
  });
});
afterEach(async () => {
  await store.close();
});

function received(uuid: string, payload: Record<string, unknown>): ReceivedEvent {
  return {
    topic: TOPIC,
    replayId: Buffer.from([1]),
    eventUuid: uuid,
    schemaId: 'schema',
    payload,
    receivedAt: new Date()
  };
}

describe('Pub/Sub intake', () => {
  it('keys an event by the package’s Idempotency_Key__c', () => {
    expect(platformEventKey(received('u1', { Idempotency_Key__c: '001xx:1714557600000' }))).toBe(
      'sf:001xx:1714557600000'
    );
  });

  it('falls back to the EventUuid when the event has no idempotency key', () => {
    expect(platformEventKey(received('u1', {}))).toBe('sf:uuid:u1');
  });

  it('stores the batch and queues each event for the flow of its topic', async () => {
    await intake([
      received('u1', { Idempotency_Key__c: 'a:1', Record_Id__c: 'a' }),
      received('u2', { Idempotency_Key__c: 'b:1', Record_Id__c: 'b' })
    ]);
    const jobs = await store.claimJobs('w', 10, 1_000);
    expect(jobs.map((j) => [j.flow, j.idempotencyKey, j.correlationId, j.maxAttempts])).toEqual([
      ['account', 'sf:a:1', 'u1', 4],
      ['account', 'sf:b:1', 'u2', 4]
    ]);
    expect(jobs[0]!.payload).toEqual({ Idempotency_Key__c: 'a:1', Record_Id__c: 'a' });
    expect(wakes).toBe(1);
  });

  it('runs a change published twice (new EventUuid, same key) only once', async () => {
    await intake([received('u1', { Idempotency_Key__c: 'a:1' })]);
    await intake([received('u2', { Idempotency_Key__c: 'a:1' })]);
    expect((await store.counts()).pending).toEqual({ account: 1 });
    expect(wakes).toBe(1);
  });
});
