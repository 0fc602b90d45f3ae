import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountFlow } from '../../relay/src/flows/account/index.ts';
import { startHarness, type Harness } from './harness.ts';

/** A backlog above ACCOUNT_BULK_THRESHOLD goes through one DMF import instead of a request per account. */
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ flows: [accountFlow], env: { ACCOUNT_BULK_THRESHOLD: '5' } });
});
afterAll(async () => h?.close());

describe('account backlog', () => {
  it('imports a backlog through DMF and writes every number back', async () => {
    // The relay is down while 25 accounts are created: on restart they are all pending at once.
    await h.stopRelay();
    const ids: string[] = [];
    for (let i = 0; i < 25; i += 1)
      ids.push((await h.createAccount({ Name: `Backlog ${i}`, BillingCountry: 'US' })).id);
    h.d365.control.resetCounters();
    await h.startRelay();
    await h.waitFor(
      () => ids.every((id) => h.record('Account', id)?.D365_Sync_Status__c === 'Synced'),
      { what: 'every backlog account synced', timeoutMs: 40_000 }
    );
    const counters = h.d365.control.counters();
    expect(counters.dmfJobs.imports).toBeGreaterThanOrEqual(1);
    // Only the jobs that ran before the backlog was seen may have created customers one by one.
    const posts = counters.requests.CustomersV3?.POST ?? 0;
    expect(posts).toBeLessThanOrEqual(5);
    for (const id of ids) {
      const account = h.record('Account', id)!;
      const customers = h.d365.control
        .read('CustomersV3', { legalEntity: '*' })
        .filter((c) => c.IdentificationNumber === account.Id);
      expect(customers).toHaveLength(1);
      expect(account.D365_Customer_Number__c).toBe(customers[0]!.CustomerAccount);
    }
    // The bulk run publishes a sync result event per account (Collections at this size).
    await h.waitFor(
      () => ids.every((id) => h.syncResults(id).some((e) => e.Status__c === 'Synced')),
      {
        what: 'a Synced event per backlog account'
      }
    );
  });
});
