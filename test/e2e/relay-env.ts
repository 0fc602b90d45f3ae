/**
 * Relay settings that point both of the relay's clients at running emulators: for the in-process
 * harness, tests that start `d365-relay` as a child process, and the benchmarks.
 */

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { D365Emulator } from '../emulators/d365/index.ts';
import type { RunningEmulator } from '../emulators/salesforce/index.ts';

export interface SalesforceApp {
  clientId: string;
  clientSecret: string;
}

/**
 * The D365 and Salesforce settings (client credentials, the emulators' CA certificates written
 * into `dir`), with the Pub/Sub endpoint unless `pubsub` is false.
 */
export function emulatorEnv(
  d365: D365Emulator,
  salesforce: RunningEmulator,
  options: { dir: string; salesforceApp: SalesforceApp; pubsub?: boolean }
): Record<string, string> {
  const { dir, salesforceApp } = options;
  writeFileSync(join(dir, 'd365-ca.pem'), d365.caCertPem);
  const env: Record<string, string> = {
    D365_ENVIRONMENT_URL: d365.url,
    D365_TENANT_ID: d365.tenantId,
    D365_CLIENT_ID: d365.clientId,
    D365_CLIENT_SECRET: d365.clientSecret,
    D365_AUTHORITY_HOST: d365.url,
    D365_CA_CERT_FILE: join(dir, 'd365-ca.pem'),
    SF_LOGIN_URL: salesforce.instanceUrl,
    SF_AUTH_FLOW: 'client_credentials',
    SF_CLIENT_ID: salesforceApp.clientId,
    SF_CLIENT_SECRET: salesforceApp.clientSecret
  };
  if (options.pubsub === false) return env;
  writeFileSync(join(dir, 'pubsub-ca.pem'), salesforce.pubsubCaPem);
  return {
    ...env,
    SF_PUBSUB_ENDPOINT: salesforce.pubsubEndpoint,
    SF_PUBSUB_CA_FILE: join(dir, 'pubsub-ca.pem')
  };
}

/** Every scheduled sync off, so only event-driven work touches the emulators. */
export const SCHEDULES_OFF: Readonly<Record<string, string>> = {
  ACCOUNT_PULL_CRON: 'off',
  PRODUCTS_SYNC_CRON: 'off',
  INVOICE_RECONCILE_CRON: 'off',
  PAYMENT_STATUS_CRON: 'off',
  ORDER_STATUS_CRON: 'off'
};
