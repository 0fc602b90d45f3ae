import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start as startD365, type D365Emulator } from '../../../test/emulators/d365/index.ts';
import {
  start as startSalesforce,
  type RunningEmulator
} from '../../../test/emulators/salesforce/index.ts';
import { emulatorEnv } from '../../../test/e2e/relay-env.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { FlowContext } from '../../src/flows/types.ts';
import { startRelay, type RunningRelay } from '../../src/server.ts';
import { silentLogger, waitFor } from '../helpers.ts';

/**
 * D365 intake end to end: the D365 emulator delivers business events to the relay's HTTPS endpoint
 * (test message on activation, invoices, duplicate deliveries), and `/readyz` checks real
 * credentials against both emulators.
 */
const EVENT = 'CustFreeTextInvoicePostedBusinessEvent';
const SECRET = 'business-events-secret-0123456789';
const SF_CLIENT_ID = 'relay-runtime-readiness';
const SF_CLIENT_SECRET = randomUUID();

let d365: D365Emulator;
let salesforce: RunningEmulator;
let relay: RunningRelay;
let baseUrl: string;
let customerAccount: string;
const runs: { payload: Record<string, unknown>; context: FlowContext }[] = [];

beforeAll(async () => {
  [d365, salesforce] = await Promise.all([
    startD365(),
    startSalesforce({ port: 0, pubsubPort: 0 })
  ]);
  salesforce.control.registerClientCredentialsApp({
    clientId: SF_CLIENT_ID,
    clientSecret: SF_CLIENT_SECRET
  });
  const dir = mkdtempSync(join(tmpdir(), 'relay-d365-'));
  relay = await startRelay({
    logger: silentLogger,
    config: loadConfig({
      env: {
        RELAY_ADMIN_TOKEN: 'admin-token-0123456789',
        RELAY_CALLOUT_KEY: 'callout-key-0123456789',
        RELAY_BUSINESS_EVENTS_SECRET: SECRET,
        RELAY_STORE_URL: `sqlite:${join(dir, 'relay.db')}`,
        RELAY_HOST: '127.0.0.1',
        RELAY_PORT: '0',
        RELAY_WORKER_POLL_MS: '50',
        ...emulatorEnv(d365, salesforce, {
          dir,
          salesforceApp: { clientId: SF_CLIENT_ID, clientSecret: SF_CLIENT_SECRET },
          pubsub: false
        })
      },
      cwd: dir
    }),
    flows: [
      {
        name: 'invoice',
        businessEvents: [EVENT],
        handle: async (payload, context) =>
          void runs.push({ payload: payload as Record<string, unknown>, context })
      }
    ]
  });
  const address = relay.app.server.address();
  baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  customerAccount = String(
    d365.control.read('CustomersV3', { legalEntity: 'usmf' })[0]!.CustomerAccount
  );
});

afterAll(async () => {
  await relay?.close();
  await Promise.all([d365?.close(), salesforce?.close()]);
});

function postInvoice(): void {
  d365.control.postFreeTextInvoice({
    customerAccount,
    lines: [{ description: 'Consulting "phase 1"', amount: 1250 }]
  });
}

describe('D365 and Salesforce emulators against the relay', () => {
  it('reports ready once both systems accept the credentials', async () => {
    const res = await fetch(`${baseUrl}/readyz`);
    expect(await res.json()).toEqual({
      status: 'ready',
      checks: { store: 'ok', d365: 'ok', salesforce: 'ok' }
    });
  });

  it('acknowledges the activation test message of a new endpoint', async () => {
    d365.control.registerEndpoint({
      url: `${baseUrl}/api/v1/business-events/${SECRET}`,
      businessEventIds: [EVENT]
    });
    await d365.control.eventsSettled();
    const { log, errors } = d365.control.deliveries();
    expect(errors).toEqual([]);
    expect(log.some((d) => d.status === 'delivered')).toBe(true);
  });

  it('runs the flow for a posted invoice with the EventId as correlation id', async () => {
    postInvoice();
    await d365.control.eventsSettled();
    await waitFor(() => runs.length === 1, 10_000, 'the invoice flow');
    const [run] = runs;
    expect(run!.payload).toMatchObject({ BusinessEventId: EVENT, InvoiceAccount: customerAccount });
    expect(run!.context.correlationId).toBe(String(run!.payload.EventId).toLowerCase());
  });

  it('runs an event D365 delivers twice only once', async () => {
    d365.control.setDelivery({ duplicateRate: 1 });
    postInvoice();
    await d365.control.eventsSettled();
    await waitFor(() => runs.length === 2, 10_000, 'the second invoice');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(runs).toHaveLength(2);
    expect(d365.control.deliveries().errors).toEqual([]);
  });
});
