/**
 * Closed Won opportunity → D365 sales order, both emulators in one process, 50 ms of emulated
 * latency on every D365 data call and every Salesforce API call:
 *
 *   - relay: the real relay (Pub/Sub subscription → store → order flow → one `$batch` changeset per
 *     order → batched write-back); events published one by one at a steady rate (default 50/s),
 *     then a burst published 200 per call for throughput;
 *   - naive: what a simple script does per event, one call at a time: look the order up, check each
 *     item, POST the header, POST each line, PATCH the opportunity, publish the result event. It is
 *     handed the same events at the same rate in-process (no Pub/Sub hop, in its favour).
 *
 * Latency is measured from the publish call's answer (the event is committed) to the moment the
 * order exists in D365 (the create call's answer). Relay-added latency subtracts the emulated
 * latency of the D365 round trips on the order's path (50 ms each, counted per order), so it is the
 * time the integration itself adds: Pub/Sub delivery, store, queue, worker, mapping, waiting.
 *
 *   npm run bench:orders -- [--rate 50] [--orders 500] [--burst 1000] [--naive-orders 100] [--latency-ms 50]
 */

import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createRelayClients } from '../../relay/src/clients.ts';
import { loadConfig } from '../../relay/src/config/load.ts';
import { filter, type D365Client } from '../../relay/src/d365/index.ts';
import { currentCorrelationId } from '../../relay/src/observability/correlation.ts';
import type { SalesforceClient } from '../../relay/src/salesforce/index.ts';
import { startRelay } from '../../relay/src/server.ts';
import { start as startD365 } from '../../test/emulators/d365/index.ts';
import { start as startSalesforce } from '../../test/emulators/salesforce/index.ts';
import { SCHEDULES_OFF, emulatorEnv } from '../../test/e2e/relay-env.ts';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '50' },
    orders: { type: 'string', default: '500' },
    burst: { type: 'string', default: '1000' },
    'naive-orders': { type: 'string', default: '100' },
    'latency-ms': { type: 'string', default: '50' }
  }
});
const rate = Number(args.rate);
const steadyOrders = Number(args.orders);
const burstOrders = Number(args.burst);
const naiveOrders = Number(args['naive-orders']);
const latencyMs = Number(args['latency-ms']);
const WARMUP = 20;
/** Relay settings of the run (the defaults are 8 and 4; 50 orders/s × 100 ms of D365 time needs more). */
const WORKER_CONCURRENCY = 32;
const D365_CONCURRENCY = 16;
/** Salesforce sObject Collections: at most 200 records per call. */
const COLLECTION_MAX = 200;

const logger = pino({ level: 'error' });
const dir = mkdtempSync(join(tmpdir(), 'bench-orders-'));
const [d365, salesforce] = await Promise.all([
  startD365({ seed: 'demo', faults: { latency: { minMs: latencyMs, maxMs: latencyMs } } }),
  startSalesforce({ port: 0, pubsubPort: 0, pubsubKeepaliveMs: 1_000, dailyApiLimit: 10_000_000 })
]);
salesforce.control.setFaults({ latencyMs });
const relayApp = { clientId: 'bench-relay', clientSecret: randomUUID() };
const publisherApp = { clientId: 'bench-publisher', clientSecret: randomUUID() };
salesforce.control.registerClientCredentialsApp(relayApp);
salesforce.control.registerClientCredentialsApp(publisherApp);
const config = loadConfig({
  env: {
    RELAY_ADMIN_TOKEN: 'bench-admin-token-0123456789',
    RELAY_CALLOUT_KEY: 'bench-callout-key-0123456789',
    RELAY_BUSINESS_EVENTS_SECRET: 'bench-business-events-0123456789',
    RELAY_STORE_URL: `sqlite:${join(dir, 'relay.db')}`,
    RELAY_HOST: '127.0.0.1',
    RELAY_PORT: '0',
    RELAY_LOG_LEVEL: 'warn',
    RELAY_WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
    RELAY_WORKER_POLL_MS: '50',
    ...emulatorEnv(d365, salesforce, { dir, salesforceApp: relayApp }),
    D365_MAX_CONCURRENCY: String(D365_CONCURRENCY),
    // Only the order flow's work: no scheduled syncs.
    ...SCHEDULES_OFF
  },
  cwd: dir
});

// ---- Salesforce data: won opportunities with two lines each, and their order request events ----
const book = String(salesforce.control.records('Pricebook2').find((b) => b.IsStandard)!.Id);
const accountId = salesforce.control.insert('Account', {
  Name: 'Bench Retail',
  D365_Customer_Number__c: 'US-004'
});
const items = [
  { item: 'D0001', price: 270 },
  { item: 'A0001', price: 14.99 }
].map(({ item, price }) => {
  const productId = salesforce.control.insert('Product2', {
    Name: `Product ${item}`,
    D365_Item_Number__c: item,
    IsActive: true
  });
  salesforce.control.insert('PricebookEntry', {
    Pricebook2Id: book,
    Product2Id: productId,
    UnitPrice: price,
    IsActive: true
  });
  return { item, price, productId };
});

type OrderEvent = Record<string, unknown> & { Record_Id__c: string };
let opportunitySeq = 0;

/** The `D365_Order_Request__e` D365OrderService publishes for a freshly won opportunity. */
function wonOpportunity(): OrderEvent {
  const n = (opportunitySeq += 1);
  const id = salesforce.control.insert('Opportunity', {
    Name: `Bench deal ${n}`,
    StageName: 'Closed Won',
    CloseDate: '2026-11-30',
    AccountId: accountId,
    Pricebook2Id: book
  });
  const lines = items.map(({ item, price, productId }) => {
    const lineId = salesforce.control.insert('OpportunityLineItem', {
      OpportunityId: id,
      Product2Id: productId,
      Quantity: 1 + (n % 4),
      UnitPrice: price
    });
    return {
      Id: lineId,
      Product2Id: productId,
      ItemNumber: item,
      Quantity: 1 + (n % 4),
      UnitPrice: price,
      Description: null
    };
  });
  return {
    Record_Id__c: id,
    Idempotency_Key__c: `${id}:${Date.now()}`,
    Account_Id__c: accountId,
    Legal_Entity__c: 'usmf',
    Payload__c: JSON.stringify({
      Opportunity: {
        Id: id,
        Name: `Bench deal ${n}`,
        CloseDate: '2026-11-30',
        CurrencyIsoCode: null,
        Amount: null
      },
      Account: {
        Id: accountId,
        Name: 'Bench Retail',
        D365_Customer_Number__c: 'US-004',
        D365_Legal_Entity__c: null
      },
      Lines: lines
    })
  };
}

// ---- The relay, its D365 client instrumented at the boundary: calls per job, time of creation ----
const built = createRelayClients(config.values, logger);
const callsByJob = new Map<string, number>();
const createdAt = new Map<string, { at: number; calls: number }>();
function countCall(): void {
  const job = currentCorrelationId();
  if (job) callsByJob.set(job, (callsByJob.get(job) ?? 0) + 1);
}
const instrumented: D365Client = {
  ...built.d365,
  query(entitySet, options) {
    countCall();
    return built.d365.query(entitySet, options);
  },
  async batch(batchItems) {
    countCall();
    const result = await built.d365.batch(batchItems);
    const first = batchItems[0];
    const header = Array.isArray(first) ? (first[0]?.body as Record<string, unknown>) : undefined;
    const opportunity = header?.CustomersOrderReference;
    if (typeof opportunity === 'string') {
      const job = currentCorrelationId();
      createdAt.set(opportunity, {
        at: performance.now(),
        calls: job ? (callsByJob.get(job) ?? 1) : 1
      });
    }
    return result;
  }
};
const relay = await startRelay({
  config,
  logger,
  clients: { d365: instrumented, salesforce: built.salesforce }
});
const topic = '/event/D365_Order_Request__e';
for (
  let i = 0;
  (await relay.store.leaseHolder(`pubsub:${topic}`))?.holder !== relay.worker.id;
  i++
) {
  if (i > 400) throw new Error('The relay did not subscribe to the order requests');
  await new Promise((r) => setTimeout(r, 25));
}
// The subscription opens right after the lease is taken.
await new Promise((r) => setTimeout(r, 500));

const publisher = createRelayClients(
  {
    ...config.values,
    SF_CLIENT_ID: publisherApp.clientId,
    SF_CLIENT_SECRET: publisherApp.clientSecret
  },
  logger
).salesforce;

async function waitCreated(ids: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (ids.some((id) => !createdAt.has(id))) {
    if (Date.now() > deadline) {
      const missing = ids.filter((id) => !createdAt.has(id)).length;
      throw new Error(`${missing} orders not created within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Publishes one event every 1/rate s (each as its own API call, as Apex does per transaction). */
async function steady(
  events: OrderEvent[],
  send: (event: OrderEvent) => Promise<void>
): Promise<Map<string, number>> {
  const publishedAt = new Map<string, number>();
  const started = performance.now();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < events.length; i += 1) {
    const due = started + (i * 1_000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const event = events[i]!;
    sends.push(send(event).then(() => void publishedAt.set(event.Record_Id__c, performance.now())));
  }
  await Promise.all(sends);
  return publishedAt;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Latencies {
  endToEnd: number[];
  added: number[];
  wallMs: number;
}

function latencies(
  ids: readonly string[],
  publishedAt: Map<string, number>,
  created: Map<string, { at: number; calls: number }>
): Omit<Latencies, 'wallMs'> {
  const endToEnd: number[] = [];
  const added: number[] = [];
  for (const id of ids) {
    const e2e = created.get(id)!.at - publishedAt.get(id)!;
    endToEnd.push(e2e);
    added.push(e2e - created.get(id)!.calls * latencyMs);
  }
  return {
    endToEnd: endToEnd.sort((a, b) => a - b),
    added: added.sort((a, b) => a - b)
  };
}

const publishOne = async (event: OrderEvent): Promise<void> => {
  await publisher.request('POST', '/sobjects/D365_Order_Request__e', event);
};

// Warm-up: tokens, item cache, connections.
const warmup = Array.from({ length: WARMUP }, wonOpportunity);
await steady(warmup, publishOne);
await waitCreated(
  warmup.map((e) => e.Record_Id__c),
  30_000
);

// 1. Relay at a steady rate.
const steadyEvents = Array.from({ length: steadyOrders }, wonOpportunity);
const steadyStart = performance.now();
const steadyCpu = process.cpuUsage();
const steadyPublished = await steady(steadyEvents, publishOne);
await waitCreated(
  steadyEvents.map((e) => e.Record_Id__c),
  120_000
);
const relaySteady: Latencies = {
  ...latencies(
    steadyEvents.map((e) => e.Record_Id__c),
    steadyPublished,
    createdAt
  ),
  wallMs: performance.now() - steadyStart
};
const steadyCpuUsage = process.cpuUsage(steadyCpu);
const cpuPerOrderMs = (steadyCpuUsage.user + steadyCpuUsage.system) / 1_000 / steadyOrders;

// 2. Relay throughput: a burst, published 200 per Collections call.
const burstEvents = Array.from({ length: burstOrders }, wonOpportunity);
const burstStart = performance.now();
for (let i = 0; i < burstEvents.length; i += COLLECTION_MAX) {
  await publisher.collections.create(
    'D365_Order_Request__e',
    burstEvents.slice(i, i + COLLECTION_MAX)
  );
}
await waitCreated(
  burstEvents.map((e) => e.Record_Id__c),
  300_000
);
const burstWallMs =
  Math.max(...burstEvents.map((e) => createdAt.get(e.Record_Id__c)!.at)) - burstStart;
// Write-backs finish shortly after the last order; wait for them so the naive run has the wire.
await new Promise((r) => setTimeout(r, 1_000));
await relay.close();

// 3. Naive per-record script: same events at the same rate, one call after another.
const naiveClients = createRelayClients(config.values, logger);
const naiveCreated = new Map<string, { at: number; calls: number }>();

async function naiveOrder(event: OrderEvent, d: D365Client, sf: SalesforceClient): Promise<void> {
  const payload = JSON.parse(String(event.Payload__c)) as {
    Account: { D365_Customer_Number__c: string };
    Lines: { ItemNumber: string; Quantity: number; UnitPrice: number }[];
  };
  let calls = 0;
  for await (const found of d.query('SalesOrderHeadersV2', {
    filter: filter.eq('CustomersOrderReference', event.Record_Id__c),
    crossCompany: true
  })) {
    void found;
    return;
  }
  calls += 1;
  for (const line of payload.Lines) {
    await d.get('ReleasedProductsV2', { dataAreaId: 'usmf', ItemNumber: line.ItemNumber });
    calls += 1;
  }
  const header = await d.create<{ SalesOrderNumber: string }>('SalesOrderHeadersV2', {
    dataAreaId: 'usmf',
    OrderingCustomerAccountNumber: payload.Account.D365_Customer_Number__c,
    CustomersOrderReference: event.Record_Id__c
  });
  calls += 1;
  for (const line of payload.Lines) {
    await d.create('SalesOrderLines', {
      dataAreaId: 'usmf',
      SalesOrderNumber: header.SalesOrderNumber,
      ItemNumber: line.ItemNumber,
      OrderedSalesQuantity: line.Quantity,
      SalesPrice: line.UnitPrice
    });
    calls += 1;
  }
  naiveCreated.set(event.Record_Id__c, { at: performance.now(), calls });
  await sf.request('PATCH', `/sobjects/Opportunity/${event.Record_Id__c}`, {
    D365_Sales_Order_Number__c: header.SalesOrderNumber,
    D365_Order_Status__c: 'Backorder',
    D365_Sync_Status__c: 'Synced'
  });
  await sf.request('POST', '/sobjects/D365_Sync_Result__e', {
    Record_Id__c: event.Record_Id__c,
    Idempotency_Key__c: event.Idempotency_Key__c,
    Flow__c: 'order',
    Status__c: 'Synced',
    D365_Key__c: `usmf|${header.SalesOrderNumber}`
  });
}

const naiveEvents = Array.from({ length: naiveOrders }, wonOpportunity);
const inbox: OrderEvent[] = [];
let arrivalsDone = false;
const naiveStart = performance.now();
const consumer = (async () => {
  for (;;) {
    const next = inbox.shift();
    if (next) await naiveOrder(next, naiveClients.d365, naiveClients.salesforce);
    else if (arrivalsDone) return;
    else await new Promise((r) => setTimeout(r, 1));
  }
})();
const naivePublished = await steady(naiveEvents, async (event) => {
  // Same publish call (and its latency) as the relay run; the script then gets the event at once.
  await publishOne(event);
  inbox.push(event);
});
arrivalsDone = true;
await consumer;
const naive: Latencies = {
  ...latencies(
    naiveEvents.map((e) => e.Record_Id__c),
    naivePublished,
    naiveCreated
  ),
  wallMs: performance.now() - naiveStart
};

await Promise.allSettled([
  naiveClients.d365.close(),
  naiveClients.salesforce.close(),
  publisher.close(),
  d365.close(),
  salesforce.close()
]);
rmSync(dir, { recursive: true, force: true });

// ---- Report ----
const ms = (value: number): string => `${Math.round(value)} ms`;
const perSecond = (count: number, wall: number): string =>
  `${((count * 1_000) / wall).toFixed(1)} orders/s`;
const rows: string[][] = [
  [
    'Orders published',
    `${steadyOrders} at ${rate}/s + burst ${burstOrders}`,
    `${naiveOrders} at ${rate}/s`
  ],
  [
    'Throughput',
    `${perSecond(burstOrders, burstWallMs)} (burst)`,
    `${perSecond(naiveOrders, naive.wallMs)}`
  ],
  [
    `Event → order created, p50 / p99 (at ${rate}/s)`,
    `${ms(percentile(relaySteady.endToEnd, 50))} / ${ms(percentile(relaySteady.endToEnd, 99))}`,
    `${ms(percentile(naive.endToEnd, 50))} / ${ms(percentile(naive.endToEnd, 99))}`
  ],
  [
    'Added latency p50 / p95 / p99 / max',
    [50, 95, 99, 100].map((p) => ms(percentile(relaySteady.added, p))).join(' / '),
    [50, 95, 99, 100].map((p) => ms(percentile(naive.added, p))).join(' / ')
  ],
  [
    'D365 round trips per order (until created)',
    `${percentile(
      steadyEvents.map((e) => createdAt.get(e.Record_Id__c)!.calls).sort((a, b) => a - b),
      50
    )}`,
    `${percentile(
      naiveEvents.map((e) => naiveCreated.get(e.Record_Id__c)!.calls).sort((a, b) => a - b),
      50
    )}`
  ]
];
const header = ['Measure', 'Relay (order flow)', 'Naive per-record script'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]): string =>
  `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
console.log(
  `\nCPU of the whole process (relay, both emulators, publisher) during the steady run: ${cpuPerOrderMs.toFixed(1)} ms per order. Load average at the end: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} on ${cpus().length} cores.`
);
console.log(
  `\nOrders: ${latencyMs} ms emulated latency on every D365 and Salesforce API call; relay worker concurrency ${WORKER_CONCURRENCY}, D365 concurrency ${D365_CONCURRENCY}\n`
);
console.log(line(header));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const row of rows) console.log(line(row));
console.log(
  `\nAdded latency = event → order created minus ${latencyMs} ms per D365 round trip on the order's path.`
);
console.log(
  `Reproduce: npm run bench:orders -- --rate ${rate} --orders ${steadyOrders} --burst ${burstOrders} --naive-orders ${naiveOrders} --latency-ms ${latencyMs}`
);
