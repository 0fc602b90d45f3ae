import PubSubApiClient from 'salesforce-pubsub-api-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  type Fixture,
  INSTANCE_URL,
  ORG_ID,
  startFixture,
  SYNC_RESULT_TOPIC,
  syncResultFields,
  USER_ID,
  VALID_TOKEN,
  waitForSubscriptions
} from './helpers.ts';

interface ReceivedEvent {
  id: string;
  schemaId: string;
  replayId: number;
  payload: Record<string, unknown>;
}

const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * The real client, in its `user-supplied` mode (no OAuth round trip, so no REST stub needed).
 * It always passes its bundled certifi roots to grpc-js, so neither a custom CA nor
 * NODE_EXTRA_CA_CERTS can reach it; its documented switch for a self-signed test server is
 * `rejectUnauthorizedSsl: false` (v5.3.0+), used here.
 */
async function connectedClient(fx: Fixture): Promise<PubSubApiClient> {
  const client = new PubSubApiClient(
    {
      authType: 'user-supplied',
      accessToken: VALID_TOKEN,
      instanceUrl: INSTANCE_URL,
      organizationId: ORG_ID,
      pubSubEndpoint: fx.server.endpoint,
      rejectUnauthorizedSsl: false
    },
    silentLogger
  );
  await client.connect();
  return client;
}

function recorder() {
  const seen: { type: string; data: unknown }[] = [];
  const infos: unknown[] = [];
  const callback = (info: unknown, type: string, data?: unknown) => {
    seen.push({ type, data });
    infos.push({ ...(info as object) });
  };
  const events = () => seen.filter((s) => s.type === 'event').map((s) => s.data as ReceivedEvent);
  const until = async (predicate: () => boolean) => {
    const deadline = Date.now() + 5_000;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out; saw ${JSON.stringify(seen)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  return { seen, infos, callback, events, until };
}

describe('salesforce-pubsub-api-client against the emulator', () => {
  let fx: Fixture;
  let client: PubSubApiClient;
  beforeEach(async () => {
    fx = await startFixture({ keepaliveIntervalMs: 200 });
    client = await connectedClient(fx);
  });
  afterEach(async () => {
    client.close();
    await fx.close();
  });

  it('receives published events decoded into plain fields with numeric replay ids', async () => {
    const rec = recorder();
    client.subscribe(SYNC_RESULT_TOPIC, rec.callback, 2);
    await waitForSubscriptions(fx);
    const published = [1, 2].map((n) =>
      fx.bus.publish(SYNC_RESULT_TOPIC, syncResultFields(n), USER_ID)
    );

    await rec.until(() => rec.seen.some((s) => s.type === 'lastEvent'));
    const events = rec.events();
    expect(events.map((e) => e.replayId)).toEqual(
      published.map((p) => Number(p.replayId.readBigUInt64BE()))
    );
    expect(events.map((e) => e.id)).toEqual(published.map((p) => p.eventUuid));
    expect(events[0]!.payload).toMatchObject({ ...syncResultFields(1), CreatedById: USER_ID });
  });

  it('replays retained events from the earliest and from a stored replay id', async () => {
    const published = [1, 2, 3].map((n) =>
      fx.bus.publish(SYNC_RESULT_TOPIC, syncResultFields(n), USER_ID)
    );
    const replayIds = published.map((p) => Number(p.replayId.readBigUInt64BE()));

    const earliest = recorder();
    client.subscribeFromEarliestEvent(SYNC_RESULT_TOPIC, earliest.callback, 3);
    await earliest.until(() => earliest.events().length === 3);
    expect(earliest.events().map((e) => e.replayId)).toEqual(replayIds);
    client.close();

    const second = await connectedClient(fx);
    try {
      const custom = recorder();
      second.subscribeFromReplayId(SYNC_RESULT_TOPIC, custom.callback, 5, replayIds[0]!);
      await custom.until(() => custom.events().length === 2);
      expect(custom.events().map((e) => e.replayId)).toEqual(replayIds.slice(1));
    } finally {
      second.close();
    }
  });

  it('reports server keepalives and tracks the latest replay id they carry', async () => {
    const { replayId } = fx.bus.publish(SYNC_RESULT_TOPIC, syncResultFields(1), USER_ID);
    const rec = recorder();
    client.subscribe(SYNC_RESULT_TOPIC, rec.callback, 1);
    await rec.until(() => rec.seen.some((s) => s.type === 'grpcKeepAlive'));
    expect(rec.events()).toHaveLength(0);
    expect(rec.infos.at(-1)).toMatchObject({
      lastReplayId: Number(replayId.readBigUInt64BE())
    });
  });

  it('publishes an event that subscribers then receive', async () => {
    const rec = recorder();
    client.subscribe(SYNC_RESULT_TOPIC, rec.callback, 1);
    await waitForSubscriptions(fx);
    const result = await client.publish(
      SYNC_RESULT_TOPIC,
      {
        CreatedDate: Date.now(),
        CreatedById: USER_ID,
        Status__c: { string: 'Error' },
        Message__c: { string: 'Customer group missing' }
      },
      'corr-1'
    );
    expect(result.correlationKey).toBe('corr-1');
    await rec.until(() => rec.events().length === 1);
    expect(rec.events()[0]!.replayId).toBe(result.replayId);
    expect(rec.events()[0]!.payload).toMatchObject({
      Status__c: 'Error',
      Message__c: 'Customer group missing',
      Record_Id__c: null
    });
  });

  it('surfaces a stream closed by the server as an error with the trailer code', async () => {
    const rec = recorder();
    client.subscribe(SYNC_RESULT_TOPIC, rec.callback, 1);
    await waitForSubscriptions(fx);
    fx.server.faults.closeSubscribeStreams();
    await rec.until(() => rec.seen.some((s) => s.type === 'error'));
    const error = rec.seen.find((s) => s.type === 'error')!.data as {
      metadata: { get(key: string): unknown[] };
    };
    expect(error.metadata.get('error-code')).toEqual([
      'sfdc.platform.eventbus.grpc.service.unavailable'
    ]);
  });
});
