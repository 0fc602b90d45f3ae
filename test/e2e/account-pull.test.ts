import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountFlow } from '../../relay/src/flows/account/index.ts';
import { startHarness, TOPICS, type Harness, type SfRecord } from './harness.ts';

/** The relay's own scheduler pulls the D365-owned fields (ACCOUNT_PULL_CRON, here every second). */
let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    flows: [accountFlow],
    env: { ACCOUNT_PULL_CRON: '* * * * * *', ACCOUNT_FIELD_OWNERSHIP: 'customerGroup:salesforce' }
  });
});
afterAll(async () => h?.close());

async function waitForAccount(id: string, test: (a: SfRecord) => boolean, what: string) {
  return h.waitFor(
    () => {
      const account = h.record('Account', id);
      return account && test(account) ? account : undefined;
    },
    { what, timeoutMs: 20_000 }
  );
}

describe('scheduled pull of D365-owned fields', () => {
  it('brings D365 changes over on schedule, and sends the Salesforce-owned group the other way', async () => {
    const { id } = await h.createAccount({ Name: 'Scheduled Pull Co' });
    const account = await waitForAccount(id, (a) => a.D365_Sync_Status__c === 'Synced', 'sync');
    const key = { dataAreaId: 'usmf', CustomerAccount: String(account.D365_Customer_Number__c) };
    await h.clients.d365.update('CustomersV3', key, { CreditLimit: 1234.5 });
    const pulled = await waitForAccount(
      id,
      (a) => a.D365_Credit_Limit__c === 1234.5,
      'the credit limit pulled by the scheduler'
    );
    expect(pulled.D365_On_Hold__c).toBe('No');
    // Salesforce owns the customer group here: a value set on the account goes to D365.
    await h.update('Account', id, { D365_Customer_Group__c: '10' });
    await h.waitFor(
      () =>
        h.d365.control
          .read('CustomersV3', { legalEntity: 'usmf' })
          .find((c) => c.CustomerAccount === key.CustomerAccount && c.CustomerGroupId === '10'),
      { what: 'the customer group in D365', timeoutMs: 20_000 }
    );
    expect(
      h.events(TOPICS.accountSync).filter((e) => e.payload.Record_Id__c === account.Id)
    ).toHaveLength(1);
    const ledger = await h.relay().store.queryLedger({ flow: 'accounts', limit: 50 });
    expect(ledger.some((e) => e.recordKey === 'pull:d365-owned')).toBe(true);
  });
});
