import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { start, type RunningEmulator } from '../../../../test/emulators/salesforce/index.ts';
import { createWriteBack, writeBackError } from '../../../src/flows/shared/writeback.ts';
import { createSalesforceClient, type SalesforceClient } from '../../../src/salesforce/index.ts';
import { silentLogger } from '../../helpers.ts';

const CLIENT_ID = 'writeback-test';
const CLIENT_SECRET = randomUUID();
let sf: RunningEmulator;
let client: SalesforceClient;

beforeAll(async () => {
  sf = await start({ port: 0, pubsubPort: 0 });
  sf.control.registerClientCredentialsApp({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  client = createSalesforceClient({
    loginUrl: sf.instanceUrl,
    authFlow: 'client_credentials',
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    logger: silentLogger,
    maxAttempts: 1
  });
});

afterAll(async () => {
  await client?.close();
  await sf?.close();
});

beforeEach(() => {
  sf.control.clearFaults();
  sf.control.resetCounters();
});

function account(name: string): string {
  return sf.control.insert('Account', { Name: name });
}

describe('write-back', () => {
  it('sends many queued updates and their events in one Collections call each', async () => {
    const ids = Array.from({ length: 30 }, (_, i) => account(`Batch ${i}`));
    sf.control.resetCounters();
    const writeBack = createWriteBack(client, { maxWaitMs: 20 });
    const results = await Promise.all(
      ids.map((id, i) =>
        writeBack.write({
          sobject: 'Account',
          id,
          fields: { D365_Customer_Number__c: `WB-${i}`, D365_Sync_Status__c: 'Synced' },
          event: {
            recordId: id,
            idempotencyKey: `${id}:1`,
            flow: 'account',
            status: 'Synced',
            d365Key: `WB-${i}`
          }
        })
      )
    );
    expect(results.every((r) => r.success && r.eventPublished)).toBe(true);
    expect(sf.control.counters().collections).toBe(2);
    const stored = sf.control.records('Account') as Array<Record<string, unknown>>;
    expect(stored.find((r) => r.Id === ids[7])?.D365_Customer_Number__c).toBe('WB-7');
  });

  it('splits a queue larger than 200 into calls of at most 200 records', async () => {
    const ids = Array.from({ length: 250 }, (_, i) => account(`Split ${i}`));
    sf.control.resetCounters();
    const writeBack = createWriteBack(client, { maxWaitMs: 1_000 });
    await Promise.all(
      ids.map((id) =>
        writeBack.write({ sobject: 'Account', id, fields: { D365_Sync_Status__c: 'Pending' } })
      )
    );
    // 200 flushed at once when full, the 50 left after the wait: two update calls, no events.
    expect(sf.control.counters().collections).toBe(2);
  });

  it("gives each caller its own record's error and still writes the others", async () => {
    const good = account('Good');
    const bad = account('Bad');
    const writeBack = createWriteBack(client, { maxWaitMs: 10 });
    const [ok, failed] = await Promise.all([
      writeBack.write({ sobject: 'Account', id: good, fields: { D365_Sync_Status__c: 'Synced' } }),
      writeBack.write({
        sobject: 'Account',
        id: bad,
        fields: { D365_Sync_Status__c: 'Not a status' },
        event: { recordId: bad, idempotencyKey: `${bad}:2`, flow: 'account', status: 'Error' }
      })
    ]);
    expect(ok?.success).toBe(true);
    expect(failed?.success).toBe(false);
    expect(failed?.eventPublished).toBe(false);
    expect(failed?.errors[0]?.errorCode).toBe('INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST');
    expect(writeBackError(failed!, 'the account').retryable).toBe(false);
  });

  it('rejects every caller of a flush whose call failed, so their jobs retry', async () => {
    const id = account('Outage');
    sf.control.setFaults({ errorRate: 1, errorStatus: 503 });
    const writeBack = createWriteBack(client, { maxWaitMs: 5 });
    await expect(
      writeBack.write({ sobject: 'Account', id, fields: { D365_Sync_Status__c: 'Synced' } })
    ).rejects.toMatchObject({ retryable: true });
  });

  it('merges two writes to one record in a batch, later fields winning', async () => {
    const id = account('Twice');
    const writeBack = createWriteBack(client, { maxWaitMs: 10 });
    await Promise.all([
      writeBack.write({
        sobject: 'Account',
        id,
        fields: { D365_Sync_Status__c: 'Pending', D365_Sync_Warning__c: 'first' }
      }),
      writeBack.write({ sobject: 'Account', id, fields: { D365_Sync_Status__c: 'Synced' } })
    ]);
    const stored = (sf.control.records('Account') as Array<Record<string, unknown>>).find(
      (r) => r.Id === id
    );
    expect(stored).toMatchObject({ D365_Sync_Status__c: 'Synced', D365_Sync_Warning__c: 'first' });
  });

  it('clips event texts to the event field sizes', async () => {
    const id = account('Long message');
    const writeBack = createWriteBack(client, { maxWaitMs: 5 });
    const result = await writeBack.write({
      sobject: 'Account',
      id,
      fields: { D365_Sync_Status__c: 'Error' },
      event: {
        recordId: id,
        idempotencyKey: `${id}:3`,
        flow: 'account',
        status: 'Error',
        message: 'x'.repeat(400)
      }
    });
    // The emulator validates event fields like Salesforce: a 400-character Message__c would fail.
    expect(result.eventPublished).toBe(true);
  });
});
