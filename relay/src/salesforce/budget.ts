/**
 * API budget guard. Salesforce reports the org's rolling 24-hour API usage on every REST answer
 * (`Sforce-Limit-Info: api-usage=18/5000`). The guard keeps a reserve for people and other integrations:
 *
 *   remaining > 2 x reserve      → normal: no delay
 *   reserve < remaining ≤ 2 x reserve → slow: non-urgent calls wait, longer as the reserve nears
 *   remaining ≤ reserve          → paused: non-urgent calls fail fast with a retryable `throttled`
 *                                   ClientError (code API_BUDGET_RESERVE) so the queue reschedules them
 *
 * Urgent calls (a rep waiting on a screen, write-backs of a sync already done in D365) are never held.
 * While paused, one non-urgent call is let through every `probeIntervalMs` so that the guard sees usage
 * fall again as the 24-hour window rolls on.
 */

import { ClientError } from '../net/errors.ts';

export type BudgetStatus = 'unknown' | 'normal' | 'slow' | 'paused';

export interface BudgetState {
  status: BudgetStatus;
  used?: number;
  max?: number;
  remainingPercent?: number;
  reservePercent: number;
  observedAt?: Date;
}

export interface ApiUsage {
  used: number;
  max: number;
}

/** Parses `api-usage=<used>/<max>`, ignoring other segments (`per-app-api-usage=…`, `api-bursts=…`). */
export function parseLimitInfo(header: string | undefined): ApiUsage | undefined {
  if (!header) return undefined;
  const match = /(?:^|[;,\s])api-usage=(\d+)\/(\d+)/.exec(header);
  if (!match) return undefined;
  const used = Number(match[1]);
  const max = Number(match[2]);
  if (!Number.isFinite(used) || !Number.isFinite(max) || max <= 0) return undefined;
  return { used, max };
}

export interface BudgetGuardOptions {
  reservePercent: number;
  /** Longest wait imposed on a non-urgent call in the slow band (reached at the reserve line). */
  maxSlowDelayMs?: number;
  /** How long the queue should wait before retrying a call refused while paused. */
  pausedRetryAfterMs?: number;
  probeIntervalMs?: number;
  now?: () => number;
}

export type BudgetDecision =
  { action: 'proceed'; delayMs: number } | { action: 'refuse'; error: ClientError };

export class BudgetGuard {
  readonly #reserve: number;
  readonly #maxSlowDelayMs: number;
  readonly #pausedRetryAfterMs: number;
  readonly #probeIntervalMs: number;
  readonly #now: () => number;
  #usage: ApiUsage | undefined;
  #observedAt: number | undefined;
  #lastProbeAt = -Infinity;

  constructor(options: BudgetGuardOptions) {
    if (!(options.reservePercent >= 0 && options.reservePercent < 50)) {
      throw new RangeError(`reservePercent must be in [0, 50), got ${options.reservePercent}`);
    }
    this.#reserve = options.reservePercent;
    this.#maxSlowDelayMs = options.maxSlowDelayMs ?? 2_000;
    this.#pausedRetryAfterMs = options.pausedRetryAfterMs ?? 15 * 60_000;
    this.#probeIntervalMs = options.probeIntervalMs ?? 5 * 60_000;
    this.#now = options.now ?? Date.now;
  }

  observe(usage: ApiUsage): void {
    this.#usage = usage;
    this.#observedAt = this.#now();
  }

  state(): BudgetState {
    const state: BudgetState = { status: this.#status(), reservePercent: this.#reserve };
    if (this.#usage) {
      state.used = this.#usage.used;
      state.max = this.#usage.max;
      state.remainingPercent = this.#remainingPercent();
    }
    if (this.#observedAt !== undefined) state.observedAt = new Date(this.#observedAt);
    return state;
  }

  /** Decides what to do with a call about to be made. */
  admit(urgent: boolean): BudgetDecision {
    const status = this.#status();
    if (urgent || status === 'unknown' || status === 'normal')
      return { action: 'proceed', delayMs: 0 };
    const remaining = this.#remainingPercent();
    if (status === 'slow') {
      // Linear from 0 at 2 x reserve to the maximum at the reserve line.
      const depth = this.#reserve === 0 ? 1 : (2 * this.#reserve - remaining) / this.#reserve;
      return {
        action: 'proceed',
        delayMs: Math.round(Math.min(1, Math.max(0, depth)) * this.#maxSlowDelayMs)
      };
    }
    const now = this.#now();
    if (now - Math.max(this.#lastProbeAt, this.#observedAt ?? -Infinity) >= this.#probeIntervalMs) {
      this.#lastProbeAt = now;
      return { action: 'proceed', delayMs: 0 };
    }
    return {
      action: 'refuse',
      error: new ClientError(
        `Salesforce API budget below the ${this.#reserve}% reserve (${remaining.toFixed(1)}% left); non-urgent work paused`,
        {
          system: 'salesforce',
          kind: 'throttled',
          code: 'API_BUDGET_RESERVE',
          retryAfterMs: this.#pausedRetryAfterMs
        }
      )
    };
  }

  #remainingPercent(): number {
    if (!this.#usage) return 100;
    return Math.max(0, ((this.#usage.max - this.#usage.used) / this.#usage.max) * 100);
  }

  #status(): BudgetStatus {
    if (!this.#usage) return 'unknown';
    const remaining = this.#remainingPercent();
    if (remaining <= this.#reserve) return 'paused';
    if (remaining <= 2 * this.#reserve) return 'slow';
    return 'normal';
  }
}
