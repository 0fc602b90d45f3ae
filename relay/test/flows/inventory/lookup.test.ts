import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { D365Client } from '../../../src/d365/index.ts';
import { startD365, type D365Fixture } from '../../d365/helpers.ts';
import { buildTestApp, CALLOUT_KEY, type TestApp } from '../../http/build.ts';

const key = { 'x-relay-key': CALLOUT_KEY };

let d365: D365Fixture;
let client: D365Client;
let current: TestApp | undefined;

beforeAll(async () => {
  d365 = await startD365({ seed: 'demo' });
  client = d365.client();
});

afterAll(async () => {
  await d365.close();
});

afterEach(async () => {
  await current?.close();
  current = undefined;
  d365.emulator.control.clearFaults();
  d365.emulator.control.setThrottling({});
});

async function relay(env: Record<string, string> = {}): Promise<TestApp> {
  current = await buildTestApp({
    env,
    clients: { d365: client, salesforce: { checkCredentials: async () => {} } }
  });
  return current;
}

function onHandReads(): number {
  return d365.emulator.control.counters().requests.WarehousesOnHandV2?.GET ?? 0;
}

async function inventory(app: TestApp, query: string) {
  return app.app.inject({ method: 'GET', url: `/api/v1/inventory?${query}`, headers: key });
}

describe('GET /api/v1/inventory', () => {
  it('refuses a call without the Named Credential key', async () => {
    const app = await relay();
    const response = await app.app.inject({ method: 'GET', url: '/api/v1/inventory?items=A0001' });
    expect(response.statusCode).toBe(401);
  });

  it('answers available, reserved and ordered per site and warehouse from one D365 request', async () => {
    d365.emulator.control.setStock({
      itemNumber: 'D0001',
      siteId: '2',
      warehouseId: '21',
      onHand: 10,
      reserved: 4,
      ordered: 6
    });
    const app = await relay();
    const before = onHandReads();
    const response = await inventory(app, 'items=D0001,NOPE,A0001&legalEntity=USMF');
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ legalEntity: 'usmf', stale: false, ageSeconds: 0 });
    expect(body.items.map((i: { itemNumber: string }) => i.itemNumber)).toEqual([
      'D0001',
      'NOPE',
      'A0001'
    ]);
    expect(body.items[0].sites).toContainEqual({
      siteId: '2',
      warehouseId: '21',
      available: 6,
      reserved: 4,
      ordered: 6
    });
    expect(body.items[1].sites).toEqual([]);
    expect(body.items[2].sites.length).toBeGreaterThan(0);
    expect(onHandReads() - before).toBe(1);
  });

  it('serves a repeated lookup from the cache without asking D365', async () => {
    const app = await relay();
    await inventory(app, 'items=A0001,A0002');
    const before = onHandReads();
    const response = await inventory(app, 'items=A0002');
    expect(response.statusCode).toBe(200);
    expect(response.json().stale).toBe(false);
    expect(onHandReads()).toBe(before);
  });

  it('coalesces concurrent identical lookups into one D365 request', async () => {
    d365.emulator.control.setFaults({ latency: { minMs: 150, maxMs: 150 } });
    const app = await relay();
    const before = onHandReads();
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => inventory(app, 'items=M0001,T0001'))
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(10).fill(200));
    expect(onHandReads() - before).toBe(1);
  });

  it('answers the last known values with their age and stale: true when D365 is down', async () => {
    const app = await relay({ RELAY_INVENTORY_CACHE_MS: '0' });
    const fresh = await inventory(app, 'items=D0002');
    expect(fresh.json().stale).toBe(false);
    d365.emulator.control.setFaults({ errorRate: 1, errorStatus: 503 });
    const response = await inventory(app, 'items=D0002');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ stale: true, items: fresh.json().items });
    expect(response.json().asOf).toBe(fresh.json().asOf);
  });

  it('answers stale values within the deadline when D365 is slower than the deadline', async () => {
    const app = await relay({ RELAY_INVENTORY_CACHE_MS: '0', RELAY_INVENTORY_DEADLINE_MS: '200' });
    await inventory(app, 'items=D0003');
    d365.emulator.control.setFaults({ latency: { minMs: 1_000, maxMs: 1_000 } });
    const started = Date.now();
    const response = await inventory(app, 'items=D0003');
    expect(Date.now() - started).toBeLessThan(900);
    expect(response.json().stale).toBe(true);
  });

  it('answers 400 with the reason when more than 50 items are asked for', async () => {
    const app = await relay();
    const items = Array.from({ length: 51 }, (_, i) => `I${i}`).join(',');
    const response = await inventory(app, `items=${items}`);
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toBe(
      'You can look up at most 50 items at once; you asked for 51.'
    );
  });

  it('keeps quotes in item numbers inside the OData literal', async () => {
    const app = await relay();
    const response = await inventory(app, `items=${encodeURIComponent("A0001' or 'x'eq'x")}`);
    expect(response.statusCode).toBe(200);
    expect(response.json().items).toEqual([{ itemNumber: "A0001' or 'x'eq'x", sites: [] }]);
  });

  it('answers 503 with a message a rep understands when D365 throttles and nothing is cached', async () => {
    // Last test: the storm outlives it. Retry-After above 30 s: the client gives up at once instead of waiting.
    d365.emulator.control.throttleStorm({ seconds: 5, retryAfterSeconds: 60 });
    const app = await relay();
    const response = await inventory(app, 'items=D0004');
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({
      code: 'RELAY_ERR_D365_THROTTLED',
      message:
        'D365 is busy right now and the relay has no recent stock for these items. Try again in a minute.'
    });
  });
});
