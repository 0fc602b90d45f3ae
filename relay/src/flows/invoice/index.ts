import type { Flow } from '../types.ts';
import { handleInvoiceEvent, INVOICE_FLOW } from './handler.ts';
import { FREE_TEXT_INVOICE_POSTED, SALES_INVOICE_POSTED } from './mapping.ts';

/**
 * Attempts before an invoice whose account never appears is dead-lettered: with the relay's backoff
 * (1 s doubling, capped at 5 min) the ceilings add up to about an hour of parking.
 */
export const INVOICE_MAX_ATTEMPTS = 12;

/** Posted invoices (sales order and free text) from D365 business events → `Invoice__c`. */
export const invoiceFlow: Flow = {
  name: INVOICE_FLOW,
  packageSwitch: 'Invoice_Sync_Enabled__c',
  maxAttempts: INVOICE_MAX_ATTEMPTS,
  businessEvents: [SALES_INVOICE_POSTED, FREE_TEXT_INVOICE_POSTED],
  handle: handleInvoiceEvent
};
