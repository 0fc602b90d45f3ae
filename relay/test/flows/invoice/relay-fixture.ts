import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { start as startD365, type D365Emulator } from '../../../../test/emulators/d365/index.ts';
import {
  start as startSalesforce,
  type RunningEmulator
} from '../../../../test/emulators/salesforce/index.ts';
import { loadConfig } from '../../../src/config/load.ts';
import type { Flow } from '../../../src/flows/types.ts';
import { createSalesforceClient, type SalesforceClient } from '../../../src/salesforce/index.ts';
import { startRelay, type RunningRelay } from '../../../src/server.ts';
import { silentLogger } from '../../helpers.ts';

export const CALLOUT_KEY = 'callout-key-for-finance-0123456789';
export const EVENTS_SECRET = 'business-events-secret-finance-0123';

/** Both emulators (seed demo) and a relay started as in production, with the given flows. */
export interface FinanceRelay {
  d365: D365Emulator;
  salesforce: RunningEmulator;
  relay: RunningRelay;
  baseUrl: string;
  /** The environment the relay was configured from (for CLI commands against the same systems). */
  relayEnv: Record<string, string>;
  /** A Salesforce client of its own (the relay's app), for test writes through the API. */
  salesforceClient: SalesforceClient;
  /** Subscribes the relay's endpoint to these D365 business events. */
  registerEndpoint(businessEventIds: string[]): Promise<void>;
  close(): Promise<void>;
}

export async function startFinanceRelay(
  flows: readonly Flow[],
  env: Record<string, string> = {}
): Promise<FinanceRelay> {
  const [d365, salesforce] = await Promise.all([
    startD365({ seed: 'demo' }),
    startSalesforce({ port: 0, pubsubPort: 0 })
  ]);
  const clientId = `finance-${randomUUID()}`;
  const clientSecret = randomUUID();
  salesforce.control.registerClientCredentialsApp({ clientId, clientSecret });
  const dir = mkdtempSync(join(tmpdir(), 'relay-finance-'));
  writeFileSync(join(dir, 'd365-ca.pem'), d365.caCertPem);
  const relayEnv: Record<string, string> = {
    RELAY_ADMIN_TOKEN: 'admin-token-0123456789',
    RELAY_CALLOUT_KEY: CALLOUT_KEY,
    RELAY_BUSINESS_EVENTS_SECRET: EVENTS_SECRET,
    RELAY_STORE_URL: `sqlite:${join(dir, 'relay.db')}`,
    RELAY_HOST: '127.0.0.1',
    RELAY_PORT: '0',
    RELAY_WORKER_POLL_MS: '50',
    D365_ENVIRONMENT_URL: d365.url,
    D365_TENANT_ID: d365.tenantId,
    D365_CLIENT_ID: d365.clientId,
    D365_CLIENT_SECRET: d365.clientSecret,
    D365_AUTHORITY_HOST: d365.url,
    D365_CA_CERT_FILE: join(dir, 'd365-ca.pem'),
    SF_LOGIN_URL: salesforce.instanceUrl,
    SF_AUTH_FLOW: 'client_credentials',
    SF_CLIENT_ID: clientId,
    SF_CLIENT_SECRET: clientSecret,
    ...env
  };
  const relay = await startRelay({
    logger: silentLogger,
    flows,
    config: loadConfig({ env: relayEnv, cwd: dir })
  });
  const address = relay.app.server.address();
  const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const salesforceClient = createSalesforceClient({
    loginUrl: salesforce.instanceUrl,
    authFlow: 'client_credentials',
    clientId,
    clientSecret,
    logger: silentLogger
  });
  return {
    d365,
    salesforce,
    relay,
    baseUrl,
    relayEnv,
    salesforceClient,
    async registerEndpoint(businessEventIds) {
      d365.control.registerEndpoint({
        url: `${baseUrl}/api/v1/business-events/${EVENTS_SECRET}`,
        businessEventIds
      });
      await d365.control.eventsSettled();
    },
    async close() {
      await relay.close();
      await salesforceClient.close();
      await Promise.all([d365.close(), salesforce.close()]);
    }
  };
}
