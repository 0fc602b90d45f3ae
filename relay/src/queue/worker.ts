import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { RelayClients } from '../clients.ts';
import type { ConfigValues } from '../config/schema.ts';
import { coerceError } from '../errors.ts';
import type { FlowRegistry } from '../flows/registry.ts';
import type { FlowOutcome } from '../flows/types.ts';
import type { FlowGate } from '../flows/shared/package-switches.ts';
import type { BackoffPolicy } from '../net/backoff.ts';
import type { Job, Store } from '../store/types.ts';
import { withCorrelationId } from '../observability/correlation.ts';
import { classifyFailure } from './classify.ts';

export type JobOutcome = 'completed' | 'skipped' | 'retried' | 'dead_lettered';

export interface JobObserver {
  job(e: { flow: string; outcome: JobOutcome; durationMs: number }): void;
}

export interface WorkerOptions {
  store: Store;
  registry: FlowRegistry;
  clients: RelayClients;
  logger: Logger;
  concurrency: number;
  leaseMs: number;
  pollMs: number;
  retention: { deadLetterDays: number; inboxDays: number };
  observer?: JobObserver;
  backoff?: BackoffPolicy;
  workerId?: string;
  /** Handed to every handler as `context.config` (flow settings). */
  config?: ConfigValues;
  /** Asked before each job whether its flow may run (the package's per-flow switches). */
  gate?: FlowGate;
}

const DAY_MS = 86_400_000;
const PURGE_INTERVAL_MS = 3_600_000;

/**
 * Runs due jobs with up to `concurrency` handlers at once. Claims are leased: the worker renews the
 * leases of running jobs every third of the lease, so a job is only taken over by another worker
 * when this one has died (or hung past its lease). Every job may therefore run more than once;
 * handlers are written to be idempotent.
 */
export class Worker {
  readonly id: string;
  readonly #options: WorkerOptions;
  readonly #inFlight = new Map<number, { promise: Promise<void>; abort: AbortController }>();
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #renewTimer: NodeJS.Timeout | null = null;
  #purgeTimer: NodeJS.Timeout | null = null;

  constructor(options: WorkerOptions) {
    this.#options = options;
    this.id = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    const { leaseMs } = this.#options;
    this.#renewTimer = setInterval(() => void this.#renewLeases(), Math.floor(leaseMs / 3));
    this.#purgeTimer = setInterval(() => void this.#purge(), PURGE_INTERVAL_MS);
    this.#renewTimer.unref();
    this.#purgeTimer.unref();
    void this.#purge();
    this.#loop = this.#run();
  }

  /** Tells the worker that work may be due now (called after intake). */
  wake(): void {
    this.#wake?.();
  }

  /**
   * Stops claiming, lets running handlers finish within `graceMs`, then aborts the rest and hands
   * their jobs back so another worker (or the next start) picks them up at once.
   */
  async stop(graceMs: number): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.wake();
    await this.#loop;
    const all = Promise.allSettled([...this.#inFlight.values()].map((j) => j.promise));
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(true), graceMs).unref())
    ]);
    if (timedOut) {
      this.#options.logger.warn(
        { workerId: this.id, inFlight: this.#inFlight.size },
        'Shutdown grace period over; aborting running jobs'
      );
      for (const job of this.#inFlight.values()) job.abort.abort(new Error('Relay shutting down'));
    }
    if (this.#renewTimer) clearInterval(this.#renewTimer);
    if (this.#purgeTimer) clearInterval(this.#purgeTimer);
    const released = await this.#options.store.releaseJobs(this.id);
    if (released > 0) this.#options.logger.info({ released }, 'Released unfinished jobs');
  }

  async #run(): Promise<void> {
    const { store, concurrency, leaseMs, pollMs, logger } = this.#options;
    while (this.#running) {
      const free = concurrency - this.#inFlight.size;
      let waitMs = pollMs;
      if (free > 0) {
        try {
          const jobs = await store.claimJobs(this.id, free, leaseMs);
          for (const job of jobs) this.#launch(job);
          if (jobs.length === free) continue;
          const next = await store.nextRunAt();
          if (next !== null) waitMs = Math.min(pollMs, Math.max(0, next - Date.now()));
        } catch (err) {
          logger.error(
            { err: coerceError(err) },
            'Claiming jobs failed; retrying after the poll interval'
          );
        }
      }
      if (!this.#running) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = null;
    }
  }

  #launch(job: Job): void {
    const abort = new AbortController();
    // Everything the job does, its log lines and the clients' requests, runs under its correlation id.
    const promise = withCorrelationId(job.correlationId, () => this.#execute(job, abort.signal))
      .catch((err: unknown) => {
        // Only store failures reach here; the lease expires and another run picks the job up.
        this.#options.logger.error(
          { err: coerceError(err), jobId: job.id },
          'Recording a job outcome failed'
        );
      })
      .finally(() => {
        this.#inFlight.delete(job.id);
        this.wake();
      });
    this.#inFlight.set(job.id, { promise, abort });
  }

  async #execute(job: Job, signal: AbortSignal): Promise<void> {
    const { store, registry, clients, observer } = this.#options;
    // The correlation id is added to each line by the logger's mixin (observability/correlation.ts).
    const logger = this.#options.logger.child({
      jobId: job.id,
      flow: job.flow,
      attempt: job.attempts
    });
    const started = performance.now();
    const flow = registry.get(job.flow);
    if (!flow) {
      await store.deadLetterJob(
        job.id,
        this.id,
        'permanent',
        `No flow named ${job.flow} is registered`
      );
      observer?.job({ flow: job.flow, outcome: 'dead_lettered', durationMs: 0 });
      logger.error('Job dead-lettered: unknown flow');
      return;
    }
    try {
      const closed = await this.#options.gate?.closedReason(flow);
      const outcome: FlowOutcome | void = closed
        ? { status: 'skipped', reason: closed }
        : await flow.handle(job.payload, {
            jobId: job.id,
            attempt: job.attempts,
            maxAttempts: job.maxAttempts,
            idempotencyKey: job.idempotencyKey,
            correlationId: job.correlationId,
            logger,
            signal,
            store,
            clients,
            ...(this.#options.config ? { config: this.#options.config } : {})
          });
      const completed = await store.completeJob(job.id, this.id);
      if (!completed) {
        logger.warn('Job finished after its lease passed to another worker');
        return;
      }
      const skipped = outcome?.status === 'skipped';
      observer?.job({
        flow: job.flow,
        outcome: skipped ? 'skipped' : 'completed',
        durationMs: performance.now() - started
      });
      if (skipped) logger.info({ reason: outcome.reason }, 'Job skipped');
      else logger.debug('Job completed');
    } catch (thrown) {
      const decision = classifyFailure(
        thrown,
        job.attempts,
        job.maxAttempts,
        this.#options.backoff
      );
      const durationMs = performance.now() - started;
      if (decision.action === 'retry') {
        await store.retryJob(job.id, this.id, Date.now() + decision.delayMs, decision.message);
        observer?.job({ flow: job.flow, outcome: 'retried', durationMs });
        logger.warn(
          { error: decision.message, retryInMs: decision.delayMs },
          `Job failed (attempt ${job.attempts} of ${job.maxAttempts}); will retry`
        );
      } else {
        await store.deadLetterJob(job.id, this.id, decision.reason, decision.message);
        observer?.job({ flow: job.flow, outcome: 'dead_lettered', durationMs });
        logger.error(
          { error: decision.message, reason: decision.reason },
          `Job dead-lettered (attempt ${job.attempts} of ${job.maxAttempts})`
        );
      }
    }
  }

  async #renewLeases(): Promise<void> {
    const ids = [...this.#inFlight.keys()];
    if (ids.length === 0) return;
    try {
      await this.#options.store.renewLeases(this.id, ids, this.#options.leaseMs);
    } catch (err) {
      this.#options.logger.warn({ err: coerceError(err) }, 'Renewing job leases failed');
    }
  }

  async #purge(): Promise<void> {
    const { store, retention, logger } = this.#options;
    const now = Date.now();
    try {
      const purged = await store.purge({
        deadLettersBefore: now - retention.deadLetterDays * DAY_MS,
        processedInboxBefore: now - retention.inboxDays * DAY_MS
      });
      if (purged.deadLetters + purged.inbox > 0) logger.info(purged, 'Purged expired records');
    } catch (err) {
      logger.warn({ err: coerceError(err) }, 'Purging expired records failed');
    }
  }
}
