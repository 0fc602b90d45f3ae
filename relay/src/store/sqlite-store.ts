import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { MIGRATIONS } from './migrations.ts';
import {
  countsByFlow,
  duplicateIntake,
  duplicatePendingJob,
  inboxValues,
  intakeJob,
  jobValues,
  ledgerValues,
  toDeadLetter,
  toJob,
  toLedgerEntry,
  truncateError
} from './rows.ts';
import type {
  DeadLetter,
  DeadLetterQuery,
  DeadLetterReason,
  IntakeItem,
  IntakeResult,
  Job,
  LedgerEntry,
  LedgerQuery,
  LedgerUpdate,
  NewJob,
  QueueCounts,
  Store,
  StoreOptions
} from './types.ts';

type Row = Record<string, unknown>;

/**
 * The embedded store: one SQLite file in WAL mode, no server and no native build. SQLite allows one
 * writer at a time, so every write runs in a `BEGIN IMMEDIATE` transaction and job claims are a
 * single `UPDATE … RETURNING`. Meant for one relay process; run several replicas on PostgreSQL.
 */
export class SqliteStore implements Store {
  readonly backend = 'sqlite' as const;
  readonly #db: DatabaseSync;
  readonly #now: () => number;
  readonly #statements = new Map<string, StatementSync>();
  readonly #pending: {
    operation: () => unknown;
    resolve: (value: unknown) => void;
    reject: (reason: unknown) => void;
  }[] = [];

  constructor(path: string, options: StoreOptions = {}) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.#db = new DatabaseSync(path);
    this.#now = options.now ?? Date.now;
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA busy_timeout = 5000;
      PRAGMA foreign_keys = ON;`);
  }

  async migrate(): Promise<void> {
    this.#db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)'
    );
    for (const migration of MIGRATIONS) {
      this.#tx(() => {
        const done = this.#get('SELECT 1 AS x FROM schema_migrations WHERE version = ?', [
          migration.version
        ]);
        if (done) return;
        this.#db.exec(migration.sqlite);
        this.#run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
          migration.version,
          migration.name,
          this.#now()
        ]);
      });
    }
  }

  async ping(): Promise<void> {
    this.#get('SELECT 1 AS x FROM schema_migrations LIMIT 1');
  }

  async close(): Promise<void> {
    if (!this.#db.isOpen) return;
    this.#flush();
    this.#db.close();
  }

  async intake(items: IntakeItem[]): Promise<IntakeResult[]> {
    const now = this.#now();
    return this.#grouped(() =>
      items.map(({ event, job }) => {
        const inserted = this.#get(
          `INSERT INTO inbox (idempotency_key, source, topic, payload, correlation_id, received_at)
           VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
          inboxValues(event, now)
        );
        if (!inserted) return duplicateIntake(event.idempotencyKey);
        const inboxId = Number(inserted.id);
        const jobId = job ? this.#insertJob(intakeJob(event, job), inboxId, now) : null;
        return { idempotencyKey: event.idempotencyKey, duplicate: false, inboxId, jobId };
      })
    );
  }

  async enqueue(job: NewJob): Promise<{ jobId: number | null; duplicate: boolean }> {
    const jobId = this.#tx(() => this.#insertJob(job, null, this.#now()));
    return { jobId, duplicate: jobId === null };
  }

  #insertJob(job: NewJob, inboxId: number | null, now: number): number | null {
    const row = this.#get(
      `INSERT INTO jobs (flow, idempotency_key, payload, max_attempts, run_at, correlation_id, inbox_id, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
      [...jobValues(job, inboxId, now), now]
    );
    return row ? Number(row.id) : null;
  }

  async claimJobs(workerId: string, limit: number, leaseMs: number): Promise<Job[]> {
    const now = this.#now();
    const rows = this.#tx(() =>
      this.#all(
        `UPDATE jobs SET locked_by = ?, locked_until = ?, attempts = attempts + 1, updated_at = ?
         WHERE id IN (
           SELECT id FROM jobs
           WHERE run_at <= ? AND (locked_until IS NULL OR locked_until < ?)
           ORDER BY run_at, id LIMIT ?)
         RETURNING *`,
        [workerId, now + leaseMs, now, now, now, limit]
      )
    );
    return rows.map(toJob).sort((a, b) => a.runAt - b.runAt || a.id - b.id);
  }

  async renewLeases(workerId: string, jobIds: number[], leaseMs: number): Promise<number> {
    if (jobIds.length === 0) return 0;
    const now = this.#now();
    return this.#tx(
      () =>
        this.#run(
          `UPDATE jobs SET locked_until = ?, updated_at = ?
           WHERE locked_by = ? AND id IN (SELECT value FROM json_each(?))`,
          [now + leaseMs, now, workerId, JSON.stringify(jobIds)]
        ).changes
    );
  }

  async completeJob(jobId: number, workerId: string): Promise<boolean> {
    const now = this.#now();
    return this.#grouped(() => {
      const row = this.#get('DELETE FROM jobs WHERE id = ? AND locked_by = ? RETURNING inbox_id', [
        jobId,
        workerId
      ]);
      if (!row) return false;
      if (row.inbox_id !== null) {
        this.#run('UPDATE inbox SET processed_at = ? WHERE id = ?', [now, Number(row.inbox_id)]);
      }
      return true;
    });
  }

  async retryJob(jobId: number, workerId: string, runAt: number, error: string): Promise<boolean> {
    const now = this.#now();
    return this.#tx(
      () =>
        this.#run(
          `UPDATE jobs SET run_at = ?, last_error = ?, locked_by = NULL, locked_until = NULL, updated_at = ?
           WHERE id = ? AND locked_by = ?`,
          [runAt, truncateError(error), now, jobId, workerId]
        ).changes === 1
    );
  }

  async deadLetterJob(
    jobId: number,
    workerId: string,
    reason: DeadLetterReason,
    error: string
  ): Promise<boolean> {
    const now = this.#now();
    return this.#tx(() => {
      const moved = this.#run(
        `INSERT INTO dead_letters (job_id, flow, idempotency_key, payload, attempts, max_attempts, last_error, reason, correlation_id, inbox_id, created_at, dead_lettered_at)
         SELECT id, flow, idempotency_key, payload, attempts, max_attempts, ?, ?, correlation_id, inbox_id, created_at, ?
         FROM jobs WHERE id = ? AND locked_by = ?`,
        [truncateError(error), reason, now, jobId, workerId]
      );
      if (moved.changes !== 1) return false;
      this.#run('DELETE FROM jobs WHERE id = ?', [jobId]);
      return true;
    });
  }

  async releaseJobs(workerId: string): Promise<number> {
    const now = this.#now();
    return this.#tx(
      () =>
        this.#run(
          'UPDATE jobs SET locked_by = NULL, locked_until = NULL, run_at = ?, updated_at = ? WHERE locked_by = ?',
          [now, now, workerId]
        ).changes
    );
  }

  async nextRunAt(): Promise<number | null> {
    const now = this.#now();
    const row = this.#get(
      `SELECT MIN(CASE WHEN locked_until IS NOT NULL AND locked_until >= ? THEN locked_until ELSE run_at END) AS t
       FROM jobs`,
      [now]
    );
    return row?.t === null || row?.t === undefined ? null : Number(row.t);
  }

  async counts(): Promise<QueueCounts> {
    const now = this.#now();
    const pending = this.#all('SELECT flow, COUNT(*) AS n FROM jobs GROUP BY flow');
    const running = this.#get('SELECT COUNT(*) AS n FROM jobs WHERE locked_until >= ?', [now]);
    const dead = this.#all('SELECT flow, COUNT(*) AS n FROM dead_letters GROUP BY flow');
    return {
      pending: countsByFlow(pending),
      running: Number(running?.n ?? 0),
      deadLetters: countsByFlow(dead)
    };
  }

  async getJob(jobId: number): Promise<Job | null> {
    const row = this.#get('SELECT * FROM jobs WHERE id = ?', [jobId]);
    return row ? toJob(row) : null;
  }

  async listDeadLetters(query: DeadLetterQuery): Promise<DeadLetter[]> {
    const rows = this.#all(
      `SELECT * FROM dead_letters
       WHERE (? IS NULL OR flow = ?) AND (? IS NULL OR id < ?)
       ORDER BY id DESC LIMIT ?`,
      [
        query.flow ?? null,
        query.flow ?? null,
        query.beforeId ?? null,
        query.beforeId ?? null,
        query.limit
      ]
    );
    return rows.map(toDeadLetter);
  }

  async getDeadLetter(id: number): Promise<DeadLetter | null> {
    const row = this.#get('SELECT * FROM dead_letters WHERE id = ?', [id]);
    return row ? toDeadLetter(row) : null;
  }

  async replayDeadLetter(id: number): Promise<{ jobId: number } | null> {
    const now = this.#now();
    return this.#tx(() => {
      const row = this.#get('DELETE FROM dead_letters WHERE id = ? RETURNING *', [id]);
      if (!row) return null;
      const inserted = this.#get(
        `INSERT INTO jobs (flow, idempotency_key, payload, max_attempts, run_at, correlation_id, inbox_id, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, (SELECT id FROM inbox WHERE id = ?), ?, ?)
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
        [
          String(row.flow),
          String(row.idempotency_key),
          String(row.payload),
          Number(row.max_attempts),
          now,
          String(row.correlation_id),
          row.inbox_id === null ? null : Number(row.inbox_id),
          now,
          now
        ]
      );
      // A pending job with the same key already covers this work; throwing rolls the DELETE back.
      if (!inserted) throw duplicatePendingJob(String(row.idempotency_key));
      return { jobId: Number(inserted.id) };
    });
  }

  async discardDeadLetter(id: number): Promise<boolean> {
    return this.#tx(() => this.#run('DELETE FROM dead_letters WHERE id = ?', [id]).changes === 1);
  }

  async purge(options: {
    deadLettersBefore: number;
    processedInboxBefore: number;
  }): Promise<{ deadLetters: number; inbox: number }> {
    return this.#tx(() => ({
      deadLetters: this.#run('DELETE FROM dead_letters WHERE dead_lettered_at < ?', [
        options.deadLettersBefore
      ]).changes,
      inbox: this.#run(
        `DELETE FROM inbox WHERE processed_at IS NOT NULL AND processed_at < ?
         AND id NOT IN (SELECT inbox_id FROM dead_letters WHERE inbox_id IS NOT NULL)`,
        [options.processedInboxBefore]
      ).changes
    }));
  }

  async loadCheckpoint(topic: string): Promise<Buffer | null> {
    const row = this.#get('SELECT replay_id FROM checkpoints WHERE topic = ?', [topic]);
    return row ? Buffer.from(row.replay_id as Uint8Array) : null;
  }

  async saveCheckpoint(topic: string, replayId: Buffer): Promise<void> {
    const now = this.#now();
    this.#tx(() =>
      this.#run(
        `INSERT INTO checkpoints (topic, replay_id, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (topic) DO UPDATE SET replay_id = excluded.replay_id, updated_at = excluded.updated_at`,
        [topic, replayId, now]
      )
    );
  }

  async upsertLedger(entry: LedgerUpdate): Promise<void> {
    const now = this.#now();
    this.#tx(() =>
      this.#run(
        `INSERT INTO ledger (flow, record_key, salesforce_id, d365_key, last_status, last_error, content_hash, correlation_id, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (flow, record_key) DO UPDATE SET
           salesforce_id = COALESCE(excluded.salesforce_id, ledger.salesforce_id),
           d365_key = COALESCE(excluded.d365_key, ledger.d365_key),
           last_status = excluded.last_status, last_error = excluded.last_error,
           content_hash = COALESCE(excluded.content_hash, ledger.content_hash),
           correlation_id = excluded.correlation_id, updated_at = excluded.updated_at`,
        [...ledgerValues(entry), now, now]
      )
    );
  }

  async queryLedger(query: LedgerQuery): Promise<LedgerEntry[]> {
    const rows = this.#all(
      `SELECT * FROM ledger
       WHERE (? IS NULL OR flow = ?) AND (? IS NULL OR salesforce_id = ?)
         AND (? IS NULL OR d365_key = ?) AND (? IS NULL OR last_status = ?)
       ORDER BY updated_at DESC, flow, record_key LIMIT ?`,
      [
        query.flow ?? null,
        query.flow ?? null,
        query.salesforceId ?? null,
        query.salesforceId ?? null,
        query.d365Key ?? null,
        query.d365Key ?? null,
        query.status ?? null,
        query.status ?? null,
        query.limit
      ]
    );
    return rows.map(toLedgerEntry);
  }

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    return this.#tx(() => {
      const row = this.#get(
        `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE leases.holder = excluded.holder OR leases.expires_at < ?
         RETURNING holder`,
        [name, holder, now + ttlMs, now]
      );
      return row?.holder === holder;
    });
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    this.#tx(() => this.#run('DELETE FROM leases WHERE name = ? AND holder = ?', [name, holder]));
  }

  async leaseHolder(name: string): Promise<{ holder: string; expiresAt: number } | null> {
    const row = this.#get(
      'SELECT holder, expires_at FROM leases WHERE name = ? AND expires_at >= ?',
      [name, this.#now()]
    );
    return row ? { holder: String(row.holder), expiresAt: Number(row.expires_at) } : null;
  }

  /**
   * Group commit: operations requested in the same event-loop turn (concurrent HTTP intakes, jobs
   * finishing together) share one transaction, so one WAL write covers many of them. Each caller
   * still resolves only after the commit. If the shared transaction fails, each operation is
   * retried alone so one bad operation cannot fail the others.
   */
  #grouped<T>(operation: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ operation, resolve: resolve as (value: unknown) => void, reject });
      if (this.#pending.length === 1) setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    const batch = this.#pending.splice(0);
    if (batch.length === 0) return;
    try {
      const results = this.#tx(() => batch.map((entry) => entry.operation()));
      batch.forEach((entry, i) => entry.resolve(results[i]));
    } catch {
      for (const entry of batch) {
        try {
          entry.resolve(this.#tx(entry.operation));
        } catch (err) {
          entry.reject(err);
        }
      }
    }
  }

  #tx<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.#db.exec('COMMIT');
      return result;
    } catch (err) {
      this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #get(sql: string, params: SQLInputValue[] = []): Row | undefined {
    return this.#statement(sql).get(...params) as Row | undefined;
  }

  #all(sql: string, params: SQLInputValue[] = []): Row[] {
    return this.#statement(sql).all(...params) as Row[];
  }

  #run(sql: string, params: SQLInputValue[] = []): { changes: number } {
    return { changes: Number(this.#statement(sql).run(...params).changes) };
  }
}
