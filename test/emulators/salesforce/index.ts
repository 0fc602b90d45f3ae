/**
 * A faithful Salesforce emulator for tests, benchmarks and demos: OAuth, REST, sObject Collections,
 * Composite, Bulk API 2.0, limits and the Pub/Sub API, with its object model read from force-app.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { createPubSubAuthenticator } from './auth.ts';
import { changeEntities, changePublisher } from './cdc.ts';
import type { EmulatorControl } from './control.ts';
import { createControl } from './control.ts';
import { loadModel } from './metadata.ts';
import { Org } from './org.ts';
import { EventBus } from './pubsub/event-bus.ts';
import { startPubSubServer } from './pubsub/server.ts';
import { buildHttpServer } from './server.ts';

export type { EmulatorControl } from './control.ts';
export { createPubSubAuthenticator } from './auth.ts';
export { normalizeId, to18 } from './ids.ts';

export interface StartOptions {
  /** HTTP port for OAuth, REST and Bulk; 0 picks a free port. */
  port?: number;
  /** Pub/Sub API (gRPC over TLS) port; 0 picks a free port. */
  pubsubPort?: number;
  host?: string;
  /** Repository root holding sfdx-project.json / force-app; defaults to this repository. */
  projectDir?: string;
  /** Access token lifetime (the org's session timeout); default 2 hours. */
  tokenLifetimeSeconds?: number;
  /** Daily API request allocation; default 100,000. */
  dailyApiLimit?: number;
  /** A request counts as long-running after this long; default 20 s (Salesforce). */
  longRequestThresholdMs?: number;
  /** Concurrent long-running requests allowed; default 25 (Salesforce production orgs). */
  maxConcurrentLongRequests?: number;
  /** Username of the integration user that exists from the start. */
  integrationUsername?: string;
  /** 15-character org ID. */
  orgId?: string;
  /** Objects with Change Data Capture enabled (topic /data/<Object>ChangeEvent); default Account. */
  changeDataCapture?: string[];
  /** Pub/Sub keepalive interval; default 270 s as documented. */
  pubsubKeepaliveMs?: number;
  /** Require this token on /_emulator/* instead of accepting any loopback caller. */
  controlToken?: string;
  logger?: boolean;
}

export interface RunningEmulator {
  /** `http://127.0.0.1:PORT`; also the login URL (token endpoint and JWT audience). */
  instanceUrl: string;
  /** `127.0.0.1:PORT` of the Pub/Sub API. */
  pubsubEndpoint: string;
  /** Self-signed certificate of the Pub/Sub TLS listener (trust it as a CA). */
  pubsubCaPem: string;
  /** 18-character org ID. */
  orgId: string;
  integrationUser: { id: string; username: string };
  /** Metadata in force-app the emulator could not model. */
  modelWarnings: string[];
  control: EmulatorControl;
  close(): Promise<void>;
}

const DEFAULT_PROJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** Default session timeout of a new org: 2 hours. */
const DEFAULT_TOKEN_LIFETIME_SECONDS = 7200;

export async function start(options: StartOptions = {}): Promise<RunningEmulator> {
  const host = options.host ?? '127.0.0.1';
  const { model, platformEvents, metadataRecords, warnings } = loadModel(
    options.projectDir ?? DEFAULT_PROJECT_DIR
  );
  const org = new Org(model, {
    instanceUrl: '',
    orgId15: options.orgId ?? '00D5E0000000Emu',
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS,
    dailyApiLimit: options.dailyApiLimit ?? 100_000,
    longRequestThresholdMs: options.longRequestThresholdMs ?? 20_000,
    maxConcurrentLongRequests: options.maxConcurrentLongRequests ?? 25,
    integrationUsername: options.integrationUsername ?? 'integration@d365-relay.example',
    metadataRecords
  });
  const cdcObjects = options.changeDataCapture ?? ['Account'];
  const bus = new EventBus({
    definitions: platformEvents,
    changeEntities: changeEntities(model, cdcObjects)
  });
  org.setChangeListener(changePublisher(bus, cdcObjects));
  const pubsub = await startPubSubServer({
    port: options.pubsubPort ?? 0,
    host,
    bus,
    authenticate: createPubSubAuthenticator(org),
    ...(options.pubsubKeepaliveMs ? { keepaliveIntervalMs: options.pubsubKeepaliveMs } : {})
  });
  const control = createControl(org, bus, pubsub.faults);
  const info = () => ({
    instanceUrl: org.instanceUrl,
    pubsubEndpoint: pubsub.endpoint,
    orgId: org.orgId,
    integrationUser: { id: org.integrationUserId, username: org.options.integrationUsername }
  });
  const app = buildHttpServer({
    org,
    bus,
    control,
    info,
    ...(options.controlToken ? { controlToken: options.controlToken } : {}),
    ...(options.logger ? { logger: true } : {})
  });
  try {
    await app.listen({ port: options.port ?? 0, host });
  } catch (error) {
    await pubsub.close();
    throw error;
  }
  const { port } = app.server.address() as AddressInfo;
  org.instanceUrl = `http://${host}:${port}`;
  return {
    instanceUrl: org.instanceUrl,
    pubsubEndpoint: pubsub.endpoint,
    pubsubCaPem: pubsub.caCertPem,
    orgId: org.orgId,
    integrationUser: { id: org.integrationUserId, username: org.options.integrationUsername },
    modelWarnings: warnings,
    control,
    async close() {
      await Promise.all([app.close(), pubsub.close()]);
    }
  };
}
