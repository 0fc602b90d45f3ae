import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.ts';
import { ConfigError } from '../src/errors.ts';
import { startRelay } from '../src/server.ts';
import { fakeClients, silentLogger } from './helpers.ts';
import { noopFlow } from '../src/flows/noop.ts';

function config(env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'relay-server-'));
  return loadConfig({
    env: {
      RELAY_ADMIN_TOKEN: 'admin-token-0123456789',
      RELAY_CALLOUT_KEY: 'callout-key-0123456789',
      RELAY_BUSINESS_EVENTS_SECRET: 'business-events-0123456789',
      RELAY_STORE_URL: `sqlite:${join(dir, 'relay.db')}`,
      RELAY_HOST: '127.0.0.1',
      RELAY_PORT: '0',
      ...env
    },
    cwd: dir
  });
}

describe('startRelay', () => {
  it('migrates the store, listens and stops cleanly', async () => {
    const relay = await startRelay({
      config: config(),
      logger: silentLogger,
      // Flows with Pub/Sub topics need a real Salesforce session; the fake clients have none.
      flows: [noopFlow],
      clients: fakeClients()
    });
    const address = relay.app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    await relay.close();
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  it('refuses to start without the D365 keys, naming the first missing one', async () => {
    const start = startRelay({ config: config(), logger: silentLogger });
    await expect(start).rejects.toBeInstanceOf(ConfigError);
    await expect(start).rejects.toThrow('D365_ENVIRONMENT_URL: is required to reach D365');
  });
});
