import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invoiceFlow } from '../../relay/src/flows/invoice/index.ts';
import { waitFor } from '../../relay/test/helpers.ts';
import { startHarness, type Harness } from './harness.ts';

/** The bound on parking: with 2 attempts (12 in production) the invoice is dead-lettered with the reason. */
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ flows: [{ ...invoiceFlow, maxAttempts: 2 }] });
});

afterAll(async () => {
  await h?.close();
});

describe('invoice of an account Salesforce does not have', () => {
  it('is dead-lettered with the reason once its attempts are used up', async () => {
    const posted = h.d365.control.postFreeTextInvoice({
      customerAccount: 'US-006',
      lines: [{ description: 'Never synced', amount: 10 }]
    });
    await waitFor(
      async () => (await h.relay().store.counts()).deadLetters.invoice === 1,
      15_000,
      'the dead letter'
    );
    const [letter] = await h.relay().store.listDeadLetters({ flow: 'invoice', limit: 1 });
    expect(letter).toMatchObject({ reason: 'exhausted', attempts: 2 });
    expect(letter?.lastError).toBe(
      `UnknownAccountError: No Salesforce account has D365 customer number US-006; invoice usmf|${String(posted.InvoiceNumber)} waits for it`
    );
    expect(h.salesforce.control.records('Invoice__c')).toEqual([]);
  });
});
