import type { Flow } from '../types.ts';
import { PRODUCTS_FLOW, handleProductsSync } from './handler.ts';

export { PRODUCTS_FLOW, productSyncSettings, syncProducts } from './handler.ts';
export type { ProductSyncSettings, SyncCounts, SyncDeps } from './handler.ts';

/**
 * Products and prices, D365 → Salesforce: run on a schedule (PRODUCTS_SYNC_CRON) and on demand
 * (`d365-relay sync products [--full]`, `POST /api/v1/admin/sync/products`). See README.md.
 */
export const productsFlow: Flow = {
  name: PRODUCTS_FLOW,
  packageSwitch: 'Product_Sync_Enabled__c',
  // A run is a whole-catalogue pass: a few attempts, then the next scheduled run starts afresh.
  maxAttempts: 5,
  handle: handleProductsSync
};
