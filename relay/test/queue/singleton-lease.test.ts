import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SingletonLease } from '../../src/queue/singleton-lease.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';
import { silentLogger, waitFor } from '../helpers.ts';

let store: SqliteStore;
const leases: SingletonLease[] = [];

beforeEach(async () => {
  store = new SqliteStore(':memory:');
  await store.migrate();
});
afterEach(async () => {
  for (const lease of leases.splice(0)) await lease.stop();
  await store.close();
});

function replica(holder: string, events: string[], ttlMs = 150): SingletonLease {
  const lease = new SingletonLease({
    store,
    name: 'pubsub:/event/D365_Account_Sync__e',
    holder,
    ttlMs,
    logger: silentLogger,
    onAcquired: () => void events.push(`${holder} up`),
    onLost: () => void events.push(`${holder} down`)
  });
  leases.push(lease);
  return lease;
}

describe('SingletonLease', () => {
  it('runs the work on one replica only', async () => {
    const events: string[] = [];
    const a = replica('a', events);
    const b = replica('b', events);
    a.start();
    await waitFor(() => a.held);
    b.start();
    await new Promise((r) => setTimeout(r, 400));
    expect(events).toEqual(['a up']);
    expect(b.held).toBe(false);
  });

  it('hands over at once when the holder stops', async () => {
    const events: string[] = [];
    const a = replica('a', events, 60_000);
    const b = replica('b', events, 60_000);
    a.start();
    await waitFor(() => a.held);
    await a.stop();
    b.start();
    await waitFor(() => b.held, 2_000);
    expect(events).toEqual(['a up', 'a down', 'b up']);
  });

  it('fails over after the TTL when the holder dies without releasing', async () => {
    const events: string[] = [];
    // A dead replica: it took the lease and never renews it.
    expect(await store.acquireLease('pubsub:/event/D365_Account_Sync__e', 'dead', 150)).toBe(true);
    const b = replica('b', events);
    b.start();
    await waitFor(() => b.held, 2_000);
    expect(events).toEqual(['b up']);
  });
});
