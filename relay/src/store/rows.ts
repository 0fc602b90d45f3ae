import { RelayError } from '../errors.ts';
import type {
  DeadLetter,
  DeadLetterReason,
  IntakeItem,
  IntakeResult,
  Job,
  LedgerEntry,
  LedgerStatus,
  LedgerUpdate,
  NewInboxEvent,
  NewJob
} from './types.ts';

/** A row as either driver returns it: SQLite gives JSON as text, PostgreSQL parses `json` columns. */
type Row = Record<string, unknown>;

const json = (value: unknown): unknown =>
  typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
const num = (value: unknown): number => Number(value);
const numOrNull = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);
const strOrNull = (value: unknown): string | null =>
  value === null || value === undefined ? null : String(value);

export function toJob(row: Row): Job {
  return {
    id: num(row.id),
    flow: String(row.flow),
    idempotencyKey: String(row.idempotency_key),
    payload: json(row.payload),
    attempts: num(row.attempts),
    maxAttempts: num(row.max_attempts),
    runAt: num(row.run_at),
    lastError: strOrNull(row.last_error),
    lockedBy: strOrNull(row.locked_by),
    lockedUntil: numOrNull(row.locked_until),
    correlationId: String(row.correlation_id),
    inboxId: numOrNull(row.inbox_id),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at)
  };
}

export function toDeadLetter(row: Row): DeadLetter {
  return {
    id: num(row.id),
    jobId: num(row.job_id),
    flow: String(row.flow),
    idempotencyKey: String(row.idempotency_key),
    payload: json(row.payload),
    attempts: num(row.attempts),
    maxAttempts: num(row.max_attempts),
    lastError: String(row.last_error),
    reason: String(row.reason) as DeadLetterReason,
    correlationId: String(row.correlation_id),
    inboxId: numOrNull(row.inbox_id),
    createdAt: num(row.created_at),
    deadLetteredAt: num(row.dead_lettered_at)
  };
}

export function toLedgerEntry(row: Row): LedgerEntry {
  return {
    flow: String(row.flow),
    recordKey: String(row.record_key),
    salesforceId: strOrNull(row.salesforce_id),
    d365Key: strOrNull(row.d365_key),
    lastStatus: String(row.last_status) as LedgerStatus,
    lastError: strOrNull(row.last_error),
    contentHash: strOrNull(row.content_hash),
    correlationId: strOrNull(row.correlation_id),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at)
  };
}

/** Adds a row count to a per-flow record. */
export function countsByFlow(rows: Row[]): Record<string, number> {
  const result: Record<string, number> = {};
  for (const row of rows) result[String(row.flow)] = Number(row.n);
  return result;
}

/** Longest error text kept per job or dead letter: enough for D365's Infolog, bounded for the row. */
export const MAX_ERROR_LENGTH = 4_000;

export function truncateError(message: string): string {
  return message.length > MAX_ERROR_LENGTH ? `${message.slice(0, MAX_ERROR_LENGTH - 1)}…` : message;
}

// ---- Values both drivers bind, in the column order of both dialects' statements ----

type SqlValue = string | number | null;

/** `inbox (idempotency_key, source, topic, payload, correlation_id, received_at)`. */
export function inboxValues(event: NewInboxEvent, now: number): SqlValue[] {
  return [
    event.idempotencyKey,
    event.source,
    event.topic,
    JSON.stringify(event.payload),
    event.correlationId,
    now
  ];
}

/** The job an intake item queues: the event's key, payload and correlation id, for the item's flow. */
export function intakeJob(event: NewInboxEvent, job: NonNullable<IntakeItem['job']>): NewJob {
  return {
    flow: job.flow,
    idempotencyKey: event.idempotencyKey,
    payload: event.payload,
    maxAttempts: job.maxAttempts,
    correlationId: event.correlationId
  };
}

/** The answer for an event the inbox already holds. */
export function duplicateIntake(idempotencyKey: string): IntakeResult {
  return { idempotencyKey, duplicate: true, inboxId: null, jobId: null };
}

/**
 * `jobs (flow, idempotency_key, payload, max_attempts, run_at, correlation_id, inbox_id,
 * created_at)`; `updated_at` takes the same time as `created_at`.
 */
export function jobValues(job: NewJob, inboxId: number | null, now: number): SqlValue[] {
  return [
    job.flow,
    job.idempotencyKey,
    JSON.stringify(job.payload),
    job.maxAttempts,
    job.runAt ?? now,
    job.correlationId,
    inboxId,
    now
  ];
}

/**
 * `ledger (flow, record_key, salesforce_id, d365_key, last_status, last_error, content_hash,
 * correlation_id)`; the time columns follow.
 */
export function ledgerValues(entry: LedgerUpdate): SqlValue[] {
  return [
    entry.flow,
    entry.recordKey,
    entry.salesforceId,
    entry.d365Key,
    entry.lastStatus,
    entry.lastError === null ? null : truncateError(entry.lastError),
    entry.contentHash,
    entry.correlationId
  ];
}

/** Replaying a dead letter whose idempotency key is queued again would run the same work twice. */
export function duplicatePendingJob(idempotencyKey: string): RelayError {
  return new RelayError(
    'RELAY_ERR_CONFLICT',
    `A pending job already has the idempotency key ${idempotencyKey}; let it finish first.`
  );
}
