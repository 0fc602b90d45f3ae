/**
 * Products and prices sync of a generated catalogue (default 10,000 products, every fifth with an
 * `All` trade agreement), D365 emulator → Salesforce emulator, in one process:
 *
 *   - naive: what a simple script does — one OData query per entity set, then one REST upsert per
 *     product and one per price book entry, 16 at a time;
 *   - relay: `syncProducts` (the products flow): first full sync, a re-run with nothing changed, and a
 *     run after the base price of an item with a trade agreement changed (only its standard entry).
 *
 * Salesforce API calls are the emulator's `apiUsed` counter; D365 requests are its request counters.
 *
 *   npm run bench:products -- [--products 10000] [--agreement-every 5] [--concurrency 16]
 */

import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createRelayClients } from '../../relay/src/clients.ts';
import { loadConfig } from '../../relay/src/config/load.ts';
import type { D365Client } from '../../relay/src/d365/index.ts';
import {
  productSyncSettings,
  syncProducts,
  type SyncCounts
} from '../../relay/src/flows/products/index.ts';
import {
  mapPrices,
  mapProduct,
  AGREEMENT_SELECT,
  PRODUCT_SELECT,
  type D365Agreement,
  type D365Product
} from '../../relay/src/flows/products/mapping.ts';
import type { SalesforceClient } from '../../relay/src/salesforce/index.ts';
import { openStore } from '../../relay/src/store/index.ts';
import { start as startD365 } from '../../test/emulators/d365/index.ts';
import { start as startSalesforce } from '../../test/emulators/salesforce/index.ts';
import { emulatorEnv } from '../../test/e2e/relay-env.ts';

const { values: args } = parseArgs({
  options: {
    products: { type: 'string', default: '10000' },
    'agreement-every': { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '16' }
  }
});
const productCount = Number(args.products);
const agreementEvery = Number(args['agreement-every']);
const concurrency = Number(args.concurrency);
const BOOK = 'D365 Prices';

const logger = pino({ level: 'warn' });
const dir = mkdtempSync(join(tmpdir(), 'bench-products-'));
const [d365, salesforce] = await Promise.all([
  startD365({ seed: { customers: 0, products: productCount } }),
  startSalesforce({ port: 0, pubsubPort: 0, dailyApiLimit: 10_000_000 })
]);
for (let i = 0; i < productCount; i += agreementEvery) {
  d365.control.insert(
    'SalesPriceAgreements',
    {
      ItemNumber: `G${String(i + 1).padStart(6, '0')}`,
      PriceCustomerGroupCode: 'All',
      Price: 9 + (i % 80),
      PriceCurrencyCode: 'USD',
      SalesPriceQuantity: 1
    },
    'usmf'
  );
}
const app = { clientId: 'bench-products', clientSecret: randomUUID() };
salesforce.control.registerClientCredentialsApp(app);
const config = loadConfig({
  env: {
    RELAY_ADMIN_TOKEN: 'bench-admin-token-0123456789',
    RELAY_CALLOUT_KEY: 'bench-callout-key-0123456789',
    RELAY_BUSINESS_EVENTS_SECRET: 'bench-business-events-0123',
    ...emulatorEnv(d365, salesforce, { dir, salesforceApp: app, pubsub: false }),
    PRODUCTS_PRICE_BOOK: BOOK
  },
  cwd: dir
});
const clients = createRelayClients(config.values, logger);
const settings = productSyncSettings(config.values);

interface Measure {
  label: string;
  salesforceCalls: number;
  d365Requests: number;
  wallMs: number;
  sent: string;
}

const d365Requests = (): number =>
  Object.values(d365.control.counters().requests).reduce(
    (sum, byMethod) => sum + Object.values(byMethod).reduce((a, b) => a + b, 0),
    0
  );

async function measure(label: string, work: () => Promise<string>): Promise<Measure> {
  const sf0 = salesforce.control.counters().apiUsed;
  const d0 = d365Requests();
  const t0 = performance.now();
  const sent = await work();
  return {
    label,
    salesforceCalls: salesforce.control.counters().apiUsed - sf0,
    d365Requests: d365Requests() - d0,
    wallMs: Math.round(performance.now() - t0),
    sent
  };
}

async function readAll<T>(client: D365Client, set: string, select: readonly string[]) {
  const rows: T[] = [];
  for await (const row of client.query<T>(set, { select })) rows.push(row);
  return rows;
}

async function pool<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++] as T);
    })
  );
}

/** The simple script: every product and every price, one REST upsert each. */
async function naive(sf: SalesforceClient): Promise<string> {
  const products = await readAll<D365Product>(clients.d365, 'ReleasedProductsV2', PRODUCT_SELECT);
  const agreements = await readAll<D365Agreement>(
    clients.d365,
    'SalesPriceAgreements',
    AGREEMENT_SELECT
  );
  const byItem = new Map<string, D365Agreement[]>();
  for (const a of agreements) {
    const item = String(a.ItemNumber);
    byItem.set(item, [...(byItem.get(item) ?? []), a]);
  }
  const books: Record<string, string> = {};
  for await (const book of sf.query<{ Id: string; IsStandard: boolean }>(
    'SELECT Id, IsStandard FROM Pricebook2 WHERE IsStandard = true'
  ))
    books.standard = book.Id;
  books.custom = (
    await sf.request<{ id: string }>('POST', '/sobjects/Pricebook2', { Name: BOOK, IsActive: true })
  ).id;
  const today = new Date().toISOString().slice(0, 10);
  const productIds = new Map<string, string>();
  await pool(products, async (product) => {
    const mapped = mapProduct(product, settings);
    const { D365_Item_Number__c: item, ...fields } = mapped.fields;
    const result = await sf.upsert('Product2', 'D365_Item_Number__c', String(item), fields);
    productIds.set(mapped.itemNumber, result.id);
  });
  const prices = products.flatMap((p) =>
    mapPrices(p, byItem.get(String(p.ItemNumber)) ?? [], settings, today)
  );
  for (const book of ['standard', 'custom'] as const) {
    await pool(
      prices.filter((p) => p.book === book),
      async (price) => {
        await sf.upsert('PricebookEntry', 'D365_Price_Key__c', price.key, {
          Pricebook2Id: books[book],
          Product2Id: productIds.get(price.itemNumber),
          UnitPrice: price.unitPrice,
          IsActive: true
        });
      }
    );
  }
  return `${products.length} products, ${prices.length} prices`;
}

const describeCounts = (c: SyncCounts): string =>
  `${c.products.sent} products, ${c.prices.sent} prices via ${c.via}` +
  (c.products.failed + c.prices.failed ? `, ${c.products.failed + c.prices.failed} failed` : '');

const results: Measure[] = [];
try {
  results.push(
    await measure('naive: full sync, one upsert per record', () => naive(clients.salesforce))
  );
  salesforce.control.resetData();

  const store = await openStore(`sqlite:${join(dir, 'relay.db')}`);
  await store.migrate();
  const deps = {
    d365: clients.d365,
    salesforce: clients.salesforce,
    store,
    logger,
    correlationId: 'bench-products'
  };
  results.push(
    await measure('relay: first full sync', async () =>
      describeCounts(await syncProducts(deps, settings, { full: true }))
    )
  );
  results.push(
    await measure('relay: re-run, nothing changed', async () =>
      describeCounts(await syncProducts(deps, settings, { full: false }))
    )
  );
  await clients.d365.update(
    'ReleasedProductsV2',
    { dataAreaId: 'usmf', ItemNumber: 'G000001' },
    { SalesPrice: 123.45 }
  );
  results.push(
    await measure('relay: re-run, one base price changed', async () =>
      describeCounts(await syncProducts(deps, settings, { full: false }))
    )
  );
  const entries = salesforce.control.records('PricebookEntry').length;
  await store.close();

  const header = ['Run', 'Salesforce API calls', 'D365 requests', 'Wall time (ms)', 'Sent'];
  const rows = results.map((r) => [
    r.label,
    String(r.salesforceCalls),
    String(r.d365Requests),
    String(r.wallMs),
    r.sent
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(
    `\nProducts sync: ${productCount} products, ${Math.ceil(productCount / agreementEvery)} trade agreements, ` +
      `${entries} price book entries in Salesforce after the relay's run (Node ${process.version})\n`
  );
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(row));
  console.log(
    `\nCommand: npm run bench:products -- --products ${productCount} --agreement-every ${agreementEvery} --concurrency ${concurrency}`
  );
} finally {
  await Promise.allSettled([clients.d365.close(), clients.salesforce.close()]);
  await Promise.allSettled([d365.close(), salesforce.close()]);
  rmSync(dir, { recursive: true, force: true });
}
