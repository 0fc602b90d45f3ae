import { describe, expect, it } from 'vitest';
import { isIdempotent, networkError, outcomeUnknownAfter } from '../../src/net/request.ts';

const socketError = (code: string): Error => Object.assign(new Error(code), { code });

describe('networkError', () => {
  it.each([
    ['a reset connection', socketError('ECONNRESET'), 'transient', 'ECONNRESET'],
    ['a refused connection', socketError('ECONNREFUSED'), 'transient', 'ECONNREFUSED'],
    ['a certificate failure', socketError('CERT_HAS_EXPIRED'), 'permanent', 'CERT_HAS_EXPIRED']
  ])('classifies %s', (_what, error, kind, code) => {
    const failure = networkError('d365', 'GET CustomersV3', error);
    expect(failure).toMatchObject({ system: 'd365', kind, code, retryable: kind === 'transient' });
    expect(failure.message).toBe(`D365 GET CustomersV3 failed: ${code}`);
    expect(failure.cause).toBe(error);
  });

  it('names a timeout as such, retryable, under the system it happened in', () => {
    const timeout = Object.assign(new Error('aborted'), { name: 'TimeoutError' });
    const failure = networkError('salesforce', 'query', timeout);
    expect(failure).toMatchObject({ system: 'salesforce', kind: 'transient', retryable: true });
    expect(failure.message).toBe('Salesforce query failed: timed out');
  });
});

describe('outcomeUnknownAfter', () => {
  const reset = networkError('d365', 'POST', socketError('ECONNRESET'));
  const refused = networkError('d365', 'POST', socketError('ECONNREFUSED'));

  it('holds for a create whose answer was lost', () => {
    expect(outcomeUnknownAfter({ method: 'POST' }, reset)).toBe(true);
  });

  it('does not hold when the request never left (connection refused)', () => {
    expect(outcomeUnknownAfter({ method: 'POST' }, refused)).toBe(false);
  });

  it('does not hold for idempotent methods or a POST declared idempotent', () => {
    expect(outcomeUnknownAfter({ method: 'PATCH' }, reset)).toBe(false);
    expect(outcomeUnknownAfter({ method: 'POST', idempotent: true }, reset)).toBe(false);
  });
});

describe('isIdempotent', () => {
  it('lets a request override its method', () => {
    expect(isIdempotent({ method: 'GET' })).toBe(true);
    expect(isIdempotent({ method: 'GET', idempotent: false })).toBe(false);
    expect(isIdempotent({ method: 'POST' })).toBe(false);
  });
});
