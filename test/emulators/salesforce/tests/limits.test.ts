import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { call, startHarness } from './helpers.ts';
import type { Harness } from './helpers.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ dailyApiLimit: 50 });
});
afterAll(() => h.close());
beforeEach(() => {
  h.emu.control.clearFaults();
  h.emu.control.setApiBudget({
    dailyApiLimit: 50,
    used: 0,
    longRequestThresholdMs: 20_000,
    maxConcurrentLongRequests: 25
  });
  h.emu.control.resetCounters();
});

const limitExceeded = [
  { message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }
];

describe('API limits', () => {
  it('counts each call in Sforce-Limit-Info', async () => {
    const first = await h.api('GET', '/limits');
    expect(first.headers.get('sforce-limit-info')).toBe('api-usage=1/50');
    const second = await h.api('GET', '/sobjects');
    expect(second.headers.get('sforce-limit-info')).toBe('api-usage=2/50');
  });

  it('reports the daily allocation in /limits', async () => {
    h.emu.control.setApiBudget({ used: 10 });
    const res = await h.api('GET', '/limits');
    expect((res.body as { DailyApiRequests: unknown }).DailyApiRequests).toEqual({
      Max: 50,
      Remaining: 39
    });
  });

  it('answers 403 REQUEST_LIMIT_EXCEEDED once the budget is spent', async () => {
    h.emu.control.setApiBudget({ used: 49 });
    expect((await h.api('GET', '/limits')).status).toBe(200);
    const refused = await h.api('GET', '/limits');
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual(limitExceeded);
    expect(refused.headers.get('sforce-limit-info')).toBe('api-usage=50/50');
  });

  it('does not count token requests against the budget', async () => {
    h.emu.control.setApiBudget({ used: 50 });
    const res = await call(
      `${h.emu.instanceUrl}/services/oauth2/token`,
      'POST',
      null,
      'grant_type=client_credentials&client_id=test-client&client_secret=test-secret',
      {
        'content-type': 'application/x-www-form-urlencoded'
      }
    );
    expect(res.status).toBe(200);
  });

  it('refuses new requests while too many long requests run', async () => {
    h.emu.control.setApiBudget({ longRequestThresholdMs: 50, maxConcurrentLongRequests: 1 });
    h.emu.control.setFaults({ latencyMs: 300 });
    const slow = h.api('GET', '/limits');
    await new Promise((resolve) => setTimeout(resolve, 120));
    const refused = await h.api('GET', '/limits');
    expect(refused.status).toBe(403);
    expect((refused.body as { errorCode: string; message: string }[])[0]).toMatchObject({
      errorCode: 'REQUEST_LIMIT_EXCEEDED',
      message: expect.stringContaining('ConcurrentPerOrgLongTxn')
    });
    expect((await slow).status).toBe(200);
  });

  it('counts calls by resource kind', async () => {
    await h.api('GET', '/limits');
    await h.api('GET', `/query?q=${encodeURIComponent('SELECT Id FROM Account')}`);
    await h.api('POST', '/composite/sobjects', { records: [] });
    await h.api('GET', '/jobs/ingest');
    expect(h.emu.control.counters()).toMatchObject({
      rest: 1,
      query: 1,
      collections: 1,
      bulk: 1,
      apiUsed: 4
    });
  });
});

describe('fault injection', () => {
  it('adds latency to API responses', async () => {
    h.emu.control.setFaults({ latencyMs: 150 });
    const started = Date.now();
    await h.api('GET', '/limits');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('fails the next N requests with the chosen 5xx status', async () => {
    h.emu.control.setFaults({ failNext: 2, errorStatus: 503 });
    const first = await h.api('GET', '/limits');
    expect(first.status).toBe(503);
    expect((first.body as { errorCode: string }[])[0]?.errorCode).toBe('SERVER_UNAVAILABLE');
    expect((await h.api('GET', '/limits')).status).toBe(503);
    expect((await h.api('GET', '/limits')).status).toBe(200);
  });

  it('fails every request at an error rate of 1 with 500 UNKNOWN_EXCEPTION', async () => {
    h.emu.control.setFaults({ errorRate: 1, errorStatus: 500 });
    const res = await h.api('GET', '/limits');
    expect(res.status).toBe(500);
    expect((res.body as { errorCode: string }[])[0]?.errorCode).toBe('UNKNOWN_EXCEPTION');
  });

  it('answers REQUEST_LIMIT_EXCEEDED on demand', async () => {
    h.emu.control.setFaults({ requestLimitExceeded: true });
    const res = await h.api('GET', '/limits');
    expect(res.status).toBe(403);
    expect(res.body).toEqual(limitExceeded);
  });
});

describe('control API over HTTP', () => {
  const control = (method: string, path: string, body?: unknown) =>
    call(`${h.emu.instanceUrl}/_emulator${path}`, method, null, body);

  it('describes the running emulator', async () => {
    const res = await control('GET', '/info');
    expect(res.body).toEqual({
      instanceUrl: h.emu.instanceUrl,
      pubsubEndpoint: h.emu.pubsubEndpoint,
      orgId: h.emu.orgId,
      integrationUser: h.emu.integrationUser
    });
  });

  it('sets faults, budget and reads counters', async () => {
    expect((await control('PUT', '/faults', { requestLimitExceeded: true })).status).toBe(200);
    expect((await h.api('GET', '/limits')).status).toBe(403);
    await control('DELETE', '/faults');
    await control('PUT', '/limits', { dailyApiLimit: 7, used: 3 });
    expect((await h.api('GET', '/limits')).headers.get('sforce-limit-info')).toBe('api-usage=4/7');
    expect(((await control('GET', '/counters')).body as { apiUsed: number }).apiUsed).toBe(4);
  });

  it('inserts and reads records without spending the budget, and resets data', async () => {
    const inserted = await control('POST', '/records/Account', { Name: 'Direct' });
    expect((inserted.body as { id: string }).id).toMatch(/^001/);
    const records = (await control('GET', '/records/Account')).body as { Name: string }[];
    expect(records.map((r) => r.Name)).toContain('Direct');
    expect(h.emu.control.counters().apiUsed).toBe(0);
    await control('POST', '/reset');
    expect((await control('GET', '/records/Account')).body).toEqual([]);
  });

  it('answers 400 with the reason for a bad insert', async () => {
    const res = await control('POST', '/records/Account', {});
    expect(res.status).toBe(400);
    expect((res.body as { message: string }).message).toContain('REQUIRED_FIELD_MISSING');
  });

  it('expires sessions', async () => {
    await control('POST', '/sessions/expire');
    expect((await h.api('GET', '/limits')).status).toBe(401);
    h.token = (
      await call(
        `${h.emu.instanceUrl}/services/oauth2/token`,
        'POST',
        null,
        'grant_type=client_credentials&client_id=test-client&client_secret=test-secret',
        {
          'content-type': 'application/x-www-form-urlencoded'
        }
      ).then((r) => r.body as { access_token: string })
    ).access_token;
  });

  it('publishes a platform event without spending the budget', async () => {
    const before = h.emu.control.pubsub?.counters().eventsPublished ?? 0;
    const res = await control('POST', '/events/D365_Sync_Result__e', {
      Record_Id__c: '001000000000000AAA',
      Status__c: 'Synced'
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      replayId: expect.stringMatching(/^\d+$/),
      eventUuid: expect.stringMatching(/^[0-9a-f-]{36}$/)
    });
    expect((h.emu.control.pubsub?.counters().eventsPublished ?? 0) - before).toBe(1);
    expect(h.emu.control.counters().apiUsed).toBe(0);
    const bad = await control('POST', '/events/D365_Sync_Result__e', { Nope__c: 'x' });
    expect(bad.status).toBe(400);
  });

  it('forwards Pub/Sub faults', async () => {
    const res = await control('GET', '/pubsub/counters');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ eventsDelivered: expect.any(Number) });
    expect((await control('PUT', '/pubsub/keepalive', { intervalMs: 200 })).status).toBe(200);
  });
});

describe('control API access', () => {
  it('requires the control token when one is configured', async () => {
    const guarded = await startHarness({ controlToken: 'sekret' });
    try {
      expect((await call(`${guarded.emu.instanceUrl}/_emulator/info`, 'GET', null)).status).toBe(
        403
      );
      const ok = await call(`${guarded.emu.instanceUrl}/_emulator/info`, 'GET', null, undefined, {
        'x-emulator-control-token': 'sekret'
      });
      expect(ok.status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});
