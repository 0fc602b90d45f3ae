import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { accountFlow } from '../../relay/src/flows/account/index.ts';
import { contactFlow } from '../../relay/src/flows/contact/index.ts';
import { startHarness, TOPICS, type Harness, type SfRecord } from './harness.ts';

/** Contact → D365 contact person over both emulators. */
let h: Harness;

beforeAll(async () => {
  // Fewer attempts than in production, so the bounded wait ends within the test.
  h = await startHarness({ flows: [accountFlow, { ...contactFlow, maxAttempts: 3 }] });
});
afterAll(async () => h?.close());
beforeEach(() => {
  h.d365.control.clearFaults();
  h.salesforce.control.clearFaults();
});

async function status(sobject: string, id: string, wanted: string): Promise<SfRecord> {
  return h.waitFor(
    () => {
      const record = h.record(sobject, id);
      return record?.D365_Sync_Status__c === wanted ? record : undefined;
    },
    { what: `${sobject} ${id} to be ${wanted}`, timeoutMs: 25_000 }
  );
}

async function syncedAccount(name: string): Promise<SfRecord> {
  const { id } = await h.createAccount({ Name: name });
  return status('Account', id, 'Synced');
}

function person(id: unknown): SfRecord | undefined {
  return h.d365.control
    .read('ContactPersons', { legalEntity: '*' })
    .find((p) => p.ContactPersonId === id);
}

function partyOf(account: SfRecord): string {
  return String(
    h.d365.control
      .read('CustomersV3', { legalEntity: '*' })
      .find((c) => c.CustomerAccount === account.D365_Customer_Number__c)!.PartyNumber
  );
}

describe('contact person', () => {
  it('creates the person on the customer and writes its id back', async () => {
    const account = await syncedAccount('People Corp');
    const { id } = await h.createContact({
      AccountId: account.Id,
      FirstName: 'Ada',
      LastName: 'Lovelace',
      Email: 'ada@people.example',
      Phone: '+44 20 7946 0000',
      Title: 'Chief Analyst'
    });
    const contact = await status('Contact', id, 'Synced');
    expect(person(contact.D365_Contact_Person_Id__c)).toMatchObject({
      AssociatedPartyNumber: partyOf(account),
      FirstName: 'Ada',
      LastName: 'Lovelace',
      PrimaryEmailAddress: 'ada@people.example',
      PrimaryPhoneNumber: '+44 20 7946 0000',
      EmploymentJobTitle: 'Chief Analyst'
    });
    await h.waitFor(() => h.syncResults(String(contact.Id)).find((e) => e.Status__c === 'Synced'), {
      what: 'the sync result'
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(
      h.events(TOPICS.contactSync).filter((e) => e.payload.Record_Id__c === contact.Id)
    ).toHaveLength(1);
  });

  it('writes a truncation on the contact as a warning, and clears it once the data fits', async () => {
    const account = await syncedAccount('Long Names Inc');
    const { id } = await h.createContact({
      AccountId: account.Id,
      FirstName: 'Maximiliana-Alexandrina-Jo',
      LastName: 'Short'
    });
    const contact = await status('Contact', id, 'Synced');
    expect(contact.D365_Sync_Warning__c).toBe('First name cut to 25 characters in D365');
    expect(person(contact.D365_Contact_Person_Id__c)?.FirstName).toBe('Maximiliana-Alexandrina-J');
    await h.update('Contact', id, { D365_Sync_Status__c: 'Pending' });
    await h.updateContact(id, { FirstName: 'Maxi' });
    expect((await status('Contact', id, 'Synced')).D365_Sync_Warning__c).toBeNull();
  });

  it('updates only the changed fields', async () => {
    const account = await syncedAccount('Update People Ltd');
    const { id } = await h.createContact({
      AccountId: account.Id,
      LastName: 'Hopper',
      Title: 'Rear Admiral'
    });
    const contact = await status('Contact', id, 'Synced');
    await h.clients.d365.update(
      'ContactPersons',
      { dataAreaId: 'usmf', ContactPersonId: String(contact.D365_Contact_Person_Id__c) },
      { EmploymentJobTitle: 'Set in D365' }
    );
    await h.update('Contact', id, { D365_Sync_Status__c: 'Pending' });
    await h.updateContact(id, { Email: 'grace@people.example' });
    await status('Contact', id, 'Synced');
    expect(person(contact.D365_Contact_Person_Id__c)).toMatchObject({
      PrimaryEmailAddress: 'grace@people.example',
      EmploymentJobTitle: 'Set in D365'
    });
  });

  it('waits for an account that is not a customer yet, starting its sync', async () => {
    // Inserted without an event: only the contact's wait can bring it to D365.
    const accountId = h.insert('Account', { Name: 'Late Customer Inc' });
    const { id } = await h.createContact({ AccountId: accountId, LastName: 'Waiting' });
    const contact = await status('Contact', id, 'Synced');
    const account = h.record('Account', accountId)!;
    expect(account.D365_Customer_Number__c).toBeTruthy();
    expect(person(contact.D365_Contact_Person_Id__c)).toMatchObject({
      AssociatedPartyNumber: partyOf(account)
    });
  });

  it('records a duplicate on the contact and does not retry it', async () => {
    const account = await syncedAccount('Duplicate People GmbH');
    h.d365.control.insert(
      'ContactPersons',
      {
        AssociatedPartyNumber: partyOf(account),
        FirstName: 'Existing',
        LastName: 'Person',
        PrimaryEmailAddress: 'same@dup.example'
      },
      'usmf'
    );
    const { id } = await h.createContact({
      AccountId: account.Id,
      LastName: 'Someone',
      Email: 'SAME@dup.example'
    });
    const contact = await status('Contact', id, 'Error');
    expect(String(contact.D365_Last_Sync_Error__c)).toMatch(/already has this person/);
    // The job ends right after its write-back: done, not retried and not dead-lettered.
    const counts = await h.waitFor(
      async () => {
        const c = await h.relay().store.counts();
        return (c.pending.contacts ?? 0) === 0 ? c : undefined;
      },
      { what: 'the job to finish' }
    );
    expect(counts.deadLetters.contacts ?? 0).toBe(0);
  });

  it('records a D365 validation error on the contact', async () => {
    const account = await syncedAccount('Validation People');
    const { id } = await h.createContact({ AccountId: account.Id, LastName: 'Refused' });
    await status('Contact', id, 'Synced');
    // The stored contact person id no longer exists in D365.
    await h.update('Contact', id, { D365_Contact_Person_Id__c: 'NOPE-404' });
    await h.updateContact(id, { Title: 'Ghost' });
    const failed = await status('Contact', id, 'Error');
    expect(String(failed.D365_Last_Sync_Error__c)).toMatch(/not found in D365/);
  });

  it('stops waiting after the bounded retries and dead-letters with the reason', async () => {
    // D365 refuses this account (unknown company), so it never becomes a customer.
    const accountId = h.insert('Account', {
      Name: 'Never A Customer',
      D365_Legal_Entity__c: 'ZZZZ'
    });
    const { id } = await h.createContact({ AccountId: accountId, LastName: 'Forever Waiting' });
    const contact = await status('Contact', id, 'Error');
    expect(String(contact.D365_Last_Sync_Error__c)).toMatch(/not a D365 customer yet/);
    // The contact's status is written just before the job is dead-lettered.
    const dead = await h.waitFor(
      async () => (await h.relay().store.listDeadLetters({ flow: 'contacts', limit: 1 }))[0],
      { what: 'the dead letter' }
    );
    expect(dead.lastError).toMatch(/did not become a D365 customer within 3 attempts/);
    await status('Account', accountId, 'Error');
  });

  it('rides out a 429 storm and an expired Salesforce session', async () => {
    const account = await syncedAccount('Stormy People');
    h.d365.control.throttleStorm({ seconds: 2, retryAfterSeconds: 1 });
    h.salesforce.control.expireSessions();
    const { id } = await h.createContact({ AccountId: account.Id, LastName: 'Resilient' });
    await status('Contact', id, 'Synced');
  });
});
