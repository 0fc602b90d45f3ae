import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, soql } from './helpers.ts';
import type { Harness } from './helpers.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());
beforeEach(() => h.emu.control.resetData());

interface JobInfo {
  id: string;
  state: string;
  numberRecordsProcessed: number;
  numberRecordsFailed: number;
  errorMessage?: string;
  [key: string]: unknown;
}

async function createJob(body: Record<string, unknown>): Promise<JobInfo> {
  const res = await h.api('POST', '/jobs/ingest', body);
  expect(res.status, res.text).toBe(200);
  return res.body as JobInfo;
}

async function upload(jobId: string, csv: string) {
  return h.api('PUT', `/jobs/ingest/${jobId}/batches`, csv, { 'content-type': 'text/csv' });
}

async function waitFor(
  jobId: string,
  states = ['JobComplete', 'Failed', 'Aborted']
): Promise<JobInfo> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const info = (await h.api('GET', `/jobs/ingest/${jobId}`)).body as JobInfo;
    if (states.includes(info.state)) return info;
    if (Date.now() > deadline) throw new Error(`job stuck in ${info.state}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function results(
  jobId: string,
  kind: string
): Promise<{ text: string; rows: Record<string, string>[] }> {
  const res = await h.api('GET', `/jobs/ingest/${jobId}/${kind}/`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
  return { text: res.text, rows: parse(res.text, { columns: true }) as Record<string, string>[] };
}

async function runJob(body: Record<string, unknown>, csv: string): Promise<JobInfo> {
  const job = await createJob(body);
  expect((await upload(job.id, csv)).status).toBe(201);
  const closed = await h.api('PATCH', `/jobs/ingest/${job.id}`, { state: 'UploadComplete' });
  expect(closed.status).toBe(200);
  return waitFor(job.id);
}

describe('Bulk API 2.0 ingest', () => {
  it('creates an Open job with the documented job info', async () => {
    const job = await createJob({
      object: 'Account',
      operation: 'upsert',
      externalIdFieldName: 'D365_Customer_Number__c',
      contentType: 'CSV',
      lineEnding: 'LF'
    });
    expect(job).toMatchObject({
      id: expect.stringMatching(/^750\w{15}$/),
      operation: 'upsert',
      object: 'Account',
      createdById: h.emu.integrationUser.id,
      state: 'Open',
      externalIdFieldName: 'D365_Customer_Number__c',
      concurrencyMode: 'Parallel',
      contentType: 'CSV',
      apiVersion: 62,
      contentUrl: `services/data/v62.0/jobs/ingest/${job.id}/batches`,
      lineEnding: 'LF',
      columnDelimiter: 'COMMA'
    });
    expect(job.createdDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);
  });

  it('rejects an upsert job without an External ID field', async () => {
    const res = await h.api('POST', '/jobs/ingest', { object: 'Account', operation: 'upsert' });
    expect(res.status).toBe(400);
    expect((res.body as { errorCode: string }[])[0]?.errorCode).toBe('INVALIDJOB');
  });

  it('upserts rows and serves successful and failed results as documented CSV', async () => {
    const existing = h.emu.control.insert('Account', {
      Name: 'Old',
      D365_Customer_Number__c: 'C1'
    });
    const csv = [
      'D365_Customer_Number__c,Name,D365_Open_Balance__c,D365_Sync_Status__c',
      'C1,"Acme, Inc.",10.5,Synced',
      'C2,"Beta ""B""",,Pending',
      'C3,Gamma,abc,Synced',
      'C4,Delta,1,Nope'
    ].join('\n');
    const info = await runJob(
      { object: 'Account', operation: 'upsert', externalIdFieldName: 'D365_Customer_Number__c' },
      csv
    );
    expect(info).toMatchObject({
      state: 'JobComplete',
      numberRecordsProcessed: 4,
      numberRecordsFailed: 2
    });

    const ok = await results(info.id, 'successfulResults');
    expect(ok.text.split('\n')[0]).toBe(
      '"sf__Id","sf__Created",D365_Customer_Number__c,Name,D365_Open_Balance__c,D365_Sync_Status__c'
    );
    expect(ok.rows).toEqual([
      {
        sf__Id: existing,
        sf__Created: 'false',
        D365_Customer_Number__c: 'C1',
        Name: 'Acme, Inc.',
        D365_Open_Balance__c: '10.5',
        D365_Sync_Status__c: 'Synced'
      },
      {
        sf__Id: expect.stringMatching(/^001/),
        sf__Created: 'true',
        D365_Customer_Number__c: 'C2',
        Name: 'Beta "B"',
        D365_Open_Balance__c: '',
        D365_Sync_Status__c: 'Pending'
      }
    ]);

    const failed = await results(info.id, 'failedResults');
    expect(failed.text.split('\n')[0]).toBe(
      '"sf__Id","sf__Error",D365_Customer_Number__c,Name,D365_Open_Balance__c,D365_Sync_Status__c'
    );
    expect(
      failed.rows.map((r) => [r.sf__Id, r.sf__Error?.split(':')[0], r.D365_Customer_Number__c])
    ).toEqual([
      ['', 'INVALID_TYPE_ON_FIELD_IN_RECORD', 'C3'],
      ['', 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', 'C4']
    ]);

    const stored = await h.api(
      'GET',
      soql("SELECT Name, D365_Open_Balance__c FROM Account WHERE D365_Customer_Number__c = 'C1'")
    );
    expect((stored.body as { records: unknown[] }).records).toMatchObject([
      { Name: 'Acme, Inc.', D365_Open_Balance__c: 10.5 }
    ]);
  });

  it('leaves fields unchanged for blank cells and clears them with #N/A', async () => {
    const id = h.emu.control.insert('Account', { Name: 'Keep', Phone: '1', BillingCity: 'Oslo' });
    const info = await runJob(
      { object: 'Account', operation: 'update' },
      `Id,Phone,BillingCity\n${id},,#N/A\n`
    );
    expect(info.numberRecordsFailed).toBe(0);
    expect((await h.api('GET', `/sobjects/Account/${id}`)).body).toMatchObject({
      Phone: '1',
      BillingCity: null
    });
  });

  it('reports the record id of failed updates and deletes', async () => {
    const info = await runJob(
      { object: 'Account', operation: 'delete' },
      'Id\n001000000000000AAA\n'
    );
    const failed = await results(info.id, 'failedResults');
    expect(failed.rows).toEqual([
      {
        sf__Id: '001000000000000AAA',
        sf__Error: 'NOT_FOUND:The requested resource does not exist',
        Id: '001000000000000AAA'
      }
    ]);
  });

  it('fails the job for an unknown column and returns every row unprocessed', async () => {
    const info = await runJob(
      { object: 'Account', operation: 'insert' },
      'Name,Bogus__c\nA,1\nB,2\n'
    );
    expect(info.state).toBe('Failed');
    expect(info.errorMessage).toBe('InvalidBatch : Field name not found : Bogus__c');
    const unprocessed = await results(info.id, 'unprocessedrecords');
    expect(unprocessed.text.split('\n')[0]).toBe('Name,Bogus__c');
    expect(unprocessed.rows).toEqual([
      { Name: 'A', Bogus__c: '1' },
      { Name: 'B', Bogus__c: '2' }
    ]);
  });

  it('resolves relationship columns through a parent External ID', async () => {
    const account = h.emu.control.insert('Account', {
      Name: 'Parent',
      D365_Customer_Number__c: 'P1'
    });
    const info = await runJob(
      { object: 'Invoice__c', operation: 'upsert', externalIdFieldName: 'D365_Invoice_Key__c' },
      'D365_Invoice_Key__c,Name,Account__r.D365_Customer_Number__c,Amount__c,Invoice_Date__c\nusmf|CIV-1,CIV-1,P1,99.95,2025-01-31\n'
    );
    expect(info.numberRecordsFailed).toBe(0);
    const res = await h.api(
      'GET',
      soql(
        "SELECT Account__c, Invoice_Date__c FROM Invoice__c WHERE D365_Invoice_Key__c = 'USMF|civ-1'"
      )
    );
    expect((res.body as { records: unknown[] }).records).toMatchObject([
      { Account__c: account, Invoice_Date__c: '2025-01-31' }
    ]);
  });

  it('aborts a job and lists, then deletes it', async () => {
    const job = await createJob({ object: 'Account', operation: 'insert' });
    await upload(job.id, 'Name\nA\n');
    const aborted = await h.api('PATCH', `/jobs/ingest/${job.id}`, { state: 'Aborted' });
    expect((aborted.body as JobInfo).state).toBe('Aborted');
    const list = (await h.api('GET', '/jobs/ingest')).body as { done: boolean; records: JobInfo[] };
    expect(list.done).toBe(true);
    expect(list.records.map((r) => r.id)).toContain(job.id);
    expect((await h.api('DELETE', `/jobs/ingest/${job.id}`)).status).toBe(204);
    expect((await h.api('GET', `/jobs/ingest/${job.id}`)).status).toBe(404);
  });

  it('refuses uploads once the job is closed', async () => {
    const info = await runJob({ object: 'Account', operation: 'insert' }, 'Name\nA\n');
    const res = await upload(info.id, 'Name\nB\n');
    expect(res.status).toBe(409);
  });

  it('processes 20,000 rows without blocking other requests', async () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => `Item ${i},I${i}`);
    const job = await createJob({
      object: 'Product2',
      operation: 'upsert',
      externalIdFieldName: 'D365_Item_Number__c'
    });
    await upload(job.id, `Name,D365_Item_Number__c\n${rows.join('\n')}\n`);
    await h.api('PATCH', `/jobs/ingest/${job.id}`, { state: 'UploadComplete' });
    const during = Date.now();
    expect((await h.api('GET', '/limits')).status).toBe(200);
    expect(Date.now() - during).toBeLessThan(500);
    const info = await waitFor(job.id);
    expect(info).toMatchObject({
      state: 'JobComplete',
      numberRecordsProcessed: 20_000,
      numberRecordsFailed: 0
    });
  });
});

describe('Bulk API 2.0 platform events', () => {
  it('publishes one event per inserted row', async () => {
    const before = h.emu.control.pubsub?.counters().eventsPublished ?? 0;
    const info = await runJob(
      { object: 'D365_Sync_Result__e', operation: 'insert' },
      'Record_Id__c,Status__c\n001000000000000AAA,Synced\n0010000000000000000000,Error\n'
    );
    expect(info).toMatchObject({
      state: 'JobComplete',
      numberRecordsProcessed: 2,
      numberRecordsFailed: 1
    });
    const ok = await results(info.id, 'successfulResults');
    expect(ok.rows).toEqual([
      {
        sf__Id: expect.stringMatching(/^e00/),
        sf__Created: 'true',
        Record_Id__c: '001000000000000AAA',
        Status__c: 'Synced'
      }
    ]);
    const failed = await results(info.id, 'failedResults');
    expect(failed.rows[0]?.sf__Error).toMatch(/^STRING_TOO_LONG:/);
    expect((h.emu.control.pubsub?.counters().eventsPublished ?? 0) - before).toBe(1);
  });

  it('refuses operations other than insert on a platform event', async () => {
    const res = await h.api('POST', '/jobs/ingest', {
      object: 'D365_Sync_Result__e',
      operation: 'upsert',
      externalIdFieldName: 'Record_Id__c'
    });
    expect(res.status).toBe(400);
  });
});

describe('Bulk API 2.0 query', () => {
  it('runs a query job and returns CSV with relationship columns', async () => {
    const account = h.emu.control.insert('Account', { Name: 'Parent' });
    h.emu.control.insert('Contact', { LastName: 'Child', AccountId: account });
    const created = await h.api('POST', '/jobs/query', {
      operation: 'query',
      query: 'SELECT LastName, Account.Name FROM Contact'
    });
    const id = (created.body as JobInfo).id;
    let info: JobInfo;
    do {
      await new Promise((resolve) => setTimeout(resolve, 10));
      info = (await h.api('GET', `/jobs/query/${id}`)).body as JobInfo;
    } while (info.state !== 'JobComplete');
    const res = await h.api('GET', `/jobs/query/${id}/results`);
    expect(res.headers.get('sforce-locator')).toBe('null');
    expect(res.headers.get('sforce-numberofrecords')).toBe('1');
    expect(parse(res.text, { columns: true })).toEqual([
      { LastName: 'Child', 'Account.Name': 'Parent' }
    ]);
  });
});
