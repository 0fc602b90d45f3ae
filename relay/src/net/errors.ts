/** Typed failures of the D365 and Salesforce clients; the worker decides retry vs dead letter from these. */

export type ClientErrorKind =
  'throttled' | 'validation' | 'auth' | 'not_found' | 'conflict' | 'transient' | 'permanent';

export type ClientSystem = 'd365' | 'salesforce';

export interface ClientErrorInit {
  system: ClientSystem;
  kind: ClientErrorKind;
  /** Defaults from the kind: throttled and transient are retryable, the rest are not. */
  retryable?: boolean;
  status?: number;
  code?: string;
  retryAfterMs?: number;
}

const RETRYABLE_KINDS: ReadonlySet<ClientErrorKind> = new Set(['throttled', 'transient']);

export class ClientError extends Error {
  readonly system: ClientSystem;
  readonly kind: ClientErrorKind;
  readonly retryable: boolean;
  readonly status?: number;
  readonly code?: string;
  readonly retryAfterMs?: number;

  constructor(message: string, init: ClientErrorInit, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClientError';
    this.system = init.system;
    this.kind = init.kind;
    this.retryable = init.retryable ?? RETRYABLE_KINDS.has(init.kind);
    if (init.status !== undefined) this.status = init.status;
    if (init.code !== undefined) this.code = init.code;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
  }
}

export function isClientError(error: unknown): error is ClientError {
  return error instanceof ClientError;
}

/** Node network error codes that mean "the request may not have reached the server, or the answer was lost". */
const TRANSIENT_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_CANCELED',
  'ERR_NETWORK',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_SOCKET'
]);

export function isTransientNetworkCode(code: string | undefined): boolean {
  return code !== undefined && TRANSIENT_NETWORK_CODES.has(code);
}
