import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { main } from '../src/cli.ts';
import { SqliteStore } from '../src/store/sqlite-store.ts';

let env: NodeJS.ProcessEnv;
let dbPath: string;

beforeEach(() => {
  dbPath = join(mkdtempSync(join(tmpdir(), 'relay-cli-')), 'relay.db');
  env = { RELAY_STORE_URL: `sqlite:${dbPath}` };
});

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) }, env);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function withStore<T>(fn: (store: SqliteStore) => Promise<T>): Promise<T> {
  const store = new SqliteStore(dbPath);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function deadLetter(key: string): Promise<number> {
  return withStore(async (store) => {
    await store.intake([
      {
        event: {
          idempotencyKey: key,
          source: 'admin',
          topic: 't',
          payload: { key },
          correlationId: 'c'
        },
        job: { flow: 'noop', maxAttempts: 1 }
      }
    ]);
    const [job] = await store.claimJobs('w', 1, 1_000);
    await store.deadLetterJob(job!.id, 'w', 'exhausted', 'Error: boom');
    return (await store.listDeadLetters({ limit: 1 }))[0]!.id;
  });
}

describe('d365-relay CLI', () => {
  it('migrate creates the store, and commands refuse an unmigrated one', async () => {
    expect((await run('status')).err).toContain('run: d365-relay migrate');
    expect(await run('migrate')).toMatchObject({ code: 0, out: 'Store migrated (sqlite).' });
    expect((await run('status')).code).toBe(0);
  });

  it('status shows pending jobs and dead letters per flow', async () => {
    await run('migrate');
    await deadLetter('a');
    await run('sync', 'noop');
    const { out } = await run('status');
    expect(out).toMatch(/noop\s+1\s+1/);
  });

  it('dlq list, show, replay and discard operate on dead letters', async () => {
    await run('migrate');
    const first = await deadLetter('a');
    const second = await deadLetter('b');
    expect((await run('dlq', 'list')).out).toContain('exhausted');
    expect(JSON.parse((await run('dlq', 'show', String(first))).out)).toMatchObject({
      idempotencyKey: 'a',
      payload: { key: 'a' }
    });
    expect((await run('dlq', 'replay', String(first))).out).toMatch(/queued again as job \d+/);
    expect((await run('dlq', 'discard', String(second))).code).toBe(0);
    expect((await run('dlq', 'list')).out).toBe('No dead letters.');
    expect((await run('dlq', 'show', String(second))).code).toBe(1);
  });

  it('sync queues one run and reports a second as already queued', async () => {
    await run('migrate');
    expect((await run('sync', 'noop', '--full')).out).toMatch(
      /Queued a full sync of noop as job \d+/
    );
    expect((await run('sync', 'noop', '--full')).out).toBe(
      'A full sync of noop is already queued.'
    );
    expect((await run('sync', 'no-such-flow')).err).toContain('No flow named no-such-flow');
  });

  it('answers usage errors with exit code 2', async () => {
    await run('migrate');
    expect((await run('dlq', 'replay', 'abc')).code).toBe(2);
    expect((await run('frobnicate')).code).toBe(2);
    expect((await run('sync', 'noop', '--fast')).code).toBe(2);
  });

  it('names a bad configuration key', async () => {
    env = { RELAY_STORE_URL: 'mysql://db' };
    const { code, err } = await run('status');
    expect(code).toBe(1);
    expect(err).toMatch(/^Configuration error: RELAY_STORE_URL/);
  });

  it('precompile needs a compile cache directory', async () => {
    // This test process has no NODE_COMPILE_CACHE.
    const { code, err } = await run('precompile');
    expect(code).toBe(1);
    expect(err).toContain('NODE_COMPILE_CACHE');
  });

  it('precompile fills the compile cache a later start reads', () => {
    const cache = mkdtempSync(join(tmpdir(), 'relay-compile-cache-'));
    const bin = resolve(import.meta.dirname, '../bin/d365-relay.js');
    const childEnv = { PATH: process.env.PATH, NODE_COMPILE_CACHE: cache };
    const out = execFileSync(process.execPath, [bin, 'precompile'], {
      env: childEnv,
      encoding: 'utf8'
    });
    expect(out).toContain(`Compiled into ${cache}`);
    const [versioned] = readdirSync(cache);
    // One entry per module start loads: the relay's sources and their packages, hundreds here.
    expect(readdirSync(join(cache, versioned!)).length).toBeGreaterThan(100);
    const later = spawnSync(process.execPath, [bin, '--help'], {
      env: { ...childEnv, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' },
      encoding: 'utf8'
    });
    expect(later.stdout).toContain('Usage: d365-relay');
    expect(later.stderr).toMatch(/relay\/src\/cli\.ts was accepted/);
  });
});
