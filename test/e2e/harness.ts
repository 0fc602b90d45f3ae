/**
 * Shared end-to-end harness: both emulators (seed 'demo'), the relay in-process on a fresh embedded
 * store with its clients pointing at them, subscribed to the package's topics and registered as a
 * business-events endpoint in D365. Test helpers stand in for the rep (record changes) and for the
 * package's Apex (the platform events its triggers publish, built as the Apex services build them).
 */

import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';
import { createRelayClients } from '../../relay/src/clients.ts';
import { loadConfig, type RelayConfig } from '../../relay/src/config/load.ts';
import type { D365Client } from '../../relay/src/d365/index.ts';
import { FLOWS, createFlowRegistry } from '../../relay/src/flows/registry.ts';
import type { Flow } from '../../relay/src/flows/types.ts';
import {
  createPubSubSubscriber,
  type PubSubSubscriber,
  type ReceivedEvent
} from '../../relay/src/salesforce/pubsub.ts';
import type { SalesforceClient } from '../../relay/src/salesforce/index.ts';
import { startRelay, type RunningRelay } from '../../relay/src/server.ts';
import {
  start as startD365,
  type D365Emulator,
  type StartOptions as D365StartOptions
} from '../emulators/d365/index.ts';
import {
  start as startSalesforce,
  type RunningEmulator,
  type StartOptions as SalesforceStartOptions
} from '../emulators/salesforce/index.ts';
import { emulatorEnv } from './relay-env.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SF_API_VERSION = '62.0';
const BUSINESS_EVENTS_SECRET = 'e2e-business-events-0123456789';

/** Topics of the package's platform events (force-app/main/default/objects/*__e). */
export const TOPICS = {
  accountSync: '/event/D365_Account_Sync__e',
  contactSync: '/event/D365_Contact_Sync__e',
  orderRequest: '/event/D365_Order_Request__e',
  syncResult: '/event/D365_Sync_Result__e'
} as const;

/** Mapped fields of the Apex services (D365AccountSyncService / D365ContactSyncService.MAPPED_FIELDS). */
export const ACCOUNT_MAPPED_FIELDS = [
  'Name',
  'BillingStreet',
  'BillingCity',
  'BillingState',
  'BillingPostalCode',
  'BillingCountry',
  'Phone',
  'Website',
  'D365_Legal_Entity__c'
] as const;
export const CONTACT_MAPPED_FIELDS = [
  'AccountId',
  'FirstName',
  'LastName',
  'Email',
  'Phone',
  'Title'
] as const;

export type SfRecord = Record<string, unknown>;

export interface HarnessOptions {
  /** Flows the relay runs (default: the registry's FLOWS). */
  flows?: readonly Flow[];
  /** Extra or overriding relay settings, by config key. */
  env?: Record<string, string>;
  d365?: D365StartOptions;
  salesforce?: SalesforceStartOptions;
  /** Start the relay (default true); false lets a test start it later with `startRelay()`. */
  startRelay?: boolean;
  /** Relay log level (default silent; set E2E_LOG=debug to see the relay's lines). */
  logLevel?: string;
}

export interface Harness {
  d365: D365Emulator;
  salesforce: RunningEmulator;
  /** The running relay (throws when stopped). */
  relay(): RunningRelay;
  config: RelayConfig;
  /** The environment the relay was configured from (for CLI commands against the same systems). */
  env: Record<string, string>;
  /** The relay's base URL, e.g. http://127.0.0.1:PORT. */
  baseUrl(): string;
  /** Clients of the test itself (not the relay's): read and write like an operator would. */
  clients: { d365: D365Client; salesforce: SalesforceClient };
  /** Starts (or restarts) the relay on the same store. */
  startRelay(): Promise<RunningRelay>;
  stopRelay(): Promise<void>;

  /** Inserts a record as a rep would; no event (use `createAccount` etc. for the Apex behaviour). */
  insert(sobject: string, values: SfRecord): string;
  record(sobject: string, id: string): SfRecord | undefined;
  /** Updates a record through the REST API (as a rep's save; Apex is not run). */
  update(sobject: string, id: string, fields: SfRecord): Promise<void>;

  /** Insert + the `D365_Account_Sync__e` the after-insert trigger publishes. */
  createAccount(values: SfRecord): Promise<{ id: string; idempotencyKey: string }>;
  /** Update + the event the after-update trigger publishes when a mapped field changed (null otherwise). */
  updateAccount(id: string, fields: SfRecord): Promise<{ idempotencyKey: string } | null>;
  /** The event "Resync now" publishes. */
  resyncAccount(id: string): Promise<{ idempotencyKey: string }>;
  createContact(values: SfRecord): Promise<{ id: string; idempotencyKey: string | null }>;
  updateContact(id: string, fields: SfRecord): Promise<{ idempotencyKey: string } | null>;
  /**
   * The `D365_Order_Request__e` D365OrderService publishes for an opportunity moved to Closed Won
   * (stage set here; lines read from the emulator). Returns the event's idempotency key.
   */
  closeWon(opportunityId: string): Promise<{ idempotencyKey: string }>;
  /** Publishes any platform event over REST, as Apex's EventBus.publish would. */
  publish(event: string, fields: SfRecord): Promise<void>;

  /** Events seen on a topic since the harness started (the test's own subscription). */
  events(topic: string): ReceivedEvent[];
  /** Sync result events for one record. */
  syncResults(recordId: string): SfRecord[];
  waitFor<T>(
    probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
    options?: { timeoutMs?: number; what?: string; intervalMs?: number }
  ): Promise<T>;
  close(): Promise<void>;
}

/** `D365_Integration_Setting.Default`'s legal entity, read from the package like the emulator reads it. */
function packageDefaultLegalEntity(): string | null {
  const xml = readFileSync(
    join(
      ROOT,
      'force-app/main/default/customMetadata/D365_Integration_Setting.Default.md-meta.xml'
    ),
    'utf8'
  );
  const match = /<field>Default_Legal_Entity__c<\/field>\s*<value[^>]*>([^<]*)<\/value>/.exec(xml);
  return match?.[1]?.trim() ? match[1].trim() : null;
}

/** D365IntegrationSettings.legalEntityFor: the record's routing field, else the default, lower-cased. */
export function legalEntityFor(recordLegalEntity: unknown): string | null {
  const value =
    typeof recordLegalEntity === 'string' && recordLegalEntity.trim() !== ''
      ? recordLegalEntity
      : packageDefaultLegalEntity();
  return value === null || value.trim() === '' ? null : value.trim().toLowerCase();
}

/** D365EventPublisher.changeKey: `<record id>:<SystemModstamp epoch ms>`. */
function changeKey(record: SfRecord): string {
  const stamp = record.SystemModstamp;
  const ms = typeof stamp === 'number' ? stamp : Date.parse(String(stamp));
  return `${String(record.Id)}:${ms}`;
}

/** D365RecordChanges.changedFields: case-sensitive comparison, in the order of the mapped list. */
function changedFields(after: SfRecord, before: SfRecord, fields: readonly string[]): string[] {
  return fields.filter((field) => (after[field] ?? null) !== (before[field] ?? null));
}

function valueOrNull(record: SfRecord | undefined, field: string): unknown {
  return record?.[field] ?? null;
}

/** D365AccountSyncService.buildEvent + payloadOf (single-currency org: CurrencyIsoCode null). */
export function accountSyncEvent(
  account: SfRecord,
  idempotencyKey: string,
  changed: readonly string[]
): SfRecord {
  const number = valueOrNull(account, 'D365_Customer_Number__c');
  return {
    Record_Id__c: account.Id,
    Idempotency_Key__c: idempotencyKey,
    Operation__c: number === null || String(number).trim() === '' ? 'create' : 'update',
    Legal_Entity__c: legalEntityFor(account.D365_Legal_Entity__c),
    D365_Customer_Number__c: number,
    Changed_Fields__c: changed.join(',').slice(0, 255),
    Payload__c: JSON.stringify({
      Id: account.Id,
      Name: valueOrNull(account, 'Name'),
      BillingStreet: valueOrNull(account, 'BillingStreet'),
      BillingCity: valueOrNull(account, 'BillingCity'),
      BillingState: valueOrNull(account, 'BillingState'),
      BillingPostalCode: valueOrNull(account, 'BillingPostalCode'),
      BillingCountry: valueOrNull(account, 'BillingCountry'),
      Phone: valueOrNull(account, 'Phone'),
      Website: valueOrNull(account, 'Website'),
      CurrencyIsoCode: null,
      D365_Legal_Entity__c: valueOrNull(account, 'D365_Legal_Entity__c'),
      D365_Customer_Number__c: number
    })
  };
}

/** D365ContactSyncService.buildEvent + payloadOf. */
export function contactSyncEvent(
  contact: SfRecord,
  account: SfRecord | undefined,
  idempotencyKey: string,
  changed: readonly string[]
): SfRecord {
  const personId = valueOrNull(contact, 'D365_Contact_Person_Id__c');
  return {
    Record_Id__c: contact.Id,
    Idempotency_Key__c: idempotencyKey,
    Operation__c: personId === null || String(personId).trim() === '' ? 'create' : 'update',
    Account_Id__c: contact.AccountId,
    Legal_Entity__c: legalEntityFor(account?.D365_Legal_Entity__c),
    D365_Contact_Person_Id__c: personId,
    Changed_Fields__c: changed.join(',').slice(0, 255),
    Payload__c: JSON.stringify({
      Id: contact.Id,
      AccountId: valueOrNull(contact, 'AccountId'),
      FirstName: valueOrNull(contact, 'FirstName'),
      LastName: valueOrNull(contact, 'LastName'),
      Email: valueOrNull(contact, 'Email'),
      Phone: valueOrNull(contact, 'Phone'),
      Title: valueOrNull(contact, 'Title'),
      D365_Contact_Person_Id__c: personId,
      Account: {
        D365_Customer_Number__c: valueOrNull(account, 'D365_Customer_Number__c'),
        D365_Legal_Entity__c: valueOrNull(account, 'D365_Legal_Entity__c')
      }
    })
  };
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const logger: Logger = pino({ level: options.logLevel ?? process.env.E2E_LOG ?? 'silent' });
  const [d365, salesforce] = await Promise.all([
    startD365({ seed: 'demo', ...options.d365 }),
    startSalesforce({ port: 0, pubsubPort: 0, pubsubKeepaliveMs: 1_000, ...options.salesforce })
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'relay-e2e-'));
  const relayApp = { clientId: 'relay-e2e', clientSecret: randomUUID() };
  const testApp = { clientId: 'e2e-operator', clientSecret: randomUUID() };
  salesforce.control.registerClientCredentialsApp(relayApp);
  salesforce.control.registerClientCredentialsApp(testApp);
  const env: Record<string, string> = {
    RELAY_ADMIN_TOKEN: 'e2e-admin-token-0123456789',
    RELAY_CALLOUT_KEY: 'e2e-callout-key-0123456789',
    RELAY_BUSINESS_EVENTS_SECRET: BUSINESS_EVENTS_SECRET,
    RELAY_STORE_URL: `sqlite:${join(dir, 'relay.db')}`,
    RELAY_HOST: '127.0.0.1',
    RELAY_PORT: '0',
    RELAY_WORKER_POLL_MS: '50',
    RELAY_SUBSCRIPTION_LEASE_MS: '2000',
    RELAY_SHUTDOWN_GRACE_MS: '2000',
    RELAY_LOG_LEVEL: 'silent',
    ...emulatorEnv(d365, salesforce, { dir, salesforceApp: relayApp }),
    SF_API_VERSION,
    ...options.env
  };
  const config = loadConfig({ env, cwd: dir });
  const flows = options.flows ?? FLOWS;
  const registry = createFlowRegistry(flows, { defaultMaxAttempts: config.worker.maxAttempts });

  // The test's own clients: same emulators, other Salesforce app, so the relay's counters stay its own.
  const operator = createRelayClients(
    {
      ...config.values,
      // Client credentials whatever flow the relay uses (a caller may run the relay on JWT).
      SF_AUTH_FLOW: 'client_credentials',
      SF_CLIENT_ID: testApp.clientId,
      SF_CLIENT_SECRET: testApp.clientSecret
    },
    logger.child({ side: 'operator' })
  );

  const seen = new Map<string, ReceivedEvent[]>();
  const subscribers: PubSubSubscriber[] = [];
  for (const topic of Object.values(TOPICS)) {
    seen.set(topic, []);
    const memory = new Map<string, Buffer>();
    const subscriber = createPubSubSubscriber({
      salesforce: operator.salesforce,
      endpoint: salesforce.pubsubEndpoint,
      caCertPem: salesforce.pubsubCaPem,
      topic,
      initialReplay: 'EARLIEST',
      checkpoints: {
        load: async (t) => memory.get(t) ?? null,
        save: async (t, replayId) => void memory.set(t, replayId)
      },
      onEvents: async (events) => void seen.get(topic)!.push(...events),
      logger: logger.child({ side: 'observer' })
    });
    subscribers.push(subscriber);
    await subscriber.start();
  }

  let relay: RunningRelay | null = null;
  let endpointId: string | null = null;

  const waitFor: Harness['waitFor'] = async (probe, waitOptions = {}) => {
    const timeoutMs = waitOptions.timeoutMs ?? 15_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
      if (Date.now() > deadline)
        throw new Error(`Timed out after ${timeoutMs} ms waiting for ${waitOptions.what ?? 'it'}`);
      await new Promise((r) => setTimeout(r, waitOptions.intervalMs ?? 25));
    }
  };

  function baseUrl(): string {
    const address = relay?.app.server.address();
    if (!relay || typeof address !== 'object' || !address) throw new Error('Relay not running');
    return `http://127.0.0.1:${address.port}`;
  }

  async function startTheRelay(): Promise<RunningRelay> {
    if (relay) return relay;
    const running = await startRelay({ config, logger, flows });
    relay = running;
    for (const topic of registry.topics()) {
      await waitFor(
        async () =>
          (await running.store.leaseHolder(`pubsub:${topic}`))?.holder === running.worker.id,
        { what: `the relay's subscription to ${topic}` }
      );
    }
    const businessEvents = flows.flatMap((flow) => flow.businessEvents ?? []);
    if (businessEvents.length > 0) {
      if (endpointId) d365.control.unregisterEndpoint(endpointId);
      endpointId = d365.control.registerEndpoint({
        url: `${baseUrl()}/api/v1/business-events/${config.security.businessEventsSecret}`,
        businessEventIds: businessEvents
      }).id;
      await d365.control.eventsSettled();
    }
    return running;
  }

  async function publish(event: string, fields: SfRecord): Promise<void> {
    await operator.salesforce.request('POST', `/sobjects/${event}`, fields);
  }

  function record(sobject: string, id: string): SfRecord | undefined {
    // The first 15 characters are the case-sensitive id; the 3 more only encode its case.
    const wanted = id.slice(0, 15);
    return salesforce.control.records(sobject).find((r) => String(r.Id).slice(0, 15) === wanted);
  }

  function mustRecord(sobject: string, id: string): SfRecord {
    const found = record(sobject, id);
    if (!found) throw new Error(`${sobject} ${id} does not exist in the emulator`);
    return found;
  }

  async function update(sobject: string, id: string, fields: SfRecord): Promise<void> {
    await operator.salesforce.request('PATCH', `/sobjects/${sobject}/${id}`, fields);
  }

  async function publishAccount(id: string, changed: readonly string[], key?: string) {
    const account = mustRecord('Account', id);
    const idempotencyKey = key ?? changeKey(account);
    await publish('D365_Account_Sync__e', accountSyncEvent(account, idempotencyKey, changed));
    return { idempotencyKey };
  }

  async function publishContact(id: string, changed: readonly string[]) {
    const contact = mustRecord('Contact', id);
    const account = record('Account', String(contact.AccountId));
    const idempotencyKey = changeKey(contact);
    await publish(
      'D365_Contact_Sync__e',
      contactSyncEvent(contact, account, idempotencyKey, changed)
    );
    return { idempotencyKey };
  }

  if (options.startRelay !== false) await startTheRelay();

  return {
    d365,
    salesforce,
    config,
    env,
    clients: operator,
    relay: () => {
      if (!relay) throw new Error('Relay not running');
      return relay;
    },
    baseUrl,
    startRelay: startTheRelay,
    async stopRelay() {
      const running = relay;
      relay = null;
      await running?.close();
    },
    insert: (sobject, values) => salesforce.control.insert(sobject, values),
    record,
    update,
    async createAccount(values) {
      const id = salesforce.control.insert('Account', values);
      return { id, ...(await publishAccount(id, ACCOUNT_MAPPED_FIELDS)) };
    },
    async updateAccount(id, fields) {
      const before = { ...mustRecord('Account', id) };
      await update('Account', id, fields);
      const changed = changedFields(mustRecord('Account', id), before, ACCOUNT_MAPPED_FIELDS);
      return changed.length === 0 ? null : publishAccount(id, changed);
    },
    async resyncAccount(id) {
      const account = mustRecord('Account', id);
      const idempotencyKey = `${String(account.Id)}:resync:${randomUUID()}`;
      const event = accountSyncEvent(account, idempotencyKey, ACCOUNT_MAPPED_FIELDS);
      await publish('D365_Account_Sync__e', { ...event, Operation__c: 'resync' });
      return { idempotencyKey };
    },
    async createContact(values) {
      const id = salesforce.control.insert('Contact', values);
      // A contact without an account is not sent (D365ContactSyncService).
      if (!values.AccountId) return { id, idempotencyKey: null };
      return { id, ...(await publishContact(id, CONTACT_MAPPED_FIELDS)) };
    },
    async updateContact(id, fields) {
      const before = { ...mustRecord('Contact', id) };
      await update('Contact', id, fields);
      const after = mustRecord('Contact', id);
      const changed = changedFields(after, before, CONTACT_MAPPED_FIELDS);
      return changed.length === 0 || !after.AccountId ? null : publishContact(id, changed);
    },
    async closeWon(opportunityId) {
      const before = { ...mustRecord('Opportunity', opportunityId) };
      await update('Opportunity', opportunityId, { StageName: 'Closed Won' });
      const opportunity = mustRecord('Opportunity', opportunityId);
      const account = record('Account', String(opportunity.AccountId));
      const lines = salesforce.control
        .records('OpportunityLineItem')
        .filter((line) => line.OpportunityId === opportunity.Id);
      const products = new Map(salesforce.control.records('Product2').map((p) => [p.Id, p]));
      const idempotencyKey = changeKey(before);
      await publish('D365_Order_Request__e', {
        Record_Id__c: opportunity.Id,
        Idempotency_Key__c: idempotencyKey,
        Account_Id__c: opportunity.AccountId,
        Legal_Entity__c: legalEntityFor(account?.D365_Legal_Entity__c),
        Payload__c: JSON.stringify({
          Opportunity: {
            Id: opportunity.Id,
            Name: valueOrNull(opportunity, 'Name'),
            CloseDate: valueOrNull(opportunity, 'CloseDate'),
            CurrencyIsoCode: null,
            Amount: valueOrNull(opportunity, 'Amount')
          },
          Account: {
            Id: valueOrNull(account, 'Id'),
            Name: valueOrNull(account, 'Name'),
            D365_Customer_Number__c: valueOrNull(account, 'D365_Customer_Number__c'),
            D365_Legal_Entity__c: valueOrNull(account, 'D365_Legal_Entity__c')
          },
          Lines: lines.map((line) => ({
            Id: line.Id,
            Product2Id: line.Product2Id,
            ItemNumber: valueOrNull(products.get(line.Product2Id), 'D365_Item_Number__c'),
            Quantity: valueOrNull(line, 'Quantity'),
            UnitPrice: valueOrNull(line, 'UnitPrice'),
            Description: valueOrNull(line, 'Description')
          }))
        })
      });
      return { idempotencyKey };
    },
    publish,
    events: (topic) => [...(seen.get(topic) ?? [])],
    syncResults: (recordId) =>
      (seen.get(TOPICS.syncResult) ?? [])
        .map((event) => event.payload)
        .filter((payload) => payload.Record_Id__c === recordId),
    waitFor,
    async close() {
      await relay?.close().catch(() => undefined);
      relay = null;
      await Promise.allSettled(subscribers.map((s) => s.stop()));
      await Promise.allSettled([operator.d365.close(), operator.salesforce.close()]);
      await Promise.allSettled([d365.close(), salesforce.close()]);
      rmSync(dir, { recursive: true, force: true });
    }
  };
}
