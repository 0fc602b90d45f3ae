/**
 * Cron schedules that queue jobs. A tick does not run the work itself: it enqueues a job, so the
 * work goes through the durable queue (retries, dead letters, leases). With several replicas, each
 * schedule is held through a store lease, so only one replica enqueues its ticks; the job's
 * idempotency key (`schedule:<name>:<tick>`) also makes a tick enqueue at most once while pending.
 */

import { randomUUID } from 'node:crypto';
import { Cron } from 'croner';
import type { Logger } from 'pino';
import type { ConfigValues } from '../config/schema.ts';
import type { FlowRegistry } from '../flows/registry.ts';
import type { Store } from '../store/types.ts';

export interface Schedule {
  /** Stable name: lease `schedule:<name>` and job keys. */
  name: string;
  /** Cron pattern (5 fields, or 6 with seconds), evaluated in UTC. */
  cron: string;
  flow: string;
  payload: unknown;
  /** The setting the pattern came from, named when it is invalid. */
  configKey?: string;
}

export interface SchedulerOptions {
  store: Store;
  registry: FlowRegistry;
  schedules: readonly Schedule[];
  /** This replica's id (the worker id): lease holder. */
  holder: string;
  logger: Logger;
  onEnqueued?: () => void;
}

export interface Scheduler {
  start(): void;
  stop(): Promise<void>;
  /** Next tick of each schedule (status, tests). */
  next(): Record<string, Date | null>;
  /** Runs one tick now, as the timer would (tests). Resolves true when this replica enqueued it. */
  tick(name: string, at?: Date): Promise<boolean>;
}

/** A lease outlives the gap between two ticks by this much, so the holder keeps it between ticks. */
const LEASE_MARGIN_MS = 30_000;

/** Turns the *_CRON settings into schedules; `off` disables one. Flows add theirs here. */
export function configuredSchedules(values: Partial<ConfigValues>): Schedule[] {
  const schedules: Schedule[] = [];
  const add = (name: string, configKey: keyof ConfigValues, flow: string, payload: unknown) => {
    const cron = values[configKey];
    if (typeof cron !== 'string' || cron.trim().toLowerCase() === 'off') return;
    schedules.push({ name, cron: cron.trim(), flow, payload, configKey });
  };
  add('accounts-pull', 'ACCOUNT_PULL_CRON', 'accounts', { trigger: 'schedule', task: 'pull' });
  add('products-sync', 'PRODUCTS_SYNC_CRON', 'products', { trigger: 'schedule', full: false });
  add('invoice-reconcile', 'INVOICE_RECONCILE_CRON', 'invoice', { trigger: 'schedule' });
  add('payment-status', 'PAYMENT_STATUS_CRON', 'payment', { trigger: 'schedule' });
  add('order-status', 'ORDER_STATUS_CRON', 'order', { trigger: 'schedule' });
  return schedules;
}

export function createScheduler(options: SchedulerOptions): Scheduler {
  const { store, registry, holder } = options;
  const logger = options.logger.child({ component: 'scheduler' });
  const schedules = options.schedules.filter((schedule) => {
    if (registry.get(schedule.flow)) return true;
    logger.info(
      { schedule: schedule.name, flow: schedule.flow },
      'Schedule skipped: flow not registered'
    );
    return false;
  });
  // Built paused up front so a bad pattern fails the start, not the first tick.
  const crons = new Map<string, Cron>();
  for (const schedule of schedules) {
    try {
      crons.set(
        schedule.name,
        new Cron(
          schedule.cron,
          { timezone: 'UTC', paused: true, protect: true },
          (self: Cron) =>
            void tick(schedule.name, self.currentRun() ?? new Date()).catch((error: unknown) =>
              logger.warn({ err: error, schedule: schedule.name }, 'Scheduled tick failed')
            )
        )
      );
    } catch (error) {
      const source = schedule.configKey ?? `Schedule ${schedule.name}`;
      throw new Error(`${source}: invalid cron "${schedule.cron}"`, { cause: error });
    }
  }

  function leaseMs(name: string): number {
    const [a, b] = crons.get(name)?.nextRuns(2) ?? [];
    const gap = a && b ? b.getTime() - a.getTime() : 60_000;
    return gap + LEASE_MARGIN_MS;
  }

  async function tick(name: string, at: Date = new Date()): Promise<boolean> {
    const schedule = schedules.find((s) => s.name === name);
    if (!schedule) throw new Error(`No schedule named ${name}`);
    if (!(await store.acquireLease(`schedule:${name}`, holder, leaseMs(name)))) return false;
    const flow = registry.get(schedule.flow)!;
    // Ticks are whole seconds at most: the key names the tick, whichever replica fires it.
    const tickId = new Date(Math.floor(at.getTime() / 1000) * 1000).toISOString();
    const result = await store.enqueue({
      flow: flow.name,
      idempotencyKey: `schedule:${name}:${tickId}`,
      payload: schedule.payload,
      maxAttempts: registry.maxAttempts(flow),
      correlationId: randomUUID()
    });
    if (result.duplicate) return false;
    logger.info({ schedule: name, flow: flow.name, jobId: result.jobId }, 'Scheduled job queued');
    options.onEnqueued?.();
    return true;
  }

  return {
    start() {
      for (const cron of crons.values()) cron.resume();
    },
    async stop() {
      for (const cron of crons.values()) cron.stop();
      await Promise.allSettled(
        schedules.map((s) => store.releaseLease(`schedule:${s.name}`, holder))
      );
    },
    next: () =>
      Object.fromEntries(schedules.map((s) => [s.name, crons.get(s.name)?.nextRun() ?? null])),
    tick
  };
}
