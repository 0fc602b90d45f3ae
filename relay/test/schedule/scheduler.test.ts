import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlowRegistry } from '../../src/flows/registry.ts';
import { configuredSchedules, createScheduler, type Scheduler } from '../../src/schedule/index.ts';
import { openStore } from '../../src/store/index.ts';
import type { Store } from '../../src/store/types.ts';
import { silentLogger, waitFor } from '../helpers.ts';

const registry = createFlowRegistry([{ name: 'accounts', handle: async () => undefined }], {
  defaultMaxAttempts: 3
});
const everySecond = [
  { name: 'pull', cron: '* * * * * *', flow: 'accounts', payload: { trigger: 'schedule' } }
];
let store: Store;
const schedulers: Scheduler[] = [];

beforeEach(async () => {
  store = await openStore(`sqlite:${join(mkdtempSync(join(tmpdir(), 'sched-')), 'relay.db')}`);
  await store.migrate();
});
afterEach(async () => {
  await Promise.all(schedulers.splice(0).map((s) => s.stop()));
  await store.close();
});

function scheduler(holder: string, onEnqueued: () => void = () => {}): Scheduler {
  const created = createScheduler({
    store,
    registry,
    schedules: everySecond,
    holder,
    logger: silentLogger,
    onEnqueued
  });
  schedulers.push(created);
  return created;
}

describe('scheduler', () => {
  it('queues a job per tick through the store', async () => {
    const s = scheduler('replica-a');
    s.start();
    await waitFor(
      async () => ((await store.counts()).pending.accounts ?? 0) >= 2,
      4_000,
      'two ticks'
    );
  });

  it('lets only the replica holding the lease queue the ticks', async () => {
    let a = 0;
    let b = 0;
    scheduler('replica-a', () => (a += 1)).start();
    scheduler('replica-b', () => (b += 1)).start();
    await new Promise((r) => setTimeout(r, 2_500));
    expect(a + b).toBeGreaterThanOrEqual(2);
    expect(Math.min(a, b)).toBe(0);
  });

  it('queues one tick once even when fired twice', async () => {
    const s = scheduler('replica-a');
    const at = new Date('2026-01-01T00:00:00.000Z');
    expect(await s.tick('pull', at)).toBe(true);
    expect(await s.tick('pull', at)).toBe(false);
    expect((await store.counts()).pending.accounts).toBe(1);
  });

  it('takes over the schedule when the holder stopped', async () => {
    const first = scheduler('replica-a');
    expect(await first.tick('pull', new Date('2026-01-01T00:00:01Z'))).toBe(true);
    const second = scheduler('replica-b');
    expect(await second.tick('pull', new Date('2026-01-01T00:00:02Z'))).toBe(false);
    await first.stop();
    expect(await second.tick('pull', new Date('2026-01-01T00:00:03Z'))).toBe(true);
  });

  it('refuses an invalid cron pattern at start', () => {
    expect(() =>
      createScheduler({
        store,
        registry,
        schedules: configuredSchedules({ ACCOUNT_PULL_CRON: 'every tuesday' }),
        holder: 'x',
        logger: silentLogger
      })
    ).toThrow('ACCOUNT_PULL_CRON: invalid cron "every tuesday"');
  });

  it('builds schedules from the settings, skipping the ones set to off', () => {
    expect(
      configuredSchedules({ ACCOUNT_PULL_CRON: '*/5 * * * *', PRODUCTS_SYNC_CRON: 'off' })
    ).toEqual([
      {
        name: 'accounts-pull',
        cron: '*/5 * * * *',
        flow: 'accounts',
        payload: { trigger: 'schedule', task: 'pull' },
        configKey: 'ACCOUNT_PULL_CRON'
      }
    ]);
  });
});
