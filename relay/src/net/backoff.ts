/**
 * THE backoff formula of the relay, used by the HTTP retry wrapper, the Pub/Sub resubscribe loop,
 * the DMF status poll and the work queue: capped exponential backoff with full jitter
 * (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/).
 *
 *   delay(attempt) = random() * min(capMs, baseMs * 2^(attempt - 1))
 *
 * Full jitter spreads retries of many clients evenly, so a throttled server is not hit by synchronised
 * waves. Ceiling of the delay (the upper bound of the uniform draw) with the defaults baseMs = 1000,
 * capMs = 300000:
 *
 *   attempt:  1    2    3    4    5     6     7      8      9      10+
 *   ceiling:  1 s  2 s  4 s  8 s  16 s  32 s  64 s   128 s  256 s  300 s (5 min)
 *
 * The expected delay is half the ceiling.
 */

export interface BackoffPolicy {
  baseMs?: number;
  capMs?: number;
  /** Uniform draw in [0, 1); injectable for deterministic tests. */
  random?: () => number;
}

export const DEFAULT_BACKOFF_BASE_MS = 1_000;
export const DEFAULT_BACKOFF_CAP_MS = 300_000;

export function backoffCeilingMs(attempt: number, policy: BackoffPolicy = {}): number {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`attempt must be an integer >= 1, got ${attempt}`);
  }
  const base = policy.baseMs ?? DEFAULT_BACKOFF_BASE_MS;
  const cap = policy.capMs ?? DEFAULT_BACKOFF_CAP_MS;
  // Clamp the exponent so 2^n never overflows to Infinity for very large attempt numbers.
  const exponential = base * 2 ** Math.min(attempt - 1, 52);
  return Math.min(cap, exponential);
}

export function backoffDelayMs(attempt: number, policy: BackoffPolicy = {}): number {
  const random = policy.random ?? Math.random;
  return Math.floor(random() * backoffCeilingMs(attempt, policy));
}

/** Resolves after `ms`, or rejects early with the signal's reason when aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
