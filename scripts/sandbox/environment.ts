/**
 * The sandbox's systems: both emulators (seed 'demo') and the relay on a fresh embedded store,
 * wired as a real installation would be — the relay logs in to Salesforce with the JWT bearer flow
 * (a connected app registered in the emulator with a key pair made at start), to D365 with client
 * credentials, and D365 posts its business events to the relay's secret URL. Built on the e2e
 * harness, which supplies the emulators, the relay and the Apex-equivalent event publishing.
 */

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FLOWS } from '../../relay/src/flows/registry.ts';
import type { Flow } from '../../relay/src/flows/types.ts';
import { startHarness, type Harness } from '../../test/e2e/harness.ts';

/** Username of the emulator's integration user; the relay's JWT `sub`. */
const INTEGRATION_USERNAME = 'integration@d365-relay.example';
const CONSUMER_KEY_PREFIX = 'sandbox-relay-';
/** Files SQLite keeps beside the database in WAL mode. */
const STORE_FILE_SUFFIXES = ['', '-wal', '-shm'];

export interface SandboxOptions {
  /** Relay HTTP port (0 picks a free one). */
  port: number;
  /** Directory of the relay's SQLite store; the store file is recreated on each start. */
  dataDir: string;
  /** Relay log level (pino, to stdout); default silent so the tour stays readable. */
  relayLogLevel?: string;
  /** Flows the relay runs (default: the registry's); tests use it to run a build without some. */
  flows?: readonly Flow[];
}

/** Credentials made for this run only; printed so the user can call the relay. */
export interface SandboxSecrets {
  adminToken: string;
  calloutKey: string;
  businessEventsSecret: string;
  consumerKey: string;
}

export interface Sandbox {
  harness: Harness;
  secrets: SandboxSecrets;
  relayUrl: string;
  storeFile: string;
  /** The flows the relay runs. */
  flows: readonly Flow[];
  /** Stops the relay (gracefully), then the emulators. */
  close(): Promise<void>;
}

/** URL-safe, so one generator serves header values and the business-events path segment. */
function secret(label: string): string {
  return `sandbox-${label}-${randomBytes(18).toString('base64url')}`;
}

export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  mkdirSync(options.dataDir, { recursive: true });
  const storeFile = join(options.dataDir, 'relay.db');
  for (const suffix of STORE_FILE_SUFFIXES) rmSync(`${storeFile}${suffix}`, { force: true });

  const secrets: SandboxSecrets = {
    adminToken: secret('admin'),
    calloutKey: secret('callout'),
    businessEventsSecret: secret('events'),
    consumerKey: `${CONSUMER_KEY_PREFIX}${randomBytes(6).toString('hex')}`
  };
  const keys = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
  });

  const harness = await startHarness({
    startRelay: false,
    ...(options.flows ? { flows: options.flows } : {}),
    logLevel: options.relayLogLevel ?? 'silent',
    salesforce: { integrationUsername: INTEGRATION_USERNAME },
    env: {
      RELAY_PORT: String(options.port),
      RELAY_STORE_URL: `sqlite:${storeFile}`,
      RELAY_ADMIN_TOKEN: secrets.adminToken,
      RELAY_CALLOUT_KEY: secrets.calloutKey,
      RELAY_BUSINESS_EVENTS_SECRET: secrets.businessEventsSecret,
      SF_AUTH_FLOW: 'jwt',
      SF_CLIENT_ID: secrets.consumerKey,
      SF_USERNAME: INTEGRATION_USERNAME,
      SF_PRIVATE_KEY: keys.privateKey,
      // The harness's client-credentials app stays for its own observer; the relay uses JWT only.
      SF_CLIENT_SECRET: ''
    }
  });
  try {
    await harness.salesforce.control.registerJwtApp({
      consumerKey: secrets.consumerKey,
      certificatePem: keys.publicKey,
      allowedUsernames: [INTEGRATION_USERNAME]
    });
    await harness.startRelay();
  } catch (err) {
    await harness.close();
    throw err;
  }
  return {
    harness,
    secrets,
    relayUrl: harness.baseUrl(),
    storeFile,
    flows: options.flows ?? FLOWS,
    close: () => harness.close()
  };
}
