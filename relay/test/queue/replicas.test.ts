import { afterEach, describe, expect, it } from 'vitest';
import { createFlowRegistry } from '../../src/flows/registry.ts';
import { Worker } from '../../src/queue/worker.ts';
import type { IntakeItem } from '../../src/store/types.ts';
import { fakeClients, silentLogger, waitFor } from '../helpers.ts';
import { openTestStore, postgresUnavailableReason, type TestStore } from '../store/backends.ts';

const pgSkipReason = await postgresUnavailableReason();
const title = pgSkipReason
  ? `several replicas on PostgreSQL (skipped: ${pgSkipReason})`
  : 'several replicas on PostgreSQL';

let handles: TestStore[] = [];
let workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.map((w) => w.stop(1_000)));
  // The first handle owns the schema; the others share it and only close their pools.
  for (const h of handles.slice(1)) await h.store.close();
  await handles[0]?.dispose();
  handles = [];
  workers = [];
});

describe.skipIf(pgSkipReason !== null)(title, () => {
  it('three workers with their own pools share the queue and run every job exactly once', async () => {
    const first = await openTestStore('postgres', Date.now);
    handles.push(first);
    const schema = first.schema;
    for (let i = 0; i < 2; i += 1) handles.push(await openTestStore('postgres', Date.now, schema));

    const runs = new Map<string, string[]>();
    const registry = createFlowRegistry(
      [
        {
          name: 'test',
          handle: async (_payload, { idempotencyKey }) => {
            await new Promise((resolve) => setTimeout(resolve, 5));
            runs.set(idempotencyKey, [...(runs.get(idempotencyKey) ?? []), idempotencyKey]);
          }
        }
      ],
      { defaultMaxAttempts: 3 }
    );
    workers = handles.map(
      (h, i) =>
        new Worker({
          store: h.store,
          registry,
          clients: fakeClients(),
          logger: silentLogger,
          concurrency: 4,
          leaseMs: 10_000,
          pollMs: 20,
          retention: { deadLetterDays: 14, inboxDays: 30 },
          workerId: `replica-${i}`
        })
    );
    const items: IntakeItem[] = Array.from({ length: 300 }, (_, i) => ({
      event: {
        idempotencyKey: `k${i}`,
        source: 'admin',
        topic: 't',
        payload: {},
        correlationId: 'c'
      },
      job: { flow: 'test', maxAttempts: 3 }
    }));
    await first.store.intake(items);
    for (const w of workers) w.start();

    await waitFor(
      async () => Object.keys((await first.store.counts()).pending).length === 0,
      20_000,
      'the queue to drain'
    );
    expect(runs.size).toBe(300);
    expect([...runs.values()].every((r) => r.length === 1)).toBe(true);
  });
});
