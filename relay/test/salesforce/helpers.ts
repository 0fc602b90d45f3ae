import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { start } from '../../../test/emulators/salesforce/index.ts';
import type { RunningEmulator } from '../../../test/emulators/salesforce/index.ts';
import { createSalesforceClient } from '../../src/salesforce/index.ts';
import type { SalesforceClient, SalesforceClientOptions } from '../../src/salesforce/index.ts';

export const silentLogger = pino({ level: 'silent' });

export interface SalesforceFixture {
  emulator: RunningEmulator;
  consumerKey: string;
  privateKeyPem: string;
  clientSecret: string;
  jwtClient(overrides?: Partial<SalesforceClientOptions>): SalesforceClient;
  credentialsClient(overrides?: Partial<SalesforceClientOptions>): SalesforceClient;
  close(): Promise<void>;
}

/** Starts the Salesforce emulator with a JWT app (a key generated for this run) and a client-credentials app. */
export async function startSalesforce(
  options: Parameters<typeof start>[0] = {}
): Promise<SalesforceFixture> {
  const emulator = await start(options);
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const consumerKey = `3MVG9relay${randomUUID().replaceAll('-', '')}`;
  const clientSecret = randomUUID();
  await emulator.control.registerJwtApp({
    consumerKey,
    certificatePem: publicKey.export({ type: 'spki', format: 'pem' }).toString()
  });
  emulator.control.registerClientCredentialsApp({ clientId: `${consumerKey}cc`, clientSecret });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const clients: SalesforceClient[] = [];
  const track = (client: SalesforceClient): SalesforceClient => {
    clients.push(client);
    return client;
  };
  return {
    emulator,
    consumerKey,
    privateKeyPem,
    clientSecret,
    jwtClient: (overrides = {}) =>
      track(
        createSalesforceClient({
          loginUrl: emulator.instanceUrl,
          authFlow: 'jwt',
          clientId: consumerKey,
          username: emulator.integrationUser.username,
          privateKeyPem,
          logger: silentLogger,
          backoff: { baseMs: 10, capMs: 50 },
          ...overrides
        })
      ),
    credentialsClient: (overrides = {}) =>
      track(
        createSalesforceClient({
          loginUrl: emulator.instanceUrl,
          authFlow: 'client_credentials',
          clientId: `${consumerKey}cc`,
          clientSecret,
          logger: silentLogger,
          backoff: { baseMs: 10, capMs: 50 },
          ...overrides
        })
      ),
    async close() {
      await Promise.all(clients.map((client) => client.close()));
      await emulator.close();
    }
  };
}
