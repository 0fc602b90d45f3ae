import { afterAll, beforeAll, expect, it } from 'vitest';
import { invoiceFlow } from '../../relay/src/flows/invoice/index.ts';
import { waitFor } from '../../relay/test/helpers.ts';
import { startHarness, type Harness } from './harness.ts';

/**
 * The package's switch for invoice pushback (D365_Integration_Setting__mdt.Default
 * .Invoice_Sync_Enabled__c): D365 starts this flow, so only the relay can honour it.
 */
let h: Harness;

beforeAll(async () => {
  // The switches are read for every job here, so an edit takes effect at once.
  h = await startHarness({ flows: [invoiceFlow], env: { RELAY_PACKAGE_SWITCHES_CACHE_MS: '0' } });
});

afterAll(async () => {
  await h?.close();
});

const admin = () => ({ authorization: `Bearer ${h.config.security.adminToken}` });

function setSwitch(on: boolean): void {
  h.salesforce.control.setMetadataValues('D365_Integration_Setting__mdt', 'Default', {
    Invoice_Sync_Enabled__c: on
  });
}

function invoices(key: string): Record<string, unknown>[] {
  return h.salesforce.control
    .records('Invoice__c')
    .filter((r) => String(r.D365_Invoice_Key__c).toLowerCase() === key.toLowerCase());
}

async function skippedInvoiceJobs(): Promise<number> {
  const text = await (await fetch(`${h.baseUrl()}/metrics`, { headers: admin() })).text();
  return Number(
    /^relay_jobs_total\{flow="invoice",outcome="skipped"\} (\d+)/m.exec(text)?.[1] ?? 0
  );
}

it('skips invoices while an admin has switched the flow off; reconciliation catches up', async () => {
  const accountId = h.salesforce.control.insert('Account', {
    Name: 'Customer US-001',
    D365_Customer_Number__c: 'US-001'
  });
  setSwitch(false);
  const posted = h.d365.control.postFreeTextInvoice({
    customerAccount: 'US-001',
    lines: [{ description: 'Consulting', amount: 40 }]
  });
  const key = `usmf|${String(posted.InvoiceNumber)}`;
  await waitFor(async () => (await skippedInvoiceJobs()) === 1, 10_000, 'the skipped job');
  const counts = await h.relay().store.counts();
  expect(counts.running + Object.keys(counts.pending).length).toBe(0);
  expect(invoices(key)).toEqual([]);

  setSwitch(true);
  const sync = await fetch(`${h.baseUrl()}/api/v1/admin/sync/invoice`, {
    method: 'POST',
    headers: admin()
  });
  expect(sync.status).toBe(202);
  await waitFor(() => invoices(key).length === 1, 15_000, 'the reconciled invoice');
  expect(invoices(key)[0]).toMatchObject({ Account__c: accountId, Name: posted.InvoiceNumber });
  expect(await skippedInvoiceJobs()).toBe(1);
});
