import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { RelayError } from '../errors.ts';

/**
 * Compares a presented secret with the expected one in constant time. Hashing both first gives
 * equal-length inputs for `timingSafeEqual`, so neither the content nor the length leaks.
 */
export function secretsEqual(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function unauthorized(): RelayError {
  return new RelayError('RELAY_ERR_UNAUTHORIZED');
}

/** The header the package's External Credential `D365_Relay_Auth` adds (docs/contracts.md). */
export const CALLOUT_KEY_HEADER = 'x-relay-key';

/**
 * Authenticates Salesforce Named Credential callouts: exactly one `X-Relay-Key` header whose value
 * is RELAY_CALLOUT_KEY. Anything else (missing, repeated, other scheme) is 401. Register it inside
 * the encapsulated plugin that holds the callout routes.
 */
const verifyCalloutKey: FastifyPluginAsync<{ calloutKey: string }> = async (
  fastify,
  { calloutKey }
) => {
  fastify.addHook('onRequest', async (request: FastifyRequest) => {
    const value = request.headers[CALLOUT_KEY_HEADER];
    if (typeof value !== 'string' || !secretsEqual(value, calloutKey)) throw unauthorized();
  });
};
export const calloutAuth = fp(verifyCalloutKey, { name: 'callout-auth' });

/** Admin API and metrics: `Authorization: Bearer <RELAY_ADMIN_TOKEN>`. */
export function requireBearer(token: string): onRequestHookHandler {
  return async (request) => {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([^\s]+)$/.exec(header) : null;
    if (!match || !secretsEqual(match[1], token)) throw unauthorized();
  };
}

/** Business events: the HTTPS endpoint sends no auth header, so the secret is a path segment. */
export function requirePathSecret(param: string, secret: string): onRequestHookHandler {
  return async (request) => {
    const value = (request.params as Record<string, string | undefined>)[param];
    if (!secretsEqual(value, secret)) throw unauthorized();
  };
}

/** Replaces the business-events path secret in URLs before they reach a log line. */
export function redactUrl(url: string): string {
  return url.replace(/(\/business-events\/)[^/?#]*/, '$1[redacted]');
}
