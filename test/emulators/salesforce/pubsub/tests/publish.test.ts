import type { ServiceError } from '@grpc/grpc-js';
import avsc from 'avsc';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { avroSchemaFor } from '../schema.ts';
import {
  ACCOUNT_SYNC_TOPIC,
  type Fixture,
  metadataOf,
  startFixture,
  SYNC_RESULT_EVENT,
  SYNC_RESULT_TOPIC,
  syncResultFields,
  USER_ID,
  VALID_AUTH,
  waitForSubscriptions
} from './helpers.ts';

interface PublishResponse {
  results: {
    replay_id: Buffer;
    error: { code: string; msg: string } | null;
    correlation_key: string;
  }[];
  schema_id: string;
  rpc_id: string;
}

const { schemaJson, schemaId } = avroSchemaFor(SYNC_RESULT_EVENT);
const syncResultType = avsc.Type.forSchema(JSON.parse(schemaJson));

function producerEvent(id: string, fields: Record<string, unknown>) {
  return {
    id,
    schema_id: schemaId,
    payload: syncResultType.toBuffer({
      CreatedDate: Date.now(),
      CreatedById: USER_ID,
      ...fields
    })
  };
}

describe('Publish', () => {
  let fx: Fixture;
  beforeEach(async () => {
    fx = await startFixture();
  });
  afterEach(() => fx.close());

  it('stores Avro events and answers one result per event with its replay id', async () => {
    const response = await fx.client.unary<PublishResponse>('Publish', {
      topic_name: SYNC_RESULT_TOPIC,
      events: [
        producerEvent('key-1', syncResultFields(1)),
        producerEvent('key-2', syncResultFields(2))
      ]
    });
    expect(response.schema_id).toBe(schemaId);
    expect(response.results.map((r) => r.correlation_key)).toEqual(['key-1', 'key-2']);
    expect(response.results.every((r) => r.error === null && r.replay_id.length === 8)).toBe(true);
    const [first, second] = response.results.map((r) => r.replay_id.readBigUInt64BE());
    expect(second).toBeGreaterThan(first!);
    expect(fx.server.faults.counters().eventsPublished).toBe(2);
  });

  it('delivers a gRPC-published event to subscribers with its payload bytes unchanged', async () => {
    const stream = fx.client.subscribe();
    stream.request({ topic_name: SYNC_RESULT_TOPIC, num_requested: 5 });
    await waitForSubscriptions(fx);
    const event = producerEvent('key-9', syncResultFields(9));
    await fx.client.unary('Publish', { topic_name: SYNC_RESULT_TOPIC, events: [event] });

    await stream.until((s) => s.events.length === 1);
    expect(stream.events[0]!.event.id).toBe('key-9');
    expect(stream.events[0]!.event.payload).toEqual(event.payload);
    stream.cancel();
  });

  it('fails only the event whose field is too long, with a PUBLISH error', async () => {
    const response = await fx.client.unary<PublishResponse>('Publish', {
      topic_name: SYNC_RESULT_TOPIC,
      events: [
        producerEvent('ok', syncResultFields(1)),
        producerEvent('too-long', { ...syncResultFields(2), Status__c: 'x'.repeat(21) })
      ]
    });
    expect(response.results[0]!.error).toBeNull();
    expect(response.results[1]!.error).toEqual({
      code: 'PUBLISH',
      msg: expect.stringContaining('Status__c: data value too large')
    });
    expect(response.results[1]!.replay_id).toHaveLength(0);
    expect(fx.server.faults.counters().eventsPublished).toBe(1);
  });

  it('accepts a payload that is not valid Avro, as the docs say the service does', async () => {
    const response = await fx.client.unary<PublishResponse>('Publish', {
      topic_name: SYNC_RESULT_TOPIC,
      events: [{ id: 'raw', schema_id: schemaId, payload: Buffer.from([0xff, 0xff, 0xff]) }]
    });
    expect(response.results[0]!.error).toBeNull();
    expect(response.results[0]!.replay_id).toHaveLength(8);
  });

  it('fails an event sent with another schema id', async () => {
    const response = await fx.client.unary<PublishResponse>('Publish', {
      topic_name: SYNC_RESULT_TOPIC,
      events: [
        { ...producerEvent('old', syncResultFields(1)), schema_id: 'AAAAAAAAAAAAAAAAAAAAAA' }
      ]
    });
    expect(response.results[0]!.error?.code).toBe('PUBLISH');
  });

  it('generates an event id when the publisher leaves it blank', async () => {
    const response = await fx.client.unary<PublishResponse>('Publish', {
      topic_name: SYNC_RESULT_TOPIC,
      events: [producerEvent('', syncResultFields(1))]
    });
    expect(response.results[0]!.correlation_key).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('rejects a request without events with publish.event.count.invalid', async () => {
    const error = (await fx.client
      .unary('Publish', { topic_name: SYNC_RESULT_TOPIC, events: [] })
      .catch((e: ServiceError) => e)) as ServiceError;
    expect(error.code).toBe(3);
    expect(error.metadata.get('error-code')).toEqual([
      'sfdc.platform.eventbus.grpc.publish.event.count.invalid'
    ]);
  });

  it('rejects an unknown topic with topic.not.found', async () => {
    const error = (await fx.client
      .unary('Publish', {
        topic_name: '/event/Missing__e',
        events: [producerEvent('a', syncResultFields(1))]
      })
      .catch((e: ServiceError) => e)) as ServiceError;
    expect(error.code).toBe(5);
    expect(error.metadata.get('error-code')).toEqual([
      'sfdc.platform.eventbus.grpc.topic.not.found'
    ]);
  });

  it('answers each PublishStream request with its own response', async () => {
    const call = fx.client.raw.PublishStream(metadataOf(VALID_AUTH));
    const responses: PublishResponse[] = [];
    call.on('data', (response: PublishResponse) => responses.push(response));
    call.write({
      topic_name: SYNC_RESULT_TOPIC,
      events: [producerEvent('a', syncResultFields(1))]
    });
    call.write({
      topic_name: SYNC_RESULT_TOPIC,
      events: [producerEvent('b', syncResultFields(2))]
    });
    call.end();
    await new Promise((resolve) => call.on('end', resolve));
    expect(responses.map((r) => r.results[0]!.correlation_key)).toEqual(['a', 'b']);
    expect(fx.bus.publishedCount).toBe(2);
  });

  it('ends a PublishStream whose topic changes with publish.topic.mismatch', async () => {
    const call = fx.client.raw.PublishStream(metadataOf(VALID_AUTH));
    call.on('data', () => undefined);
    const ended = new Promise<ServiceError>((resolve) => call.on('error', resolve));
    call.write({
      topic_name: SYNC_RESULT_TOPIC,
      events: [producerEvent('a', syncResultFields(1))]
    });
    call.write({
      topic_name: ACCOUNT_SYNC_TOPIC,
      events: [producerEvent('b', syncResultFields(2))]
    });
    const error = await ended;
    expect(error.code).toBe(3);
    expect(error.metadata.get('error-code')).toEqual([
      'sfdc.platform.eventbus.grpc.publish.topic.mismatch'
    ]);
  });
});
