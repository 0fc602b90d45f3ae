import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes, RelayError, type ErrorCode } from '../errors.ts';
import { redactUrl } from './auth.ts';
import type { ErrorBody } from './schemas.ts';

/** Fastify's own request errors, mapped to the relay's catalogue. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'RELAY_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'RELAY_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_JSON_BODY: 'RELAY_ERR_INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'RELAY_ERR_INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'RELAY_ERR_VALIDATION'
};

/**
 * The one error handler: callers get `{ code, message, correlationId }`; a 5xx never shows its
 * internals (they go to the log with the correlation id instead).
 */
export function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const correlationId = request.id;
  let code: ErrorCode;
  let message: string;
  if (error instanceof RelayError) {
    code = error.code;
    message = error.message;
  } else if (error.validation) {
    code = 'RELAY_ERR_VALIDATION';
    message = describeValidation(error);
  } else if (error.code !== undefined && FASTIFY_CODES[error.code] !== undefined) {
    code = FASTIFY_CODES[error.code]!;
    message = code === 'RELAY_ERR_INVALID_JSON' ? ErrorCodes[code].message : error.message;
  } else if (error.statusCode === 429) {
    code = 'RELAY_ERR_RATE_LIMITED';
    message = ErrorCodes[code].message;
  } else if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    // Other Fastify client errors (bad URL encoding, …) carry safe, descriptive messages.
    reply.code(error.statusCode);
    return {
      code: 'RELAY_ERR_VALIDATION',
      message: error.message,
      correlationId
    } satisfies ErrorBody;
  } else {
    code = 'RELAY_ERR_INTERNAL';
    message = ErrorCodes[code].message;
  }
  const status = ErrorCodes[code].status;
  if (status >= 500) {
    request.log.error(
      { err: error, correlationId, method: request.method, url: redactUrl(request.url) },
      'Unhandled error'
    );
    if (code === 'RELAY_ERR_INTERNAL') message = ErrorCodes.RELAY_ERR_INTERNAL.message;
  }
  reply.code(status);
  return { code, message, correlationId } satisfies ErrorBody;
}

interface ValidationIssue {
  instancePath: string;
  message?: string;
  keyword: string;
  params: Record<string, unknown>;
}

/**
 * A one-line reason from the validator's errors. For a body that may be one event or an array, the
 * deepest path is the one that explains what is wrong ("/EventId must match pattern …").
 */
function describeValidation(error: FastifyError): string {
  const issues = (error.validation ?? []) as unknown as ValidationIssue[];
  const useful = issues.filter((i) => i.keyword !== 'anyOf' && i.keyword !== 'boolean');
  const candidates = useful.length > 0 ? useful : issues;
  const deepest = [...candidates].sort(
    (a, b) => b.instancePath.split('/').length - a.instancePath.split('/').length
  )[0];
  const where = `${error.validationContext ?? 'request'}${deepest?.instancePath ?? ''}`;
  if (!deepest) return `${where} is invalid`;
  const extra = deepest.params.additionalProperties ?? deepest.params.requiredProperties;
  const names = Array.isArray(extra) ? `: ${extra.join(', ')}` : '';
  return `${where} ${deepest.message ?? 'is invalid'}${names}`;
}
