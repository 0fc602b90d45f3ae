/** Where an inbox event came from. */
export type EventSource = 'd365-business-event' | 'salesforce-pubsub' | 'admin';

export interface NewInboxEvent {
  /** Unique per source event; a second event with the same key is a duplicate delivery. */
  idempotencyKey: string;
  source: EventSource;
  topic: string;
  payload: unknown;
  correlationId: string;
}

export interface NewJob {
  flow: string;
  /** Unique among pending jobs: a second enqueue with the same key is acknowledged, not queued. */
  idempotencyKey: string;
  payload: unknown;
  maxAttempts: number;
  correlationId: string;
  runAt?: number;
}

export interface IntakeItem {
  event: NewInboxEvent;
  /** The flow that processes the event; absent when the event is only recorded. */
  job?: { flow: string; maxAttempts: number };
}

export interface IntakeResult {
  idempotencyKey: string;
  duplicate: boolean;
  inboxId: number | null;
  jobId: number | null;
}

export interface Job {
  id: number;
  flow: string;
  idempotencyKey: string;
  payload: unknown;
  /** Attempts started so far, including the current one once claimed. */
  attempts: number;
  maxAttempts: number;
  runAt: number;
  lastError: string | null;
  lockedBy: string | null;
  lockedUntil: number | null;
  correlationId: string;
  inboxId: number | null;
  createdAt: number;
  updatedAt: number;
}

export type DeadLetterReason = 'permanent' | 'exhausted';

export interface DeadLetter {
  id: number;
  jobId: number;
  flow: string;
  idempotencyKey: string;
  payload: unknown;
  attempts: number;
  maxAttempts: number;
  lastError: string;
  reason: DeadLetterReason;
  correlationId: string;
  inboxId: number | null;
  createdAt: number;
  deadLetteredAt: number;
}

export interface DeadLetterQuery {
  flow?: string;
  /** Keyset pagination: only dead letters with a smaller id (newest first). */
  beforeId?: number;
  limit: number;
}

export type LedgerStatus = 'Synced' | 'Error' | 'Pending' | 'Skipped';

export interface LedgerEntry {
  flow: string;
  /** The key the flow identifies the record by (usually the Salesforce id or the D365 key). */
  recordKey: string;
  salesforceId: string | null;
  d365Key: string | null;
  lastStatus: LedgerStatus;
  lastError: string | null;
  contentHash: string | null;
  correlationId: string | null;
  createdAt: number;
  updatedAt: number;
}

export type LedgerUpdate = Omit<LedgerEntry, 'createdAt' | 'updatedAt'>;

export interface LedgerQuery {
  flow?: string;
  salesforceId?: string;
  d365Key?: string;
  status?: LedgerStatus;
  limit: number;
}

export interface QueueCounts {
  /** Pending jobs per flow (due, scheduled and running). */
  pending: Record<string, number>;
  running: number;
  deadLetters: Record<string, number>;
}

export type StoreBackend = 'sqlite' | 'postgres';

/**
 * The relay's durable state. Both backends implement the same behaviour (one test suite runs
 * against both); times are epoch milliseconds from the store's clock.
 */
export interface Store {
  readonly backend: StoreBackend;
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;

  /** Records events and enqueues their jobs in one transaction; duplicates are reported, not queued. */
  intake(items: IntakeItem[]): Promise<IntakeResult[]>;
  enqueue(job: NewJob): Promise<{ jobId: number | null; duplicate: boolean }>;

  claimJobs(workerId: string, limit: number, leaseMs: number): Promise<Job[]>;
  renewLeases(workerId: string, jobIds: number[], leaseMs: number): Promise<number>;
  /** Deletes the job and marks its inbox event processed; false when the lease was lost. */
  completeJob(jobId: number, workerId: string): Promise<boolean>;
  retryJob(jobId: number, workerId: string, runAt: number, error: string): Promise<boolean>;
  deadLetterJob(
    jobId: number,
    workerId: string,
    reason: DeadLetterReason,
    error: string
  ): Promise<boolean>;
  /** Unlocks this worker's jobs so another worker can take them at once (graceful stop). */
  releaseJobs(workerId: string): Promise<number>;
  nextRunAt(): Promise<number | null>;
  counts(): Promise<QueueCounts>;
  getJob(jobId: number): Promise<Job | null>;

  listDeadLetters(query: DeadLetterQuery): Promise<DeadLetter[]>;
  getDeadLetter(id: number): Promise<DeadLetter | null>;
  /** Moves the dead letter back to the queue as a fresh job; null when it does not exist. */
  replayDeadLetter(id: number): Promise<{ jobId: number } | null>;
  discardDeadLetter(id: number): Promise<boolean>;
  purge(options: { deadLettersBefore: number; processedInboxBefore: number }): Promise<{
    deadLetters: number;
    inbox: number;
  }>;

  /** The last durably stored Pub/Sub replay id of a topic. */
  loadCheckpoint(topic: string): Promise<Buffer | null>;
  saveCheckpoint(topic: string, replayId: Buffer): Promise<void>;

  upsertLedger(entry: LedgerUpdate): Promise<void>;
  queryLedger(query: LedgerQuery): Promise<LedgerEntry[]>;

  /** Takes or renews a named lease; true when `holder` holds it until now + ttlMs. */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;
  leaseHolder(name: string): Promise<{ holder: string; expiresAt: number } | null>;
}

export interface StoreOptions {
  now?: () => number;
}
