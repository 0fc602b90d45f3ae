import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../relay/src/cli.ts';
import { accountFlow } from '../../relay/src/flows/account/index.ts';
import { startHarness, TOPICS, type Harness, type SfRecord } from './harness.ts';

/** Account → D365 customer over both emulators, through Pub/Sub, the queue and the write-back. */
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ flows: [accountFlow] });
});
afterAll(async () => h?.close());
beforeEach(() => {
  h.d365.control.clearFaults();
  h.salesforce.control.clearFaults();
});

function customersOf(accountId: string): SfRecord[] {
  return h.d365.control
    .read('CustomersV3', { legalEntity: '*' })
    .filter((c) => c.IdentificationNumber === accountId);
}

async function synced(id: string, status = 'Synced'): Promise<SfRecord> {
  return h.waitFor(
    () => {
      const account = h.record('Account', id);
      return account?.D365_Sync_Status__c === status ? account : undefined;
    },
    { what: `account ${id} to be ${status}`, timeoutMs: 20_000 }
  );
}

describe('new account', () => {
  it('creates the customer with the mapped fields and writes the number back', async () => {
    const { id, idempotencyKey } = await h.createAccount({
      Name: 'Contoso Pharmaceuticals',
      BillingStreet: '1 Main St\r\nSuite 5',
      BillingCity: 'Seattle',
      BillingState: 'Washington',
      BillingPostalCode: '98052',
      BillingCountry: 'United States',
      Phone: '+1 425 555 0100',
      Website: 'https://contoso.example'
    });
    const account = await synced(id);
    const [customer, ...others] = customersOf(id);
    expect(others).toEqual([]);
    expect(customer).toMatchObject({
      dataAreaId: 'usmf',
      OrganizationName: 'Contoso Pharmaceuticals',
      AddressStreet: '1 Main St\nSuite 5',
      AddressCity: 'Seattle',
      AddressState: 'WA',
      AddressZipCode: '98052',
      AddressCountryRegionId: 'USA',
      PrimaryContactPhone: '+1 425 555 0100',
      PrimaryContactURL: 'https://contoso.example',
      CustomerGroupId: '30'
    });
    expect(account.D365_Customer_Number__c).toBe(customer!.CustomerAccount);
    expect(account.D365_Last_Synced__c).toBeTruthy();
    expect(account.D365_Sync_Warning__c ?? null).toBeNull();
    const result = await h.waitFor(() => h.syncResults(id)[0], { what: 'the sync result event' });
    expect(result).toMatchObject({
      Idempotency_Key__c: idempotencyKey,
      Flow__c: 'accounts',
      Status__c: 'Synced',
      D365_Key__c: customer!.CustomerAccount
    });
  });

  it('does not echo: its write-back publishes no new account sync event', async () => {
    const { id } = await h.createAccount({ Name: 'Echo Check Ltd' });
    await synced(id);
    await new Promise((r) => setTimeout(r, 500));
    expect(h.events(TOPICS.accountSync).filter((e) => e.payload.Record_Id__c === id)).toHaveLength(
      1
    );
  });

  it('truncates a name over 100 characters and flags it on the account', async () => {
    const { id } = await h.createAccount({ Name: `Long ${'n'.repeat(120)}` });
    const account = await synced(id);
    expect(String(customersOf(id)[0]!.OrganizationName)).toHaveLength(100);
    expect(account.D365_Sync_Warning__c).toBe('Name cut to 100 characters in D365');
  });

  it('routes to the legal entity of the account', async () => {
    const { id } = await h.createAccount({ Name: 'Routed GmbH', D365_Legal_Entity__c: 'DEMF' });
    await synced(id);
    expect(customersOf(id)[0]).toMatchObject({ dataAreaId: 'demf' });
  });

  it('finds the customer a crashed run created instead of creating a second one', async () => {
    const id = h.insert('Account', { Name: 'Crashed Before Write-back' });
    h.d365.control.insert(
      'CustomersV3',
      {
        OrganizationName: 'Crashed Before Write-back',
        CustomerGroupId: '30',
        IdentificationNumber: h.record('Account', id)!.Id
      },
      'usmf'
    );
    const existing = customersOf(String(h.record('Account', id)!.Id))[0]!;
    await h.updateAccount(id, { Phone: '555 0199' });
    const account = await synced(id);
    expect(account.D365_Customer_Number__c).toBe(existing.CustomerAccount);
    expect(customersOf(String(account.Id))).toHaveLength(1);
  });
});

describe('racing events', () => {
  it('creates one customer when an edit follows the create before its number is back', async () => {
    const { id } = await h.createAccount({ Name: 'Quick Edit Ltd' });
    // Published at once, before the create's write-back: this event also has no customer number.
    await h.updateAccount(id, { Phone: '555 0142' });
    await h.waitFor(
      () =>
        h.record('Account', id)?.D365_Sync_Status__c === 'Synced' &&
        h.relay().worker.inFlight === 0,
      { what: 'both jobs' }
    );
    await h.waitFor(async () => ((await h.relay().store.counts()).pending.accounts ?? 0) === 0, {
      what: 'an empty queue'
    });
    const customers = customersOf(String(h.record('Account', id)!.Id));
    expect(customers).toHaveLength(1);
    expect(customers[0]).toMatchObject({ PrimaryContactPhone: '555 0142' });
  });
});

describe('changed account', () => {
  it('sends only the changed fields', async () => {
    const { id } = await h.createAccount({ Name: 'Partial Update Inc', Phone: '111' });
    const account = await synced(id);
    const key = { dataAreaId: 'usmf', CustomerAccount: String(account.D365_Customer_Number__c) };
    // Someone renames the customer in D365; a phone change in Salesforce must not undo it.
    await h.clients.d365.update('CustomersV3', key, { OrganizationName: 'Renamed in D365' });
    await h.update('Account', id, { D365_Sync_Status__c: 'Pending' });
    await h.updateAccount(id, { Phone: '222' });
    await synced(id);
    expect(customersOf(String(account.Id))[0]).toMatchObject({
      OrganizationName: 'Renamed in D365',
      PrimaryContactPhone: '222'
    });
  });
});

describe('failures', () => {
  it('records a D365 validation error on the account in words a rep understands, without retrying', async () => {
    const { id } = await h.createAccount({ Name: 'Nowhere Ltd', D365_Legal_Entity__c: 'ZZZZ' });
    const account = await synced(id, 'Error');
    expect(String(account.D365_Last_Sync_Error__c)).toMatch(/^D365 refused this account: /);
    expect(String(account.D365_Last_Sync_Error__c)).toMatch(/save it again/);
    const result = await h.waitFor(
      () => h.syncResults(String(account.Id)).find((e) => e.Status__c === 'Error'),
      { what: 'the error event' }
    );
    expect(result.Message__c).toBeTruthy();
    // The job ends right after its write-back: done, not retried and not dead-lettered.
    const counts = await h.waitFor(
      async () => {
        const c = await h.relay().store.counts();
        return (c.pending.accounts ?? 0) === 0 ? c : undefined;
      },
      { what: 'the job to finish' }
    );
    expect(counts.deadLetters.accounts ?? 0).toBe(0);
  });

  it('rides out a 429 storm from D365', async () => {
    h.d365.control.throttleStorm({ seconds: 2, retryAfterSeconds: 1 });
    const { id } = await h.createAccount({ Name: 'Storm Survivor' });
    await synced(id);
    expect(customersOf(String(h.record('Account', id)!.Id))).toHaveLength(1);
    expect(h.d365.control.counters().throttled).toBeGreaterThan(0);
  });

  it('gets a new D365 token when the current one is refused', async () => {
    h.d365.control.queueFaults([{ kind: 'status', status: 401 }]);
    const { id } = await h.createAccount({ Name: 'Token Refreshed' });
    await synced(id);
  });

  it('logs in to Salesforce again when the session expired', async () => {
    h.salesforce.control.expireSessions();
    const { id } = await h.createAccount({ Name: 'Session Renewed' });
    await synced(id);
  });

  it('retries only the write-back when Salesforce fails it, creating the customer once', async () => {
    const { id } = await h.createAccount({ Name: 'Write-back Retried' });
    const fullId = String(h.record('Account', id)!.Id);
    await h.waitFor(() => customersOf(fullId).length === 1, { what: 'the customer' });
    // From here the relay's Salesforce calls fail for a while: more than the client retries in-process.
    h.salesforce.control.setFaults({ failNext: 6, errorStatus: 503 });
    await synced(id);
    expect(customersOf(fullId)).toHaveLength(1);
  });
});

describe('bulk', () => {
  it('loads every unsynced account through one DMF import (sync accounts --full)', async () => {
    // Above 400 results both the write-back and the sync result events go through Bulk API 2.0.
    const ids = Array.from({ length: 401 }, (_, i) =>
      h.insert('Account', { Name: `Initial Load ${i}`, BillingCountry: 'DE' })
    );
    // Routed to a company D365 does not have: its failure is reported on the account itself.
    const refused = h.insert('Account', {
      Name: 'Initial Load Refused',
      D365_Legal_Entity__c: 'QQQQ'
    });
    // The operator's command, against the relay's store; the running relay's worker picks it up.
    const out: string[] = [];
    const code = await main(
      ['sync', 'accounts', '--full'],
      { out: (line) => out.push(line), err: (line) => out.push(line) },
      { RELAY_STORE_URL: h.config.values.RELAY_STORE_URL }
    );
    expect({ code, out }).toMatchObject({
      code: 0,
      out: [expect.stringMatching(/^Queued a full sync of accounts/)]
    });
    for (const id of ids) await synced(id);
    const account = h.record('Account', ids[0]!)!;
    expect(customersOf(String(account.Id))[0]).toMatchObject({
      CustomerAccount: account.D365_Customer_Number__c,
      AddressCountryRegionId: 'DEU'
    });
    expect(h.d365.control.counters().dmfJobs.imports).toBeGreaterThan(0);
    const failed = await synced(refused, 'Error');
    expect(String(failed.D365_Last_Sync_Error__c)).toMatch(
      /^D365 did not take this account in the bulk import/
    );
    // Open Account pages refresh: one sync result event per account, published in one Bulk job.
    const events = await h.waitFor(
      () => {
        const all = [...ids, refused].map((id) =>
          h.syncResults(String(h.record('Account', id)!.Id))
        );
        return all.every((e) => e.length > 0) ? all : null;
      },
      { what: 'a sync result event per account' }
    );
    expect(events[0]![0]).toMatchObject({
      Flow__c: 'accounts',
      Status__c: 'Synced',
      D365_Key__c: account.D365_Customer_Number__c
    });
    expect(events.at(-1)![0]).toMatchObject({
      Status__c: 'Error',
      Message__c: expect.stringMatching(/^D365 did not take this account/)
    });
  });
});

describe('D365-owned fields', () => {
  it('pulls credit limit, group and on-hold into Salesforce, writing nothing that echoes', async () => {
    const { id } = await h.createAccount({ Name: 'Credit Checked' });
    const account = await synced(id);
    await h.clients.d365.update(
      'CustomersV3',
      { dataAreaId: 'usmf', CustomerAccount: String(account.D365_Customer_Number__c) },
      { CreditLimit: 25000, OnHoldStatus: 'Invoice' }
    );
    const relay = h.relay();
    await relay.store.enqueue({
      flow: 'accounts',
      idempotencyKey: `schedule:pull:${randomUUID()}`,
      payload: { trigger: 'schedule', task: 'pull' },
      maxAttempts: 3,
      correlationId: randomUUID()
    });
    relay.worker.wake();
    const pulled = await h.waitFor(
      () => {
        const a = h.record('Account', id);
        return a?.D365_Credit_Limit__c === 25000 ? a : undefined;
      },
      { what: 'the pulled credit limit' }
    );
    expect(pulled).toMatchObject({ D365_On_Hold__c: 'Invoice', D365_Customer_Group__c: '30' });
    expect(
      h.events(TOPICS.accountSync).filter((e) => e.payload.Record_Id__c === account.Id)
    ).toHaveLength(1);
  });
});
