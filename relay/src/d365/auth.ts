/**
 * Entra ID client-credentials tokens for D365 through @azure/msal-node, with MSAL's HTTP calls going
 * through the relay's axios client (so an emulator's self-signed CA is trusted) and renewal ahead of expiry.
 */

import { ConfidentialClientApplication, LogLevel } from '@azure/msal-node';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import type { Logger } from 'pino';
import { ClientError } from '../net/errors.ts';
import type { HttpClient } from '../net/http.ts';

export interface D365TokenProviderOptions {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** https://login.microsoftonline.com, or an emulator's base URL. */
  authorityHost: string;
  scope: string;
  http: HttpClient;
  logger: Logger;
  /** Renew this long before expiry so no request goes out with a token about to lapse. */
  renewBeforeMs?: number;
  now?: () => number;
}

export interface D365TokenProvider {
  getToken(options?: { forceRefresh?: boolean }): Promise<string>;
  /** Drops the cached token, e.g. after D365 answered 401 to it. */
  invalidate(): void;
}

export const DEFAULT_TOKEN_RENEW_BEFORE_MS = 5 * 60_000;

export function createD365TokenProvider(options: D365TokenProviderOptions): D365TokenProvider {
  const now = options.now ?? Date.now;
  const renewBeforeMs = options.renewBeforeMs ?? DEFAULT_TOKEN_RENEW_BEFORE_MS;
  const authorityHost = options.authorityHost.replace(/\/+$/, '');
  const app = new ConfidentialClientApplication({
    auth: {
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      authority: `${authorityHost}/${options.tenantId}`,
      // Listing the host marks it trusted, so MSAL reads its OpenID metadata instead of asking
      // login.microsoftonline.com for instance discovery (which an emulator host would fail).
      knownAuthorities: [new URL(authorityHost).host]
    },
    system: {
      networkClient: axiosNetworkModule(options.http),
      loggerOptions: {
        piiLoggingEnabled: false,
        logLevel: LogLevel.Warning,
        loggerCallback: (level, message) => {
          if (level <= LogLevel.Warning) options.logger.warn({ msal: true }, message);
        }
      }
    }
  });

  let cached: { token: string; expiresAt: number } | undefined;
  let inflight: Promise<string> | undefined;
  /** Set when D365 rejected the token: MSAL's own cache would hand the same one back. */
  let rejected = false;

  async function acquire(forceRefresh: boolean): Promise<string> {
    try {
      const result = await app.acquireTokenByClientCredential({
        scopes: [options.scope],
        skipCache: forceRefresh
      });
      if (!result?.accessToken) throw new Error('MSAL returned no access token');
      const expiresAt = result.expiresOn?.getTime() ?? now() + 60 * 60_000;
      cached = { token: result.accessToken, expiresAt };
      options.logger.debug({ expiresAt: new Date(expiresAt).toISOString() }, 'D365 token acquired');
      return result.accessToken;
    } catch (error) {
      throw tokenError(error);
    }
  }

  return {
    async getToken(request = {}) {
      if (!request.forceRefresh && cached && cached.expiresAt - now() > renewBeforeMs)
        return cached.token;
      // One acquisition at a time: a burst of requests at expiry shares a single token call.
      // MSAL's own cache would hand back the old token until its fixed renewal offset, so force a new one.
      const forceRefresh = rejected || cached !== undefined || request.forceRefresh === true;
      rejected = false;
      inflight ??= acquire(forceRefresh).finally(() => {
        inflight = undefined;
      });
      return inflight;
    },
    invalidate() {
      cached = undefined;
      rejected = true;
    }
  };
}

function tokenError(error: unknown): ClientError {
  const text = error instanceof Error ? error.message : String(error);
  // AADSTS7000215 invalid secret, AADSTS700016 unknown app, AADSTS90002 unknown tenant: configuration errors.
  const configuration =
    /AADSTS\d+|invalid_client|unauthorized_client|invalid_scope|invalid_request/i.test(text);
  const code = /AADSTS\d+/.exec(text)?.[0] ?? (error as { errorCode?: string }).errorCode;
  const init: ConstructorParameters<typeof ClientError>[1] = {
    system: 'd365',
    kind: configuration ? 'auth' : 'transient'
  };
  if (code) init.code = code;
  // MSAL messages carry trace and correlation ids but never the secret; keep only the first line.
  return new ClientError(`D365 token request failed: ${text.split('\n')[0]}`, init, {
    cause: error
  });
}

function axiosNetworkModule(http: HttpClient): INetworkModule {
  const toResponse = <T>(response: {
    headers: unknown;
    data: unknown;
    status: number;
  }): NetworkResponse<T> => {
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(
      (response.headers ?? {}) as Record<string, unknown>
    )) {
      if (value !== undefined && value !== null)
        headers[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    return { headers, body: response.data as T, status: response.status };
  };
  return {
    async sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions, timeout?: number) {
      const response = await http.request({
        method: 'GET',
        url,
        headers: options?.headers ?? {},
        ...(timeout ? { timeout } : {})
      });
      return toResponse<T>(response);
    },
    async sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions) {
      const response = await http.request({
        method: 'POST',
        url,
        data: options?.body ?? '',
        headers: options?.headers ?? {}
      });
      return toResponse<T>(response);
    }
  };
}
