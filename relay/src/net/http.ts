/** The one way the relay makes HTTP calls: axios over keep-alive agents with a hard timeout per request. */

import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import axios from 'axios';
import type { AxiosInstance, AxiosRequestConfig, AxiosResponse } from 'axios';

export interface HttpClientOptions {
  baseURL?: string;
  /** Hard limit for a whole request (connect, send, wait, receive); enforced with an AbortSignal. */
  timeoutMs: number;
  /** Extra trusted CA (PEM), e.g. an emulator's self-signed certificate; added to Node's default roots. */
  caCertPem?: string;
  /** Upper bound of open sockets per host; the adaptive limiters keep real concurrency below it. */
  maxSockets?: number;
  headers?: Record<string, string>;
}

export interface HttpClient {
  /** Every call goes through here: it carries the hard timeout. */
  request<T = unknown>(config: AxiosRequestConfig): Promise<AxiosResponse<T>>;
  readonly axios: AxiosInstance;
  close(): void;
}

const DEFAULT_MAX_SOCKETS = 64;

export function createHttpClient(options: HttpClientOptions): HttpClient {
  const maxSockets = options.maxSockets ?? DEFAULT_MAX_SOCKETS;
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets });
  const httpsAgent = new https.Agent({
    keepAlive: true,
    maxSockets,
    // One secure context for every connection. Passed as `ca`, the ~150 roots would be parsed again
    // for each new socket and joined into the agent's pool key on every request (half the relay's
    // CPU under load in npm run bench:relay-memory).
    ...(options.caCertPem
      ? {
          secureContext: tls.createSecureContext({
            ca: [...tls.rootCertificates, options.caCertPem]
          })
        }
      : {})
  });
  const instance = axios.create({
    ...(options.baseURL ? { baseURL: options.baseURL } : {}),
    httpAgent,
    httpsAgent,
    timeout: options.timeoutMs,
    headers: options.headers ?? {},
    // Status codes are mapped to typed errors by each client, which knows its system's error bodies.
    validateStatus: () => true,
    maxRedirects: 0,
    // Salesforce and D365 bodies can be large (DMF packages, Bulk results); the hard timeout bounds them instead.
    maxBodyLength: Infinity,
    maxContentLength: Infinity,
    proxy: false
  });
  return {
    async request<T>(config: AxiosRequestConfig): Promise<AxiosResponse<T>> {
      // axios' own `timeout` only bounds idle sockets in Node; this bounds the whole exchange. A plain timer
      // cleared on completion keeps nothing alive afterwards (AbortSignal.timeout would hold every signal
      // for the full timeout: thousands of them under sustained load).
      const controller = new AbortController();
      const timer = setTimeout(
        () => controller.abort(new Error(`request timed out after ${options.timeoutMs} ms`)),
        options.timeoutMs
      );
      try {
        return await instance.request<T>({ ...config, signal: controller.signal });
      } finally {
        clearTimeout(timer);
      }
    },
    axios: instance,
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    }
  };
}

/**
 * Parses `Retry-After`: delta-seconds (what D365 sends, e.g. `60`) or an HTTP date.
 * Returns milliseconds, or undefined when absent or unreadable.
 */
export function parseRetryAfterMs(value: unknown, now: number = Date.now()): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const text = String(value).trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Reads one header case-insensitively from axios' header object. */
export function headerValue(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(headers as Record<string, unknown>)) {
    if (key.toLowerCase() === lower) {
      if (Array.isArray(value)) return value.join(', ');
      return value === undefined || value === null ? undefined : String(value);
    }
  }
  return undefined;
}
