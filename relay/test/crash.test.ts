import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { POSTGRES_URL, postgresUnavailableReason } from './store/backends.ts';
import { waitFor } from './helpers.ts';

/**
 * Crash safety of the real process: the relay is spawned, fed through its HTTP intake, killed with
 * SIGKILL in the middle of work, restarted, and must finish every job with nothing lost and every
 * event's effect recorded exactly once.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURE = join(ROOT, 'relay/test/fixtures/relay-process.ts');
const SECRET = 'crash-test-business-events-secret';
const ADMIN = 'crash-test-admin-token-0123456789';
const CONCURRENCY = 4;

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

interface Relay {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
}

async function startRelay(
  dir: string,
  extraEnv: Record<string, string> = {},
  storeUrl = `sqlite:${join(dir, 'relay.db')}`
): Promise<Relay> {
  // Node itself runs the TypeScript fixture, so the pid killed is the relay's: a tsx wrapper would
  // die alone under SIGKILL and leave the relay running as an orphan.
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', FIXTURE], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      RELAY_STORE_URL: storeUrl,
      RELAY_HOST: '127.0.0.1',
      RELAY_PORT: '0',
      RELAY_LOG_LEVEL: 'warn',
      RELAY_ADMIN_TOKEN: ADMIN,
      RELAY_CALLOUT_KEY: 'crash-test-callout-key-0123456789',
      RELAY_BUSINESS_EVENTS_SECRET: SECRET,
      RELAY_WORKER_CONCURRENCY: String(CONCURRENCY),
      RELAY_WORKER_POLL_MS: '50',
      RELAY_JOB_LEASE_MS: '1000',
      COUNT_FILE: join(dir, 'executions.log'),
      ...extraEnv
    },
    stdio: ['ignore', 'pipe', 'pipe']
  });
  children.push(child);
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
  const port = await new Promise<string>((done, fail) => {
    let stdout = '';
    child.stdout!.on('data', (chunk) => {
      stdout += String(chunk);
      const match = /READY (\d+)/.exec(stdout);
      if (match) done(match[1]!);
    });
    child.on('exit', (code) => fail(new Error(`relay exited (${code}) before ready: ${stderr}`)));
  });
  return { child, url: `http://127.0.0.1:${port}`, exited };
}

function events(count: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => ({
    BusinessEventId: 'RelayCountedBusinessEvent',
    BusinessEventLegalEntity: 'usmf',
    ControlNumber: 5637144576 + i,
    EventId: `0F7C2A4B-1D3E-4F60-9A8B-${String(i).padStart(12, '0')}`,
    EventTime: '/Date(1714557600000)/',
    MajorVersion: 0,
    MinorVersion: 0
  }));
}

async function deliver(relay: Relay, batch: Record<string, unknown>[]) {
  const res = await fetch(`${relay.url}/api/v1/business-events/${SECRET}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(batch)
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { accepted: number; duplicates: number };
}

function executions(dir: string): string[] {
  const file = join(dir, 'executions.log');
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

interface Backend {
  name: 'sqlite' | 'postgres';
  url(dir: string): string;
  /** The first column of the first row of a query on the relay's store. */
  scalar(dir: string, sql: string): Promise<number>;
  dispose(): Promise<void>;
}

const sqlite: Backend = {
  name: 'sqlite',
  url: (dir) => `sqlite:${join(dir, 'relay.db')}`,
  async scalar(dir, sql) {
    const db = new DatabaseSync(join(dir, 'relay.db'), { readOnly: true });
    try {
      return Number(Object.values(db.prepare(sql).get() as Record<string, unknown>)[0]);
    } finally {
      db.close();
    }
  },
  dispose: async () => {}
};

/** PostgreSQL on a fresh schema, chosen for the relay through the URL's search_path option. */
async function postgres(): Promise<Backend> {
  const schema = `relay_crash_${randomUUID().replaceAll('-', '')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.query(`SET search_path TO ${schema}`);
  const separator = POSTGRES_URL.includes('?') ? '&' : '?';
  return {
    name: 'postgres',
    url: () =>
      `${POSTGRES_URL}${separator}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    async scalar(_dir, sql) {
      const { rows } = await admin.query(sql);
      return Number(Object.values(rows[0] as Record<string, unknown>)[0]);
    },
    async dispose() {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  };
}

const pgSkipReason = await postgresUnavailableReason();

describe('relay process', () => {
  it('finishes every job exactly once after a SIGKILL in the middle of work (sqlite store)', () =>
    crashAndRestart(sqlite));

  it.skipIf(pgSkipReason !== null)(
    pgSkipReason === null
      ? 'finishes every job exactly once after a SIGKILL in the middle of work (postgres store)'
      : `postgres crash test skipped: ${pgSkipReason}`,
    async () => crashAndRestart(await postgres())
  );

  async function crashAndRestart(backend: Backend): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'relay-crash-'));
    try {
      const all = events(200);
      const first = await startRelay(dir, {}, backend.url(dir));
      let accepted = 0;
      for (let i = 0; i < all.length; i += 20)
        accepted += (await deliver(first, all.slice(i, i + 20))).accepted;
      expect(accepted).toBe(200);

      await waitFor(() => executions(dir).length >= 40, 10_000, 'work to be under way');
      first.child.kill('SIGKILL');
      await first.exited;
      const pendingAtCrash = await backend.scalar(dir, 'SELECT COUNT(*) FROM jobs');
      expect(pendingAtCrash).toBeGreaterThan(0);

      const second = await startRelay(dir, {}, backend.url(dir));
      // D365 redelivers what it is unsure about: every event is a duplicate now, none is queued again.
      let duplicates = 0;
      for (let i = 0; i < all.length; i += 50)
        duplicates += (await deliver(second, all.slice(i, i + 50))).duplicates;
      expect(duplicates).toBe(200);

      await waitFor(
        async () => (await backend.scalar(dir, 'SELECT COUNT(*) FROM jobs')) === 0,
        20_000,
        'the queue to drain'
      );
      const keys = all.map((e) => `d365:${String(e.EventId)}`);
      const ran = executions(dir);
      expect(new Set(ran)).toEqual(new Set(keys));
      // Only jobs that were running at the kill may have run twice.
      expect(ran.length - keys.length).toBeLessThanOrEqual(CONCURRENCY);
      expect(await backend.scalar(dir, "SELECT COUNT(*) FROM ledger WHERE flow = 'counted'")).toBe(
        200
      );
      expect(await backend.scalar(dir, 'SELECT COUNT(*) FROM inbox')).toBe(200);
      expect(
        await backend.scalar(dir, 'SELECT COUNT(*) FROM inbox WHERE processed_at IS NULL')
      ).toBe(0);
      expect(await backend.scalar(dir, 'SELECT COUNT(*) FROM dead_letters')).toBe(0);

      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } finally {
      await backend.dispose();
    }
  }

  it('on SIGTERM stops intake, finishes running jobs and hands back the rest unlocked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-stop-'));
    const relay = await startRelay(dir, { FLOW_DELAY_MS: '300', RELAY_SHUTDOWN_GRACE_MS: '5000' });
    await deliver(relay, events(40));
    await waitFor(
      async () =>
        (await sqlite.scalar(dir, 'SELECT COUNT(*) FROM jobs WHERE locked_by IS NOT NULL')) > 0,
      5_000,
      'jobs to start'
    );
    relay.child.kill('SIGTERM');
    expect(await relay.exited).toBe(0);

    const finished = executions(dir).length;
    expect(finished).toBeGreaterThan(0);
    // Nothing was interrupted: every execution completed its job.
    expect(
      await sqlite.scalar(dir, 'SELECT COUNT(*) FROM inbox WHERE processed_at IS NOT NULL')
    ).toBe(finished);
    expect(await sqlite.scalar(dir, 'SELECT COUNT(*) FROM jobs')).toBe(40 - finished);
    expect(await sqlite.scalar(dir, 'SELECT COUNT(*) FROM jobs WHERE locked_by IS NOT NULL')).toBe(
      0
    );
    await expect(fetch(`${relay.url}/healthz`)).rejects.toThrow();
  });
});
