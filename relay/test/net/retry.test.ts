import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClientError } from '../../src/net/errors.ts';
import { parseRetryAfterMs } from '../../src/net/http.ts';
import { withRetry } from '../../src/net/retry.ts';

const transient = (): ClientError =>
  new ClientError('boom', { system: 'd365', kind: 'transient', status: 503 });

describe('withRetry', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('retries retryable errors with backoff until the call succeeds', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const delays: number[] = [];
    const result = withRetry(
      async () => {
        calls += 1;
        if (calls < 3) throw transient();
        return 'ok';
      },
      {
        maxAttempts: 5,
        backoff: { baseMs: 100, random: () => 0.5 },
        onRetry: (e) => delays.push(e.delayMs)
      }
    );
    await vi.runAllTimersAsync();
    await expect(result).resolves.toBe('ok');
    expect(delays).toEqual([50, 100]);
  });

  it('waits exactly the Retry-After the server asked for', async () => {
    vi.useFakeTimers();
    const delays: number[] = [];
    let calls = 0;
    const result = withRetry(
      async () => {
        calls += 1;
        if (calls === 1)
          throw new ClientError('slow down', {
            system: 'd365',
            kind: 'throttled',
            retryAfterMs: 7_000
          });
        return calls;
      },
      { maxAttempts: 3, onRetry: (e) => delays.push(e.delayMs) }
    );
    await vi.runAllTimersAsync();
    await expect(result).resolves.toBe(2);
    expect(delays).toEqual([7_000]);
  });

  it('hands a Retry-After longer than the inline limit to the caller instead of waiting', async () => {
    const error = new ClientError('later', {
      system: 'd365',
      kind: 'throttled',
      retryAfterMs: 120_000
    });
    await expect(
      withRetry(async () => Promise.reject(error), { maxAttempts: 5, maxInlineDelayMs: 60_000 })
    ).rejects.toBe(error);
  });

  it('does not retry non-retryable errors', async () => {
    let calls = 0;
    const error = new ClientError('bad', { system: 'salesforce', kind: 'validation', status: 400 });
    await expect(
      withRetry(
        async () => {
          calls += 1;
          throw error;
        },
        { maxAttempts: 5 }
      )
    ).rejects.toBe(error);
    expect(calls).toBe(1);
  });

  it('gives up after maxAttempts and throws the last error', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls += 1;
          throw transient();
        },
        { maxAttempts: 3, backoff: { baseMs: 1 } }
      )
    ).rejects.toMatchObject({ kind: 'transient' });
    expect(calls).toBe(3);
  });
});

describe('parseRetryAfterMs', () => {
  it('reads delta-seconds as D365 sends them', () => {
    expect(parseRetryAfterMs('60')).toBe(60_000);
  });

  it('reads an HTTP date relative to now', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5_000);
  });

  it('returns undefined for garbage', () => {
    expect(parseRetryAfterMs('soon')).toBeUndefined();
    expect(parseRetryAfterMs(undefined)).toBeUndefined();
  });
});
