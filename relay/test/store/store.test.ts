import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RelayError } from '../../src/errors.ts';
import type { IntakeItem, Store } from '../../src/store/types.ts';
import { openTestStore, postgresUnavailableReason, type TestStore } from './backends.ts';

const pgSkipReason = await postgresUnavailableReason();

function event(key: string, flow: string | null = 'noop'): IntakeItem {
  return {
    event: {
      idempotencyKey: key,
      source: 'd365-business-event',
      topic: 'SalesInvoicePostedBusinessEvent',
      payload: { key, quote: 'O\'Brien "Ltd"' },
      correlationId: `corr-${key}`
    },
    ...(flow === null ? {} : { job: { flow, maxAttempts: 3 } })
  };
}

for (const backend of ['sqlite', 'postgres'] as const) {
  const skip = backend === 'postgres' ? pgSkipReason : null;
  const title = skip ? `store on ${backend} (skipped: ${skip})` : `store on ${backend}`;

  describe.skipIf(skip !== null)(title, () => {
    let clock = 1_700_000_000_000;
    let handle: TestStore;
    let store: Store;

    beforeEach(async () => {
      clock = 1_700_000_000_000;
      handle = await openTestStore(backend, () => clock);
      store = handle.store;
    });
    afterEach(async () => {
      await handle.dispose();
    });

    describe('intake', () => {
      it('stores the event and enqueues its job', async () => {
        const [result] = await store.intake([event('e1')]);
        expect(result).toMatchObject({ idempotencyKey: 'e1', duplicate: false });
        const job = await store.getJob(result!.jobId!);
        expect(job).toMatchObject({
          flow: 'noop',
          idempotencyKey: 'e1',
          attempts: 0,
          maxAttempts: 3,
          correlationId: 'corr-e1',
          inboxId: result!.inboxId,
          payload: { key: 'e1', quote: 'O\'Brien "Ltd"' }
        });
      });

      it('acknowledges a duplicate key without enqueuing it again', async () => {
        await store.intake([event('e1')]);
        const [again] = await store.intake([event('e1')]);
        expect(again).toEqual({
          idempotencyKey: 'e1',
          duplicate: true,
          inboxId: null,
          jobId: null
        });
        expect((await store.counts()).pending).toEqual({ noop: 1 });
      });

      it('acknowledges a duplicate of an event already processed', async () => {
        const [first] = await store.intake([event('e1')]);
        const [job] = await store.claimJobs('w1', 10, 1_000);
        expect(await store.completeJob(job!.id, 'w1')).toBe(true);
        const [again] = await store.intake([event('e1')]);
        expect(again!.duplicate).toBe(true);
        expect(first!.jobId).toBe(job!.id);
        expect((await store.counts()).pending).toEqual({});
      });

      it('reports the second copy inside one batch as a duplicate', async () => {
        const results = await store.intake([event('e1'), event('e1'), event('e2')]);
        expect(results.map((r) => r.duplicate)).toEqual([false, true, false]);
      });

      it('records an event without a flow but queues nothing', async () => {
        const [result] = await store.intake([event('e1', null)]);
        expect(result!.inboxId).not.toBeNull();
        expect(result!.jobId).toBeNull();
        expect((await store.counts()).pending).toEqual({});
      });
    });

    describe('enqueue', () => {
      it('acknowledges a second job with a pending key as a duplicate', async () => {
        const job = {
          flow: 'noop',
          idempotencyKey: 'sync:noop',
          payload: {},
          maxAttempts: 2,
          correlationId: 'c'
        };
        expect((await store.enqueue(job)).duplicate).toBe(false);
        expect(await store.enqueue(job)).toEqual({ jobId: null, duplicate: true });
      });
    });

    describe('claiming', () => {
      it('claims due jobs oldest first, counts the attempt and sets the lease', async () => {
        await store.intake([event('a'), event('b')]);
        const jobs = await store.claimJobs('w1', 10, 5_000);
        expect(jobs.map((j) => j.idempotencyKey)).toEqual(['a', 'b']);
        expect(jobs[0]).toMatchObject({ attempts: 1, lockedBy: 'w1', lockedUntil: clock + 5_000 });
      });

      it('does not hand a leased job to another worker', async () => {
        await store.intake([event('a')]);
        expect(await store.claimJobs('w1', 10, 5_000)).toHaveLength(1);
        expect(await store.claimJobs('w2', 10, 5_000)).toHaveLength(0);
      });

      it('hands a job to another worker once its lease expired', async () => {
        await store.intake([event('a')]);
        await store.claimJobs('w1', 10, 5_000);
        clock += 5_001;
        const [job] = await store.claimJobs('w2', 10, 5_000);
        expect(job).toMatchObject({ lockedBy: 'w2', attempts: 2 });
        expect(await store.completeJob(job!.id, 'w1')).toBe(false);
      });

      it('keeps a renewed lease', async () => {
        await store.intake([event('a')]);
        const [job] = await store.claimJobs('w1', 10, 5_000);
        clock += 4_000;
        expect(await store.renewLeases('w1', [job!.id], 5_000)).toBe(1);
        clock += 4_000;
        expect(await store.claimJobs('w2', 10, 5_000)).toHaveLength(0);
      });

      it('does not claim a job scheduled in the future', async () => {
        await store.enqueue({
          flow: 'noop',
          idempotencyKey: 'later',
          payload: {},
          maxAttempts: 1,
          correlationId: 'c',
          runAt: clock + 60_000
        });
        expect(await store.claimJobs('w1', 10, 5_000)).toHaveLength(0);
        expect(await store.nextRunAt()).toBe(clock + 60_000);
      });

      it('respects the claim limit', async () => {
        await store.intake([event('a'), event('b'), event('c')]);
        expect(await store.claimJobs('w1', 2, 5_000)).toHaveLength(2);
      });

      it('gives concurrent claimers disjoint jobs', async () => {
        await store.intake(Array.from({ length: 40 }, (_, i) => event(`k${i}`)));
        const batches = await Promise.all(
          ['w1', 'w2', 'w3', 'w4'].map((w) => store.claimJobs(w, 15, 5_000))
        );
        const ids = batches.flat().map((j) => j.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids).toHaveLength(40);
      });
    });

    describe('outcomes', () => {
      it('completes a job: removes it and marks its inbox event processed', async () => {
        await store.intake([event('a')]);
        const [job] = await store.claimJobs('w1', 1, 5_000);
        expect(await store.completeJob(job!.id, 'w1')).toBe(true);
        expect(await store.getJob(job!.id)).toBeNull();
      });

      it('reschedules a retried job with its error and without a lock', async () => {
        await store.intake([event('a')]);
        const [job] = await store.claimJobs('w1', 1, 5_000);
        expect(await store.retryJob(job!.id, 'w1', clock + 2_000, 'D365 answered 503')).toBe(true);
        expect(await store.getJob(job!.id)).toMatchObject({
          runAt: clock + 2_000,
          lastError: 'D365 answered 503',
          lockedBy: null,
          attempts: 1
        });
        expect(await store.claimJobs('w1', 1, 5_000)).toHaveLength(0);
        clock += 2_000;
        expect(await store.claimJobs('w1', 1, 5_000)).toHaveLength(1);
      });

      it('releases a worker’s jobs for immediate pick-up', async () => {
        await store.intake([event('a')]);
        await store.claimJobs('w1', 1, 60_000);
        expect(await store.releaseJobs('w1')).toBe(1);
        expect(await store.claimJobs('w2', 1, 60_000)).toHaveLength(1);
      });
    });

    describe('dead letters', () => {
      async function deadLetter(key: string): Promise<number> {
        await store.intake([event(key)]);
        const [job] = await store.claimJobs('w1', 1, 5_000);
        expect(
          await store.deadLetterJob(job!.id, 'w1', 'permanent', `validation: bad ${key}`)
        ).toBe(true);
        const [letter] = await store.listDeadLetters({ limit: 1 });
        return letter!.id;
      }

      it('moves a job to the dead-letter queue with its reason', async () => {
        const id = await deadLetter('a');
        expect(await store.getDeadLetter(id)).toMatchObject({
          flow: 'noop',
          idempotencyKey: 'a',
          reason: 'permanent',
          lastError: 'validation: bad a',
          attempts: 1,
          correlationId: 'corr-a',
          payload: { key: 'a', quote: 'O\'Brien "Ltd"' }
        });
        expect((await store.counts()).deadLetters).toEqual({ noop: 1 });
        expect((await store.counts()).pending).toEqual({});
      });

      it('lists newest first with keyset paging and a flow filter', async () => {
        const first = await deadLetter('a');
        const second = await deadLetter('b');
        const page = await store.listDeadLetters({ limit: 1 });
        expect(page.map((d) => d.id)).toEqual([second]);
        const next = await store.listDeadLetters({ limit: 5, beforeId: second });
        expect(next.map((d) => d.id)).toEqual([first]);
        expect(await store.listDeadLetters({ limit: 5, flow: 'other' })).toEqual([]);
      });

      it('replays a dead letter as a fresh job with the same key and correlation id', async () => {
        const id = await deadLetter('a');
        const replayed = await store.replayDeadLetter(id);
        expect(await store.getDeadLetter(id)).toBeNull();
        expect(await store.getJob(replayed!.jobId)).toMatchObject({
          idempotencyKey: 'a',
          attempts: 0,
          correlationId: 'corr-a',
          payload: { key: 'a', quote: 'O\'Brien "Ltd"' }
        });
      });

      it('refuses to replay while a job with the same key is pending, and keeps the letter', async () => {
        const id = await deadLetter('a');
        await store.enqueue({
          flow: 'noop',
          idempotencyKey: 'a',
          payload: {},
          maxAttempts: 1,
          correlationId: 'c'
        });
        await expect(store.replayDeadLetter(id)).rejects.toBeInstanceOf(RelayError);
        expect(await store.getDeadLetter(id)).not.toBeNull();
      });

      it('returns null when replaying a dead letter that does not exist', async () => {
        expect(await store.replayDeadLetter(999)).toBeNull();
      });

      it('discards a dead letter', async () => {
        const id = await deadLetter('a');
        expect(await store.discardDeadLetter(id)).toBe(true);
        expect(await store.discardDeadLetter(id)).toBe(false);
      });

      it('purges dead letters older than the retention cutoff only', async () => {
        await deadLetter('old');
        clock += 10_000;
        await deadLetter('new');
        const purged = await store.purge({
          deadLettersBefore: clock - 5_000,
          processedInboxBefore: 0
        });
        expect(purged.deadLetters).toBe(1);
        expect((await store.listDeadLetters({ limit: 10 })).map((d) => d.idempotencyKey)).toEqual([
          'new'
        ]);
      });

      it('purges processed inbox events so their keys are accepted again', async () => {
        await store.intake([event('a')]);
        const [job] = await store.claimJobs('w1', 1, 5_000);
        await store.completeJob(job!.id, 'w1');
        clock += 10_000;
        const purged = await store.purge({ deadLettersBefore: 0, processedInboxBefore: clock });
        expect(purged.inbox).toBe(1);
        expect((await store.intake([event('a')]))[0]!.duplicate).toBe(false);
      });
    });

    describe('checkpoints', () => {
      it('returns null for a topic never saved and the last saved replay id after', async () => {
        expect(await store.loadCheckpoint('/event/D365_Account_Sync__e')).toBeNull();
        await store.saveCheckpoint('/event/D365_Account_Sync__e', Buffer.from([0, 1, 2]));
        await store.saveCheckpoint('/event/D365_Account_Sync__e', Buffer.from([0, 1, 3, 255]));
        expect(await store.loadCheckpoint('/event/D365_Account_Sync__e')).toEqual(
          Buffer.from([0, 1, 3, 255])
        );
      });
    });

    describe('ledger', () => {
      const base = {
        flow: 'account',
        recordKey: '001000000000001AAA',
        salesforceId: '001000000000001AAA',
        d365Key: null,
        lastError: null,
        contentHash: 'h1',
        correlationId: 'c1'
      };

      it('keeps known keys when a later update omits them', async () => {
        await store.upsertLedger({ ...base, lastStatus: 'Pending' });
        clock += 1_000;
        await store.upsertLedger({
          ...base,
          d365Key: 'usmf|US-001',
          lastStatus: 'Synced',
          contentHash: 'h2'
        });
        clock += 1_000;
        await store.upsertLedger({
          ...base,
          lastStatus: 'Error',
          lastError: 'Customer group 99 does not exist',
          contentHash: null
        });
        const [entry] = await store.queryLedger({ flow: 'account', limit: 10 });
        expect(entry).toMatchObject({
          d365Key: 'usmf|US-001',
          lastStatus: 'Error',
          lastError: 'Customer group 99 does not exist',
          contentHash: 'h2',
          createdAt: clock - 2_000,
          updatedAt: clock
        });
      });

      it('filters by Salesforce id, D365 key and status', async () => {
        await store.upsertLedger({ ...base, lastStatus: 'Synced', d365Key: 'usmf|US-001' });
        await store.upsertLedger({
          ...base,
          recordKey: 'x',
          salesforceId: 'x',
          lastStatus: 'Error'
        });
        expect(await store.queryLedger({ d365Key: 'usmf|US-001', limit: 10 })).toHaveLength(1);
        expect(await store.queryLedger({ salesforceId: 'x', limit: 10 })).toHaveLength(1);
        expect((await store.queryLedger({ status: 'Error', limit: 10 }))[0]!.recordKey).toBe('x');
      });
    });

    describe('leases', () => {
      it('grants a free lease and refuses it to a second holder', async () => {
        expect(await store.acquireLease('pubsub', 'r1', 10_000)).toBe(true);
        expect(await store.acquireLease('pubsub', 'r2', 10_000)).toBe(false);
        expect(await store.leaseHolder('pubsub')).toEqual({
          holder: 'r1',
          expiresAt: clock + 10_000
        });
      });

      it('lets the holder renew', async () => {
        await store.acquireLease('pubsub', 'r1', 10_000);
        clock += 9_000;
        expect(await store.acquireLease('pubsub', 'r1', 10_000)).toBe(true);
        clock += 9_000;
        expect(await store.acquireLease('pubsub', 'r2', 10_000)).toBe(false);
      });

      it('fails over to another holder after expiry', async () => {
        await store.acquireLease('pubsub', 'r1', 10_000);
        clock += 10_001;
        expect(await store.acquireLease('pubsub', 'r2', 10_000)).toBe(true);
        expect(await store.acquireLease('pubsub', 'r1', 10_000)).toBe(false);
      });

      it('frees the lease on release by its holder only', async () => {
        await store.acquireLease('pubsub', 'r1', 10_000);
        await store.releaseLease('pubsub', 'r2');
        expect(await store.leaseHolder('pubsub')).not.toBeNull();
        await store.releaseLease('pubsub', 'r1');
        expect(await store.acquireLease('pubsub', 'r2', 10_000)).toBe(true);
      });
    });

    it('migrates idempotently', async () => {
      await store.migrate();
      await store.ping();
    });
  });
}
