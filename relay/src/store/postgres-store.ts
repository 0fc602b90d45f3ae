import pg from 'pg';
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
type Queryable = Pick<pg.PoolClient, 'query'>;

const INT8_OID = 20;
/** Any constant works: it only has to be the same for every replica running `relay migrate`. */
const MIGRATION_LOCK_KEY = 7_365_001;

export interface PostgresStoreOptions extends StoreOptions {
  /** Schema holding the relay's tables (tests use one per test); default: the role's search_path. */
  schema?: string;
  poolSize?: number;
}

/**
 * The store for several relay replicas. Workers claim with `FOR UPDATE SKIP LOCKED`, so replicas
 * never wait on each other's rows. The Pub/Sub subscription is guarded by the `leases` table rather
 * than an advisory lock: an advisory lock lives as long as one pooled connection, while a lease row
 * with an expiry survives pool churn and fails over when its holder stops renewing it.
 */
export class PostgresStore implements Store {
  readonly backend = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #now: () => number;
  readonly #schema: string | undefined;

  constructor(connectionString: string, options: PostgresStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#schema = options.schema;
    if (this.#schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(this.#schema)) {
      throw new Error(`Invalid PostgreSQL schema name: ${this.#schema}`);
    }
    this.#pool = new pg.Pool({
      connectionString,
      ...(this.#schema === undefined ? {} : { options: `-c search_path=${this.#schema}` }),
      max: options.poolSize ?? 10,
      // Epoch-millisecond BIGINTs fit a JS number for the next 280,000 years.
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID
            ? (value: string) => Number(value)
            : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser
      }
    });
    // Idle connections can fail when the server restarts; queries report it, the pool must not crash.
    this.#pool.on('error', () => {});
  }

  async migrate(): Promise<void> {
    await this.#tx(async (db) => {
      await db.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      if (this.#schema !== undefined) {
        await db.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(this.#schema)}`);
      }
      await db.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)'
      );
      for (const migration of MIGRATIONS) {
        const done = await db.query('SELECT 1 FROM schema_migrations WHERE version = $1', [
          migration.version
        ]);
        if (done.rowCount) continue;
        await db.query(migration.postgres);
        await db.query(
          'INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)',
          [migration.version, migration.name, this.#now()]
        );
      }
    });
  }

  async ping(): Promise<void> {
    await this.#pool.query('SELECT 1 FROM schema_migrations LIMIT 1');
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async intake(items: IntakeItem[]): Promise<IntakeResult[]> {
    const now = this.#now();
    return this.#tx(async (db) => {
      const results: IntakeResult[] = [];
      for (const { event, job } of items) {
        const inserted = await db.query(
          `INSERT INTO inbox (idempotency_key, source, topic, payload, correlation_id, received_at)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
          inboxValues(event, now)
        );
        const row = inserted.rows[0] as Row | undefined;
        if (!row) {
          results.push(duplicateIntake(event.idempotencyKey));
          continue;
        }
        const inboxId = Number(row.id);
        const jobId = job ? await insertJob(db, intakeJob(event, job), inboxId, now) : null;
        results.push({ idempotencyKey: event.idempotencyKey, duplicate: false, inboxId, jobId });
      }
      return results;
    });
  }

  async enqueue(job: NewJob): Promise<{ jobId: number | null; duplicate: boolean }> {
    const jobId = await insertJob(this.#pool, job, null, this.#now());
    return { jobId, duplicate: jobId === null };
  }

  async claimJobs(workerId: string, limit: number, leaseMs: number): Promise<Job[]> {
    const now = this.#now();
    const { rows } = await this.#pool.query(
      `UPDATE jobs SET locked_by = $1, locked_until = $2, attempts = attempts + 1, updated_at = $3
       WHERE id IN (
         SELECT id FROM jobs
         WHERE run_at <= $3 AND (locked_until IS NULL OR locked_until < $3)
         ORDER BY run_at, id LIMIT $4
         FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [workerId, now + leaseMs, now, limit]
    );
    return (rows as Row[]).map(toJob).sort((a, b) => a.runAt - b.runAt || a.id - b.id);
  }

  async renewLeases(workerId: string, jobIds: number[], leaseMs: number): Promise<number> {
    if (jobIds.length === 0) return 0;
    const now = this.#now();
    const result = await this.#pool.query(
      `UPDATE jobs SET locked_until = $1, updated_at = $2 WHERE locked_by = $3 AND id = ANY($4::bigint[])`,
      [now + leaseMs, now, workerId, jobIds]
    );
    return result.rowCount ?? 0;
  }

  async completeJob(jobId: number, workerId: string): Promise<boolean> {
    const now = this.#now();
    const result = await this.#pool.query(
      `WITH done AS (DELETE FROM jobs WHERE id = $1 AND locked_by = $2 RETURNING inbox_id),
            marked AS (UPDATE inbox SET processed_at = $3 WHERE id IN (SELECT inbox_id FROM done))
       SELECT COUNT(*)::int AS n FROM done`,
      [jobId, workerId, now]
    );
    return (result.rows[0] as Row).n === 1;
  }

  async retryJob(jobId: number, workerId: string, runAt: number, error: string): Promise<boolean> {
    const result = await this.#pool.query(
      `UPDATE jobs SET run_at = $1, last_error = $2, locked_by = NULL, locked_until = NULL, updated_at = $3
       WHERE id = $4 AND locked_by = $5`,
      [runAt, truncateError(error), this.#now(), jobId, workerId]
    );
    return result.rowCount === 1;
  }

  async deadLetterJob(
    jobId: number,
    workerId: string,
    reason: DeadLetterReason,
    error: string
  ): Promise<boolean> {
    const result = await this.#pool.query(
      `WITH moved AS (DELETE FROM jobs WHERE id = $1 AND locked_by = $2 RETURNING *)
       INSERT INTO dead_letters (job_id, flow, idempotency_key, payload, attempts, max_attempts, last_error, reason, correlation_id, inbox_id, created_at, dead_lettered_at)
       SELECT id, flow, idempotency_key, payload, attempts, max_attempts, $3, $4, correlation_id, inbox_id, created_at, $5
       FROM moved`,
      [jobId, workerId, truncateError(error), reason, this.#now()]
    );
    return result.rowCount === 1;
  }

  async releaseJobs(workerId: string): Promise<number> {
    const now = this.#now();
    const result = await this.#pool.query(
      'UPDATE jobs SET locked_by = NULL, locked_until = NULL, run_at = $1, updated_at = $1 WHERE locked_by = $2',
      [now, workerId]
    );
    return result.rowCount ?? 0;
  }

  async nextRunAt(): Promise<number | null> {
    const { rows } = await this.#pool.query(
      `SELECT MIN(CASE WHEN locked_until IS NOT NULL AND locked_until >= $1 THEN locked_until ELSE run_at END) AS t
       FROM jobs`,
      [this.#now()]
    );
    const t = (rows[0] as Row).t;
    return t === null ? null : Number(t);
  }

  async counts(): Promise<QueueCounts> {
    const pending = await this.#pool.query(
      'SELECT flow, COUNT(*)::int AS n FROM jobs GROUP BY flow'
    );
    const running = await this.#pool.query(
      'SELECT COUNT(*)::int AS n FROM jobs WHERE locked_until >= $1',
      [this.#now()]
    );
    const dead = await this.#pool.query(
      'SELECT flow, COUNT(*)::int AS n FROM dead_letters GROUP BY flow'
    );
    return {
      pending: countsByFlow(pending.rows as Row[]),
      running: Number((running.rows[0] as Row).n),
      deadLetters: countsByFlow(dead.rows as Row[])
    };
  }

  async getJob(jobId: number): Promise<Job | null> {
    const { rows } = await this.#pool.query('SELECT * FROM jobs WHERE id = $1', [jobId]);
    return rows[0] ? toJob(rows[0] as Row) : null;
  }

  async listDeadLetters(query: DeadLetterQuery): Promise<DeadLetter[]> {
    const { rows } = await this.#pool.query(
      `SELECT * FROM dead_letters
       WHERE ($1::text IS NULL OR flow = $1) AND ($2::bigint IS NULL OR id < $2)
       ORDER BY id DESC LIMIT $3`,
      [query.flow ?? null, query.beforeId ?? null, query.limit]
    );
    return (rows as Row[]).map(toDeadLetter);
  }

  async getDeadLetter(id: number): Promise<DeadLetter | null> {
    const { rows } = await this.#pool.query('SELECT * FROM dead_letters WHERE id = $1', [id]);
    return rows[0] ? toDeadLetter(rows[0] as Row) : null;
  }

  async replayDeadLetter(id: number): Promise<{ jobId: number } | null> {
    const now = this.#now();
    return this.#tx(async (db) => {
      const deleted = await db.query('DELETE FROM dead_letters WHERE id = $1 RETURNING *', [id]);
      const row = deleted.rows[0] as Row | undefined;
      if (!row) return null;
      const inserted = await db.query(
        `INSERT INTO jobs (flow, idempotency_key, payload, max_attempts, run_at, correlation_id, inbox_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, (SELECT id FROM inbox WHERE id = $7), $5, $5)
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
        [
          row.flow,
          row.idempotency_key,
          JSON.stringify(row.payload),
          row.max_attempts,
          now,
          row.correlation_id,
          row.inbox_id
        ]
      );
      const job = inserted.rows[0] as Row | undefined;
      // A pending job with the same key already covers this work; throwing rolls the DELETE back.
      if (!job) throw duplicatePendingJob(String(row.idempotency_key));
      return { jobId: Number(job.id) };
    });
  }

  async discardDeadLetter(id: number): Promise<boolean> {
    const result = await this.#pool.query('DELETE FROM dead_letters WHERE id = $1', [id]);
    return result.rowCount === 1;
  }

  async purge(options: {
    deadLettersBefore: number;
    processedInboxBefore: number;
  }): Promise<{ deadLetters: number; inbox: number }> {
    return this.#tx(async (db) => {
      const dead = await db.query('DELETE FROM dead_letters WHERE dead_lettered_at < $1', [
        options.deadLettersBefore
      ]);
      const inbox = await db.query(
        `DELETE FROM inbox WHERE processed_at IS NOT NULL AND processed_at < $1
         AND id NOT IN (SELECT inbox_id FROM dead_letters WHERE inbox_id IS NOT NULL)`,
        [options.processedInboxBefore]
      );
      return { deadLetters: dead.rowCount ?? 0, inbox: inbox.rowCount ?? 0 };
    });
  }

  async loadCheckpoint(topic: string): Promise<Buffer | null> {
    const { rows } = await this.#pool.query('SELECT replay_id FROM checkpoints WHERE topic = $1', [
      topic
    ]);
    return rows[0] ? ((rows[0] as Row).replay_id as Buffer) : null;
  }

  async saveCheckpoint(topic: string, replayId: Buffer): Promise<void> {
    await this.#pool.query(
      `INSERT INTO checkpoints (topic, replay_id, updated_at) VALUES ($1, $2, $3)
       ON CONFLICT (topic) DO UPDATE SET replay_id = EXCLUDED.replay_id, updated_at = EXCLUDED.updated_at`,
      [topic, replayId, this.#now()]
    );
  }

  async upsertLedger(entry: LedgerUpdate): Promise<void> {
    const now = this.#now();
    await this.#pool.query(
      `INSERT INTO ledger (flow, record_key, salesforce_id, d365_key, last_status, last_error, content_hash, correlation_id, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
       ON CONFLICT (flow, record_key) DO UPDATE SET
         salesforce_id = COALESCE(EXCLUDED.salesforce_id, ledger.salesforce_id),
         d365_key = COALESCE(EXCLUDED.d365_key, ledger.d365_key),
         last_status = EXCLUDED.last_status, last_error = EXCLUDED.last_error,
         content_hash = COALESCE(EXCLUDED.content_hash, ledger.content_hash),
         correlation_id = EXCLUDED.correlation_id, updated_at = EXCLUDED.updated_at`,
      [...ledgerValues(entry), now]
    );
  }

  async queryLedger(query: LedgerQuery): Promise<LedgerEntry[]> {
    const { rows } = await this.#pool.query(
      `SELECT * FROM ledger
       WHERE ($1::text IS NULL OR flow = $1) AND ($2::text IS NULL OR salesforce_id = $2)
         AND ($3::text IS NULL OR d365_key = $3) AND ($4::text IS NULL OR last_status = $4)
       ORDER BY updated_at DESC, flow, record_key LIMIT $5`,
      [
        query.flow ?? null,
        query.salesforceId ?? null,
        query.d365Key ?? null,
        query.status ?? null,
        query.limit
      ]
    );
    return (rows as Row[]).map(toLedgerEntry);
  }

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    const { rows } = await this.#pool.query(
      `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
       WHERE leases.holder = EXCLUDED.holder OR leases.expires_at < $4
       RETURNING holder`,
      [name, holder, now + ttlMs, now]
    );
    return (rows[0] as Row | undefined)?.holder === holder;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.#pool.query('DELETE FROM leases WHERE name = $1 AND holder = $2', [name, holder]);
  }

  async leaseHolder(name: string): Promise<{ holder: string; expiresAt: number } | null> {
    const { rows } = await this.#pool.query(
      'SELECT holder, expires_at FROM leases WHERE name = $1 AND expires_at >= $2',
      [name, this.#now()]
    );
    const row = rows[0] as Row | undefined;
    return row ? { holder: String(row.holder), expiresAt: Number(row.expires_at) } : null;
  }

  async #tx<T>(fn: (db: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }
}

async function insertJob(
  db: Queryable,
  job: NewJob,
  inboxId: number | null,
  now: number
): Promise<number | null> {
  const { rows } = await db.query(
    `INSERT INTO jobs (flow, idempotency_key, payload, max_attempts, run_at, correlation_id, inbox_id, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
    jobValues(job, inboxId, now)
  );
  const row = rows[0] as Row | undefined;
  return row ? Number(row.id) : null;
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
