/** Retries a call while it fails with a retryable ClientError, waiting per THE backoff formula or Retry-After. */

import { backoffDelayMs, sleep } from './backoff.ts';
import type { BackoffPolicy } from './backoff.ts';
import { isClientError } from './errors.ts';
import type { ClientError } from './errors.ts';

export interface RetryOptions {
  /** Total attempts including the first one. */
  maxAttempts: number;
  backoff?: BackoffPolicy;
  /**
   * A server that asks for a longer pause than this is not waited for in-process: the error is thrown with
   * its `retryAfterMs` so the durable queue reschedules the work instead of holding a worker slot.
   */
  maxInlineDelayMs?: number;
  signal?: AbortSignal;
  /** Extra veto on inline retries, e.g. for a create whose outcome is unknown after a lost answer. */
  retryIf?(error: ClientError): boolean;
  onRetry?(e: { attempt: number; delayMs: number; error: ClientError }): void;
}

export const DEFAULT_MAX_INLINE_DELAY_MS = 30_000;

export async function withRetry<T>(
  call: (attempt: number) => Promise<T>,
  options: RetryOptions
): Promise<T> {
  const maxInline = options.maxInlineDelayMs ?? DEFAULT_MAX_INLINE_DELAY_MS;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call(attempt);
    } catch (error) {
      if (!isClientError(error) || !error.retryable || attempt >= options.maxAttempts) throw error;
      if (options.retryIf && !options.retryIf(error)) throw error;
      const delayMs = error.retryAfterMs ?? backoffDelayMs(attempt, options.backoff);
      if (delayMs > maxInline) throw error;
      options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs, options.signal);
    }
  }
}
