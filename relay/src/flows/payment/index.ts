import type { Flow } from '../types.ts';
import { handlePayments, PAYMENT_FLOW } from './handler.ts';
import { CUSTOMER_PAYMENT_POSTED } from './mapping.ts';

/**
 * Payment status, D365 → Salesforce: every account's balances and each invoice's payment state from
 * D365 customer transactions, on a schedule (PAYMENT_STATUS_CRON), on demand
 * (`d365-relay sync payment`) and for one customer right after its payment event. See README.md.
 */
export const paymentFlow: Flow = {
  name: PAYMENT_FLOW,
  packageSwitch: 'Payment_Status_Enabled__c',
  // A run re-reads everything it writes: a few attempts, then the next run starts afresh.
  maxAttempts: 5,
  businessEvents: [CUSTOMER_PAYMENT_POSTED],
  handle: handlePayments
};
