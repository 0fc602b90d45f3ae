import { describe, expect, it } from 'vitest';
import { d365Error, extractInfologMessage } from '../../src/d365/errors.ts';

const writeFailure = (message: string): unknown => ({
  error: {
    code: '',
    message: 'An error has occurred.',
    innererror: {
      message,
      type: 'Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException',
      stacktrace: 'at X'
    }
  }
});

describe('extractInfologMessage', () => {
  it('keeps the Infolog entries and drops the generic validateField line', () => {
    const text =
      "Write failed for table row of type 'CustCustomerV3Entity'. Infolog: Warning: The value 'Local' in field 'Customer group' is not found in the related table 'Customer groups'.; Warning: validateField failed on field 'CustCustomerV3Entity.CustomerGroupId'.";
    expect(extractInfologMessage(text)).toBe(
      "The value 'Local' in field 'Customer group' is not found in the related table 'Customer groups'."
    );
  });

  it('returns text without an Infolog unchanged', () => {
    expect(extractInfologMessage('Something else.')).toBe('Something else.');
  });
});

describe('d365Error', () => {
  it('classifies 500 with AxODataWriteException as validation, not retryable, with the Infolog text', () => {
    const error = d365Error(
      'create CustomersV3',
      500,
      writeFailure('Write failed. Infolog: Error: Name is too long.'),
      {}
    );
    expect(error).toMatchObject({
      kind: 'validation',
      retryable: false,
      status: 500,
      system: 'd365'
    });
    expect(error.message).toBe('D365 create CustomersV3 failed (500): Name is too long.');
  });

  it('never copies the server stack trace into the message', () => {
    const error = d365Error('create', 500, writeFailure('Infolog: Error: x.'), {});
    expect(error.message).not.toContain('at X');
  });

  it('classifies a bare 503 as transient and retryable', () => {
    expect(d365Error('get', 503, '', {})).toMatchObject({ kind: 'transient', retryable: true });
  });

  it('classifies 429 as throttled with Retry-After in ms', () => {
    expect(d365Error('get', 429, '', { 'Retry-After': '60' })).toMatchObject({
      kind: 'throttled',
      retryable: true,
      retryAfterMs: 60_000
    });
  });

  it('maps 401, 404 and 412 to auth, not_found and conflict', () => {
    expect(d365Error('get', 401, '', {}).kind).toBe('auth');
    expect(d365Error('get', 404, '', {}).kind).toBe('not_found');
    expect(d365Error('patch', 412, '', {}).kind).toBe('conflict');
  });
});
