import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invoiceFlow } from '../../relay/src/flows/invoice/index.ts';
import { FREE_TEXT_INVOICE_POSTED } from '../../relay/src/flows/invoice/mapping.ts';
import { waitFor } from '../../relay/test/helpers.ts';
import { startHarness, type Harness } from './harness.ts';

/**
 * Invoice pushback over both emulators: D365 posts invoices and delivers the business events to the
 * relay, which reads each invoice through OData and upserts Invoice__c in the Salesforce emulator.
 */
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ flows: [invoiceFlow] });
});

afterAll(async () => {
  await h?.close();
});

type Invoice = Record<string, unknown>;

function invoices(key: string): Invoice[] {
  return h.salesforce.control
    .records('Invoice__c')
    .filter((r) => String(r.D365_Invoice_Key__c).toLowerCase() === key.toLowerCase());
}

async function invoiceAppears(key: string, ready: (invoice: Invoice) => boolean = () => true) {
  await waitFor(() => invoices(key).some(ready), 15_000, `Invoice__c ${key}`);
  return invoices(key)[0] as Invoice;
}

/** No job queued or running: every write of earlier tests is done. */
async function idle(): Promise<void> {
  await waitFor(
    async () => {
      const counts = await h.relay().store.counts();
      return counts.running === 0 && Object.keys(counts.pending).length === 0;
    },
    10_000,
    'an idle relay'
  );
}

function account(customerNumber: string): string {
  return h.salesforce.control.insert('Account', {
    Name: `Customer ${customerNumber}`,
    D365_Customer_Number__c: customerNumber
  });
}

function freeTextInvoice(customerAccount: string, amount: number) {
  return h.d365.control.postFreeTextInvoice({
    customerAccount,
    lines: [{ description: 'Consulting', amount }]
  });
}

function openOrder(customerAccount: string): string {
  const order = h.d365.control
    .read('SalesOrderHeadersV2', { legalEntity: 'usmf' })
    .find(
      (o) =>
        o.InvoiceCustomerAccountNumber === customerAccount && o.SalesOrderStatus === 'Backorder'
    );
  if (!order) throw new Error(`no open order for ${customerAccount}`);
  return String(order.SalesOrderNumber);
}

describe('invoice pushback', () => {
  it('upserts a free-text invoice under the account found by its D365 customer number', async () => {
    const accountId = account('US-001');
    const posted = freeTextInvoice('US-001', 500);
    const key = `usmf|${String(posted.InvoiceNumber)}`;
    const invoice = await invoiceAppears(key);
    expect(invoice).toMatchObject({
      Name: posted.InvoiceNumber,
      Account__c: accountId,
      Invoice_Type__c: 'Free Text',
      Amount__c: posted.TotalInvoiceAmount,
      Tax_Amount__c: posted.TotalTaxAmount,
      Currency_Code__c: 'USD',
      Legal_Entity__c: 'usmf',
      Amount_Paid__c: 0,
      Balance_Due__c: posted.TotalInvoiceAmount,
      Payment_Status__c: 'Open',
      Invoice_Date__c: String(posted.InvoiceDate).slice(0, 10),
      Due_Date__c: String(posted.DueDate).slice(0, 10)
    });
  });

  it('links a sales order invoice to the Opportunity of its sales order number', async () => {
    const accountId = account('US-006');
    const salesOrder = openOrder('US-006');
    const opportunityId = h.salesforce.control.insert('Opportunity', {
      Name: 'Order from Salesforce',
      StageName: 'Closed Won',
      CloseDate: '2026-11-01',
      AccountId: accountId,
      D365_Sales_Order_Number__c: salesOrder
    });
    const posted = h.d365.control.postInvoice({ salesOrderNumber: salesOrder });
    const invoice = await invoiceAppears(`usmf|${String(posted.InvoiceNumber)}`);
    expect(invoice).toMatchObject({
      Invoice_Type__c: 'Sales Order',
      Sales_Order_Number__c: salesOrder,
      Opportunity__c: opportunityId,
      Account__c: accountId
    });
  });

  it('processes an event D365 delivers twice once', async () => {
    account('US-002');
    await idle();
    h.d365.control.setDelivery({ duplicateRate: 1 });
    const before = h.salesforce.control.counters().apiUsed;
    const posted = freeTextInvoice('US-002', 80);
    const key = `usmf|${String(posted.InvoiceNumber)}`;
    await invoiceAppears(key);
    await h.d365.control.eventsSettled();
    h.d365.control.setDelivery({ duplicateRate: 0 });
    const log = h.d365.control.deliveries().log;
    const last = log.at(-1)!;
    expect(log.filter((d) => d.controlNumber === last.controlNumber)).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(invoices(key)).toHaveLength(1);
    // One account query, one upsert, one sync result event: nothing for the second delivery.
    expect(h.salesforce.control.counters().apiUsed - before).toBe(3);
  });

  it('never overwrites Invoice__c with data read before what it holds (out-of-order event)', async () => {
    account('US-004');
    const posted = freeTextInvoice('US-004', 300);
    const key = `usmf|${String(posted.InvoiceNumber)}`;
    const first = await invoiceAppears(key);
    // A job that read D365 later already wrote: its read time is ahead of any job still to run.
    const later = new Date(Date.now() + 60_000).toISOString();
    await h.update('Invoice__c', String(first.Id), { D365_Modified_At__c: later });
    h.d365.control.registerPayment({
      customerAccount: 'US-004',
      amount: 100,
      invoiceNumber: String(posted.InvoiceNumber)
    });
    const response = await fetch(
      `${h.baseUrl()}/api/v1/business-events/${h.config.security.businessEventsSecret}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          BusinessEventId: FREE_TEXT_INVOICE_POSTED,
          BusinessEventLegalEntity: 'usmf',
          ControlNumber: 1,
          EventId: '0F7C2A4B-1D3E-4F60-9A8B-000000000001',
          EventTime: '/Date(1714557600000)/',
          InvoiceAccount: 'US-004',
          InvoiceId: posted.InvoiceNumber,
          LegalEntity: 'usmf'
        })
      }
    );
    expect(response.status).toBe(200);
    await waitFor(
      async () => (await h.relay().store.counts()).pending.invoice === undefined,
      10_000,
      'the replayed event'
    );
    expect(invoices(key)[0]).toMatchObject({ Amount_Paid__c: 0, Payment_Status__c: 'Open' });
  });

  it('re-reads D365 for a late event, so Invoice__c gets the current payment state', async () => {
    account('US-005');
    const posted = freeTextInvoice('US-005', 400);
    const key = `usmf|${String(posted.InvoiceNumber)}`;
    await invoiceAppears(key);
    h.d365.control.registerPayment({
      customerAccount: 'US-005',
      amount: 100,
      invoiceNumber: String(posted.InvoiceNumber)
    });
    await fetch(`${h.baseUrl()}/api/v1/business-events/${h.config.security.businessEventsSecret}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        BusinessEventId: FREE_TEXT_INVOICE_POSTED,
        BusinessEventLegalEntity: 'usmf',
        ControlNumber: 2,
        EventId: '0F7C2A4B-1D3E-4F60-9A8B-000000000002',
        EventTime: '/Date(1714557600000)/',
        InvoiceAccount: 'US-005',
        InvoiceId: posted.InvoiceNumber,
        LegalEntity: 'usmf'
      })
    });
    const invoice = await invoiceAppears(key, (i) => i.Payment_Status__c === 'Partially Paid');
    expect(invoice).toMatchObject({ Amount_Paid__c: 100 });
  });

  it('parks an invoice of an unknown account and writes it once the account exists', async () => {
    const posted = freeTextInvoice('US-007', 700);
    const key = `usmf|${String(posted.InvoiceNumber)}`;
    await waitFor(
      async () =>
        (await h.relay().store.queryLedger({ flow: 'invoice', d365Key: key, limit: 1 }))[0]
          ?.lastStatus === 'Pending',
      10_000,
      'the parked invoice'
    );
    expect(invoices(key)).toEqual([]);
    const accountId = account('US-007');
    const invoice = await invoiceAppears(key);
    expect(invoice.Account__c).toBe(accountId);
  });

  it('retries an invoice while D365 throttles', async () => {
    account('US-008');
    h.d365.control.queueFaults([
      { kind: 'status', status: 429, retryAfter: 1 },
      { kind: 'status', status: 429, retryAfter: 1 }
    ]);
    const posted = freeTextInvoice('US-008', 90);
    await invoiceAppears(`usmf|${String(posted.InvoiceNumber)}`);
    expect(h.d365.control.counters().throttled).toBeGreaterThanOrEqual(2);
  });
});
