/** Request plumbing the D365 and Salesforce clients share: lost answers, idempotency, limited retries. */

import type { AdaptiveLimiter } from './concurrency.ts';
import { ClientError, isClientError, isTransientNetworkCode } from './errors.ts';
import type { ClientSystem } from './errors.ts';
import { withRetry } from './retry.ts';
import type { RetryOptions } from './retry.ts';

const SYSTEM_NAMES: Readonly<Record<ClientSystem, string>> = {
  d365: 'D365',
  salesforce: 'Salesforce'
};

/** Methods whose repetition cannot create a second record, so they may be retried after a lost answer. */
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'PUT', 'PATCH', 'DELETE']);

/** Connection failures where the request certainly never reached the server. */
const NOT_SENT_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

export interface RequestKind {
  method: string;
  /** Overrides the method's default, e.g. a POST action that changes nothing. */
  idempotent?: boolean;
}

export function isIdempotent(request: RequestKind): boolean {
  return request.idempotent ?? IDEMPOTENT_METHODS.has(request.method);
}

/** The error of a request without an answer: timeouts and transient socket failures are retryable. */
export function networkError(system: ClientSystem, operation: string, error: unknown): ClientError {
  const code = (error as { code?: string }).code;
  const timedOut =
    code === 'ERR_CANCELED' ||
    code === 'ECONNABORTED' ||
    (error as { name?: string }).name === 'TimeoutError';
  const transient = timedOut || isTransientNetworkCode(code);
  return new ClientError(
    `${SYSTEM_NAMES[system]} ${operation} failed: ${timedOut ? 'timed out' : (code ?? 'network error')}`,
    {
      system,
      kind: transient ? 'transient' : 'permanent',
      retryable: transient,
      ...(code ? { code } : {})
    },
    { cause: error }
  );
}

/**
 * Whether a network failure leaves unknown if the server applied the request: it may have been
 * sent and repeating it is not safe, so it must not be retried in-process.
 */
export function outcomeUnknownAfter(request: RequestKind, failure: ClientError): boolean {
  return failure.retryable && !isIdempotent(request) && !NOT_SENT_CODES.has(failure.code ?? '');
}

export interface LimitedRetryOptions extends RetryOptions {
  /** Whether a throttled failure should slow the limiter down (default: every one). */
  slowsDown?(error: ClientError): boolean;
}

/**
 * One request through the system's adaptive limiter, retried per `withRetry`: every attempt waits
 * for a slot again, and throttled answers make the limiter slow down.
 */
export function limitedWithRetry<T>(
  limiter: AdaptiveLimiter,
  send: () => Promise<T>,
  options: LimitedRetryOptions
): Promise<T> {
  return withRetry(
    () =>
      limiter.run(send, (_result, error) =>
        error === undefined
          ? 'success'
          : isClientError(error) &&
              error.kind === 'throttled' &&
              (options.slowsDown?.(error) ?? true)
            ? 'throttled'
            : 'failure'
      ),
    options
  );
}
