/**
 * The relay's error catalogue: one stable code per failure a caller can see, with its HTTP status.
 * Modelled on Fastify core's `lib/errors.js`: codes never change meaning once published.
 */
export const ErrorCodes = {
  // Request shape
  RELAY_ERR_VALIDATION: { status: 400, message: 'The request is invalid.' },
  RELAY_ERR_INVALID_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  RELAY_ERR_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: 'The request content type is not supported; send application/json.'
  },
  RELAY_ERR_BODY_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  // Authentication
  RELAY_ERR_UNAUTHORIZED: { status: 401, message: 'Authentication is missing or invalid.' },
  // Resources
  RELAY_ERR_NOT_FOUND: { status: 404, message: 'The resource does not exist.' },
  RELAY_ERR_CONFLICT: { status: 409, message: 'The resource is in a conflicting state.' },
  RELAY_ERR_UNKNOWN_FLOW: { status: 404, message: 'No flow is registered under this name.' },
  RELAY_ERR_RATE_LIMITED: { status: 429, message: 'Too many requests; retry later.' },
  // Server side
  RELAY_ERR_INTERNAL: { status: 500, message: 'Internal Server Error' }
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ErrorCodes;

/** An error the HTTP layer may show to callers as `{ code, message }` (5xx messages are still hidden). */
export class RelayError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ErrorCodes[code].message, options);
    this.name = 'RelayError';
    this.code = code;
    this.statusCode = ErrorCodes[code].status;
  }
}

/** Raised at start when configuration is invalid; the message names the offending key. */
export class ConfigError extends Error {
  readonly key: string;

  constructor(key: string, message: string, options?: { cause?: unknown }) {
    super(`${key}: ${message}`, options);
    this.name = 'ConfigError';
    this.key = key;
  }
}

/**
 * Thrown by a flow handler when retrying cannot help (bad mapping, missing reference data):
 * the job goes straight to the dead-letter queue with this message as the reason.
 */
export class PermanentFlowError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentFlowError';
  }
}

/** Turns anything thrown into an Error (graphile-worker's `coerceError`), keeping the original as cause. */
export function coerceError(err: unknown): Error {
  if (err instanceof Error) return err;
  return new Error(typeof err === 'string' && err !== '' ? err : 'Non-error value thrown', {
    cause: err
  });
}
