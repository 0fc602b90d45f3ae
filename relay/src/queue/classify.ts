import { PermanentFlowError, coerceError } from '../errors.ts';
import { backoffDelayMs, type BackoffPolicy } from '../net/backoff.ts';
import { isClientError } from '../net/errors.ts';
import type { DeadLetterReason } from '../store/types.ts';

export type FailureDecision =
  | { action: 'retry'; delayMs: number; message: string }
  | { action: 'dead-letter'; reason: DeadLetterReason; message: string };

/**
 * Decides what happens to a job whose handler threw, on its `attempt`-th run (1-based):
 * - a `ClientError` that is not retryable (validation, auth, not found, conflict, permanent) and a
 *   `PermanentFlowError` dead-letter at once: running again cannot change the answer;
 * - everything else (throttling, transient failures, unexpected errors) is retried after
 *   `backoffDelayMs(attempt)`, or the server's Retry-After when longer, until attempts run out.
 */
export function classifyFailure(
  thrown: unknown,
  attempt: number,
  maxAttempts: number,
  policy?: BackoffPolicy
): FailureDecision {
  const error = coerceError(thrown);
  const message = describe(error);
  if (error instanceof PermanentFlowError)
    return { action: 'dead-letter', reason: 'permanent', message };
  if (isClientError(error) && !error.retryable) {
    return { action: 'dead-letter', reason: 'permanent', message };
  }
  if (attempt >= maxAttempts) return { action: 'dead-letter', reason: 'exhausted', message };
  const retryAfterMs = isClientError(error) ? (error.retryAfterMs ?? 0) : 0;
  return {
    action: 'retry',
    delayMs: Math.max(backoffDelayMs(attempt, policy), retryAfterMs),
    message
  };
}

function describe(error: Error): string {
  if (isClientError(error)) {
    const status = error.status === undefined ? '' : ` ${error.status}`;
    return `${error.system} ${error.kind}${status}: ${error.message}`;
  }
  return `${error.name}: ${error.message || 'no message'}`;
}
