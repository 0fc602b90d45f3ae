/** Maps D365 F&O HTTP answers to typed ClientErrors, pulling the readable text out of the X++ Infolog. */

import { ClientError } from '../net/errors.ts';
import type { ClientErrorKind } from '../net/errors.ts';
import { headerValue, parseRetryAfterMs } from '../net/http.ts';

interface ODataErrorBody {
  error?: {
    code?: string;
    message?: string;
    innererror?: { message?: string; type?: string; internalexception?: unknown };
  };
}

/** The exception type D365 uses for business validation failures, which it answers with HTTP 500. */
const WRITE_EXCEPTION_TYPE = 'AxODataWriteException';

/**
 * Extracts the messages a person can act on from D365's innererror text, e.g.
 * "Write failed for table row of type 'CustCustomerV3Entity'. Infolog: Warning: The value 'Local' in field
 * 'Customer group' is not found in the related table 'Customer groups'.; Warning: validateField failed on
 * field 'CustCustomerV3Entity.CustomerGroupId'." → "The value 'Local' in field 'Customer group' is not
 * found in the related table 'Customer groups'."
 */
export function extractInfologMessage(text: string): string {
  const marker = text.indexOf('Infolog:');
  if (marker < 0) return text.trim();
  const infolog = text.slice(marker + 'Infolog:'.length);
  const entries = infolog
    .split(/;\s+(?=(?:Info|Warning|Error):)|\r?\n(?=(?:Info|Warning|Error):)/)
    .map((entry) =>
      entry
        .replace(/^\s*(?:Info|Warning|Error):\s*/, '')
        .replace(/\s*\r?\n\s*/g, ' ')
        .replace(/\.{2,}$/, '.')
        .trim()
    )
    .filter((entry) => entry.length > 0);
  // "validateField failed on field …" only repeats which field the previous entry already named.
  const meaningful = entries.filter((entry) => !/^validate\w* failed on field/i.test(entry));
  const chosen = meaningful.length > 0 ? meaningful : entries;
  return chosen.length > 0 ? chosen.join('; ') : text.trim();
}

export function parseODataError(body: unknown): { message?: string; type?: string; code?: string } {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.trim() ? { message: body.trim().slice(0, 500) } : {};
    }
  }
  const error = (parsed as ODataErrorBody | null)?.error;
  if (!error || typeof error !== 'object') return {};
  const inner = error.innererror;
  const innerMessage = typeof inner?.message === 'string' ? inner.message : undefined;
  const result: { message?: string; type?: string; code?: string } = {};
  const message = innerMessage ?? (typeof error.message === 'string' ? error.message : undefined);
  if (message !== undefined) result.message = message;
  if (typeof inner?.type === 'string') result.type = inner.type;
  if (typeof error.code === 'string' && error.code !== '') result.code = error.code;
  return result;
}

export function d365Error(
  operation: string,
  status: number,
  body: unknown,
  headers: unknown,
  options?: { cause?: unknown }
): ClientError {
  const parsed = parseODataError(body);
  const detail = parsed.message ? extractInfologMessage(parsed.message) : undefined;
  let kind: ClientErrorKind;
  if (status === 429) kind = 'throttled';
  else if (status === 401 || status === 403) kind = 'auth';
  else if (status === 404) kind = 'not_found';
  else if (status === 409 || status === 412) kind = 'conflict';
  else if (status === 400 || status === 422) kind = 'validation';
  else if (status >= 500 && parsed.type?.includes(WRITE_EXCEPTION_TYPE)) {
    // D365 answers business validation failures with 500 + AxODataWriteException: retrying cannot help.
    kind = detail && /already exists/i.test(detail) ? 'conflict' : 'validation';
  } else if (status >= 500 || status === 408) kind = 'transient';
  else kind = 'permanent';
  const retryAfterMs = parseRetryAfterMs(headerValue(headers, 'retry-after'));
  const init: ConstructorParameters<typeof ClientError>[1] = { system: 'd365', kind, status };
  if (parsed.code !== undefined) init.code = parsed.code;
  if (retryAfterMs !== undefined && (kind === 'throttled' || kind === 'transient'))
    init.retryAfterMs = retryAfterMs;
  const text = detail ?? `HTTP ${status}`;
  return new ClientError(`D365 ${operation} failed (${status}): ${text}`, init, options);
}
