import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccountLookup } from '../../../src/flows/invoice/accounts.ts';
import type { SalesforceClient } from '../../../src/salesforce/index.ts';
import { startSalesforce, type SalesforceFixture } from '../../salesforce/helpers.ts';

let sf: SalesforceFixture;
let client: SalesforceClient;
const ids = new Map<string, string>();

beforeAll(async () => {
  sf = await startSalesforce();
  client = sf.jwtClient();
  for (const customer of ['US-001', 'US-002']) {
    ids.set(
      customer,
      sf.emulator.control.insert('Account', {
        Name: customer,
        D365_Customer_Number__c: customer
      })
    );
  }
  ids.set(
    'invoice',
    sf.emulator.control.insert('Invoice__c', {
      Name: 'CIV-1',
      Account__c: ids.get('US-001'),
      D365_Invoice_Key__c: 'usmf|CIV-1',
      D365_Modified_At__c: '2026-11-01T10:00:00.000Z'
    })
  );
});

afterAll(async () => {
  await sf.close();
});

describe('batched account look-up of the invoice flow', () => {
  it('answers concurrent jobs from one SOQL query', async () => {
    const lookup = createAccountLookup(client);
    await client.checkCredentials();
    const before = sf.emulator.control.counters().query;
    const [a, b, c, missing] = await Promise.all([
      lookup.find('US-001', 'USMF|civ-1'),
      lookup.find('us-001', 'usmf|CIV-2'),
      lookup.find('US-002', 'usmf|CIV-3'),
      lookup.find('US-404', 'usmf|CIV-4')
    ]);
    expect(sf.emulator.control.counters().query - before).toBe(1);
    expect(a).toEqual({
      accountId: ids.get('US-001'),
      existing: {
        Id: ids.get('invoice'),
        D365_Modified_At__c: expect.stringMatching(/^2026-11-01T10:00:00/)
      }
    });
    expect(b).toEqual({ accountId: ids.get('US-001'), existing: null });
    expect(c).toEqual({ accountId: ids.get('US-002'), existing: null });
    expect(missing).toBeNull();
  });

  it('keeps quotes in customer numbers inside the SOQL literal', async () => {
    const lookup = createAccountLookup(client);
    await expect(lookup.find("X' OR Name != '", 'usmf|CIV-9')).resolves.toBeNull();
  });
});
