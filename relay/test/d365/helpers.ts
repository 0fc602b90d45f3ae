import { pino } from 'pino';
import { start } from '../../../test/emulators/d365/index.ts';
import type { D365Emulator } from '../../../test/emulators/d365/index.ts';
import { createD365Client } from '../../src/d365/index.ts';
import type { D365Client, D365ClientOptions } from '../../src/d365/index.ts';

export const silentLogger = pino({ level: 'silent' });

export interface D365Fixture {
  emulator: D365Emulator;
  client(overrides?: Partial<D365ClientOptions>): D365Client;
  close(): Promise<void>;
}

export async function startD365(options: Parameters<typeof start>[0] = {}): Promise<D365Fixture> {
  const emulator = await start(options);
  const clients: D365Client[] = [];
  return {
    emulator,
    client(overrides = {}) {
      const client = createD365Client({
        environmentUrl: emulator.url,
        tenantId: emulator.tenantId,
        clientId: emulator.clientId,
        clientSecret: emulator.clientSecret,
        authorityHost: emulator.url,
        caCertPem: emulator.caCertPem,
        logger: silentLogger,
        backoff: { baseMs: 10, capMs: 50 },
        ...overrides
      });
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((client) => client.close()));
      await emulator.close();
    }
  };
}
