import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type RunningEmulator } from '../../../test/emulators/salesforce/index.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { FlowContext } from '../../src/flows/types.ts';
import { startRelay, type RunningRelay } from '../../src/server.ts';
import { silentLogger, waitFor } from '../helpers.ts';

/**
 * The whole Salesforce intake path against the Salesforce emulator: platform event published over
 * REST → relay's Pub/Sub subscription (held through its lease) → store → flow.
 */
const TOPIC = '/event/D365_Account_Sync__e';
const CLIENT_ID = 'relay-runtime-test';
const CLIENT_SECRET = randomUUID();

let emulator: RunningEmulator;
let relay: RunningRelay;
const runs: { payload: unknown; context: FlowContext }[] = [];

async function publish(fields: Record<string, unknown>): Promise<void> {
  const token = await fetch(`${emulator.instanceUrl}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET
    })
  });
  const { access_token: accessToken } = (await token.json()) as { access_token: string };
  const res = await fetch(
    `${emulator.instanceUrl}/services/data/v62.0/sobjects/D365_Account_Sync__e`,
    {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(fields)
    }
  );
  expect(res.status).toBe(201);
}

beforeAll(async () => {
  emulator = await start({ port: 0, pubsubPort: 0, pubsubKeepaliveMs: 200 });
  emulator.control.registerClientCredentialsApp({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET
  });
  const dir = mkdtempSync(join(tmpdir(), 'relay-pubsub-'));
  writeFileSync(join(dir, 'pubsub-ca.pem'), emulator.pubsubCaPem);
  const config = loadConfig({
    env: {
      RELAY_ADMIN_TOKEN: 'admin-token-0123456789',
      RELAY_CALLOUT_KEY: 'callout-key-0123456789',
      RELAY_BUSINESS_EVENTS_SECRET: 'business-events-0123456789',
      RELAY_STORE_URL: `sqlite:${join(dir, 'relay.db')}`,
      RELAY_HOST: '127.0.0.1',
      RELAY_PORT: '0',
      RELAY_WORKER_POLL_MS: '50',
      // Only built, never called here.
      D365_ENVIRONMENT_URL: 'https://127.0.0.1:9',
      D365_TENANT_ID: 'tenant',
      D365_CLIENT_ID: 'client',
      D365_CLIENT_SECRET: 'secret',
      SF_LOGIN_URL: emulator.instanceUrl,
      SF_AUTH_FLOW: 'client_credentials',
      SF_CLIENT_ID: CLIENT_ID,
      SF_CLIENT_SECRET: CLIENT_SECRET,
      SF_PUBSUB_ENDPOINT: emulator.pubsubEndpoint,
      SF_PUBSUB_CA_FILE: join(dir, 'pubsub-ca.pem')
    },
    cwd: dir
  });
  relay = await startRelay({
    config,
    logger: silentLogger,
    flows: [
      {
        name: 'account',
        topics: [TOPIC],
        handle: async (payload, context) => void runs.push({ payload, context })
      }
    ]
  });
  await waitFor(
    async () => (await relay.store.leaseHolder(`pubsub:${TOPIC}`))?.holder === relay.worker.id,
    10_000,
    'the subscription lease'
  );
});

afterAll(async () => {
  await relay?.close();
  await emulator?.close();
});

describe('Salesforce platform events through the relay', () => {
  it('runs the flow with the event, keyed by Idempotency_Key__c, and checkpoints the replay id', async () => {
    // The subscription is opened right after the lease is taken; give it a moment to be live.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await publish({
      Record_Id__c: '001000000000001AAA',
      Idempotency_Key__c: '001000000000001AAA:1714557600000',
      Operation__c: 'update'
    });
    await waitFor(() => runs.length === 1, 10_000, 'the flow to run');
    expect(runs[0]!.payload).toMatchObject({ Record_Id__c: '001000000000001AAA' });
    expect(runs[0]!.context.idempotencyKey).toBe('sf:001000000000001AAA:1714557600000');
    expect(runs[0]!.context.correlationId).toMatch(/^[0-9a-f-]{36}$/i);
    await waitFor(
      async () => (await relay.store.loadCheckpoint(TOPIC)) !== null,
      5_000,
      'checkpoint'
    );
  });

  it('does not run a change again when it is published a second time', async () => {
    await publish({
      Record_Id__c: '001000000000001AAA',
      Idempotency_Key__c: '001000000000001AAA:1714557600000',
      Operation__c: 'update'
    });
    await publish({
      Record_Id__c: '001000000000002AAA',
      Idempotency_Key__c: '001000000000002AAA:1714557600000',
      Operation__c: 'create'
    });
    await waitFor(() => runs.length === 2, 10_000, 'the second change');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(runs.map((r) => r.context.idempotencyKey)).toEqual([
      'sf:001000000000001AAA:1714557600000',
      'sf:001000000000002AAA:1714557600000'
    ]);
  });
});
