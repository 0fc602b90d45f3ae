/** jsforce, a widely used Node client, pointed at the emulator with an access token. */
import { Connection } from 'jsforce';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness } from './helpers.ts';
import type { Harness } from './helpers.ts';

let h: Harness;
let conn: Connection;
beforeAll(async () => {
  h = await startHarness();
  conn = new Connection({ instanceUrl: h.emu.instanceUrl, accessToken: h.token, version: '62.0' });
});
afterAll(() => h.close());

describe('jsforce against the emulator', () => {
  it('reads the identity of the token user', async () => {
    const identity = await conn.identity();
    expect(identity.user_id).toBe(h.emu.integrationUser.id);
    expect(identity.organization_id).toBe(h.emu.orgId);
  });

  it('upserts a single record by External ID', async () => {
    const created = await conn
      .sobject('Account')
      .upsert({ Name: 'Acme', D365_Customer_Number__c: 'JS-1' }, 'D365_Customer_Number__c');
    expect(created).toMatchObject({ success: true, created: true });
    const updated = await conn
      .sobject('Account')
      .upsert({ Name: 'Acme 2', D365_Customer_Number__c: 'JS-1' }, 'D365_Customer_Number__c');
    expect(updated).toMatchObject({
      success: true,
      created: false,
      id: (created as { id: string }).id
    });
  });

  it('upserts many records through sObject Collections', async () => {
    const results = await conn.sobject('Product2').upsert(
      Array.from({ length: 3 }, (_, i) => ({ Name: `Item ${i}`, D365_Item_Number__c: `JS-${i}` })),
      'D365_Item_Number__c'
    );
    expect(results.map((r) => [r.success, (r as { created?: boolean }).created])).toEqual([
      [true, true],
      [true, true],
      [true, true]
    ]);
  });

  it('queries with queryMore across pages', async () => {
    for (let i = 0; i < 2500; i++)
      h.emu.control.insert('Contact', { LastName: `L${String(i).padStart(4, '0')}` });
    const first = await conn.query<{ LastName: string }>(
      'SELECT LastName FROM Contact ORDER BY LastName'
    );
    expect(first.done).toBe(false);
    expect(first.records).toHaveLength(2000);
    const next = await conn.queryMore<{ LastName: string }>(first.nextRecordsUrl as string);
    expect(next.done).toBe(true);
    expect(next.records).toHaveLength(500);
    expect(next.records[0]?.LastName).toBe('L2000');
  });

  it('fetches every record with autoFetch', async () => {
    const result = await conn
      .query('SELECT Id FROM Contact')
      .execute({ autoFetch: true, maxFetch: 10_000 });
    expect(result.records).toHaveLength(2500);
  });

  it('surfaces Salesforce errors with their error codes', async () => {
    await expect(conn.query('SELECT Nope FROM Account')).rejects.toMatchObject({
      errorCode: 'INVALID_FIELD'
    });
    await expect(conn.sobject('Account').create({ Phone: '1' })).rejects.toMatchObject({
      errorCode: 'REQUIRED_FIELD_MISSING'
    });
  });

  it('loads records through Bulk API 2.0 and reads the results', async () => {
    const results = await conn.bulk2.loadAndWaitForResults({
      object: 'Account',
      operation: 'upsert',
      externalIdFieldName: 'D365_Customer_Number__c',
      input: 'Name,D365_Customer_Number__c\nBulk One,BK-1\n,BK-2\n',
      pollInterval: 50,
      pollTimeout: 20_000
    });
    expect(results.successfulResults).toMatchObject([
      { sf__Created: 'true', D365_Customer_Number__c: 'BK-1' }
    ]);
    expect(results.failedResults).toMatchObject([
      {
        sf__Error: 'REQUIRED_FIELD_MISSING:Required fields are missing: [Name]',
        D365_Customer_Number__c: 'BK-2'
      }
    ]);
    expect(results.unprocessedRecords).toEqual([]);
  });

  it('runs a Bulk API 2.0 query', async () => {
    const records = await conn.bulk2.query(
      "SELECT Name FROM Account WHERE D365_Customer_Number__c = 'BK-1'",
      {
        pollInterval: 50,
        pollTimeout: 20_000
      }
    );
    const rows: unknown[] = [];
    for await (const row of records) rows.push(row);
    expect(rows).toEqual([{ Name: 'Bulk One' }]);
  });

  it('describes objects', async () => {
    const describe = await conn.sobject('Account').describe();
    expect(describe.fields.find((f) => f.name === 'D365_Customer_Number__c')?.externalId).toBe(
      true
    );
  });
});
