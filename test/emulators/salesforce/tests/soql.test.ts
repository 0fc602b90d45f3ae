import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, soql } from './helpers.ts';
import type { Harness } from './helpers.ts';

let h: Harness;
const ids: Record<string, string> = {};
const DAY = 86_400_000;
const isoDay = (offsetDays: number) =>
  new Date(Date.now() + offsetDays * DAY).toISOString().slice(0, 10);

beforeAll(async () => {
  h = await startHarness();
  const c = h.emu.control;
  ids.acme = c.insert('Account', {
    Name: 'Acme',
    BillingCity: 'Oslo',
    D365_Customer_Number__c: 'C1',
    D365_Open_Balance__c: 100
  });
  ids.beta = c.insert('Account', {
    Name: 'beta',
    BillingCity: 'Bergen',
    D365_Customer_Number__c: 'C2',
    D365_Open_Balance__c: 50
  });
  ids.gamma = c.insert('Account', {
    Name: 'Gamma',
    D365_Open_Balance__c: 75,
    D365_Sync_Status__c: 'Error'
  });
  ids.ann = c.insert('Contact', { LastName: 'Ann', AccountId: ids.acme, Email: 'ann@example.com' });
  ids.bob = c.insert('Contact', { LastName: 'Bob', AccountId: ids.acme });
  ids.opp1 = c.insert('Opportunity', {
    Name: 'Old',
    StageName: 'Prospecting',
    CloseDate: isoDay(-10),
    AccountId: ids.beta
  });
  ids.opp2 = c.insert('Opportunity', {
    Name: 'Now',
    StageName: 'Closed Won',
    CloseDate: isoDay(0),
    AccountId: ids.acme
  });
  ids.opp3 = c.insert('Opportunity', {
    Name: 'Later',
    StageName: 'Qualification',
    CloseDate: isoDay(5)
  });
});
afterAll(() => h.close());

async function query(q: string, path = soql(q)) {
  const res = await h.api('GET', path);
  return res;
}
async function names(q: string): Promise<unknown[]> {
  const res = await query(q);
  expect(res.status, res.text).toBe(200);
  return (res.body as { records: { Name: unknown }[] }).records.map((r) => r.Name);
}

describe('SOQL', () => {
  it('returns records with attributes, in the documented envelope', async () => {
    const res = await query("SELECT Id, Name FROM Account WHERE Name = 'Acme'");
    expect(res.body).toEqual({
      totalSize: 1,
      done: true,
      records: [
        {
          attributes: { type: 'Account', url: `/services/data/v62.0/sobjects/Account/${ids.acme}` },
          Id: ids.acme,
          Name: 'Acme'
        }
      ]
    });
  });

  it('compares strings case-insensitively and orders with NULLS FIRST/LAST', async () => {
    expect(await names("SELECT Name FROM Account WHERE Name = 'BETA'")).toEqual(['beta']);
    expect(
      await names('SELECT Name FROM Account ORDER BY BillingCity ASC NULLS LAST, Name')
    ).toEqual(['beta', 'Acme', 'Gamma']);
    expect(await names('SELECT Name FROM Account ORDER BY Name DESC')).toEqual([
      'Gamma',
      'beta',
      'Acme'
    ]);
  });

  it('filters with AND, OR, NOT, comparisons, IN, LIKE and null checks', async () => {
    expect(
      await names('SELECT Name FROM Account WHERE D365_Open_Balance__c >= 75 ORDER BY Name')
    ).toEqual(['Acme', 'Gamma']);
    expect(
      await names(
        "SELECT Name FROM Account WHERE (BillingCity = 'Oslo' OR BillingCity = null) AND NOT Name LIKE 'g%'"
      )
    ).toEqual(['Acme']);
    expect(
      await names(
        "SELECT Name FROM Account WHERE D365_Customer_Number__c IN ('c1', 'C2') ORDER BY Name"
      )
    ).toEqual(['Acme', 'beta']);
    expect(
      await names(
        "SELECT Name FROM Account WHERE D365_Customer_Number__c NOT IN ('C1') ORDER BY Name"
      )
    ).toEqual(['beta', 'Gamma']);
    expect(
      await names("SELECT Name FROM Account WHERE D365_Sync_Status__c != 'Error' ORDER BY Name")
    ).toEqual(['Acme', 'beta']);
    expect(await names("SELECT Name FROM Account WHERE Name LIKE '_cm%'")).toEqual(['Acme']);
  });

  it('reads escape sequences in string literals and refuses unknown ones', async () => {
    const id = h.emu.control.insert('Account', { Name: "O'Brien_1\\x" });
    try {
      expect(await names("SELECT Name FROM Account WHERE Name = 'O\\'Brien_1\\\\x'")).toEqual([
        "O'Brien_1\\x"
      ]);
      expect(await names("SELECT Name FROM Account WHERE Name LIKE 'O\\'Brien\\_%'")).toEqual([
        "O'Brien_1\\x"
      ]);
      expect(await names("SELECT Name FROM Account WHERE Name LIKE 'O\\'Brien\\%'")).toEqual([]);
      const bad = await query("SELECT Name FROM Account WHERE Name = 'a\\qb'");
      expect((bad.body as { errorCode: string }[])[0]?.errorCode).toBe('MALFORMED_QUERY');
    } finally {
      await h.api('DELETE', `/sobjects/Account/${id}`);
    }
  });

  it('rejects mixing AND and OR without parentheses', async () => {
    const res = await query("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'");
    expect(res.status).toBe(400);
    expect((res.body as { errorCode: string }[])[0]?.errorCode).toBe('MALFORMED_QUERY');
  });

  it('selects parent relationship fields and returns null for a missing parent', async () => {
    const res = await query(
      'SELECT Name, Account.Name, Account.Owner.Username FROM Opportunity ORDER BY Name'
    );
    const records = (res.body as { records: Record<string, unknown>[] }).records;
    // Later (no account), Now (Acme), Old (beta)
    expect(records.map((r) => r.Account)).toEqual([
      null,
      {
        attributes: { type: 'Account', url: `/services/data/v62.0/sobjects/Account/${ids.acme}` },
        Name: 'Acme',
        Owner: expect.objectContaining({ Username: h.emu.integrationUser.username })
      },
      expect.objectContaining({ Name: 'beta' })
    ]);
  });

  it('filters on a parent field and supports an alias', async () => {
    expect(
      await names("SELECT o.Name FROM Opportunity o WHERE o.Account.D365_Customer_Number__c = 'C1'")
    ).toEqual(['Now']);
  });

  it('supports child subqueries', async () => {
    const res = await query(
      "SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName DESC) FROM Account WHERE Name IN ('Acme', 'Gamma') ORDER BY Name"
    );
    const records = (res.body as { records: Record<string, unknown>[] }).records;
    expect(records[0]?.Contacts).toMatchObject({
      totalSize: 2,
      done: true,
      records: [{ LastName: 'Bob' }, { LastName: 'Ann' }]
    });
    expect(records[1]?.Contacts).toBeNull();
  });

  it('supports semi-joins on ID fields', async () => {
    expect(
      await names('SELECT Name FROM Account WHERE Id IN (SELECT AccountId FROM Contact) ')
    ).toEqual(['Acme']);
  });

  it('evaluates date literals and relative date literals', async () => {
    expect(await names('SELECT Name FROM Opportunity WHERE CloseDate = TODAY')).toEqual(['Now']);
    expect(await names('SELECT Name FROM Opportunity WHERE CloseDate < TODAY')).toEqual(['Old']);
    expect(
      await names('SELECT Name FROM Opportunity WHERE CloseDate = LAST_N_DAYS:30 ORDER BY Name')
    ).toEqual(['Now', 'Old']);
    expect(await names('SELECT Name FROM Opportunity WHERE CloseDate = NEXT_N_DAYS:7')).toEqual([
      'Later'
    ]);
    expect(await names(`SELECT Name FROM Opportunity WHERE CloseDate > ${isoDay(1)}`)).toEqual([
      'Later'
    ]);
    expect(
      await names(
        'SELECT Name FROM Account WHERE CreatedDate = TODAY AND CreatedDate > 2020-01-01T00:00:00Z ORDER BY Name'
      )
    ).toHaveLength(3);
    expect(await names('SELECT Name FROM Account WHERE CreatedDate = YESTERDAY')).toEqual([]);
  });

  it('rejects a date literal compared with a date-time field', async () => {
    const res = await query('SELECT Id FROM Account WHERE CreatedDate > 2020-01-01');
    expect(res.status).toBe(400);
    expect((res.body as { errorCode: string }[])[0]?.errorCode).toBe(
      'INVALID_QUERY_FILTER_OPERATOR'
    );
  });

  it('applies LIMIT and OFFSET and counts with COUNT()', async () => {
    expect(await names('SELECT Name FROM Account ORDER BY Name LIMIT 1 OFFSET 1')).toEqual([
      'beta'
    ]);
    expect((await query('SELECT COUNT() FROM Contact')).body).toEqual({
      totalSize: 2,
      done: true,
      records: []
    });
  });

  it('describes the columns of a query with columns=true, as the Salesforce CLI reads them', async () => {
    const columns = async (q: string) => {
      const res = await h.api('GET', `${soql(q)}&columns=true`);
      expect(res.status, res.text).toBe(200);
      return res.body as {
        entityName: string;
        idSelected: boolean;
        columnMetadata: Record<string, unknown>[];
      };
    };
    const joined = await columns('SELECT Id, Account.Owner.Name FROM Contact');
    expect(joined).toMatchObject({
      entityName: 'Contact',
      idSelected: true,
      keyPrefix: '003',
      groupBy: false
    });
    expect(joined.columnMetadata.map((c) => c.columnName)).toEqual(['Id', 'Account']);
    expect(joined.columnMetadata[1]).toMatchObject({
      joinColumns: [
        {
          columnName: 'Owner',
          joinColumns: [{ columnName: 'Name', displayName: 'Account.Owner.Name' }]
        }
      ]
    });
    const nested = await columns('SELECT Name, (SELECT LastName FROM Contacts) FROM Account');
    expect(nested.idSelected).toBe(false);
    expect(nested.columnMetadata[1]).toMatchObject({
      columnName: 'Contacts',
      aggregate: true,
      joinColumns: [{ columnName: 'LastName' }]
    });
  });

  it('answers INVALID_FIELD with the position for an unknown column', async () => {
    const res = await query('SELECT Nope__c FROM Account');
    expect(res.status).toBe(400);
    const [error] = res.body as { errorCode: string; message: string }[];
    expect(error?.errorCode).toBe('INVALID_FIELD');
    expect(error?.message).toContain('ERROR at Row:1:Column:8');
    expect(error?.message).toContain("No such column 'Nope__c' on entity 'Account'");
  });

  it('answers INVALID_TYPE for an unknown object', async () => {
    expect(
      ((await query('SELECT Id FROM Nope__c')).body as { errorCode: string }[])[0]?.errorCode
    ).toBe('INVALID_TYPE');
  });

  it('answers MALFORMED_QUERY for what it does not support', async () => {
    for (const q of [
      'SELECT Name FROM Account GROUP BY Name',
      'SELECT COUNT(Id) FROM Account',
      "SELECT Id FROM Account WHERE Name INCLUDES ('a')",
      'SELECT Id FROM Account WHERE CreatedDate = LAST_FISCAL_QUARTER',
      'SELECT Id FROM Account WHERE CALENDAR_YEAR(CreatedDate) = 2024',
      'SELECT Id FROM Account ORDER BY toLabel(Type)',
      'SELECT FIELDS(ALL) FROM Account LIMIT 1',
      'SELECT Id FROM Account WHERE'
    ]) {
      const res = await query(q);
      expect(res.status, q).toBe(400);
      expect((res.body as { errorCode: string }[])[0]?.errorCode, q).toBe('MALFORMED_QUERY');
    }
  });

  it('rejects an invalid ID literal', async () => {
    const res = await query("SELECT Id FROM Account WHERE Id = 'abc'");
    expect((res.body as { errorCode: string; message: string }[])[0]).toMatchObject({
      errorCode: 'INVALID_QUERY_FILTER_OPERATOR',
      message: expect.stringContaining('invalid ID field: abc')
    });
  });

  it('includes deleted records only in queryAll', async () => {
    const id = h.emu.control.insert('Account', { Name: 'Doomed' });
    await h.api('DELETE', `/sobjects/Account/${id}`);
    expect(await names("SELECT Name FROM Account WHERE Name = 'Doomed'")).toEqual([]);
    const all = await query(
      '',
      `/queryAll?q=${encodeURIComponent("SELECT Name, IsDeleted FROM Account WHERE Name = 'Doomed'")}`
    );
    expect((all.body as { records: unknown[] }).records).toMatchObject([
      { Name: 'Doomed', IsDeleted: true }
    ]);
  });
});

describe('query paging', () => {
  it('pages after 2,000 records through nextRecordsUrl', async () => {
    for (let i = 0; i < 4500; i++)
      h.emu.control.insert('Product2', { Name: `P${String(i).padStart(5, '0')}` });
    const first = await query("SELECT Name FROM Product2 WHERE Name LIKE 'P%' ORDER BY Name");
    const body = first.body as {
      totalSize: number;
      done: boolean;
      nextRecordsUrl: string;
      records: { Name: string }[];
    };
    expect(body.totalSize).toBe(4500);
    expect(body.done).toBe(false);
    expect(body.records).toHaveLength(2000);
    expect(body.nextRecordsUrl).toMatch(/^\/services\/data\/v62\.0\/query\/01g\w{15}-2000$/);
    const second = await query('', body.nextRecordsUrl.replace('/services/data/v62.0', ''));
    const page2 = second.body as {
      done: boolean;
      nextRecordsUrl: string;
      records: { Name: string }[];
    };
    expect(page2.records[0]?.Name).toBe('P02000');
    const third = await query('', page2.nextRecordsUrl.replace('/services/data/v62.0', ''));
    expect(third.body).toMatchObject({ done: true, totalSize: 4500 });
    expect((third.body as { records: unknown[] }).records).toHaveLength(500);
    expect(third.body).not.toHaveProperty('nextRecordsUrl');
  });

  it('honours a smaller batch size from Sforce-Query-Options', async () => {
    const res = await h.api(
      'GET',
      soql("SELECT Name FROM Product2 WHERE Name LIKE 'P%'"),
      undefined,
      {
        'sforce-query-options': 'batchSize=500'
      }
    );
    expect((res.body as { records: unknown[] }).records).toHaveLength(500);
  });

  it('answers INVALID_QUERY_LOCATOR for an unknown cursor', async () => {
    const res = await h.api('GET', '/query/01g000000000000AAA-2000');
    expect(res.status).toBe(400);
    expect((res.body as { errorCode: string }[])[0]?.errorCode).toBe('INVALID_QUERY_LOCATOR');
  });
});
