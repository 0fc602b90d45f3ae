import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invoiceFlow } from '../../relay/src/flows/invoice/index.ts';
import { paymentFlow } from '../../relay/src/flows/payment/index.ts';
import { startHarness, type Harness, type SfRecord } from './harness.ts';

/** The status component's live refresh: the invoice and payment flows publish D365_Sync_Result__e. */
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ flows: [invoiceFlow, paymentFlow] });
});

afterAll(async () => {
  await h?.close();
});

describe('sync result events of the invoice and payment flows', () => {
  it('publishes a Synced event for a written invoice and for an account whose balance changed', async () => {
    const accountId = h.insert('Account', {
      Name: 'Events Inc',
      D365_Customer_Number__c: 'US-007'
    });
    const posted = h.d365.control.postFreeTextInvoice({
      customerAccount: 'US-007',
      lines: [{ description: 'Audit', amount: 250 }]
    });
    const key = `usmf|${String(posted.InvoiceNumber)}`;
    const invoice = await h.waitFor(
      () =>
        h.salesforce.control
          .records('Invoice__c')
          .find((r: SfRecord) => r.D365_Invoice_Key__c === key),
      { what: 'the invoice' }
    );
    const [event] = await h.waitFor(() => {
      const events = h.syncResults(String(invoice.Id));
      return events.length > 0 ? events : null;
    });
    expect(event).toMatchObject({ Flow__c: 'invoice', Status__c: 'Synced', D365_Key__c: key });

    h.d365.control.registerPayment({ customerAccount: 'US-007', amount: 50 });
    const [accountEvent] = await h.waitFor(
      () => {
        const events = h.syncResults(accountId);
        return events.length > 0 ? events : null;
      },
      { what: 'the payment sync result' }
    );
    expect(accountEvent).toMatchObject({ Flow__c: 'payment', Status__c: 'Synced' });
    expect(h.record('Account', accountId)).toMatchObject({ D365_Payment_Status__c: 'Open' });
  });
});
