/** Maps Salesforce REST answers (error arrays `[{message, errorCode, fields}]`) to typed ClientErrors. */

import { ClientError } from '../net/errors.ts';
import type { ClientErrorKind } from '../net/errors.ts';
import { headerValue, parseRetryAfterMs } from '../net/http.ts';

export interface SalesforceApiError {
  errorCode: string;
  message: string;
  fields?: string[];
}

export function parseSalesforceErrors(body: unknown): SalesforceApiError[] {
  const list = Array.isArray(body) ? body : body && typeof body === 'object' ? [body] : [];
  return list
    .filter((item): item is Record<string, unknown> => !!item && typeof item === 'object')
    .map((item) => {
      const error: SalesforceApiError = {
        // Collections results name the code `statusCode`, every other resource `errorCode`.
        errorCode: String(item.errorCode ?? item.statusCode ?? 'UNKNOWN_ERROR'),
        message: String(item.message ?? '')
      };
      if (Array.isArray(item.fields)) error.fields = item.fields.map(String);
      return error;
    });
}

/** When Salesforce says the org's daily API allowance is spent, try again in an hour rather than at once. */
const REQUEST_LIMIT_RETRY_AFTER_MS = 60 * 60_000;

export function salesforceError(
  operation: string,
  status: number,
  body: unknown,
  headers: unknown
): ClientError {
  const errors = status === 300 ? [] : parseSalesforceErrors(body);
  const first = errors[0];
  const code = status === 300 ? 'MULTIPLE_CHOICES' : first?.errorCode;
  let kind: ClientErrorKind;
  let retryAfterMs = parseRetryAfterMs(headerValue(headers, 'retry-after'));
  if (code === 'REQUEST_LIMIT_EXCEEDED' || status === 429) {
    kind = 'throttled';
    // The same code covers the concurrent long-request limit ("ConcurrentPerOrgLongTxn"), which clears fast.
    retryAfterMs ??= /concurrent/i.test(first?.message ?? '')
      ? undefined
      : REQUEST_LIMIT_RETRY_AFTER_MS;
  } else if (status === 401 || code === 'INVALID_SESSION_ID') kind = 'auth';
  else if (status === 403) kind = 'auth';
  else if (status === 404 || code === 'ENTITY_IS_DELETED') kind = 'not_found';
  else if (status === 300 || status === 409 || status === 412 || code === 'DUPLICATE_VALUE')
    kind = 'conflict';
  else if (status === 400 || status === 422) kind = 'validation';
  else if (status >= 500) kind = 'transient';
  else kind = 'permanent';
  const detail =
    status === 300
      ? `external id matches ${Array.isArray(body) ? body.length : 'several'} records`
      : errors.map((error) => `${error.errorCode}: ${error.message}`).join('; ') ||
        `HTTP ${status}`;
  return new ClientError(`Salesforce ${operation} failed (${status}): ${detail}`, {
    system: 'salesforce',
    kind,
    status,
    ...(code ? { code } : {}),
    ...(retryAfterMs !== undefined && (kind === 'throttled' || kind === 'transient')
      ? { retryAfterMs }
      : {})
  });
}
