/**
 * Standalone Salesforce emulator: `npm run emulator:salesforce -- --port 8443 --pubsub-port 7443`
 * (0 picks free ports). Registers a client-credentials app and a JWT consumer key, prints how to
 * get a token, and runs until stopped.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { start } from './index.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'pubsub-port': { type: 'string', default: '0' },
    'project-dir': { type: 'string' },
    'daily-api-limit': { type: 'string' }
  }
});

const port = Number(values.port);
const pubsubPort = Number(values['pubsub-port']);
if (!Number.isInteger(port) || !Number.isInteger(pubsubPort)) {
  console.error('--port and --pubsub-port must be integers (0 picks a free port)');
  process.exit(2);
}

let emulator: Awaited<ReturnType<typeof start>>;
try {
  emulator = await start({
    port,
    pubsubPort,
    ...(values['project-dir'] ? { projectDir: values['project-dir'] } : {}),
    ...(values['daily-api-limit'] ? { dailyApiLimit: Number(values['daily-api-limit']) } : {})
  });
} catch (error) {
  console.error(`The Salesforce emulator could not start: ${(error as Error).message}`);
  process.exit(1);
}

const clientId = 'emulator-client-credentials';
const clientSecret = randomBytes(24).toString('base64url');
emulator.control.registerClientCredentialsApp({ clientId, clientSecret });

const consumerKey = 'emulator-jwt-consumer-key';
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const keyDir = mkdtempSync(join(tmpdir(), 'sf-emulator-'));
const keyFile = join(keyDir, 'jwt-private-key.pem');
writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
await emulator.control.registerJwtApp({
  consumerKey,
  certificatePem: publicKey.export({ type: 'spki', format: 'pem' }).toString()
});
const caFile = join(keyDir, 'pubsub-ca.pem');
writeFileSync(caFile, emulator.pubsubCaPem);

const url = emulator.instanceUrl;
console.log(`Salesforce emulator running
  instance URL (also the login URL): ${url}
  Pub/Sub API (gRPC over TLS):      ${emulator.pubsubEndpoint}  (CA certificate: ${caFile})
  org ID:                            ${emulator.orgId}
  integration user:                  ${emulator.integrationUser.username} (${emulator.integrationUser.id})
  control API:                       ${url}/_emulator/info  (loopback only)

Client credentials:
  client id:     ${clientId}
  client secret: ${clientSecret}
  curl -s ${url}/services/oauth2/token -d grant_type=client_credentials -d client_id=${clientId} -d client_secret=${clientSecret}

JWT bearer:
  consumer key (iss): ${consumerKey}
  username (sub):     ${emulator.integrationUser.username}
  audience (aud):     ${url}
  private key (PEM):  ${keyFile}

${emulator.modelWarnings.map((w) => `\nModel warning: ${w}`).join('')}

Press Ctrl+C to stop.`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await emulator.close();
  rmSync(keyDir, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
