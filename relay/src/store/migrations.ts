/**
 * Schema migrations, one entry per version, written for both backends. Times are epoch milliseconds
 * (BIGINT / INTEGER) so both backends compare and return them identically. Applied in order by
 * `relay migrate`; a version is never edited once released, only followed by a new one.
 */
export interface Migration {
  version: number;
  name: string;
  sqlite: string;
  postgres: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'inbox, jobs, dead letters, checkpoints, ledger, leases',
    sqlite: `
      CREATE TABLE inbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        idempotency_key TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        topic TEXT NOT NULL,
        payload TEXT NOT NULL,
        correlation_id TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        processed_at INTEGER
      );
      CREATE INDEX inbox_processed_at ON inbox (processed_at);
      CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        flow TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        payload TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        run_at INTEGER NOT NULL,
        last_error TEXT,
        locked_by TEXT,
        locked_until INTEGER,
        correlation_id TEXT NOT NULL,
        inbox_id INTEGER REFERENCES inbox (id) ON DELETE SET NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX jobs_due ON jobs (run_at, id);
      CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id INTEGER NOT NULL,
        flow TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        payload TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        max_attempts INTEGER NOT NULL,
        last_error TEXT NOT NULL,
        reason TEXT NOT NULL,
        correlation_id TEXT NOT NULL,
        inbox_id INTEGER,
        created_at INTEGER NOT NULL,
        dead_lettered_at INTEGER NOT NULL
      );
      CREATE INDEX dead_letters_at ON dead_letters (dead_lettered_at);
      CREATE TABLE checkpoints (
        topic TEXT PRIMARY KEY,
        replay_id BLOB NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE ledger (
        flow TEXT NOT NULL,
        record_key TEXT NOT NULL,
        salesforce_id TEXT,
        d365_key TEXT,
        last_status TEXT NOT NULL,
        last_error TEXT,
        content_hash TEXT,
        correlation_id TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (flow, record_key)
      );
      CREATE INDEX ledger_salesforce_id ON ledger (salesforce_id);
      CREATE INDEX ledger_d365_key ON ledger (d365_key);
      CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      );`,
    postgres: `
      CREATE TABLE inbox (
        id BIGSERIAL PRIMARY KEY,
        idempotency_key TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        topic TEXT NOT NULL,
        payload JSON NOT NULL,
        correlation_id TEXT NOT NULL,
        received_at BIGINT NOT NULL,
        processed_at BIGINT
      );
      CREATE INDEX inbox_processed_at ON inbox (processed_at);
      CREATE TABLE jobs (
        id BIGSERIAL PRIMARY KEY,
        flow TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        payload JSON NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        run_at BIGINT NOT NULL,
        last_error TEXT,
        locked_by TEXT,
        locked_until BIGINT,
        correlation_id TEXT NOT NULL,
        inbox_id BIGINT REFERENCES inbox (id) ON DELETE SET NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      CREATE INDEX jobs_due ON jobs (run_at, id);
      CREATE TABLE dead_letters (
        id BIGSERIAL PRIMARY KEY,
        job_id BIGINT NOT NULL,
        flow TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        payload JSON NOT NULL,
        attempts INTEGER NOT NULL,
        max_attempts INTEGER NOT NULL,
        last_error TEXT NOT NULL,
        reason TEXT NOT NULL,
        correlation_id TEXT NOT NULL,
        inbox_id BIGINT,
        created_at BIGINT NOT NULL,
        dead_lettered_at BIGINT NOT NULL
      );
      CREATE INDEX dead_letters_at ON dead_letters (dead_lettered_at);
      CREATE TABLE checkpoints (
        topic TEXT PRIMARY KEY,
        replay_id BYTEA NOT NULL,
        updated_at BIGINT NOT NULL
      );
      CREATE TABLE ledger (
        flow TEXT NOT NULL,
        record_key TEXT NOT NULL,
        salesforce_id TEXT,
        d365_key TEXT,
        last_status TEXT NOT NULL,
        last_error TEXT,
        content_hash TEXT,
        correlation_id TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (flow, record_key)
      );
      CREATE INDEX ledger_salesforce_id ON ledger (salesforce_id);
      CREATE INDEX ledger_d365_key ON ledger (d365_key);
      CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at BIGINT NOT NULL
      );`
  }
];
