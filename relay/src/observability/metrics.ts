import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ClientObserver } from '../net/observer.ts';
import type { JobObserver, JobOutcome } from '../queue/worker.ts';
import type { Store } from '../store/types.ts';

/**
 * The relay's Prometheus metrics. One registry per app instance (tests build many apps in one
 * process). Implements the clients' {@link ClientObserver} and the worker's {@link JobObserver}.
 */
export class RelayMetrics implements ClientObserver, JobObserver {
  readonly registry = new Registry();
  readonly #httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  readonly #jobs: Counter<'flow' | 'outcome'>;
  readonly #jobDuration: Histogram<'flow'>;
  readonly #clientRequests: Histogram<'system' | 'operation' | 'status'>;
  readonly #throttled: Counter<'system'>;
  readonly #budgetUsed: Gauge;
  readonly #budgetMax: Gauge;
  readonly #budgetLeft: Gauge;
  readonly #concurrency: Gauge<'system'>;
  readonly #intake: Counter<'source' | 'result'>;

  constructor(store: Store) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'relay_' });
    this.#httpDuration = new Histogram({
      name: 'relay_http_request_duration_seconds',
      help: 'HTTP request latency by route and status',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers
    });
    this.#jobs = new Counter({
      name: 'relay_jobs_total',
      help: 'Job runs by flow and outcome (completed, skipped, retried, dead_lettered)',
      labelNames: ['flow', 'outcome'],
      registers
    });
    this.#jobDuration = new Histogram({
      name: 'relay_job_duration_seconds',
      help: 'Flow handler run time',
      labelNames: ['flow'],
      buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
      registers
    });
    this.#clientRequests = new Histogram({
      name: 'relay_client_request_duration_seconds',
      help: 'Requests to D365 and Salesforce by system, operation and HTTP status',
      labelNames: ['system', 'operation', 'status'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers
    });
    this.#throttled = new Counter({
      name: 'relay_client_throttled_total',
      help: 'Throttled answers (429, REQUEST_LIMIT_EXCEEDED) received from each system',
      labelNames: ['system'],
      registers
    });
    this.#budgetUsed = new Gauge({
      name: 'relay_salesforce_api_requests_used',
      help: 'Salesforce daily API requests used (Sforce-Limit-Info)',
      registers
    });
    this.#budgetMax = new Gauge({
      name: 'relay_salesforce_api_requests_max',
      help: 'Salesforce daily API request allowance (Sforce-Limit-Info)',
      registers
    });
    this.#budgetLeft = new Gauge({
      name: 'relay_salesforce_api_requests_remaining',
      help: 'Salesforce daily API requests left',
      registers
    });
    this.#concurrency = new Gauge({
      name: 'relay_client_concurrency_limit',
      help: 'Current adaptive concurrency limit per system',
      labelNames: ['system'],
      registers
    });
    this.#intake = new Counter({
      name: 'relay_intake_events_total',
      help: 'Events received by source and result (accepted, duplicate, ignored, test)',
      labelNames: ['source', 'result'],
      registers
    });
    new Gauge({
      name: 'relay_queue_depth',
      help: 'Jobs waiting or running, per flow',
      labelNames: ['flow'],
      registers,
      async collect() {
        const counts = await store.counts();
        this.reset();
        for (const [flow, n] of Object.entries(counts.pending)) this.set({ flow }, n);
      }
    });
    new Gauge({
      name: 'relay_dead_letters',
      help: 'Dead letters kept, per flow',
      labelNames: ['flow'],
      registers,
      async collect() {
        const counts = await store.counts();
        this.reset();
        for (const [flow, n] of Object.entries(counts.deadLetters)) this.set({ flow }, n);
      }
    });
  }

  httpRequest(e: { method: string; route: string; statusCode: number; durationMs: number }): void {
    this.#httpDuration.observe(
      { method: e.method, route: e.route, status_code: String(e.statusCode) },
      e.durationMs / 1_000
    );
  }

  intake(source: string, result: 'accepted' | 'duplicate' | 'ignored' | 'test'): void {
    this.#intake.inc({ source, result });
  }

  job(e: { flow: string; outcome: JobOutcome; durationMs: number }): void {
    this.#jobs.inc({ flow: e.flow, outcome: e.outcome });
    this.#jobDuration.observe({ flow: e.flow }, e.durationMs / 1_000);
  }

  request(e: Parameters<NonNullable<ClientObserver['request']>>[0]): void {
    this.#clientRequests.observe(
      { system: e.system, operation: e.operation, status: String(e.status) },
      e.durationMs / 1_000
    );
  }

  // The clients call this for every throttled answer: 429, and Salesforce's REQUEST_LIMIT_EXCEEDED.
  throttled(e: Parameters<NonNullable<ClientObserver['throttled']>>[0]): void {
    this.#throttled.inc({ system: e.system });
  }

  apiBudget(e: { used: number; max: number }): void {
    this.#budgetUsed.set(e.used);
    this.#budgetMax.set(e.max);
    this.#budgetLeft.set(Math.max(0, e.max - e.used));
  }

  concurrency(e: Parameters<NonNullable<ClientObserver['concurrency']>>[0]): void {
    this.#concurrency.set({ system: e.system }, e.limit);
  }
}
