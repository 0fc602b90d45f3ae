import { describe, expect, it } from 'vitest';
import { PermanentFlowError } from '../../src/errors.ts';
import { ClientError } from '../../src/net/errors.ts';
import { classifyFailure } from '../../src/queue/classify.ts';

const half = { random: () => 0.5, baseMs: 1_000, capMs: 300_000 };

describe('classifyFailure', () => {
  it.each([
    ['throttled', 'retry'],
    ['transient', 'retry'],
    ['validation', 'dead-letter'],
    ['auth', 'dead-letter'],
    ['not_found', 'dead-letter'],
    ['conflict', 'dead-letter'],
    ['permanent', 'dead-letter']
  ] as const)('treats a %s client error as %s', (kind, action) => {
    const error = new ClientError('D365 said no', { system: 'd365', kind, status: 400 });
    expect(classifyFailure(error, 1, 5, half).action).toBe(action);
  });

  it('waits backoffDelayMs(attempt) before a retry', () => {
    const error = new ClientError('busy', { system: 'd365', kind: 'transient', status: 503 });
    expect(classifyFailure(error, 3, 5, half)).toMatchObject({ action: 'retry', delayMs: 2_000 });
  });

  it('waits for Retry-After when the server asks for longer than the backoff', () => {
    const error = new ClientError('slow down', {
      system: 'd365',
      kind: 'throttled',
      status: 429,
      retryAfterMs: 30_000
    });
    expect(classifyFailure(error, 1, 5, half)).toMatchObject({ action: 'retry', delayMs: 30_000 });
  });

  it('dead-letters a retryable error once attempts are exhausted', () => {
    const error = new ClientError('busy', { system: 'salesforce', kind: 'transient' });
    expect(classifyFailure(error, 5, 5, half)).toMatchObject({
      action: 'dead-letter',
      reason: 'exhausted'
    });
  });

  it('retries an unexpected error until attempts run out', () => {
    expect(classifyFailure(new TypeError('x is undefined'), 1, 2, half).action).toBe('retry');
    expect(classifyFailure(new TypeError('x is undefined'), 2, 2, half)).toMatchObject({
      action: 'dead-letter',
      reason: 'exhausted',
      message: 'TypeError: x is undefined'
    });
  });

  it('dead-letters a PermanentFlowError at once with its message', () => {
    expect(classifyFailure(new PermanentFlowError('Account has no name'), 1, 5, half)).toEqual({
      action: 'dead-letter',
      reason: 'permanent',
      message: 'PermanentFlowError: Account has no name'
    });
  });

  it('names system, kind and status in the recorded message', () => {
    const error = new ClientError('Customer group 99 does not exist', {
      system: 'd365',
      kind: 'validation',
      status: 400
    });
    expect(classifyFailure(error, 1, 5, half).message).toBe(
      'd365 validation 400: Customer group 99 does not exist'
    );
  });

  it('records a thrown non-error value', () => {
    expect(classifyFailure('boom', 1, 1, half).message).toBe('Error: boom');
  });
});
