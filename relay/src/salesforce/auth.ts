/**
 * Salesforce OAuth for a server-to-server integration: JWT bearer (RS256 assertion signed with the
 * configured private key) or client credentials. Salesforce returns no `expires_in`, so a session is
 * kept until Salesforce rejects it (401 INVALID_SESSION_ID), then replaced once.
 */

import { createPrivateKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Logger } from 'pino';
import { ClientError } from '../net/errors.ts';
import type { HttpClient } from '../net/http.ts';

export interface SalesforceSession {
  accessToken: string;
  instanceUrl: string;
  /** 18-character org id (from the identity URL), used as the Pub/Sub `tenantid`. */
  orgId: string;
  userId: string;
}

/** The connected app the relay signs in with: the JWT user and key, or the client secret. */
export interface SalesforceCredentials {
  loginUrl: string;
  authFlow: 'jwt' | 'client_credentials';
  clientId: string;
  username?: string;
  privateKeyPem?: string;
  clientSecret?: string;
}

export interface SalesforceAuthOptions extends SalesforceCredentials {
  http: HttpClient;
  logger: Logger;
  now?: () => number;
}

export interface SalesforceAuth {
  session(): Promise<SalesforceSession>;
  /** Forgets `accessToken` if it is still the current one; the next session() logs in again. */
  invalidate(accessToken: string): void;
}

/** Salesforce: the assertion's `exp` must be "within 3 minutes". */
export const SALESFORCE_JWT_LIFETIME_SECONDS = 180;

const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export function createSalesforceAuth(options: SalesforceAuthOptions): SalesforceAuth {
  const loginUrl = options.loginUrl.replace(/\/+$/, '');
  const now = options.now ?? Date.now;
  let privateKey: KeyObject | undefined;
  if (options.authFlow === 'jwt') {
    if (!options.username) throw new TypeError('Salesforce JWT bearer flow needs a username');
    if (!options.privateKeyPem)
      throw new TypeError('Salesforce JWT bearer flow needs a private key');
    // createPrivateKey reads PKCS#8 and PKCS#1 PEM alike; jose signs with the KeyObject.
    privateKey = createPrivateKey(options.privateKeyPem);
  } else if (!options.clientSecret) {
    throw new TypeError('Salesforce client credentials flow needs a client secret');
  }
  let current: SalesforceSession | undefined;
  let inflight: Promise<SalesforceSession> | undefined;

  async function tokenRequestBody(): Promise<URLSearchParams> {
    if (options.authFlow === 'jwt') {
      const issuedAt = Math.floor(now() / 1000);
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: 'RS256' })
        .setIssuer(options.clientId)
        .setSubject(options.username as string)
        .setAudience(loginUrl)
        .setExpirationTime(issuedAt + SALESFORCE_JWT_LIFETIME_SECONDS)
        .sign(privateKey as KeyObject);
      return new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion });
    }
    return new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: options.clientId,
      client_secret: options.clientSecret as string
    });
  }

  async function login(): Promise<SalesforceSession> {
    const body = await tokenRequestBody();
    let response;
    try {
      response = await options.http.request({
        method: 'POST',
        url: `${loginUrl}/services/oauth2/token`,
        data: body.toString(),
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          Accept: 'application/json'
        }
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      throw new ClientError(
        `Salesforce token request failed: ${code ?? 'network error'}`,
        { system: 'salesforce', kind: 'transient', ...(code ? { code } : {}) },
        { cause: error }
      );
    }
    const data = (response.data ?? {}) as Record<string, unknown>;
    if (response.status !== 200 || typeof data.access_token !== 'string') {
      const code = typeof data.error === 'string' ? data.error : undefined;
      const description =
        typeof data.error_description === 'string'
          ? data.error_description
          : `HTTP ${response.status}`;
      throw new ClientError(
        `Salesforce ${options.authFlow} login failed: ${code ?? 'error'}: ${description}`,
        {
          system: 'salesforce',
          kind: response.status >= 500 ? 'transient' : 'auth',
          status: response.status,
          ...(code ? { code } : {})
        }
      );
    }
    const identity = typeof data.id === 'string' ? data.id.split('/') : [];
    const session: SalesforceSession = {
      accessToken: data.access_token,
      instanceUrl: String(data.instance_url ?? loginUrl).replace(/\/+$/, ''),
      orgId: identity.at(-2) ?? data.access_token.split('!')[0] ?? '',
      userId: identity.at(-1) ?? ''
    };
    options.logger.info(
      { flow: options.authFlow, instanceUrl: session.instanceUrl, orgId: session.orgId },
      'Salesforce session opened'
    );
    return session;
  }

  return {
    async session() {
      if (current) return current;
      inflight ??= login()
        .then((session) => {
          current = session;
          return session;
        })
        .finally(() => {
          inflight = undefined;
        });
      return inflight;
    },
    invalidate(accessToken) {
      if (current?.accessToken === accessToken) current = undefined;
    }
  };
}
