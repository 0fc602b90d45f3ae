import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { ConfigKey, ConfigValues } from './config/schema.ts';
import { createD365Client, type D365Client, type D365ClientOptions } from './d365/index.ts';
import { ConfigError } from './errors.ts';
import type { ClientObserver } from './net/observer.ts';
import {
  createSalesforceClient,
  type SalesforceClient,
  type SalesforceClientOptions
} from './salesforce/index.ts';

/**
 * What the runtime needs from the two system clients: a credential check for `/readyz` and a way to
 * release their sockets. The factories in `d365/` and `salesforce/` return richer clients; the
 * runtime only uses this boundary, so tests can inject emulator-backed clients or a fake.
 */
export interface SystemClient {
  checkCredentials(): Promise<void>;
  close?(): Promise<void> | void;
}

export interface RelayClients {
  d365: SystemClient;
  salesforce: SystemClient;
}

/** User agent name Salesforce shows for the relay's calls (Sforce-Call-Options), see docs/contracts.md. */
const CALL_OPTIONS_CLIENT = 'd365-relay';

function required(values: ConfigValues, key: ConfigKey, why: string): string {
  const value = values[key];
  if (value === undefined || value === '') throw new ConfigError(key, `is required ${why}`);
  return String(value);
}

function readPem(key: ConfigKey, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(key, `cannot read ${path}`, { cause: err });
  }
}

/** Maps the D365_* keys to the D365 client's options; names the first missing key. */
export function d365ClientOptions(
  values: ConfigValues,
  logger: Logger,
  observer?: ClientObserver
): D365ClientOptions {
  const why = 'to reach D365';
  const caCertPem = readPem('D365_CA_CERT_FILE', values.D365_CA_CERT_FILE);
  return {
    environmentUrl: required(values, 'D365_ENVIRONMENT_URL', why),
    tenantId: required(values, 'D365_TENANT_ID', why),
    clientId: required(values, 'D365_CLIENT_ID', why),
    clientSecret: required(values, 'D365_CLIENT_SECRET', why),
    authorityHost: values.D365_AUTHORITY_HOST,
    requestTimeoutMs: values.D365_REQUEST_TIMEOUT_MS,
    maxConcurrency: values.D365_MAX_CONCURRENCY,
    logger,
    ...(values.D365_SCOPE !== undefined ? { scope: values.D365_SCOPE } : {}),
    ...(caCertPem !== undefined ? { caCertPem } : {}),
    ...(observer ? { observer } : {})
  };
}

/** Maps the SF_* keys to the Salesforce client's options; names the first missing key. */
export function salesforceClientOptions(
  values: ConfigValues,
  logger: Logger,
  observer?: ClientObserver
): SalesforceClientOptions {
  const flow = values.SF_AUTH_FLOW;
  const why = `for SF_AUTH_FLOW=${flow}`;
  const caCertPem = readPem('SF_CA_CERT_FILE', values.SF_CA_CERT_FILE);
  return {
    loginUrl: values.SF_LOGIN_URL,
    authFlow: flow,
    clientId: required(values, 'SF_CLIENT_ID', why),
    ...(flow === 'jwt'
      ? {
          username: required(values, 'SF_USERNAME', why),
          privateKeyPem: required(values, 'SF_PRIVATE_KEY', why)
        }
      : { clientSecret: required(values, 'SF_CLIENT_SECRET', why) }),
    apiVersion: values.SF_API_VERSION,
    requestTimeoutMs: values.SF_REQUEST_TIMEOUT_MS,
    apiReservePercent: values.SF_API_RESERVE_PERCENT,
    callOptionsClient: CALL_OPTIONS_CLIENT,
    logger,
    ...(caCertPem !== undefined ? { caCertPem } : {}),
    ...(observer ? { observer } : {})
  };
}

/** Builds both clients from configuration (the server's default when none are injected). */
export function createRelayClients(
  values: ConfigValues,
  logger: Logger,
  observer?: ClientObserver
): { d365: D365Client; salesforce: SalesforceClient } {
  return {
    d365: createD365Client(d365ClientOptions(values, logger, observer)),
    salesforce: createSalesforceClient(salesforceClientOptions(values, logger, observer))
  };
}
