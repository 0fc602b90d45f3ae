import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  productSyncSettings,
  syncProducts,
  type SyncDeps
} from '../../relay/src/flows/products/index.ts';
import { openStore } from '../../relay/src/store/index.ts';
import type { Store } from '../../relay/src/store/types.ts';
import { startHarness, type Harness, type SfRecord } from './harness.ts';

/**
 * The products flow when its ledger and Salesforce disagree: a lost ledger (fresh store), an entry
 * deleted in Salesforce. The runs call the flow's sync entry directly on both emulators.
 */
let h: Harness;
let dir: string;
const stores: Store[] = [];
const settings = productSyncSettings({ PRODUCTS_PRICE_BOOK: 'D365 Prices' });

beforeAll(async () => {
  h = await startHarness({ startRelay: false });
  dir = mkdtempSync(join(tmpdir(), 'products-recovery-'));
});

afterAll(async () => {
  await Promise.allSettled(stores.map((s) => s.close()));
  await h?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function freshStore(): Promise<Store> {
  const store = await openStore(`sqlite:${join(dir, `ledger-${stores.length}.db`)}`);
  await store.migrate();
  stores.push(store);
  return store;
}

const deps = (store: Store): SyncDeps => ({
  d365: h.clients.d365,
  salesforce: h.clients.salesforce,
  store,
  logger: pino({ level: 'silent' }),
  correlationId: 'products-recovery'
});
const entries = (): SfRecord[] =>
  h.salesforce.control.records('PricebookEntry').filter((e) => e.IsDeleted !== true);

describe('products sync recovery', () => {
  it('a lost ledger: the next run updates the existing entries instead of duplicating them', async () => {
    await syncProducts(deps(await freshStore()), settings, { full: true });
    const before = entries()
      .map((e) => e.Id)
      .sort();
    await h.clients.d365.update(
      'ReleasedProductsV2',
      { dataAreaId: 'usmf', ItemNumber: 'A0001' },
      { SalesPrice: 16.5 }
    );
    const counts = await syncProducts(deps(await freshStore()), settings, { full: false });
    expect(counts.prices.failed).toBe(0);
    expect(counts.products.failed).toBe(0);
    expect(
      entries()
        .map((e) => e.Id)
        .sort()
    ).toEqual(before);
    expect(entries().find((e) => e.D365_Price_Key__c === 'STANDARD|A0001|USD')?.UnitPrice).toBe(
      16.5
    );
    expect(
      h.salesforce.control.records('Pricebook2').filter((b) => b.Name === 'D365 Prices')
    ).toHaveLength(1);
  });

  it('an entry deleted in Salesforce is created again by a full run', async () => {
    const store = await freshStore();
    await syncProducts(deps(store), settings, { full: true });
    const gone = entries().find((e) => e.D365_Price_Key__c === 'D365 Prices|A0001|USD')!;
    await h.clients.salesforce.request('DELETE', `/sobjects/PricebookEntry/${String(gone.Id)}`);
    const counts = await syncProducts(deps(store), settings, { full: true });
    expect(counts.prices.failed).toBe(0);
    const again = entries().find((e) => e.D365_Price_Key__c === 'D365 Prices|A0001|USD');
    expect(again?.Id).toBeDefined();
    expect(again?.Id).not.toBe(gone.Id);
  });
});
