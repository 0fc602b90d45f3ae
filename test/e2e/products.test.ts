import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createFlowRegistry } from '../../relay/src/flows/registry.ts';
import { productsFlow } from '../../relay/src/flows/products/index.ts';
import { configuredSchedules, createScheduler } from '../../relay/src/schedule/index.ts';
import { startHarness, type Harness, type SfRecord } from './harness.ts';

/**
 * Products and prices, D365 → Salesforce, over both emulators: runs are triggered through the admin
 * sync route (what `d365-relay sync products` queues) and executed by the relay's worker. The tests
 * run in order on one org: each starts from the state the previous one left.
 */
const ADMIN = { authorization: 'Bearer e2e-admin-token-0123456789' };
const BOOK = 'D365 Prices';
const RARE_CRON = '0 3 29 2 *';
let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    flows: [productsFlow],
    // The relay's own schedule must not fire mid-test (it would add runs and API calls): 29 February.
    env: { PRODUCTS_PRICE_BOOK: BOOK, PRODUCTS_PRICE_GROUPS: '10', PRODUCTS_SYNC_CRON: RARE_CRON }
  });
});

afterAll(async () => h?.close());

/** Queues a run through the admin route and waits until the worker finished or rescheduled it. */
async function run(full = false): Promise<{ jobId: number; lastError: string | null }> {
  const response = await fetch(`${h.baseUrl()}/api/v1/admin/sync/products?full=${full}`, {
    method: 'POST',
    headers: ADMIN
  });
  expect(response.status).toBe(202);
  const { jobId } = (await response.json()) as { jobId: number };
  const store = h.relay().store;
  return h.waitFor(
    async () => {
      const job = await store.getJob(jobId);
      if (job === null) return { jobId, lastError: null };
      return job.lastError !== null && job.lockedBy === null
        ? { jobId, lastError: job.lastError }
        : null;
    },
    { what: `products sync job ${jobId}`, timeoutMs: 30_000 }
  );
}

const live = (object: string): SfRecord[] =>
  h.salesforce.control.records(object).filter((r) => r.IsDeleted !== true);
const productByItem = (item: string): SfRecord | undefined =>
  live('Product2').find((p) => p.D365_Item_Number__c === item);
const entry = (key: string): SfRecord | undefined =>
  live('PricebookEntry').find((e) => e.D365_Price_Key__c === key);
const apiUsed = (): number => h.salesforce.control.counters().apiUsed;
const d365Products = (): SfRecord[] =>
  h.d365.control.read('ReleasedProductsV2', { legalEntity: 'usmf' });

describe('products and prices sync', () => {
  let lowerCaseTwin: string;

  it('a first full sync creates every released product with its standard and configured prices', async () => {
    // A product someone created by hand with the lower-case twin of a D365 item number.
    lowerCaseTwin = h.insert('Product2', { Name: 'Hand-made twin', D365_Item_Number__c: 'd0001' });
    h.salesforce.control.resetCounters();
    const before = apiUsed();
    const result = await run(true);
    expect(result.lastError).toBeNull();

    const released = d365Products();
    expect(released.length).toBeGreaterThan(3);
    for (const product of released) {
      const item = String(product.ItemNumber);
      // A sales-blocked item is kept in Salesforce but inactive.
      expect(productByItem(item), item).toMatchObject({
        IsActive: product.IsSalesBlocked !== 'Yes',
        ProductCode: item
      });
      expect(entry(`STANDARD|${item}|USD`), item).toBeDefined();
      expect(entry(`${BOOK}|${item}|USD`), item).toBeDefined();
    }
    // D0001: base price 280 in the standard book, the All agreement (270) in the configured one;
    // A0001: the price group 10 agreement (12.5).
    expect(entry('STANDARD|D0001|USD')?.UnitPrice).toBe(280);
    expect(entry(`${BOOK}|D0001|USD`)?.UnitPrice).toBe(270);
    expect(entry(`${BOOK}|A0001|USD`)?.UnitPrice).toBe(12.5);
    const book = live('Pricebook2').find((b) => b.Name === BOOK);
    expect(book?.IsStandard).toBe(false);
    expect(entry(`${BOOK}|D0001|USD`)?.Pricebook2Id).toBe(book?.Id);
    // Collections for a demo-sized catalogue: query + create book + products + 2 price phases,
    // and the package's per-flow switches (read at most once a minute, here by this first job).
    expect(apiUsed() - before).toBeLessThanOrEqual(6);
  });

  it('item numbers differing only in case stay distinct products', () => {
    expect(productByItem('D0001')?.Id).not.toBe(productByItem('d0001')?.Id);
    expect(h.record('Product2', lowerCaseTwin)).toMatchObject({
      Name: 'Hand-made twin',
      D365_Item_Number__c: 'd0001'
    });
  });

  it('a re-run with nothing changed sends nothing (≤ 2 Salesforce API calls)', async () => {
    const before = apiUsed();
    const modstamps = live('PricebookEntry').map((e) => e.SystemModstamp);
    const result = await run();
    expect(result.lastError).toBeNull();
    expect(apiUsed() - before).toBeLessThanOrEqual(2);
    expect(live('PricebookEntry').map((e) => e.SystemModstamp)).toEqual(modstamps);
  });

  it('a price change sends only that price book entry', async () => {
    await h.clients.d365.update(
      'ReleasedProductsV2',
      { dataAreaId: 'usmf', ItemNumber: 'D0001' },
      { SalesPrice: 299.5 }
    );
    const stamps = new Map(
      live('PricebookEntry').map((e) => [e.D365_Price_Key__c, e.SystemModstamp])
    );
    const productStamps = live('Product2').map((p) => p.SystemModstamp);
    h.salesforce.control.resetCounters();
    const before = apiUsed();
    const result = await run();
    expect(result.lastError).toBeNull();

    expect(entry('STANDARD|D0001|USD')?.UnitPrice).toBe(299.5);
    const touched = live('PricebookEntry').filter(
      (e) => e.SystemModstamp !== stamps.get(e.D365_Price_Key__c)
    );
    expect(touched.map((e) => e.D365_Price_Key__c)).toEqual(['STANDARD|D0001|USD']);
    expect(live('Product2').map((p) => p.SystemModstamp)).toEqual(productStamps);
    expect(h.salesforce.control.counters().collections).toBe(1);
    expect(apiUsed() - before).toBe(1);
  });

  it('a product gone from D365 is deactivated, not deleted', async () => {
    const gone = 'A0002';
    await h.clients.d365.delete('ReleasedProductsV2', { dataAreaId: 'usmf', ItemNumber: gone });
    const result = await run();
    expect(result.lastError).toBeNull();
    expect(productByItem(gone)).toMatchObject({ IsActive: false });
    expect(productByItem('A0001')).toMatchObject({ IsActive: true });
  });

  it('a tick of the PRODUCTS_SYNC_CRON schedule queues a delta run', async () => {
    await h.clients.d365.update(
      'ReleasedProductsV2',
      { dataAreaId: 'usmf', ItemNumber: 'D0004' },
      { ProductName: 'Surround system, scheduled' }
    );
    const relay = h.relay();
    const schedules = configuredSchedules(h.config.values);
    expect(schedules.find((s) => s.flow === 'products')?.cron).toBe(RARE_CRON);
    const scheduler = createScheduler({
      store: relay.store,
      registry: createFlowRegistry([productsFlow], { defaultMaxAttempts: 3 }),
      schedules,
      holder: relay.worker.id,
      logger: pino({ level: 'silent' }),
      onEnqueued: () => relay.worker.wake()
    });
    expect(await scheduler.tick('products-sync')).toBe(true);
    await h.waitFor(() => productByItem('D0004')?.Name === 'Surround system, scheduled', {
      what: 'the scheduled run'
    });
    await scheduler.stop();
  });

  it('a price book entry made by hand for a new product is adopted, not duplicated', async () => {
    await h.clients.d365.create('ReleasedProductsV2', {
      dataAreaId: 'usmf',
      ItemNumber: 'N0001',
      ProductName: 'Bookshelf speaker',
      SalesPrice: 50
    });
    const standardBook = String(live('Pricebook2').find((b) => b.IsStandard)?.Id);
    const product = h.insert('Product2', {
      Name: 'Bookshelf speaker (manual)',
      D365_Item_Number__c: 'N0001',
      IsActive: true
    });
    const handMade = h.insert('PricebookEntry', {
      Pricebook2Id: standardBook,
      Product2Id: product,
      UnitPrice: 45,
      IsActive: true
    });
    const result = await run();
    expect(result.lastError).toBeNull();
    const standardEntries = live('PricebookEntry').filter(
      (e) => e.Product2Id === productByItem('N0001')?.Id && e.Pricebook2Id === standardBook
    );
    expect(standardEntries).toHaveLength(1);
    expect(standardEntries[0]).toMatchObject({
      Id: h.record('PricebookEntry', handMade)?.Id,
      D365_Price_Key__c: 'STANDARD|N0001|USD',
      UnitPrice: 50
    });
    expect(entry(`${BOOK}|N0001|USD`)?.UnitPrice).toBe(50);
    const [ledger] = await h.relay().store.queryLedger({
      flow: 'products',
      d365Key: 'STANDARD|N0001|USD',
      limit: 1
    });
    expect(ledger?.lastStatus).toBe('Synced');
  });

  it('D365 throttling (429) is retried and the run completes', async () => {
    await h.clients.d365.update(
      'ReleasedProductsV2',
      { dataAreaId: 'usmf', ItemNumber: 'A0001' },
      { ProductName: 'HDMI 6 ft cable' }
    );
    const throttledBefore = h.d365.control.counters().throttled;
    h.d365.control.throttleStorm({ seconds: 1.5, retryAfterSeconds: 1 });
    const result = await run();
    expect(result.lastError).toBeNull();
    expect(h.d365.control.counters().throttled).toBeGreaterThan(throttledBefore);
    expect(productByItem('A0001')?.Name).toBe('HDMI 6 ft cable');
  });

  it('the API budget reserve pauses the run: rescheduled, not dead-lettered', async () => {
    await h.clients.d365.update(
      'ReleasedProductsV2',
      { dataAreaId: 'usmf', ItemNumber: 'A0001' },
      { SalesPrice: 15.99 }
    );
    const { dailyApiLimit } = h.salesforce.control.counters();
    // 95% used: below the relay's 10% reserve, so the guard stops non-urgent work after one call.
    h.salesforce.control.setApiBudget({ used: Math.floor(dailyApiLimit * 0.95) });
    await h.clients.d365.update(
      'ReleasedProductsV2',
      { dataAreaId: 'usmf', ItemNumber: 'D0001' },
      { ProductName: 'Speaker, renamed' }
    );
    const result = await run();
    expect(result.lastError).toMatch(/API_BUDGET_RESERVE|reserve/);
    const job = await h.relay().store.getJob(result.jobId);
    expect(job?.runAt).toBeGreaterThan(Date.now() + 60_000);
    expect(await h.relay().store.listDeadLetters({ flow: 'products', limit: 10 })).toEqual([]);
    expect(entry('STANDARD|A0001|USD')?.UnitPrice).not.toBe(15.99);
  });

  it('REQUEST_LIMIT_EXCEEDED from Salesforce reschedules the run instead of dead-lettering it', async () => {
    // A fresh relay process (same store): its budget guard has not seen the paused budget.
    await h.stopRelay();
    await h.startRelay();
    h.salesforce.control.setApiBudget({ used: 0 });
    h.salesforce.control.setFaults({ requestLimitExceeded: true });
    const result = await run(true);
    h.salesforce.control.clearFaults();
    expect(result.lastError).toMatch(/REQUEST_LIMIT_EXCEEDED|TotalRequests/);
    const store = h.relay().store;
    const job = await store.getJob(result.jobId);
    // Salesforce gives no Retry-After: the client waits an hour (the daily allowance is rolling).
    expect(job?.runAt).toBeGreaterThan(Date.now() + 30 * 60_000);
    expect(await store.listDeadLetters({ flow: 'products', limit: 10 })).toEqual([]);
  });
});
