import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FLOWS } from '../../src/flows/registry.ts';
import { admin, buildTestApp, type TestApp } from './build.ts';

let t: TestApp;
beforeEach(async () => {
  t = await buildTestApp();
});
afterEach(async () => {
  await t.close();
});

async function deadLetter(key: string): Promise<number> {
  await t.store.intake([
    {
      event: {
        idempotencyKey: key,
        source: 'admin',
        topic: 't',
        payload: { key },
        correlationId: `c-${key}`
      },
      job: { flow: 'noop', maxAttempts: 1 }
    }
  ]);
  const [job] = await t.store.claimJobs('w', 1, 1_000);
  await t.store.deadLetterJob(job!.id, 'w', 'permanent', 'd365 validation 400: bad');
  return (await t.store.listDeadLetters({ limit: 1 }))[0]!.id;
}

describe('admin API', () => {
  it.each([
    ['GET', '/api/v1/admin/status'],
    ['GET', '/api/v1/admin/dead-letters'],
    ['GET', '/api/v1/admin/dead-letters/1'],
    ['POST', '/api/v1/admin/dead-letters/1/replay'],
    ['DELETE', '/api/v1/admin/dead-letters/1'],
    ['POST', '/api/v1/admin/sync/noop'],
    ['GET', '/api/v1/admin/ledger']
  ] as const)('%s %s answers 401 without the admin token', async (method, url) => {
    const res = await t.app.inject({
      method,
      url,
      headers: { authorization: 'Bearer wrong-token' }
    });
    expect(res.statusCode).toBe(401);
  });

  it('GET /status reports backend, queue, dead letters and flows', async () => {
    await deadLetter('a');
    const res = await t.app.inject({ url: '/api/v1/admin/status', headers: admin });
    expect(res.json()).toEqual({
      backend: 'sqlite',
      queue: { pending: {}, running: 0 },
      deadLetters: { noop: 1 },
      flows: FLOWS.map((flow) => flow.name)
    });
  });

  describe('dead letters', () => {
    it('lists summaries newest first with a cursor for the next page', async () => {
      const first = await deadLetter('a');
      const second = await deadLetter('b');
      const res = await t.app.inject({ url: '/api/v1/admin/dead-letters?limit=1', headers: admin });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.items).toHaveLength(1);
      expect(body.items[0]).toMatchObject({
        id: second,
        flow: 'noop',
        reason: 'permanent',
        lastError: 'd365 validation 400: bad'
      });
      expect(body.items[0].payload).toBeUndefined();
      expect(body.nextBeforeId).toBe(second);
      const next = await t.app.inject({
        url: `/api/v1/admin/dead-letters?limit=1&beforeId=${second}`,
        headers: admin
      });
      expect(next.json().items[0].id).toBe(first);
    });

    it('shows one dead letter with its payload', async () => {
      const id = await deadLetter('a');
      const res = await t.app.inject({ url: `/api/v1/admin/dead-letters/${id}`, headers: admin });
      expect(res.json()).toMatchObject({ id, payload: { key: 'a' }, correlationId: 'c-a' });
    });

    it('answers 404 for a dead letter that does not exist', async () => {
      const res = await t.app.inject({ url: '/api/v1/admin/dead-letters/999', headers: admin });
      expect(res.statusCode).toBe(404);
      expect(res.json().code).toBe('RELAY_ERR_NOT_FOUND');
    });

    it('replays a dead letter into the queue and wakes the worker', async () => {
      const id = await deadLetter('a');
      const res = await t.app.inject({
        method: 'POST',
        url: `/api/v1/admin/dead-letters/${id}/replay`,
        headers: admin
      });
      expect(res.statusCode).toBe(202);
      expect(await t.store.getJob(res.json().jobId)).toMatchObject({
        idempotencyKey: 'a',
        attempts: 0
      });
      expect(t.enqueued()).toBe(1);
    });

    it('answers 409 when the same work is already queued', async () => {
      const id = await deadLetter('a');
      await t.store.enqueue({
        flow: 'noop',
        idempotencyKey: 'a',
        payload: {},
        maxAttempts: 1,
        correlationId: 'c'
      });
      const res = await t.app.inject({
        method: 'POST',
        url: `/api/v1/admin/dead-letters/${id}/replay`,
        headers: admin
      });
      expect(res.statusCode).toBe(409);
      expect(res.json().code).toBe('RELAY_ERR_CONFLICT');
    });

    it('discards a dead letter', async () => {
      const id = await deadLetter('a');
      const res = await t.app.inject({
        method: 'DELETE',
        url: `/api/v1/admin/dead-letters/${id}`,
        headers: admin
      });
      expect(res.statusCode).toBe(204);
      expect(await t.store.getDeadLetter(id)).toBeNull();
      const again = await t.app.inject({
        method: 'DELETE',
        url: `/api/v1/admin/dead-letters/${id}`,
        headers: admin
      });
      expect(again.statusCode).toBe(404);
    });
  });

  describe('POST /sync/:flow', () => {
    it('queues one run of the flow and acknowledges a second trigger while it waits', async () => {
      const first = await t.app.inject({
        method: 'POST',
        url: '/api/v1/admin/sync/noop?full=true',
        headers: admin
      });
      expect(first.statusCode).toBe(202);
      expect(first.json()).toMatchObject({ flow: 'noop', full: true, duplicate: false });
      expect(await t.store.getJob(first.json().jobId)).toMatchObject({
        payload: { trigger: 'admin', full: true }
      });
      const second = await t.app.inject({
        method: 'POST',
        url: '/api/v1/admin/sync/noop?full=true',
        headers: admin
      });
      expect(second.json()).toMatchObject({ duplicate: true, jobId: null });
    });

    it('runs a delta sync unless full=true is asked', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/admin/sync/noop',
        headers: admin
      });
      expect(res.json()).toMatchObject({ full: false, duplicate: false });
    });

    it('answers 404 for a flow that is not registered', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/admin/sync/no-such-flow',
        headers: admin
      });
      expect(res.statusCode).toBe(404);
      expect(res.json().code).toBe('RELAY_ERR_UNKNOWN_FLOW');
    });
  });

  describe('GET /ledger', () => {
    it('filters records by Salesforce id', async () => {
      await t.store.upsertLedger({
        flow: 'account',
        recordKey: '001000000000001AAA',
        salesforceId: '001000000000001AAA',
        d365Key: 'usmf|US-001',
        lastStatus: 'Synced',
        lastError: null,
        contentHash: 'h',
        correlationId: 'c'
      });
      const res = await t.app.inject({
        url: '/api/v1/admin/ledger?salesforceId=001000000000001AAA',
        headers: admin
      });
      expect(res.statusCode).toBe(200);
      expect(res.json().items).toEqual([
        expect.objectContaining({
          flow: 'account',
          d365Key: 'usmf|US-001',
          lastStatus: 'Synced',
          updatedAt: expect.stringMatching(/Z$/)
        })
      ]);
      const none = await t.app.inject({ url: '/api/v1/admin/ledger?status=Error', headers: admin });
      expect(none.json().items).toEqual([]);
    });
  });
});
