import { afterAll, beforeAll, expect, it } from 'vitest';
import { productsFlow } from '../../relay/src/flows/products/index.ts';
import { startHarness, type Harness, type SfRecord } from './harness.ts';

/**
 * The products flow's Bulk API 2.0 path, end to end: with the threshold lowered below the demo
 * catalogue, a full sync goes through one Product2 job and one PricebookEntry job.
 */
let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    flows: [productsFlow],
    env: { PRODUCTS_BULK_THRESHOLD: '5', PRODUCTS_SYNC_CRON: 'off' }
  });
});

afterAll(async () => h?.close());

const live = (object: string): SfRecord[] =>
  h.salesforce.control.records(object).filter((r) => r.IsDeleted !== true);

it('a full sync above the threshold uses one Bulk job per object and few API calls', async () => {
  const before = h.salesforce.control.counters();
  const response = await fetch(`${h.baseUrl()}/api/v1/admin/sync/products?full=true`, {
    method: 'POST',
    headers: { authorization: 'Bearer e2e-admin-token-0123456789' }
  });
  const { jobId } = (await response.json()) as { jobId: number };
  await h.waitFor(async () => (await h.relay().store.getJob(jobId)) === null, {
    what: 'the products sync job',
    timeoutMs: 30_000
  });
  const after = h.salesforce.control.counters();
  const released = h.d365.control.read('ReleasedProductsV2', { legalEntity: 'usmf' });
  expect(live('Product2')).toHaveLength(released.length);
  // Standard and configured book, one entry each per product.
  expect(live('PricebookEntry').filter((e) => e.D365_Price_Key__c)).toHaveLength(
    released.length * 2
  );
  expect(after.collections - before.collections).toBe(0);
  // Query + create price book + 2 × (create job, upload, close, poll ≥ 1).
  expect(after.bulk - before.bulk).toBeGreaterThanOrEqual(8);
  expect(after.apiUsed - before.apiUsed).toBeLessThanOrEqual(12);
  const ledger = await h.relay().store.queryLedger({ flow: 'products', status: 'Error', limit: 5 });
  expect(ledger).toEqual([]);
});
