import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invoiceFlow } from '../../relay/src/flows/invoice/index.ts';
import { FREE_TEXT_INVOICE_POSTED } from '../../relay/src/flows/invoice/mapping.ts';
import { paymentFlow } from '../../relay/src/flows/payment/index.ts';
import { CUSTOMER_PAYMENT_POSTED } from '../../relay/src/flows/payment/mapping.ts';
import { refreshPayments } from '../../relay/src/flows/payment/handler.ts';
import { SqliteStore } from '../../relay/src/store/sqlite-store.ts';
import { silentLogger, waitFor } from '../../relay/test/helpers.ts';
import { startHarness, type Harness, type SfRecord } from './harness.ts';

/**
 * Payment status over both emulators: the D365 demo seed has an overdue invoice (US-001), a paid one
 * (US-002) and a partly paid one (US-003); payments registered in D365 reach Salesforce through the
 * payment event, and a scheduled run writes only what changed.
 */
let h: Harness;
const accountIds = new Map<string, string>();
let run = 0;

beforeAll(async () => {
  h = await startHarness({ flows: [invoiceFlow, paymentFlow] });
  for (const customer of ['US-001', 'US-002', 'US-003', 'US-004']) {
    const id = h.salesforce.control.insert('Account', {
      Name: `Customer ${customer}`,
      D365_Customer_Number__c: customer
    });
    accountIds.set(customer, id);
  }
  // The seed invoices as an earlier invoice sync left them: all still open in Salesforce.
  for (const invoice of h.d365.control.read('SalesInvoiceHeadersV2', { legalEntity: 'usmf' })) {
    const customer = String(invoice.InvoiceCustomerAccountNumber);
    if (!accountIds.has(customer)) continue;
    h.salesforce.control.insert('Invoice__c', {
      Name: invoice.InvoiceNumber,
      Account__c: accountIds.get(customer),
      D365_Invoice_Key__c: `usmf|${String(invoice.InvoiceNumber)}`,
      Amount__c: invoice.TotalInvoiceAmount,
      Payment_Status__c: 'Open'
    });
  }
});

afterAll(async () => {
  await h?.close();
});

function account(customer: string): SfRecord {
  return h.salesforce.control
    .records('Account')
    .find((r) => r.Id === accountIds.get(customer)) as SfRecord;
}

function invoicesOf(customer: string): SfRecord[] {
  return h.salesforce.control
    .records('Invoice__c')
    .filter((r) => r.Account__c === accountIds.get(customer));
}

async function idle(): Promise<void> {
  await waitFor(
    async () => {
      const counts = await h.relay().store.counts();
      return counts.running === 0 && Object.keys(counts.pending).length === 0;
    },
    15_000,
    'an idle relay'
  );
}

/** What the scheduler enqueues on PAYMENT_STATUS_CRON. */
async function scheduledRun(): Promise<void> {
  run += 1;
  await h.relay().store.enqueue({
    flow: 'payment',
    idempotencyKey: `schedule:payment:${run}`,
    payload: { trigger: 'schedule' },
    maxAttempts: 5,
    correlationId: `payment-run-${run}`
  });
  h.relay().worker.wake();
  await idle();
  expect(await h.relay().store.counts()).toMatchObject({ deadLetters: {} });
}

describe('payment status', () => {
  it('writes overdue, paid and partly paid states and the account balances on a scheduled run', async () => {
    await scheduledRun();
    expect(account('US-001')).toMatchObject({ D365_Payment_Status__c: 'Overdue' });
    expect(account('US-001').D365_Overdue_Balance__c).toBeGreaterThan(0);
    expect(account('US-001').D365_Overdue_Balance__c).toBe(account('US-001').D365_Open_Balance__c);
    expect(invoicesOf('US-001')[0]).toMatchObject({
      Payment_Status__c: 'Overdue',
      Amount_Paid__c: 0
    });

    expect(account('US-002')).toMatchObject({
      D365_Payment_Status__c: 'No Balance',
      D365_Open_Balance__c: 0,
      D365_Overdue_Balance__c: 0
    });
    const paid = invoicesOf('US-002')[0] as SfRecord;
    expect(paid).toMatchObject({ Payment_Status__c: 'Paid', Balance_Due__c: 0 });
    expect(paid.Amount_Paid__c).toBe(paid.Amount__c);

    const partly = invoicesOf('US-003')[0] as SfRecord;
    expect(partly).toMatchObject({ Payment_Status__c: 'Partially Paid', Amount_Paid__c: 1000 });
    expect(partly.Balance_Due__c).toBe(Number(partly.Amount__c) - 1000);
    expect(account('US-003')).toMatchObject({
      D365_Payment_Status__c: 'Open',
      D365_Open_Balance__c: partly.Balance_Due__c
    });
  });

  it('writes nothing on a second run when nothing changed in D365', async () => {
    const before = h.salesforce.control.counters();
    await scheduledRun();
    const after = h.salesforce.control.counters();
    expect(after.collections - before.collections).toBe(0);
    expect(after.bulk - before.bulk).toBe(0);
  });

  it('shows a partial payment, then a full payment, right after D365 posts them', async () => {
    const posted = h.d365.control.postFreeTextInvoice({
      customerAccount: 'US-004',
      lines: [{ description: 'Support', amount: 1000 }]
    });
    const total = Number(posted.TotalInvoiceAmount);
    const invoice = () =>
      invoicesOf('US-004').find((r) => r.Name === posted.InvoiceNumber) as SfRecord | undefined;
    await waitFor(() => invoice() !== undefined, 15_000, 'the new invoice');
    expect(invoice()).toMatchObject({ Payment_Status__c: 'Open', Balance_Due__c: total });

    h.d365.control.registerPayment({
      customerAccount: 'US-004',
      amount: 400,
      invoiceNumber: String(posted.InvoiceNumber)
    });
    await waitFor(
      () => invoice()?.Payment_Status__c === 'Partially Paid',
      15_000,
      'the partial payment'
    );
    expect(invoice()).toMatchObject({ Amount_Paid__c: 400, Balance_Due__c: total - 400 });
    await waitFor(
      () => account('US-004').D365_Open_Balance__c === total - 400,
      15_000,
      'the account balance'
    );
    expect(account('US-004').D365_Payment_Status__c).toBe('Open');

    h.d365.control.registerPayment({
      customerAccount: 'US-004',
      amount: total - 400,
      invoiceNumber: String(posted.InvoiceNumber)
    });
    await waitFor(() => invoice()?.Payment_Status__c === 'Paid', 15_000, 'the full payment');
    expect(invoice()).toMatchObject({ Amount_Paid__c: total, Balance_Due__c: 0 });
    await waitFor(
      () => account('US-004').D365_Payment_Status__c === 'No Balance',
      15_000,
      'the account status'
    );
  });

  it('refreshes the customer after a payment while D365 throttles the first reads', async () => {
    const throttledBefore = h.d365.control.counters().throttled;
    const before = Number(account('US-001').D365_Open_Balance__c);
    h.d365.control.queueFaults([
      { kind: 'status', status: 429, retryAfter: 1 },
      { kind: 'status', status: 429, retryAfter: 1 }
    ]);
    h.d365.control.registerPayment({ customerAccount: 'US-001', amount: 10 });
    await waitFor(
      () => account('US-001').D365_Open_Balance__c === Math.round((before - 10) * 100) / 100,
      15_000,
      'the balance after the payment'
    );
    expect(h.d365.control.counters().throttled - throttledBefore).toBeGreaterThanOrEqual(2);
    expect((await h.relay().store.counts()).deadLetters).toEqual({});
  });

  it('writes through Bulk API 2.0 above the threshold', async () => {
    const store = new SqliteStore(':memory:');
    await store.migrate();
    try {
      // A fresh ledger: every account and invoice counts as changed.
      const report = await refreshPayments(
        {
          d365: h.clients.d365,
          salesforce: h.clients.salesforce,
          store,
          logger: silentLogger,
          correlationId: 'bulk-test',
          defaultLegalEntity: 'usmf',
          bulkThreshold: 1,
          now: Date.now
        },
        { all: true }
      );
      expect(report).toMatchObject({ via: 'bulk', failed: 0, accounts: 4, unchanged: 0 });
      expect(report.written).toBeGreaterThanOrEqual(8);
      expect(account('US-002')).toMatchObject({ D365_Payment_Status__c: 'No Balance' });
      expect(invoicesOf('US-002')[0]).toMatchObject({ Payment_Status__c: 'Paid' });
    } finally {
      await store.close();
    }
  });

  it('ends Paid when D365 delivers the payment event before the invoice event', async () => {
    h.d365.control.setDelivery({ reorderWindowMs: 300 });
    const posted = h.d365.control.postFreeTextInvoice({
      customerAccount: 'US-002',
      lines: [{ description: 'Paid at once', amount: 200 }]
    });
    const total = Number(posted.TotalInvoiceAmount);
    h.d365.control.registerPayment({
      customerAccount: 'US-002',
      amount: total,
      invoiceNumber: String(posted.InvoiceNumber)
    });
    await h.d365.control.eventsSettled();
    h.d365.control.setDelivery({});
    const log = h.d365.control.deliveries().log.slice(-2);
    expect(log.map((d) => d.businessEventId)).toEqual([
      CUSTOMER_PAYMENT_POSTED,
      FREE_TEXT_INVOICE_POSTED
    ]);
    await waitFor(
      () => invoicesOf('US-002').some((r) => r.Name === posted.InvoiceNumber),
      15_000,
      'the invoice'
    );
    await idle();
    expect(invoicesOf('US-002').find((r) => r.Name === posted.InvoiceNumber)).toMatchObject({
      Payment_Status__c: 'Paid',
      Amount_Paid__c: total,
      Balance_Due__c: 0
    });
    expect(account('US-002')).toMatchObject({ D365_Payment_Status__c: 'No Balance' });
  });

  it('follows an account routed to another legal entity (demf)', async () => {
    const accountId = h.salesforce.control.insert('Account', {
      Name: 'Contoso Europe',
      D365_Customer_Number__c: 'DE-001',
      D365_Legal_Entity__c: 'demf'
    });
    const posted = h.d365.control.postFreeTextInvoice({
      customerAccount: 'DE-001',
      legalEntity: 'demf',
      lines: [{ description: 'Beratung', amount: 500 }]
    });
    const total = Number(posted.TotalInvoiceAmount);
    const key = `demf|${String(posted.InvoiceNumber)}`;
    await waitFor(
      () => h.salesforce.control.records('Invoice__c').some((r) => r.D365_Invoice_Key__c === key),
      15_000,
      'the demf invoice'
    );
    h.d365.control.registerPayment({
      customerAccount: 'DE-001',
      legalEntity: 'demf',
      amount: 100,
      invoiceNumber: String(posted.InvoiceNumber)
    });
    const accountRecord = () =>
      h.salesforce.control.records('Account').find((r) => r.Id === accountId) as SfRecord;
    await waitFor(
      () => accountRecord().D365_Open_Balance__c === Math.round((total - 100) * 100) / 100,
      15_000,
      'the demf balance'
    );
    expect(accountRecord()).toMatchObject({ D365_Payment_Status__c: 'Open' });
    // The account is written before the invoices in a run: wait for the invoice too.
    const invoice = () =>
      h.salesforce.control.records('Invoice__c').find((r) => r.D365_Invoice_Key__c === key);
    await waitFor(() => invoice()?.Amount_Paid__c === 100, 15_000, 'the demf invoice payment');
    expect(invoice()).toMatchObject({ Currency_Code__c: 'EUR', Legal_Entity__c: 'demf' });
  });
});
