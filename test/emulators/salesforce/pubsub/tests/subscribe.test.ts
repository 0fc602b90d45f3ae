import type { ServiceError } from '@grpc/grpc-js';
import avsc from 'avsc';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { EVENT_RETENTION_MS } from '../event-bus.ts';

import {
  ACCOUNT_SYNC_TOPIC,
  type Fixture,
  sleep,
  startFixture,
  SYNC_RESULT_TOPIC,
  syncResultFields,
  USER_ID,
  VALID_AUTH,
  waitForSubscriptions
} from './helpers.ts';

function publishN(fx: Fixture, count: number, from = 0): Buffer[] {
  return Array.from(
    { length: count },
    (_, i) => fx.bus.publish(SYNC_RESULT_TOPIC, syncResultFields(from + i), USER_ID).replayId
  );
}

function errorCodeOf(status: unknown): string | undefined {
  return (status as ServiceError).metadata?.get('error-code')[0] as string | undefined;
}

describe('Subscribe', () => {
  let fx: Fixture;
  beforeEach(async () => {
    fx = await startFixture();
  });
  afterEach(() => fx.close());

  it('delivers an event published after a LATEST subscription, decodable with GetSchema', async () => {
    const stream = fx.client.subscribe();
    stream.request({ topic_name: SYNC_RESULT_TOPIC, replay_preset: 'LATEST', num_requested: 10 });
    await waitForSubscriptions(fx);
    const { replayId } = fx.bus.publish(SYNC_RESULT_TOPIC, syncResultFields(1), USER_ID);

    await stream.until((s) => s.events.length === 1);
    const [consumerEvent] = stream.events;
    const schema = await fx.client.unary<{ schema_json: string }>('GetSchema', {
      schema_id: consumerEvent!.event.schema_id
    });
    const decoded = avsc.Type.forSchema(JSON.parse(schema.schema_json)).fromBuffer(
      consumerEvent!.event.payload
    );
    expect(decoded).toMatchObject({ ...syncResultFields(1), CreatedById: USER_ID });
    expect(typeof decoded.CreatedDate).toBe('number');
    expect(consumerEvent!.replay_id).toEqual(replayId);
    expect(consumerEvent!.replay_id).toHaveLength(8);
    expect(consumerEvent!.event.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(stream.responses[0]!.latest_replay_id).toEqual(replayId);
    expect(stream.responses[0]!.pending_num_requested).toBe(9);
    stream.cancel();
  });

  it('does not replay events published before a LATEST subscription', async () => {
    publishN(fx, 3);
    const stream = fx.client.subscribe();
    stream.request({ topic_name: SYNC_RESULT_TOPIC, num_requested: 10 });
    await waitForSubscriptions(fx);
    const [after] = publishN(fx, 1, 3);
    await stream.until((s) => s.events.length >= 1);
    await sleep(50);
    expect(stream.events.map((e) => e.replay_id)).toEqual([after]);
    stream.cancel();
  });

  it('replays every retained event in order from EARLIEST', async () => {
    const published = publishN(fx, 5);
    const stream = fx.client.subscribe();
    stream.request({
      topic_name: SYNC_RESULT_TOPIC,
      replay_preset: 'EARLIEST',
      num_requested: 100
    });
    await stream.until((s) => s.events.length === 5);
    expect(stream.events.map((e) => e.replay_id)).toEqual(published);
    stream.cancel();
  });

  it('keeps topics apart: events of another topic are not delivered', async () => {
    fx.bus.publish(ACCOUNT_SYNC_TOPIC, { Record_Id__c: '0015g00000XyZ12AAB' }, USER_ID);
    const [own] = publishN(fx, 1);
    const stream = fx.client.subscribe();
    stream.request({ topic_name: SYNC_RESULT_TOPIC, replay_preset: 'EARLIEST', num_requested: 10 });
    await stream.until((s) => s.events.length === 1);
    await sleep(50);
    expect(stream.events.map((e) => e.replay_id)).toEqual([own]);
    stream.cancel();
  });

  it('resumes after a stored replay id with CUSTOM', async () => {
    const published = publishN(fx, 6);
    const stream = fx.client.subscribe();
    stream.request({
      topic_name: SYNC_RESULT_TOPIC,
      replay_preset: 'CUSTOM',
      replay_id: published[2],
      num_requested: 100
    });
    await stream.until((s) => s.events.length === 3);
    expect(stream.events.map((e) => e.replay_id)).toEqual(published.slice(3));
    stream.cancel();
  });

  it('reads the replay preset from the first FetchRequest only', async () => {
    const published = publishN(fx, 4);
    const stream = fx.client.subscribe();
    stream.request({
      topic_name: SYNC_RESULT_TOPIC,
      replay_preset: 'CUSTOM',
      replay_id: published[1],
      num_requested: 1
    });
    await stream.until((s) => s.events.length === 1);
    stream.request({ replay_preset: 'EARLIEST', num_requested: 10 });
    await stream.until((s) => s.events.length === 2);
    await sleep(50);
    expect(stream.events.map((e) => e.replay_id)).toEqual(published.slice(2));
    stream.cancel();
  });

  it('ends the stream with the replayid.corrupted trailer for a malformed replay id', async () => {
    publishN(fx, 1);
    const stream = fx.client.subscribe();
    stream.request({
      topic_name: SYNC_RESULT_TOPIC,
      replay_preset: 'CUSTOM',
      replay_id: Buffer.from([1, 2, 3]),
      num_requested: 10
    });
    const status = await stream.ended;
    expect(status.code).toBe(3);
    expect(errorCodeOf(status)).toBe(
      'sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted'
    );
  });

  it('ends the stream with replayid.corrupted for a replay id never issued', async () => {
    const [last] = publishN(fx, 1);
    const future = Buffer.alloc(8);
    future.writeBigUInt64BE(last!.readBigUInt64BE() + 1000n);
    const stream = fx.client.subscribe();
    stream.request({
      topic_name: SYNC_RESULT_TOPIC,
      replay_preset: 'CUSTOM',
      replay_id: future,
      num_requested: 10
    });
    expect(errorCodeOf(await stream.ended)).toBe(
      'sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted'
    );
  });

  it('ends the stream with replayid.corrupted for a replay id past the 72-hour retention', async () => {
    let now = 1_700_000_000_000;
    const clocked = await startFixture({ now: () => now });
    try {
      const old = clocked.bus.publish(SYNC_RESULT_TOPIC, syncResultFields(1), USER_ID);
      clocked.bus.publish(SYNC_RESULT_TOPIC, syncResultFields(2), USER_ID);
      now += EVENT_RETENTION_MS + 1;
      const stream = clocked.client.subscribe();
      stream.request({
        topic_name: SYNC_RESULT_TOPIC,
        replay_preset: 'CUSTOM',
        replay_id: old.replayId,
        num_requested: 10
      });
      const status = await stream.ended;
      expect(status.code).toBe(3);
      expect(errorCodeOf(status)).toBe(
        'sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted'
      );
    } finally {
      await clocked.close();
    }
  });

  it('ends the stream with replayid.validation.failed for CUSTOM without a replay id', async () => {
    const stream = fx.client.subscribe();
    stream.request({ topic_name: SYNC_RESULT_TOPIC, replay_preset: 'CUSTOM', num_requested: 10 });
    const status = await stream.ended;
    expect(status.code).toBe(3);
    expect(errorCodeOf(status)).toBe(
      'sfdc.platform.eventbus.grpc.subscription.fetch.replayid.validation.failed'
    );
  });

  it('ends the stream with NOT_FOUND and topic.not.found for an unknown topic', async () => {
    const stream = fx.client.subscribe();
    stream.request({ topic_name: '/event/Unknown__e', num_requested: 10 });
    const status = await stream.ended;
    expect(status.code).toBe(5);
    expect(errorCodeOf(status)).toBe('sfdc.platform.eventbus.grpc.topic.not.found');
  });

  it('rejects num_requested of zero with requested.events.invalid', async () => {
    const stream = fx.client.subscribe();
    stream.request({ topic_name: SYNC_RESULT_TOPIC, num_requested: 0 });
    const status = await stream.ended;
    expect(status.code).toBe(3);
    expect(errorCodeOf(status)).toBe(
      'sfdc.platform.eventbus.grpc.subscription.fetch.requested.events.invalid'
    );
  });

  it('rejects a later FetchRequest naming another topic with topic.mismatch', async () => {
    const stream = fx.client.subscribe();
    stream.request({ topic_name: SYNC_RESULT_TOPIC, num_requested: 1 });
    await waitForSubscriptions(fx);
    stream.request({ topic_name: ACCOUNT_SYNC_TOPIC, num_requested: 1 });
    expect(errorCodeOf(await stream.ended)).toBe(
      'sfdc.platform.eventbus.grpc.subscription.fetch.topic.mismatch'
    );
  });

  it('ends the stream with the auth.error trailer for a bad access token', async () => {
    const stream = fx.client.subscribe({ ...VALID_AUTH, accesstoken: 'expired' });
    stream.request({ topic_name: SYNC_RESULT_TOPIC, num_requested: 1 });
    const status = await stream.ended;
    expect(status.code).toBe(16);
    expect(errorCodeOf(status)).toBe('sfdc.platform.eventbus.grpc.service.auth.error');
  });
});

describe('Subscribe flow control', () => {
  let fx: Fixture;
  beforeEach(async () => {
    fx = await startFixture();
  });
  afterEach(() => fx.close());

  it('never sends more events than requested, and sends more when asked', async () => {
    publishN(fx, 10);
    const stream = fx.client.subscribe();
    stream.request({ topic_name: SYNC_RESULT_TOPIC, replay_preset: 'EARLIEST', num_requested: 3 });
    await stream.until((s) => s.events.length === 3);
    await sleep(100);
    expect(stream.events).toHaveLength(3);
    expect(stream.responses.at(-1)!.pending_num_requested).toBe(0);

    stream.request({ num_requested: 4 });
    await stream.until((s) => s.events.length === 7);
    await sleep(100);
    expect(stream.events).toHaveLength(7);
    stream.cancel();
  });

  it('reports the outstanding request count in pending_num_requested', async () => {
    publishN(fx, 2);
    const stream = fx.client.subscribe();
    stream.request({ topic_name: SYNC_RESULT_TOPIC, replay_preset: 'EARLIEST', num_requested: 5 });
    await stream.until((s) => s.events.length === 2);
    expect(stream.responses.at(-1)!.pending_num_requested).toBe(3);

    publishN(fx, 1, 2);
    await stream.until((s) => s.events.length === 3);
    expect(stream.responses.at(-1)!.pending_num_requested).toBe(2);
    stream.cancel();
  });

  it('treats num_requested above 100 as 100', async () => {
    publishN(fx, 150);
    const stream = fx.client.subscribe();
    stream.request({
      topic_name: SYNC_RESULT_TOPIC,
      replay_preset: 'EARLIEST',
      num_requested: 500
    });
    await stream.until((s) => s.events.length === 100);
    await sleep(100);
    expect(stream.events).toHaveLength(100);
    expect(stream.responses.at(-1)!.pending_num_requested).toBe(0);
    stream.cancel();
  });

  it('splits large events over several responses that stay under 4 MB', async () => {
    for (let i = 0; i < 40; i += 1) {
      fx.bus.publish(ACCOUNT_SYNC_TOPIC, { Payload__c: 'x'.repeat(131_072) }, USER_ID);
    }
    const stream = fx.client.subscribe();
    stream.request({
      topic_name: ACCOUNT_SYNC_TOPIC,
      replay_preset: 'EARLIEST',
      num_requested: 40
    });
    await stream.until((s) => s.events.length === 40);
    expect(stream.responses.length).toBeGreaterThan(1);
    for (const response of stream.responses) {
      const bytes = response.events.reduce((sum, e) => sum + e.event.payload.length, 0);
      expect(bytes).toBeLessThan(4 * 1024 * 1024);
    }
    stream.cancel();
  });

  it('adds a new request to the amount still pending', async () => {
    const stream = fx.client.subscribe();
    stream.request({ topic_name: SYNC_RESULT_TOPIC, num_requested: 2 });
    stream.request({ num_requested: 3 });
    await waitForSubscriptions(fx);
    await sleep(30);
    publishN(fx, 8);
    await stream.until((s) => s.events.length === 5);
    await sleep(100);
    expect(stream.events).toHaveLength(5);
    expect(stream.responses.at(-1)!.pending_num_requested).toBe(0);
    stream.cancel();
  });
});

describe('Subscribe keepalive', () => {
  let fx: Fixture;
  beforeEach(async () => {
    fx = await startFixture({ keepaliveIntervalMs: 150 });
  });
  afterEach(() => fx.close());

  it('sends an empty FetchResponse carrying the latest replay id when idle', async () => {
    const [last] = publishN(fx, 2).slice(-1);
    const stream = fx.client.subscribe();
    stream.request({ topic_name: SYNC_RESULT_TOPIC, num_requested: 5 });
    await stream.until((s) => s.responses.length >= 2, 2_000);
    for (const keepalive of stream.responses) {
      expect(keepalive.events).toEqual([]);
      expect(keepalive.latest_replay_id).toEqual(last);
      expect(keepalive.pending_num_requested).toBe(5);
    }
    stream.cancel();
  });
});
