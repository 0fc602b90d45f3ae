import { status, type ServiceError } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  type Fixture,
  sleep,
  startFixture,
  SYNC_RESULT_TOPIC,
  syncResultFields,
  USER_ID,
  waitForSubscriptions
} from './helpers.ts';

describe('Pub/Sub faults', () => {
  let fx: Fixture;
  beforeEach(async () => {
    fx = await startFixture({ keepaliveIntervalMs: 100 });
  });
  afterEach(() => fx.close());

  it('closes active Subscribe streams with the chosen status and error code', async () => {
    const streams = [fx.client.subscribe(), fx.client.subscribe()];
    for (const stream of streams)
      stream.request({ topic_name: SYNC_RESULT_TOPIC, num_requested: 1 });
    await waitForSubscriptions(fx, 2);

    const closed = fx.server.faults.closeSubscribeStreams({
      code: status.INTERNAL,
      errorCode: 'sfdc.platform.eventbus.grpc.subscription.internal.error'
    });

    expect(closed).toBe(2);
    for (const stream of streams) {
      const ended = (await stream.ended) as ServiceError;
      expect(ended.code).toBe(status.INTERNAL);
      expect(ended.metadata.get('error-code')).toEqual([
        'sfdc.platform.eventbus.grpc.subscription.internal.error'
      ]);
    }
    expect(fx.server.faults.counters().activeSubscriptions).toBe(0);
  });

  it('closes streams as service.unavailable by default', async () => {
    const stream = fx.client.subscribe();
    stream.request({ topic_name: SYNC_RESULT_TOPIC, num_requested: 1 });
    await waitForSubscriptions(fx);
    fx.server.faults.closeSubscribeStreams();
    const ended = (await stream.ended) as ServiceError;
    expect(ended.code).toBe(status.UNAVAILABLE);
    expect(ended.metadata.get('error-code')).toEqual([
      'sfdc.platform.eventbus.grpc.service.unavailable'
    ]);
  });

  it('sends neither events nor keepalives while silent, then catches up when cleared', async () => {
    const stream = fx.client.subscribe();
    stream.request({ topic_name: SYNC_RESULT_TOPIC, num_requested: 10 });
    await waitForSubscriptions(fx);
    fx.server.faults.setSilent(true);
    const before = stream.responses.length;
    fx.bus.publish(SYNC_RESULT_TOPIC, syncResultFields(1), USER_ID);
    await sleep(350);
    expect(stream.responses.length).toBe(before);

    fx.server.faults.setSilent(false);
    await stream.until((s) => s.events.length === 1);
    stream.cancel();
  });

  it('changes the keepalive interval of open streams', async () => {
    fx.server.faults.setKeepaliveIntervalMs(60_000);
    const stream = fx.client.subscribe();
    stream.request({ topic_name: SYNC_RESULT_TOPIC, num_requested: 1 });
    await waitForSubscriptions(fx);
    await sleep(250);
    expect(stream.responses).toHaveLength(0);

    fx.server.faults.setKeepaliveIntervalMs(50);
    await stream.until((s) => s.responses.length >= 2, 1_000);
    expect(fx.server.faults.counters().keepalivesSent).toBeGreaterThanOrEqual(2);
    stream.cancel();
  });

  it('counts events published, delivered and open subscriptions', async () => {
    const stream = fx.client.subscribe();
    stream.request({ topic_name: SYNC_RESULT_TOPIC, replay_preset: 'EARLIEST', num_requested: 2 });
    for (let i = 0; i < 3; i += 1) fx.bus.publish(SYNC_RESULT_TOPIC, syncResultFields(i), USER_ID);
    await stream.until((s) => s.events.length === 2);
    expect(fx.server.faults.counters()).toMatchObject({
      eventsPublished: 3,
      eventsDelivered: 2,
      activeSubscriptions: 1
    });
    stream.cancel();
  });
});
