import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SALESFORCE_COLLECTION_MAX_RECORDS, soqlString } from '../../src/salesforce/index.ts';
import type { SalesforceClient } from '../../src/salesforce/index.ts';
import { startSalesforce } from './helpers.ts';
import type { SalesforceFixture } from './helpers.ts';

let fx: SalesforceFixture;
let sf: SalesforceClient;

beforeAll(async () => {
  fx = await startSalesforce();
  sf = fx.jwtClient();
});

afterAll(async () => {
  await fx.close();
});

beforeEach(() => {
  fx.emulator.control.clearFaults();
  fx.emulator.control.resetData();
  fx.emulator.control.setApiBudget({ dailyApiLimit: 100_000, used: 0 });
});

describe('Salesforce auth', () => {
  it('logs in with the JWT bearer flow and reads the org id from the identity URL', async () => {
    await sf.checkCredentials();
    const session = await sf.session();
    expect(session.orgId).toBe(fx.emulator.orgId);
    expect(session.instanceUrl).toBe(fx.emulator.instanceUrl);
  });

  it('logs in with the client credentials flow', async () => {
    const client = fx.credentialsClient();
    await client.checkCredentials();
    expect((await client.session()).userId).toBe(fx.emulator.integrationUser.id);
  });

  it('reports a JWT signed with an unregistered key as an auth error', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const client = fx.jwtClient({ privateKeyPem: other });
    await expect(client.checkCredentials()).rejects.toMatchObject({
      system: 'salesforce',
      kind: 'auth',
      retryable: false,
      code: 'invalid_grant'
    });
  });

  it('reports a wrong client secret as an auth error', async () => {
    const client = fx.credentialsClient({ clientSecret: 'wrong' });
    await expect(client.checkCredentials()).rejects.toMatchObject({ kind: 'auth' });
  });

  it('logs in again once, transparently, after 401 INVALID_SESSION_ID', async () => {
    const before = await sf.session();
    fx.emulator.control.expireSessions();
    const authCalls = fx.emulator.control.counters().auth;
    const result = await sf.upsert('Account', 'D365_Customer_Number__c', 'C-SESSION', {
      Name: 'Session test'
    });
    expect(result.created).toBe(true);
    expect((await sf.session()).accessToken).not.toBe(before.accessToken);
    expect(fx.emulator.control.counters().auth).toBe(authCalls + 1);
  });
});

describe('Salesforce REST', () => {
  it('upserts by external id: 201 created, then 200 updated', async () => {
    const created = await sf.upsert('Account', 'D365_Customer_Number__c', 'US-001', {
      Name: 'Contoso'
    });
    const updated = await sf.upsert('Account', 'D365_Customer_Number__c', 'US-001', {
      Name: 'Contoso Retail'
    });
    expect(created).toMatchObject({ created: true });
    expect(updated).toEqual({ id: created.id, created: false });
    const rows = fx.emulator.control.records('Account');
    expect(rows.map((row) => row.Name)).toEqual(['Contoso Retail']);
  });

  it('keeps an external id with slashes and quotes inside the URL segment', async () => {
    const id = "A/B'C?D";
    await sf.upsert('Account', 'D365_Customer_Number__c', id, { Name: 'Odd key' });
    expect(fx.emulator.control.records('Account')[0]?.D365_Customer_Number__c).toBe(id);
  });

  it('maps a missing required field to a non-retryable validation error', async () => {
    await expect(
      sf.upsert('Account', 'D365_Customer_Number__c', 'NO-NAME', {})
    ).rejects.toMatchObject({
      kind: 'validation',
      retryable: false,
      code: 'REQUIRED_FIELD_MISSING'
    });
  });

  it('retries a 503 with backoff and succeeds', async () => {
    fx.emulator.control.setFaults({ failNext: 2, errorStatus: 503 });
    await expect(
      sf.upsert('Account', 'D365_Customer_Number__c', 'R-1', { Name: 'Retry' })
    ).resolves.toMatchObject({ created: true });
  });

  it('maps REQUEST_LIMIT_EXCEEDED to a retryable throttled error', async () => {
    fx.emulator.control.setFaults({ requestLimitExceeded: true });
    await expect(sf.request('GET', '/limits')).rejects.toMatchObject({
      kind: 'throttled',
      retryable: true,
      code: 'REQUEST_LIMIT_EXCEEDED'
    });
  });
});

describe('Salesforce sObject Collections', () => {
  const accounts = (n: number, prefix = 'COL'): Record<string, unknown>[] =>
    Array.from({ length: n }, (_, i) => ({
      Name: `Account ${i}`,
      D365_Customer_Number__c: `${prefix}-${i}`
    }));

  it(`upserts 450 records in chunks of ${SALESFORCE_COLLECTION_MAX_RECORDS}: 3 calls`, async () => {
    const before = fx.emulator.control.counters().collections;
    const results = await sf.collections.upsert(
      'Account',
      'D365_Customer_Number__c',
      accounts(450)
    );
    expect(fx.emulator.control.counters().collections - before).toBe(3);
    expect(results).toHaveLength(450);
    expect(results.every((r) => r.success && r.created === true)).toBe(true);
    expect(fx.emulator.control.records('Account')).toHaveLength(450);
  });

  it('reports per-record failures in order, reading statusCode as the error code', async () => {
    const records = [...accounts(2), { D365_Customer_Number__c: 'COL-BAD' }];
    const results = await sf.collections.upsert('Account', 'D365_Customer_Number__c', records);
    expect(results.map((r) => r.success)).toEqual([true, true, false]);
    expect(results[2]?.errors[0]?.errorCode).toBe('REQUIRED_FIELD_MISSING');
  });

  it('creates and then updates records by id', async () => {
    const created = await sf.collections.create('Account', accounts(3, 'CR'));
    const ids = created.map((r) => r.id as string);
    const updated = await sf.collections.update(
      'Account',
      ids.map((id) => ({ Id: id, Name: 'Renamed' }))
    );
    expect(updated.every((r) => r.success)).toBe(true);
    expect(fx.emulator.control.records('Account').map((r) => r.Name)).toEqual([
      'Renamed',
      'Renamed',
      'Renamed'
    ]);
  });
});

describe('Salesforce Composite', () => {
  it('runs dependent subrequests with references in one call', async () => {
    const responses = await sf.composite(
      [
        {
          method: 'POST',
          url: '/services/data/v62.0/sobjects/Account',
          referenceId: 'acct',
          body: { Name: 'Parent' }
        },
        {
          method: 'POST',
          url: '/services/data/v62.0/sobjects/Contact',
          referenceId: 'contact',
          body: { LastName: 'Child', AccountId: '@{acct.id}' }
        }
      ],
      { allOrNone: true }
    );
    expect(responses.map((r) => r.httpStatusCode)).toEqual([201, 201]);
    const accountId = (responses[0]?.body as { id: string }).id;
    expect(fx.emulator.control.records('Contact')[0]?.AccountId).toBe(accountId);
  });

  it('refuses more than 25 subrequests before calling Salesforce', async () => {
    const many = Array.from({ length: 26 }, (_, i) => ({
      method: 'GET' as const,
      url: '/services/data/v62.0/limits',
      referenceId: `r${i}`
    }));
    await expect(sf.composite(many)).rejects.toThrow(/at most 25/);
  });
});

describe('Salesforce SOQL', () => {
  it('follows nextRecordsUrl (queryMore) until every record is read', async () => {
    for (let i = 0; i < 2_500; i += 1)
      fx.emulator.control.insert('Account', { Name: `Q${i}`, D365_Customer_Number__c: `Q-${i}` });
    const before = fx.emulator.control.counters().query;
    const names: string[] = [];
    for await (const row of sf.query<{ Name: string }>('SELECT Name FROM Account'))
      names.push(row.Name);
    expect(names).toHaveLength(2_500);
    expect(new Set(names).size).toBe(2_500);
    expect(fx.emulator.control.counters().query - before).toBe(2);
  });

  it('finds a value containing quotes and backslashes through soqlString', async () => {
    const name = "O'Brien \\ Sons";
    fx.emulator.control.insert('Account', { Name: name });
    fx.emulator.control.insert('Account', { Name: 'Other' });
    const rows: unknown[] = [];
    for await (const row of sf.query(
      `SELECT Id, Name FROM Account WHERE Name = ${soqlString(name)}`
    ))
      rows.push(row);
    expect(rows).toHaveLength(1);
  });
});

describe('Salesforce Bulk API 2.0 ingest', () => {
  it('upserts records and parses successful, failed and unprocessed results', async () => {
    const result = await sf.bulkIngest({
      object: 'Account',
      operation: 'upsert',
      externalIdFieldName: 'D365_Customer_Number__c',
      records: [
        { D365_Customer_Number__c: 'B-1', Name: 'Bulk, "one"' },
        { D365_Customer_Number__c: 'B-2', Name: 'Bulk two' },
        { D365_Customer_Number__c: 'B-3', Name: null }
      ]
    });
    expect(result.state).toBe('JobComplete');
    expect(result.numberRecordsProcessed).toBe(3);
    expect(result.numberRecordsFailed).toBe(1);
    expect(result.successful.map((s) => s.record.Name).sort()).toEqual(['Bulk two', 'Bulk, "one"']);
    expect(result.successful.every((s) => s.created && s.id.length === 18)).toBe(true);
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]).toMatchObject({
      errorCode: 'REQUIRED_FIELD_MISSING',
      record: { D365_Customer_Number__c: 'B-3' }
    });
    expect(result.unprocessed).toEqual([]);
  });

  it('with results: failures downloads only the failed rows, and none when the job reports none', async () => {
    const run = async (records: Array<Record<string, string | null>>) => {
      const before = fx.emulator.control.counters().apiUsed;
      const result = await sf.bulkIngest({
        object: 'Account',
        operation: 'upsert',
        externalIdFieldName: 'D365_Customer_Number__c',
        records,
        results: 'failures',
        firstPollDelayMs: 300
      });
      return { result, calls: fx.emulator.control.counters().apiUsed - before };
    };
    const clean = await run([{ D365_Customer_Number__c: 'L-1', Name: 'Lean one' }]);
    expect(clean.result).toMatchObject({ state: 'JobComplete', successful: [], failed: [] });
    // create, upload, close, one status poll: no result downloads.
    expect(clean.calls).toBe(4);
    const failing = await run([
      { D365_Customer_Number__c: 'L-2', Name: 'Lean two' },
      { D365_Customer_Number__c: 'L-3', Name: null }
    ]);
    expect(failing.result.successful).toEqual([]);
    expect(failing.result.failed.map((f) => f.record.D365_Customer_Number__c)).toEqual(['L-3']);
    expect(failing.calls).toBe(5);
  });
});

describe('Salesforce API budget guard', () => {
  it('reads Sforce-Limit-Info and reports the budget state', async () => {
    fx.emulator.control.setApiBudget({ dailyApiLimit: 1_000, used: 100 });
    await sf.request('GET', '/limits');
    expect(sf.budget()).toMatchObject({ status: 'normal', used: 101, max: 1_000 });
  });

  it('pauses non-urgent calls below the reserve and still lets urgent ones through', async () => {
    const client = fx.jwtClient({ apiReservePercent: 10 });
    fx.emulator.control.setApiBudget({ dailyApiLimit: 1_000, used: 950 });
    await client.request('GET', '/limits', undefined, { urgent: true });
    expect(client.budget().status).toBe('paused');
    const before = fx.emulator.control.counters().apiUsed;
    await expect(client.request('GET', '/limits')).rejects.toMatchObject({
      kind: 'throttled',
      retryable: true,
      code: 'API_BUDGET_RESERVE'
    });
    expect(fx.emulator.control.counters().apiUsed).toBe(before);
    await expect(
      client.upsert(
        'Account',
        'D365_Customer_Number__c',
        'URGENT',
        { Name: 'Urgent' },
        { urgent: true }
      )
    ).resolves.toMatchObject({
      created: true
    });
  });

  it('slows non-urgent calls between the reserve and twice the reserve', async () => {
    const client = fx.jwtClient({ apiReservePercent: 10 });
    fx.emulator.control.setApiBudget({ dailyApiLimit: 1_000, used: 850 });
    await client.request('GET', '/limits', undefined, { urgent: true });
    expect(client.budget().status).toBe('slow');
    const started = performance.now();
    await client.request('GET', '/limits');
    expect(performance.now() - started).toBeGreaterThanOrEqual(500);
  });
});
