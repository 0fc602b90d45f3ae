import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start as startD365, type D365Emulator } from '../emulators/d365/index.ts';
import { start as startSalesforce, type RunningEmulator } from '../emulators/salesforce/index.ts';
import { SCHEDULES_OFF, emulatorEnv } from './relay-env.ts';

/**
 * Exactly-once sales orders under duress: 1,000 won opportunities, every order request delivered
 * twice, 10% of D365 data calls failing (503, 429, dropped connection), and the relay — a real child
 * process running `start` from the bundle the container ships (scripts/build/relay.ts) — killed with
 * SIGKILL five times at random moments and restarted. Afterwards D365 holds exactly one order per opportunity, each with its lines, every
 * number is written back, and the relay's queue is empty. Takes about 1.5 minutes on 2 cores (slow).
 */
const ROOT = resolve(import.meta.dirname, '../..');
const OPPORTUNITIES = 1_000;
const KILLS = 5;
const LINES_PER_ORDER = 2;
/** Collections create takes at most 200 records per call (Salesforce). */
const PUBLISH_CHUNK = 200;
const SEED = Number(process.env.EXACTLY_ONCE_SEED ?? Date.now() % 100_000);

/** Small deterministic generator, so a failing run can be repeated with EXACTLY_ONCE_SEED. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

let d365: D365Emulator;
let salesforce: RunningEmulator;
let dir: string;
let bundleDir: string;
const relayApp = { clientId: 'relay-exactly-once', clientSecret: randomUUID() };
const publisherApp = { clientId: 'exactly-once-publisher', clientSecret: randomUUID() };
const children: ChildProcess[] = [];

beforeAll(async () => {
  [d365, salesforce] = await Promise.all([
    startD365({ seed: 'demo' }),
    startSalesforce({ port: 0, pubsubPort: 0, pubsubKeepaliveMs: 1_000 })
  ]);
  salesforce.control.registerClientCredentialsApp(relayApp);
  salesforce.control.registerClientCredentialsApp(publisherApp);
  dir = mkdtempSync(join(tmpdir(), 'relay-exactly-once-'));
  // Inside the repository: the bundle loads its few external packages from node_modules above it.
  mkdirSync(join(ROOT, 'node_modules/.cache'), { recursive: true });
  bundleDir = mkdtempSync(join(ROOT, 'node_modules/.cache/relay-bundle-'));
  execFileSync(process.execPath, [
    '--disable-warning=ExperimentalWarning',
    join(ROOT, 'scripts/build/relay.ts'),
    '--outdir',
    bundleDir
  ]);
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.allSettled([d365?.close(), salesforce?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  await new Promise((done) => server.close(done));
  return typeof address === 'object' && address ? address.port : 0;
}

interface RelayProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
}

async function startRelayProcess(port: number): Promise<RelayProcess> {
  const child = spawn(process.execPath, [join(bundleDir, 'main.mjs'), 'start'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      RELAY_STORE_URL: `sqlite:${join(dir, 'relay.db')}`,
      RELAY_HOST: '127.0.0.1',
      RELAY_PORT: String(port),
      RELAY_LOG_LEVEL: 'error',
      RELAY_ADMIN_TOKEN: 'exactly-once-admin-0123456789',
      RELAY_CALLOUT_KEY: 'exactly-once-callout-0123456789',
      RELAY_BUSINESS_EVENTS_SECRET: 'exactly-once-events-0123456789',
      RELAY_WORKER_CONCURRENCY: '16',
      RELAY_WORKER_POLL_MS: '50',
      // Short leases so a killed process's jobs and subscription are taken over within seconds.
      RELAY_JOB_LEASE_MS: '2000',
      RELAY_SUBSCRIPTION_LEASE_MS: '1500',
      ...emulatorEnv(d365, salesforce, { dir, salesforceApp: relayApp }),
      D365_MAX_CONCURRENCY: '8',
      // Only the order flow's work: no scheduled syncs.
      ...SCHEDULES_OFF
    },
    stdio: ['ignore', 'ignore', 'pipe']
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr = (stderr + String(chunk)).slice(-4000)));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`relay exited before ready: ${stderr}`);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (res) => res.ok,
      () => false
    );
    if (ok) return { child, exited };
    if (Date.now() > deadline) throw new Error(`relay not healthy after 30 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function publisherToken(): Promise<string> {
  const res = await fetch(`${salesforce.instanceUrl}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: publisherApp.clientId,
      client_secret: publisherApp.clientSecret
    })
  });
  return ((await res.json()) as { access_token: string }).access_token;
}

/** Publishes events as Apex's EventBus.publish would, 200 per sObject Collections call. */
async function publish(token: string, events: Record<string, unknown>[]): Promise<void> {
  const res = await fetch(`${salesforce.instanceUrl}/services/data/v62.0/composite/sobjects`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      allOrNone: true,
      records: events.map((event) => ({
        attributes: { type: 'D365_Order_Request__e' },
        ...event
      }))
    })
  });
  const results = (await res.json()) as { success: boolean }[];
  expect(results.every((r) => r.success)).toBe(true);
}

/** 1,000 won opportunities with two lines each, and the event D365OrderService publishes for each. */
function wonOpportunities(): { ids: string[]; events: Record<string, unknown>[] } {
  const { control } = salesforce;
  const book = String(control.records('Pricebook2').find((b) => b.IsStandard)!.Id);
  const accountId = control.insert('Account', {
    Name: 'Exactly Once Inc',
    D365_Customer_Number__c: 'US-002'
  });
  const items = [
    { item: 'D0001', price: 270 },
    { item: 'A0001', price: 14.99 }
  ].map(({ item, price }) => {
    const productId = control.insert('Product2', {
      Name: `Product ${item}`,
      D365_Item_Number__c: item,
      IsActive: true
    });
    control.insert('PricebookEntry', {
      Pricebook2Id: book,
      Product2Id: productId,
      UnitPrice: price,
      IsActive: true
    });
    return { item, price, productId };
  });
  const ids: string[] = [];
  const events: Record<string, unknown>[] = [];
  for (let n = 0; n < OPPORTUNITIES; n += 1) {
    const id = control.insert('Opportunity', {
      Name: `Won deal ${n}`,
      StageName: 'Closed Won',
      CloseDate: '2026-11-30',
      AccountId: accountId,
      Pricebook2Id: book
    });
    const lines = items.map(({ item, price, productId }, index) => {
      const quantity = 1 + ((n + index) % 5);
      const lineId = control.insert('OpportunityLineItem', {
        OpportunityId: id,
        Product2Id: productId,
        Quantity: quantity,
        UnitPrice: price
      });
      return {
        Id: lineId,
        Product2Id: productId,
        ItemNumber: item,
        Quantity: quantity,
        UnitPrice: price,
        Description: null
      };
    });
    ids.push(id);
    events.push({
      Record_Id__c: id,
      Idempotency_Key__c: `${id}:${1_764_000_000_000 + n}`,
      Account_Id__c: accountId,
      Legal_Entity__c: 'usmf',
      Payload__c: JSON.stringify({
        Opportunity: {
          Id: id,
          Name: `Won deal ${n}`,
          CloseDate: '2026-11-30',
          CurrencyIsoCode: null,
          Amount: null
        },
        Account: {
          Id: accountId,
          Name: 'Exactly Once Inc',
          D365_Customer_Number__c: 'US-002',
          D365_Legal_Entity__c: null
        },
        Lines: lines
      })
    });
  }
  return { ids, events };
}

function storeCount(sql: string): number {
  const db = new DatabaseSync(join(dir, 'relay.db'), { readOnly: true });
  try {
    return Number(Object.values(db.prepare(sql).get() as Record<string, unknown>)[0]);
  } finally {
    db.close();
  }
}

describe('exactly-once sales orders (slow: about 90 s)', () => {
  it(`creates exactly ${OPPORTUNITIES} orders through duplicate events, 10% D365 faults and ${KILLS} SIGKILLs (seed ${SEED})`, async () => {
    const rand = random(SEED);
    const { ids, events } = wonOpportunities();
    // Every event twice, in a shuffled order, so copies arrive both close together and far apart.
    const deliveries = [...events, ...events];
    for (let i = deliveries.length - 1; i > 0; i -= 1) {
      const j = Math.floor(rand() * (i + 1));
      [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!];
    }
    d365.control.setFaults({
      errorRate: 0.05,
      errorStatus: 503,
      throttleRate: 0.03,
      throttleRetryAfterSeconds: 1,
      dropRate: 0.02
    });
    const token = await publisherToken();
    const port = await freePort();
    let relay = await startRelayProcess(port);
    let published = 0;
    for (let kill = 1; kill <= KILLS; kill += 1) {
      // Publish a share of the events while this process lives, then kill it at a random moment.
      const share = Math.ceil(deliveries.length / KILLS);
      const until = Math.min(deliveries.length, published + share);
      while (published < until) {
        const chunk = deliveries.slice(published, Math.min(until, published + PUBLISH_CHUNK));
        await publish(token, chunk);
        published += chunk.length;
      }
      await new Promise((r) => setTimeout(r, 1_000 + rand() * 3_000));
      relay.child.kill('SIGKILL');
      await relay.exited;
      relay = await startRelayProcess(port);
    }

    const orderNumberOf = (id: string): string | undefined => {
      const record = salesforce.control.records('Opportunity').find((r) => r.Id === id);
      return record?.D365_Sales_Order_Number__c as string | undefined;
    };
    const deadline = Date.now() + 120_000;
    for (;;) {
      const opportunities = salesforce.control.records('Opportunity');
      const written = opportunities.filter(
        (r) => ids.includes(String(r.Id)) && r.D365_Sales_Order_Number__c
      ).length;
      if (written === OPPORTUNITIES && storeCount('SELECT COUNT(*) FROM jobs') === 0) break;
      if (Date.now() > deadline)
        throw new Error(`Only ${written} of ${OPPORTUNITIES} order numbers written back in time`);
      await new Promise((r) => setTimeout(r, 250));
    }
    relay.child.kill('SIGTERM');
    expect(await relay.exited).toBe(0);
    d365.control.clearFaults();

    const wanted = new Set(ids);
    const orders = d365.control
      .read('SalesOrderHeadersV2', { legalEntity: '*' })
      .filter((order) => wanted.has(String(order.CustomersOrderReference)));
    expect(orders).toHaveLength(OPPORTUNITIES);
    expect(new Set(orders.map((o) => o.CustomersOrderReference)).size).toBe(OPPORTUNITIES);
    const linesPerOrder = new Map<string, number>();
    for (const line of d365.control.read('SalesOrderLines', { legalEntity: '*' }))
      linesPerOrder.set(
        String(line.SalesOrderNumber),
        (linesPerOrder.get(String(line.SalesOrderNumber)) ?? 0) + 1
      );
    for (const order of orders) {
      expect(linesPerOrder.get(String(order.SalesOrderNumber))).toBe(LINES_PER_ORDER);
      expect(orderNumberOf(String(order.CustomersOrderReference))).toBe(order.SalesOrderNumber);
    }
    expect(storeCount('SELECT COUNT(*) FROM jobs')).toBe(0);
    expect(storeCount('SELECT COUNT(*) FROM dead_letters')).toBe(0);
    const injected = d365.control.counters();
    expect(
      injected.injectedErrors + injected.throttled + injected.droppedConnections
    ).toBeGreaterThan(0);
  }, 300_000);
});
