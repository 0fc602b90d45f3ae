/** The Pub/Sub API as wired into start(): OAuth tokens from the emulator, events published over REST. */
import { generateKeyPairSync } from 'node:crypto';
import PubSubApiClient from 'salesforce-pubsub-api-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_ID, CLIENT_SECRET, startHarness } from './helpers.ts';
import type { Harness } from './helpers.ts';

const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };
const TOPIC = '/event/D365_Sync_Result__e';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ pubsubKeepaliveMs: 100 });
});
afterAll(() => h.close());

const userSupplied = (accessToken: string) =>
  new PubSubApiClient(
    {
      authType: 'user-supplied',
      accessToken,
      // The client only accepts https instance URLs; the emulator matches host and port.
      instanceUrl: h.emu.instanceUrl.replace('http://', 'https://'),
      organizationId: h.emu.orgId,
      pubSubEndpoint: h.emu.pubsubEndpoint,
      rejectUnauthorizedSsl: false
    },
    silentLogger
  );

async function until(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('Pub/Sub API wired to the org', () => {
  it('delivers an event published over REST to a client that logged in with client credentials', async () => {
    // The client's OAuth mode calls the token endpoint, then userinfo, against the login URL.
    const client = new PubSubApiClient(
      {
        authType: 'oauth-client-credentials',
        loginUrl: h.emu.instanceUrl,
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        pubSubEndpoint: h.emu.pubsubEndpoint,
        rejectUnauthorizedSsl: false
      },
      silentLogger
    );
    await client.connect();
    const events: { payload: Record<string, unknown> }[] = [];
    let subscribed = false;
    client.subscribe(
      TOPIC,
      (_subscription: unknown, type: string, data: unknown) => {
        if (type === 'event') events.push(data as { payload: Record<string, unknown> });
        if (type === 'grpcKeepAlive') subscribed = true;
      },
      5
    );
    try {
      await until(() => subscribed, 'the subscription');
      const res = await h.api('POST', '/sobjects/D365_Sync_Result__e', {
        Record_Id__c: '001000000000000AAA',
        Status__c: 'Synced',
        Message__c: 'ok'
      });
      expect(res.status).toBe(201);
      await until(() => events.length === 1, 'the event');
      expect(events[0]?.payload).toMatchObject({
        Record_Id__c: '001000000000000AAA',
        Status__c: 'Synced',
        Message__c: 'ok',
        CreatedById: h.emu.integrationUser.id
      });
    } finally {
      client.close();
    }
  });

  it('logs in with the JWT bearer flow as the client signs it', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await h.emu.control.registerJwtApp({
      consumerKey: 'pubsub-jwt-app',
      certificatePem: publicKey.export({ type: 'spki', format: 'pem' }).toString()
    });
    const client = new PubSubApiClient(
      {
        authType: 'oauth-jwt-bearer',
        loginUrl: h.emu.instanceUrl,
        clientId: 'pubsub-jwt-app',
        username: h.emu.integrationUser.username,
        privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        pubSubEndpoint: h.emu.pubsubEndpoint,
        rejectUnauthorizedSsl: false
      },
      silentLogger
    );
    await client.connect();
    try {
      const result = await client.publish(TOPIC, {
        CreatedDate: Date.now(),
        CreatedById: h.emu.integrationUser.id,
        Status__c: { string: 'Synced' }
      });
      expect(result.replayId).toBeGreaterThan(0);
    } finally {
      client.close();
    }
  });

  it('accepts an access token from the org in user-supplied mode', async () => {
    const client = userSupplied(h.token);
    await client.connect();
    try {
      const result = await client.publish(TOPIC, {
        CreatedDate: Date.now(),
        CreatedById: h.emu.integrationUser.id,
        Status__c: { string: 'Pending' }
      });
      expect(result.replayId).toBeGreaterThan(0);
    } finally {
      client.close();
    }
  });

  it('refuses a token the org did not issue', async () => {
    const client = new PubSubApiClient(
      {
        authType: 'user-supplied',
        accessToken: `${h.emu.orgId.slice(0, 15)}!not-a-token`,
        instanceUrl: h.emu.instanceUrl.replace('http://', 'https://'),
        organizationId: h.emu.orgId,
        pubSubEndpoint: h.emu.pubsubEndpoint,
        rejectUnauthorizedSsl: false
      },
      silentLogger
    );
    await client.connect();
    try {
      await expect(
        client.publish(TOPIC, { CreatedDate: Date.now(), CreatedById: h.emu.integrationUser.id })
      ).rejects.toThrow();
    } finally {
      client.close();
    }
  });
});

describe('Pub/Sub faults through the control API', () => {
  // Its own org: closing every stream would also end subscriptions that earlier tests' closed
  // clients left open on the server, and their errors surface outside any test.
  let own: Harness;
  beforeAll(async () => {
    own = await startHarness({ pubsubKeepaliveMs: 100 });
  });
  afterAll(() => own.close());

  it('closes active Subscribe streams with an error the client sees', async () => {
    const client = new PubSubApiClient(
      {
        authType: 'user-supplied',
        accessToken: own.token,
        instanceUrl: own.emu.instanceUrl.replace('http://', 'https://'),
        organizationId: own.emu.orgId,
        pubSubEndpoint: own.emu.pubsubEndpoint,
        rejectUnauthorizedSsl: false
      },
      silentLogger
    );
    await client.connect();
    const types: string[] = [];
    client.subscribe(TOPIC, (_subscription: unknown, type: string) => void types.push(type), 5);
    try {
      await until(() => types.includes('grpcKeepAlive'), 'the subscription');
      const res = await fetch(`${own.emu.instanceUrl}/_emulator/pubsub/close-streams`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}'
      });
      expect(((await res.json()) as { closed: number }).closed).toBe(1);
      await until(() => types.includes('error'), 'the stream error');
    } finally {
      client.close();
    }
  });
});

describe('Change Data Capture for Account', () => {
  it('publishes CREATE and UPDATE events with the changeOrigin of Sforce-Call-Options', async () => {
    const client = userSupplied(h.token);
    await client.connect();
    const events: {
      payload: { ChangeEventHeader: Record<string, unknown> } & Record<string, unknown>;
    }[] = [];
    let subscribed = false;
    client.subscribe(
      '/data/AccountChangeEvent',
      (_subscription: unknown, type: string, data: unknown) => {
        if (type === 'event') events.push(data as (typeof events)[number]);
        if (type === 'grpcKeepAlive') subscribed = true;
      },
      10
    );
    try {
      await until(() => subscribed, 'the subscription');
      const headers = { 'sforce-call-options': 'client=d365-relay' };
      const created = await h.api(
        'PATCH',
        '/sobjects/Account/D365_Customer_Number__c/CDC-1',
        { Name: 'Acme', BillingCity: 'Oslo' },
        headers
      );
      expect(created.status).toBe(201);
      await h.api('PATCH', '/sobjects/Account/D365_Customer_Number__c/CDC-1', {
        Phone: '123',
        BillingCity: null
      });
      // An allOrNone failure rolls back: no event for the record it created.
      await h.api('POST', '/composite/sobjects', {
        allOrNone: true,
        records: [
          { attributes: { type: 'Account' }, Name: 'Rolled back' },
          { attributes: { type: 'Account' } }
        ]
      });
      await until(() => events.length >= 2, 'two change events');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(events).toHaveLength(2);
      const [create, update] = events;
      expect(create?.payload.ChangeEventHeader).toMatchObject({
        entityName: 'Account',
        changeType: 'CREATE',
        changeOrigin: 'com/salesforce/api/rest/62.0;client=d365-relay',
        recordIds: [(created.body as { id: string }).id],
        commitUser: h.emu.integrationUser.id
      });
      expect(create?.payload).toMatchObject({ Name: 'Acme', D365_Customer_Number__c: 'CDC-1' });
      expect(update?.payload.ChangeEventHeader).toMatchObject({
        changeType: 'UPDATE',
        changeOrigin: 'com/salesforce/api/rest/62.0'
      });
      expect(update?.payload.ChangeEventHeader.changedFields).toEqual(
        expect.arrayContaining(['Phone', 'LastModifiedDate', 'BillingAddress.City'])
      );
      expect(update?.payload.ChangeEventHeader.nulledFields).toEqual(['BillingAddress.City']);
      expect(update?.payload.Name).toBeNull();
    } finally {
      client.close();
    }
  });
});
