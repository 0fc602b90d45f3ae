import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loggerOptions } from '../../src/app.ts';
import { currentCorrelationId } from '../../src/observability/correlation.ts';
import { PermanentFlowError } from '../../src/errors.ts';
import { createFlowRegistry } from '../../src/flows/registry.ts';
import type { Flow, FlowContext } from '../../src/flows/types.ts';
import { ClientError } from '../../src/net/errors.ts';
import { Worker, type JobOutcome } from '../../src/queue/worker.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';
import { fakeClients, silentLogger, waitFor } from '../helpers.ts';

let store: SqliteStore;
let worker: Worker | null;
let outcomes: { flow: string; outcome: JobOutcome }[];

beforeEach(async () => {
  store = new SqliteStore(':memory:');
  await store.migrate();
  outcomes = [];
  worker = null;
});
afterEach(async () => {
  await worker?.stop(100);
  await store.close();
});

function startWorker(flows: Flow[], concurrency = 4, leaseMs = 5_000): Worker {
  worker = new Worker({
    store,
    registry: createFlowRegistry(flows, { defaultMaxAttempts: 3 }),
    clients: fakeClients(),
    logger: silentLogger,
    concurrency,
    leaseMs,
    pollMs: 20,
    retention: { deadLetterDays: 14, inboxDays: 30 },
    backoff: { baseMs: 10, capMs: 20 },
    observer: { job: (e) => outcomes.push({ flow: e.flow, outcome: e.outcome }) }
  });
  worker.start();
  return worker;
}

async function submit(key: string, flow = 'test'): Promise<number> {
  const [result] = await store.intake([
    {
      event: {
        idempotencyKey: key,
        source: 'admin',
        topic: 't',
        payload: { key },
        correlationId: `corr-${key}`
      },
      job: { flow, maxAttempts: 3 }
    }
  ]);
  worker?.wake();
  return result!.jobId!;
}

const settled = () => waitFor(async () => Object.keys((await store.counts()).pending).length === 0);

describe('Worker', () => {
  it('runs the flow with the job context and completes the job', async () => {
    const seen: { payload: unknown; context: FlowContext }[] = [];
    startWorker([
      { name: 'test', handle: async (payload, context) => void seen.push({ payload, context }) }
    ]);
    const jobId = await submit('a');
    await settled();
    expect(seen[0]!.payload).toEqual({ key: 'a' });
    expect(seen[0]!.context).toMatchObject({
      jobId,
      attempt: 1,
      maxAttempts: 3,
      correlationId: 'corr-a',
      idempotencyKey: 'a'
    });
    expect(outcomes).toEqual([{ flow: 'test', outcome: 'completed' }]);
  });

  it('retries a retryable client error and then completes', async () => {
    let calls = 0;
    startWorker([
      {
        name: 'test',
        handle: async () => {
          calls += 1;
          if (calls < 3)
            throw new ClientError('busy', { system: 'd365', kind: 'transient', status: 503 });
        }
      }
    ]);
    await submit('a');
    await settled();
    expect(calls).toBe(3);
    expect(outcomes.map((o) => o.outcome)).toEqual(['retried', 'retried', 'completed']);
  });

  it('schedules the retry no earlier than Retry-After', async () => {
    startWorker([
      {
        name: 'test',
        handle: async () => {
          throw new ClientError('slow down', {
            system: 'd365',
            kind: 'throttled',
            status: 429,
            retryAfterMs: 60_000
          });
        }
      }
    ]);
    const before = Date.now();
    const jobId = await submit('a');
    await waitFor(() => outcomes.length === 1);
    const job = await store.getJob(jobId);
    expect(job!.runAt).toBeGreaterThanOrEqual(before + 60_000);
    expect(job!.lastError).toBe('d365 throttled 429: slow down');
  });

  it('dead-letters a permanent client error on the first attempt', async () => {
    startWorker([
      {
        name: 'test',
        handle: async () => {
          throw new ClientError('Customer group 99 does not exist', {
            system: 'd365',
            kind: 'validation',
            status: 400
          });
        }
      }
    ]);
    await submit('a');
    await settled();
    const [letter] = await store.listDeadLetters({ limit: 1 });
    expect(letter).toMatchObject({
      reason: 'permanent',
      attempts: 1,
      lastError: 'd365 validation 400: Customer group 99 does not exist'
    });
  });

  it('dead-letters a PermanentFlowError on the first attempt', async () => {
    startWorker([
      {
        name: 'test',
        handle: async () => {
          throw new PermanentFlowError('Opportunity has no lines');
        }
      }
    ]);
    await submit('a');
    await settled();
    expect((await store.listDeadLetters({ limit: 1 }))[0]).toMatchObject({
      reason: 'permanent',
      attempts: 1
    });
  });

  it('dead-letters after max attempts of unexpected errors', async () => {
    startWorker([
      {
        name: 'test',
        handle: async () => {
          throw new Error('socket hang up');
        }
      }
    ]);
    await submit('a');
    await settled();
    expect((await store.listDeadLetters({ limit: 1 }))[0]).toMatchObject({
      reason: 'exhausted',
      attempts: 3,
      lastError: 'Error: socket hang up'
    });
    expect(outcomes.map((o) => o.outcome)).toEqual(['retried', 'retried', 'dead_lettered']);
  });

  it('records a skipped outcome and removes the job', async () => {
    startWorker([
      { name: 'test', handle: async () => ({ status: 'skipped', reason: 'content unchanged' }) }
    ]);
    await submit('a');
    await settled();
    expect(outcomes).toEqual([{ flow: 'test', outcome: 'skipped' }]);
  });

  it('dead-letters a job whose flow is not registered', async () => {
    startWorker([]);
    await submit('a', 'retired-flow');
    await settled();
    expect((await store.listDeadLetters({ limit: 1 }))[0]!.lastError).toBe(
      'No flow named retired-flow is registered'
    );
  });

  it('never runs more handlers at once than its concurrency', async () => {
    let running = 0;
    let peak = 0;
    startWorker(
      [
        {
          name: 'test',
          handle: async () => {
            running += 1;
            peak = Math.max(peak, running);
            await new Promise((r) => setTimeout(r, 15));
            running -= 1;
          }
        }
      ],
      3
    );
    for (let i = 0; i < 12; i += 1) await submit(`k${i}`);
    await settled();
    expect(peak).toBe(3);
    expect(outcomes).toHaveLength(12);
  });

  it('renews the lease of a job that runs longer than the lease', async () => {
    const w = startWorker(
      [{ name: 'test', handle: () => new Promise((resolve) => setTimeout(resolve, 700)) }],
      1,
      300
    );
    await submit('a');
    await waitFor(() => w.inFlight === 1);
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(await store.claimJobs('another-replica', 1, 1_000)).toHaveLength(0);
    await settled();
    expect(outcomes).toEqual([{ flow: 'test', outcome: 'completed' }]);
  });

  it('lets a running job finish within the grace period on stop', async () => {
    let finished = false;
    const w = startWorker([
      {
        name: 'test',
        handle: async () => {
          await new Promise((r) => setTimeout(r, 100));
          finished = true;
        }
      }
    ]);
    await submit('a');
    await waitFor(() => w.inFlight === 1);
    await w.stop(2_000);
    expect(finished).toBe(true);
    expect((await store.counts()).pending).toEqual({});
  });

  it('aborts a job still running after the grace period and hands it back', async () => {
    let aborted = false;
    const w = startWorker([
      {
        name: 'test',
        handle: (_payload, { signal }) =>
          new Promise((_resolve, reject) => {
            signal.addEventListener('abort', () => {
              aborted = true;
              reject(signal.reason);
            });
          })
      }
    ]);
    const jobId = await submit('a');
    await waitFor(() => w.inFlight === 1);
    await w.stop(50);
    expect(aborted).toBe(true);
    const job = await store.getJob(jobId);
    expect(job).not.toBeNull();
    expect(await store.claimJobs('next-process', 1, 1_000)).toHaveLength(1);
  });
});

describe('correlation', () => {
  it('runs the handler under the job’s correlation id, which log lines pick up', async () => {
    const lines: string[] = [];
    const logger = pino(
      loggerOptions('info'),
      new Writable({
        write(chunk, _encoding, callback) {
          lines.push(String(chunk));
          callback();
        }
      })
    );
    let seen: string | undefined;
    worker = new Worker({
      store,
      registry: createFlowRegistry(
        [
          {
            name: 'test',
            handle: async () => {
              await new Promise((resolve) => setTimeout(resolve, 5));
              seen = currentCorrelationId();
              // What a client deep inside the flow would log, without being handed the id.
              logger.child({ client: 'd365' }).info('request sent');
            }
          }
        ],
        { defaultMaxAttempts: 3 }
      ),
      clients: fakeClients(),
      logger,
      concurrency: 1,
      leaseMs: 5_000,
      pollMs: 20,
      retention: { deadLetterDays: 14, inboxDays: 30 }
    });
    worker.start();
    await submit('a');
    await settled();
    expect(seen).toBe('corr-a');
    const clientLine = JSON.parse(lines.find((l) => l.includes('request sent'))!);
    expect(clientLine).toMatchObject({ client: 'd365', correlationId: 'corr-a' });
    expect(currentCorrelationId()).toBeUndefined();
  });
});
