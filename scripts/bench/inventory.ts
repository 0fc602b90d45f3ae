/**
 * Inventory lookup (`GET /api/v1/inventory`, as the package's D365InventoryController calls it) over
 * HTTP against the real relay route, the D365 emulator with emulated latency on every data call
 * (default 50 ms), 5 items per lookup, 8 lookups in flight:
 *
 *   - naive: what a direct integration does per lookup: one OData query to WarehousesOnHandV2;
 *   - relay, cache miss: every lookup asks for an item set not read before (the route's own cost
 *     on top of the same OData query);
 *   - relay, cache hit: lookups of item sets read within the cache TTL;
 *   - coalescing: 50 identical lookups at once on a cold cache → D365 requests.
 *
 *   npm run bench:inventory -- [--lookups 400] [--latency-ms 50]
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createRelayClients } from '../../relay/src/clients.ts';
import { loadConfig } from '../../relay/src/config/load.ts';
import {
  ON_HAND_ENTITY,
  ON_HAND_FIELDS,
  onHandFilter
} from '../../relay/src/flows/inventory/mapping.ts';
import { startRelay } from '../../relay/src/server.ts';
import { start as startD365 } from '../../test/emulators/d365/index.ts';

const { values: args } = parseArgs({
  options: {
    lookups: { type: 'string', default: '400' },
    'latency-ms': { type: 'string', default: '50' }
  }
});
const lookups = Number(args.lookups);
const latencyMs = Number(args['latency-ms']);
const ITEMS_PER_LOOKUP = 5;
const IN_FLIGHT = 8;
const CALLOUT_KEY = 'bench-callout-key-0123456789';
const PRODUCTS = 5_000;

const logger = pino({ level: 'error' });
const d365 = await startD365({
  seed: { customers: 10, products: PRODUCTS },
  faults: { latency: { minMs: latencyMs, maxMs: latencyMs } }
});
const dir = mkdtempSync(join(tmpdir(), 'bench-inventory-'));
writeFileSync(join(dir, 'ca.pem'), d365.caCertPem);
const env = {
  RELAY_ADMIN_TOKEN: 'bench-admin-token-0123456789',
  RELAY_CALLOUT_KEY: CALLOUT_KEY,
  RELAY_BUSINESS_EVENTS_SECRET: 'bench-business-events-0123456789',
  RELAY_STORE_URL: `sqlite:${join(dir, 'relay.db')}`,
  RELAY_HOST: '127.0.0.1',
  RELAY_PORT: '0',
  RELAY_LOG_LEVEL: 'error',
  RELAY_RATE_LIMIT_MAX: '1000000',
  D365_ENVIRONMENT_URL: d365.url,
  D365_TENANT_ID: d365.tenantId,
  D365_CLIENT_ID: d365.clientId,
  D365_CLIENT_SECRET: d365.clientSecret,
  D365_AUTHORITY_HOST: d365.url,
  D365_CA_CERT_FILE: join(dir, 'ca.pem'),
  D365_MAX_CONCURRENCY: '16',
  // Salesforce is not used by the lookup; the client only needs well-formed settings.
  SF_LOGIN_URL: 'http://127.0.0.1:9',
  SF_AUTH_FLOW: 'client_credentials',
  SF_CLIENT_ID: 'unused',
  SF_CLIENT_SECRET: 'unused'
};
const config = loadConfig({ env, cwd: dir });
const relay = await startRelay({ logger, config, flows: [] });
const address = relay.app.server.address();
const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
const naiveClient = createRelayClients(config.values, logger).d365;

const item = (i: number) => `I${String((i % PRODUCTS) + 1).padStart(6, '0')}`;
const knownItems = d365.control
  .read('WarehousesOnHandV2', { legalEntity: 'usmf' })
  .map((r) => String(r.ItemNumber));
const itemSet = (n: number) =>
  Array.from({ length: ITEMS_PER_LOOKUP }, (_, k) =>
    knownItems.length > 0 ? knownItems[(n * ITEMS_PER_LOOKUP + k) % knownItems.length] : item(n)
  ) as string[];

async function timed(count: number, run: (n: number) => Promise<void>): Promise<number[]> {
  const durations: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < count) {
        const n = next++;
        const started = performance.now();
        await run(n);
        durations.push(performance.now() - started);
      }
    })
  );
  return durations.sort((a, b) => a - b);
}

async function lookup(items: string[]): Promise<void> {
  const response = await fetch(`${base}/api/v1/inventory?items=${items.join(',')}`, {
    headers: { 'X-Relay-Key': CALLOUT_KEY }
  });
  if (response.status !== 200) throw new Error(`lookup answered ${response.status}`);
  await response.arrayBuffer();
}

const onHandReads = () => d365.control.counters().requests[ON_HAND_ENTITY]?.GET ?? 0;

// Warm up connections and tokens on both paths.
await lookup(itemSet(lookups * 10));
await naiveClient
  .query(ON_HAND_ENTITY, {
    filter: onHandFilter('usmf', itemSet(lookups * 11)),
    crossCompany: true
  })
  .next();

const naive = await timed(lookups, async (n) => {
  const rows = [];
  for await (const row of naiveClient.query(ON_HAND_ENTITY, {
    filter: onHandFilter('usmf', itemSet(n)),
    select: ON_HAND_FIELDS,
    crossCompany: true
  }))
    rows.push(row);
});
let reads = onHandReads();
// Distinct item sets (offset past the naive ones' cache-free range): every lookup misses.
const misses = await timed(lookups, (n) => lookup(itemSet(lookups + n)));
const missReads = onHandReads() - reads;
reads = onHandReads();
const hits = await timed(lookups, (n) => lookup(itemSet(lookups + (n % 20))));
const hitReads = onHandReads() - reads;
reads = onHandReads();
await Promise.all(Array.from({ length: 50 }, () => lookup(itemSet(lookups * 3))));
const coalescedReads = onHandReads() - reads;

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const ms = (value: number) => `${value.toFixed(1)} ms`;
const rows = [
  ['naive: OData query per lookup', ms(pct(naive, 50)), ms(pct(naive, 99)), String(lookups)],
  ['relay: cache miss', ms(pct(misses, 50)), ms(pct(misses, 99)), String(missReads)],
  ['relay: cache hit', ms(pct(hits, 50)), ms(pct(hits, 99)), String(hitReads)],
  ['relay: 50 identical lookups at once (cold)', '', '', String(coalescedReads)]
];
const header = ['Lookup (5 items, 8 in flight)', 'p50', 'p99', 'D365 requests'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
const line = (cells: string[]) =>
  `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
console.log(
  `\nInventory lookup: ${lookups} lookups per row, D365 emulator with ${latencyMs} ms latency per data call\n`
);
console.log(line(header));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const row of rows) console.log(line(row));
console.log(
  `\nReproduce: npm run bench:inventory -- --lookups ${lookups} --latency-ms ${latencyMs}\n`
);

await naiveClient.close();
await relay.close();
await d365.close();
