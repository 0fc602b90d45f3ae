import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../relay/src/cli.ts';
import { invoiceFlow } from '../../relay/src/flows/invoice/index.ts';
import { waitFor } from '../../relay/test/helpers.ts';
import { startHarness, type Harness } from './harness.ts';

/**
 * Reconciliation of Invoice__c with D365 (no business events delivered here): the demo seed has four
 * posted invoices, for US-001, US-002, US-003 and US-006.
 */
let h: Harness;
const accountIds = new Map<string, string>();

beforeAll(async () => {
  h = await startHarness({ flows: [invoiceFlow] });
  for (const customer of ['US-001', 'US-002', 'US-003']) {
    accountIds.set(
      customer,
      h.salesforce.control.insert('Account', {
        Name: `Customer ${customer}`,
        D365_Customer_Number__c: customer
      })
    );
  }
  const paid = h.d365.control
    .read('SalesInvoiceHeadersV2', { legalEntity: 'usmf' })
    .find((i) => i.InvoiceCustomerAccountNumber === 'US-002')!;
  // Different from D365: someone edited the amount.
  h.salesforce.control.insert('Invoice__c', {
    Name: paid.InvoiceNumber,
    Account__c: accountIds.get('US-002'),
    D365_Invoice_Key__c: `usmf|${String(paid.InvoiceNumber)}`,
    Amount__c: 1
  });
});

afterAll(async () => {
  await h?.close();
});

async function reconcile(...args: string[]): Promise<{ code: number; out: string[] }> {
  const out: string[] = [];
  const io = { out: (line: string) => out.push(line), err: (line: string) => out.push(line) };
  const code = await main(['reconcile', ...args], io, {
    ...h.env,
    RELAY_LOG_LEVEL: 'silent'
  });
  return { code, out };
}

describe('d365-relay reconcile invoices', () => {
  it('repairs missing and different invoices and reports the unknown account as failed', async () => {
    const { code, out } = await reconcile('invoices', '--since', '2020-01-01');
    expect(out[0]).toBe(
      'Invoices since 2020-01-01: found 4, missing 3, different 1, repaired 3, failed 1'
    );
    expect(out[1]).toMatch(
      /failed usmf\|FTI-\d+: No Salesforce account has D365 customer number US-006/
    );
    expect(code).toBe(1);
    const invoices = h.salesforce.control.records('Invoice__c');
    expect(invoices).toHaveLength(3);
    const paid = invoices.find((i) => i.Account__c === accountIds.get('US-002'))!;
    expect(paid.Amount__c).not.toBe(1);
    expect(paid.Payment_Status__c).toBe('Paid');
  });

  it('finds nothing to repair on a second run but the invoice still without account', async () => {
    const { out } = await reconcile('invoices', '--since', '2020-01-01');
    expect(out[0]).toBe(
      'Invoices since 2020-01-01: found 4, missing 1, different 0, repaired 0, failed 1'
    );
  });

  it('refuses a malformed date with the usage', async () => {
    const { code, out } = await reconcile('invoices', '--since', 'last week');
    expect(code).toBe(2);
    expect(out[0]).toMatch(/^Usage: d365-relay reconcile invoices --since <YYYY-MM-DD>/);
  });

  it('repairs on a scheduled run once the account exists', async () => {
    h.salesforce.control.insert('Account', {
      Name: 'Customer US-006',
      D365_Customer_Number__c: 'US-006'
    });
    await h.relay().store.enqueue({
      flow: 'invoice',
      idempotencyKey: 'schedule:invoice:1',
      payload: { trigger: 'schedule', since: '2020-01-01T00:00:00Z' },
      maxAttempts: 3,
      correlationId: 'reconcile-run-1'
    });
    h.relay().worker.wake();
    await waitFor(
      () => h.salesforce.control.records('Invoice__c').length === 4,
      15_000,
      'the fourth invoice'
    );
  });
});
