import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApp, loggerOptions } from '../../src/app.ts';
import type { RelayClients } from '../../src/clients.ts';
import { loadConfig, type RelayConfig } from '../../src/config/load.ts';
import { FLOWS, createFlowRegistry } from '../../src/flows/registry.ts';
import type { Flow } from '../../src/flows/types.ts';
import { RelayMetrics } from '../../src/observability/metrics.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';
import type { Store } from '../../src/store/types.ts';
import { fakeClients } from '../helpers.ts';

export const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';
export const CALLOUT_KEY = 'callout-key-for-tests-0123456789';
export const EVENTS_SECRET = 'business-events-secret-0123456789';
export const EVENTS_URL = `/api/v1/business-events/${EVENTS_SECRET}`;
export const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

export interface TestApp {
  app: FastifyInstance;
  store: Store;
  config: RelayConfig;
  logs: string[];
  enqueued: () => number;
  close(): Promise<void>;
}

export async function buildTestApp(
  options: {
    env?: Record<string, string>;
    flows?: Flow[];
    clients?: RelayClients;
    store?: (real: Store) => Store;
  } = {}
): Promise<TestApp> {
  const config = loadConfig({
    env: {
      RELAY_ADMIN_TOKEN: ADMIN_TOKEN,
      RELAY_CALLOUT_KEY: CALLOUT_KEY,
      RELAY_BUSINESS_EVENTS_SECRET: EVENTS_SECRET,
      RELAY_LOG_LEVEL: 'info',
      RELAY_BODY_LIMIT_BYTES: '65536',
      ...options.env
    },
    cwd: '/nonexistent'
  });
  const real = new SqliteStore(':memory:');
  await real.migrate();
  const store = options.store ? options.store(real) : real;
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      logs.push(String(chunk));
      callback();
    }
  });
  const logger = pino(loggerOptions(config.logLevel), sink);
  let wakes = 0;
  const app = await buildApp(
    {
      config,
      store,
      registry: createFlowRegistry(options.flows ?? FLOWS, { defaultMaxAttempts: 3 }),
      clients: options.clients ?? fakeClients(),
      metrics: new RelayMetrics(store),
      onEnqueued: () => {
        wakes += 1;
      }
    },
    logger
  );
  return {
    app,
    store: real,
    config,
    logs,
    enqueued: () => wakes,
    async close() {
      await app.close();
      await real.close();
    }
  };
}

let counter = 0;

/** A business event as D365 sends it (reference/d365-fo.md §6.3), with a fresh EventId. */
export function businessEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  const suffix = String(counter).padStart(12, '0');
  return {
    BusinessEventId: 'RelayNoopBusinessEvent',
    BusinessEventLegalEntity: 'usmf',
    ContextRecordSubject: '',
    ControlNumber: 5637144576 + counter,
    EventId: `0F7C2A4B-1D3E-4F60-9A8B-${suffix}`,
    EventTime: '/Date(1714557600000)/',
    EventTimeIso8601: '2024-05-01T10:00:00.0000000Z',
    InitiatingUserAADObjectId: '{00000000-0000-0000-0000-000000000000}',
    MajorVersion: 0,
    MinorVersion: 0,
    ParentContextRecordSubjects: [],
    InvoiceId: 'CIV-000123',
    ...overrides
  };
}
