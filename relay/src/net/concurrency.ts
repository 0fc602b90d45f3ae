/**
 * Adaptive limiter (AIMD) for calls to a throttling server.
 *
 * Two knobs adapt together:
 * - the concurrency window: +1 per window's worth of successes (additive), x `decreaseFactor` on 429;
 * - the pacing rate (requests/s): unbounded until the first 429 (slow start), then set to the rate
 *   the server actually accepted over the last second (successful calls) x `decreaseFactor`, and
 *   raised by `increasePerSecond` every second without a 429 (additive). Measuring accepted calls,
 *   not sent ones, lands near the server's capacity in one step even from a far overshoot.
 * Both are needed: against a fast server a concurrency of 1 can already exceed the allowed rate, and
 * against a slow one the window is what bounds load. With `decreaseFactor` 0.95 the rate oscillates
 * between 95% and 100% of what the server allows, so sustained load stays near the limit with few 429s.
 * A 429 only lowers the limits once per `decreaseCooldownMs`: the other requests already in flight
 * were sent at the old rate and their 429s say nothing new.
 */

import type { ClientSystem } from './errors.ts';
import type { ClientObserver } from './observer.ts';

export type CallOutcome = 'success' | 'throttled' | 'failure';

export interface AdaptiveLimiterOptions {
  system: ClientSystem;
  maxConcurrency: number;
  minConcurrency?: number;
  initialConcurrency?: number;
  decreaseFactor?: number;
  increasePerSecond?: number;
  minRatePerSecond?: number;
  decreaseCooldownMs?: number;
  observer?: ClientObserver;
  now?: () => number;
}

export interface LimiterState {
  concurrencyLimit: number;
  inFlight: number;
  queued: number;
  /** Infinity until the first 429. */
  ratePerSecond: number;
}

const RATE_WINDOW_MS = 1_000;
const SLOW_START_EXIT_COOLDOWN_MS = 100;

export class AdaptiveLimiter {
  readonly #options: Required<Omit<AdaptiveLimiterOptions, 'observer'>> & {
    observer?: ClientObserver;
  };
  #limit: number;
  #inFlight = 0;
  #rate = Infinity;
  #lastRateIncreaseAt = 0;
  #lastDecreaseAt = -Infinity;
  #nextStartAt = 0;
  #successesSinceIncrease = 0;
  #firstSuccessAt: number | undefined;
  #decreases = 0;
  readonly #recentSuccesses: number[] = [];
  readonly #waiters: Array<() => void> = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(options: AdaptiveLimiterOptions) {
    this.#options = {
      minConcurrency: 1,
      initialConcurrency: Math.min(options.maxConcurrency, 8),
      decreaseFactor: 0.95,
      increasePerSecond: 2,
      minRatePerSecond: 1,
      decreaseCooldownMs: 250,
      now: () => performance.now(),
      ...options
    };
    this.#limit = this.#options.initialConcurrency;
  }

  state(): LimiterState {
    return {
      concurrencyLimit: Math.floor(this.#limit),
      inFlight: this.#inFlight,
      queued: this.#waiters.length,
      ratePerSecond: this.#rate
    };
  }

  /** Runs `call` when a slot and the pacing allow; `classify` tells the limiter how the call went. */
  async run<T>(
    call: () => Promise<T>,
    classify: (result: T | undefined, error: unknown) => CallOutcome
  ): Promise<T> {
    await this.#acquire();
    let outcome: CallOutcome = 'failure';
    try {
      const result = await call();
      outcome = classify(result, undefined);
      return result;
    } catch (error) {
      outcome = classify(undefined, error);
      throw error;
    } finally {
      this.#release(outcome);
    }
  }

  /** Stops the pacing timer; queued callers are released immediately. */
  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#rate = Infinity;
    this.#limit = Number.MAX_SAFE_INTEGER;
    this.#drain();
  }

  #acquire(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.#drain();
    });
  }

  #drain(): void {
    const now = this.#options.now();
    this.#raiseRate(now);
    while (this.#waiters.length > 0 && this.#inFlight < Math.floor(this.#limit)) {
      if (Number.isFinite(this.#rate) && now < this.#nextStartAt) {
        this.#schedule(this.#nextStartAt - now);
        return;
      }
      const waiter = this.#waiters.shift() as () => void;
      this.#inFlight += 1;
      if (Number.isFinite(this.#rate)) {
        this.#nextStartAt =
          Math.max(this.#nextStartAt, now - 1000 / this.#rate) + 1000 / this.#rate;
      }
      waiter();
    }
  }

  #schedule(delayMs: number): void {
    if (this.#timer) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#drain();
      },
      Math.max(1, Math.ceil(delayMs))
    );
  }

  #release(outcome: CallOutcome): void {
    this.#inFlight -= 1;
    const now = this.#options.now();
    if (outcome === 'throttled') this.#decrease(now);
    else if (outcome === 'success') {
      this.#recordSuccess(now);
      this.#increaseWindow();
    }
    this.#drain();
  }

  #increaseWindow(): void {
    this.#successesSinceIncrease += 1;
    if (
      this.#successesSinceIncrease >= Math.floor(this.#limit) &&
      this.#limit < this.#options.maxConcurrency
    ) {
      this.#successesSinceIncrease = 0;
      this.#limit = Math.min(this.#options.maxConcurrency, this.#limit + 1);
      this.#options.observer?.concurrency?.({
        system: this.#options.system,
        limit: Math.floor(this.#limit)
      });
    }
  }

  #raiseRate(now: number): void {
    if (!Number.isFinite(this.#rate)) return;
    const elapsedMs = now - this.#lastRateIncreaseAt;
    if (elapsedMs < 100) return;
    // The longer no 429 has come, the faster the probe upward: 1x the step for the first 2 s, doubling
    // every further second (capped at 16x), so an over-cautious cut is recovered in seconds, not minutes.
    const quietSeconds = (now - this.#lastDecreaseAt) / 1000;
    const boost = Math.min(16, 2 ** Math.max(0, Math.floor(quietSeconds) - 2));
    this.#rate += (this.#options.increasePerSecond * boost * elapsedMs) / 1000;
    this.#lastRateIncreaseAt = now;
  }

  #decrease(now: number): void {
    const sinceLastDecrease = now - this.#lastDecreaseAt;
    // Leaving slow start, the first estimate is inflated by whatever burst the server allowed, so the
    // second look comes sooner.
    const cooldown =
      this.#decreases === 1 ? SLOW_START_EXIT_COOLDOWN_MS : this.#options.decreaseCooldownMs;
    if (sinceLastDecrease < cooldown) return;
    this.#decreases += 1;
    // Within a throttling episode the server's bucket is empty, so the successes since the previous
    // decrease measure its refill rate exactly; a plain last-second window would include an initial burst.
    const windowMs = sinceLastDecrease <= 2 * RATE_WINDOW_MS ? sinceLastDecrease : RATE_WINDOW_MS;
    this.#lastDecreaseAt = now;
    const factor = this.#options.decreaseFactor;
    // Leaving slow start (no pacing yet) the last second's count includes whatever burst the server
    // allowed, so that cut halves it, as TCP does. Later cuts take the accepted rate, but one step
    // never more than halves the pacing: a short window is noisy.
    const base = Number.isFinite(this.#rate)
      ? Math.min(this.#rate, Math.max(this.#observedRate(now, windowMs), this.#rate / 2))
      : this.#observedRate(now, RATE_WINDOW_MS) / 2;
    this.#rate = Math.max(this.#options.minRatePerSecond, base * factor);
    this.#lastRateIncreaseAt = now;
    this.#limit = Math.max(this.#options.minConcurrency, this.#limit * factor);
    this.#successesSinceIncrease = 0;
    this.#options.observer?.concurrency?.({
      system: this.#options.system,
      limit: Math.floor(this.#limit)
    });
  }

  #recordSuccess(now: number): void {
    this.#firstSuccessAt ??= now;
    this.#recentSuccesses.push(now);
    while (
      this.#recentSuccesses.length > 0 &&
      (this.#recentSuccesses[0] as number) < now - 2 * RATE_WINDOW_MS
    ) {
      this.#recentSuccesses.shift();
    }
  }

  #observedRate(now: number, windowMs: number): number {
    const windowStart = now - windowMs;
    let count = 0;
    for (const at of this.#recentSuccesses) if (at > windowStart) count += 1;
    // Early on the window is shorter than asked; dividing by the full window would underestimate the rate.
    const spanMs = Math.max(50, Math.min(windowMs, now - (this.#firstSuccessAt ?? now)));
    return Math.max(this.#options.minRatePerSecond, (count * 1000) / spanMs);
  }
}
