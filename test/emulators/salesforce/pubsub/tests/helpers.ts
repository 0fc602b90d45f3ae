import {
  type ClientDuplexStream,
  credentials,
  Metadata,
  type ServiceError,
  type StatusObject
} from '@grpc/grpc-js';

import { EventBus, type EventBusOptions } from '../event-bus.ts';
import { loadPubSubService } from '../proto.ts';
import { type PubSubServer, startPubSubServer } from '../server.ts';
import type { PlatformEventDefinition, PubSubAuthMetadata, PubSubCaller } from '../types.ts';

// Definitions as docs/contracts.md lists them (the emulator core builds the same from force-app/).
export const SYNC_RESULT_EVENT: PlatformEventDefinition = {
  apiName: 'D365_Sync_Result__e',
  fields: [
    { apiName: 'Record_Id__c', type: 'Text', length: 18 },
    { apiName: 'Idempotency_Key__c', type: 'Text', length: 80 },
    { apiName: 'Flow__c', type: 'Text', length: 40 },
    { apiName: 'Status__c', type: 'Text', length: 20 },
    { apiName: 'Message__c', type: 'Text', length: 255 },
    { apiName: 'D365_Key__c', type: 'Text', length: 60 }
  ]
};

export const ACCOUNT_SYNC_EVENT: PlatformEventDefinition = {
  apiName: 'D365_Account_Sync__e',
  fields: [
    { apiName: 'Record_Id__c', type: 'Text', length: 18 },
    { apiName: 'Idempotency_Key__c', type: 'Text', length: 80 },
    { apiName: 'Operation__c', type: 'Text', length: 20 },
    { apiName: 'Legal_Entity__c', type: 'Text', length: 4 },
    { apiName: 'D365_Customer_Number__c', type: 'Text', length: 20 },
    { apiName: 'Changed_Fields__c', type: 'Text', length: 255 },
    { apiName: 'Payload__c', type: 'LongTextArea', length: 131_072 }
  ]
};

export const SYNC_RESULT_TOPIC = '/event/D365_Sync_Result__e';
export const ACCOUNT_SYNC_TOPIC = '/event/D365_Account_Sync__e';

export const ORG_ID = '00D5g000004SfAbEAK';
export const USER_ID = '0055g00000AbCdEAAZ';
export const VALID_TOKEN = `${ORG_ID.slice(0, 15)}!AQ0AQemulatortoken`;
export const INSTANCE_URL = 'https://emulator.my.salesforce.com';

export const VALID_AUTH: PubSubAuthMetadata = {
  accesstoken: VALID_TOKEN,
  instanceurl: INSTANCE_URL,
  tenantid: ORG_ID
};

/** Stand-in for the emulator core's token check: one valid token. */
export function fakeAuthenticate(md: PubSubAuthMetadata): PubSubCaller | null {
  return md.accesstoken === VALID_TOKEN ? { userId: USER_ID, orgId: ORG_ID } : null;
}

export function syncResultFields(n: number): Record<string, unknown> {
  return {
    Record_Id__c: '0015g00000XyZ12AAB',
    Idempotency_Key__c: `0015g00000XyZ12AAB:${n}`,
    Flow__c: 'account',
    Status__c: 'Synced',
    Message__c: `event ${n}`,
    D365_Key__c: `usmf|C-${n}`
  };
}

export interface Fixture {
  bus: EventBus;
  server: PubSubServer;
  client: PubSubTestClient;
  close(): Promise<void>;
}

export async function startFixture(
  opts: Partial<Omit<EventBusOptions, 'definitions'>> & { keepaliveIntervalMs?: number } = {}
): Promise<Fixture> {
  const bus = new EventBus({
    definitions: [SYNC_RESULT_EVENT, ACCOUNT_SYNC_EVENT],
    retentionMs: opts.retentionMs,
    now: opts.now
  });
  const server = await startPubSubServer({
    port: 0,
    bus,
    authenticate: fakeAuthenticate,
    keepaliveIntervalMs: opts.keepaliveIntervalMs
  });
  const client = new PubSubTestClient(server.endpoint, server.caCertPem);
  return {
    bus,
    server,
    client,
    async close() {
      client.close();
      await server.close();
    }
  };
}

export function metadataOf(auth: PubSubAuthMetadata): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(auth)) {
    if (value !== undefined) metadata.set(key, value);
  }
  return metadata;
}

export interface FetchResponseMessage {
  events: {
    event: { id: string; schema_id: string; payload: Buffer; headers: unknown[] };
    replay_id: Buffer;
  }[];
  latest_replay_id: Buffer;
  rpc_id: string;
  pending_num_requested: number;
}

type UnaryMethod = (
  request: object,
  metadata: Metadata,
  callback: (error: ServiceError | null, response: unknown) => void
) => void;

interface RawPubSubClient {
  GetTopic: UnaryMethod;
  GetSchema: UnaryMethod;
  Publish: UnaryMethod;
  Subscribe(metadata: Metadata): ClientDuplexStream<object, FetchResponseMessage>;
  PublishStream(metadata: Metadata): ClientDuplexStream<object, unknown>;
  close(): void;
}

/** A plain gRPC client of the official proto, trusting the emulator's certificate. */
export class PubSubTestClient {
  readonly raw: RawPubSubClient;

  constructor(endpoint: string, caCertPem: string) {
    const PubSub = loadPubSubService();
    // Verify the certificate against its DNS name: Node deprecates TLS SNI with an IP address.
    this.raw = new PubSub(endpoint, credentials.createSsl(Buffer.from(caCertPem)), {
      'grpc.ssl_target_name_override': 'localhost'
    }) as unknown as RawPubSubClient;
  }

  unary<T>(
    method: 'GetTopic' | 'GetSchema' | 'Publish',
    request: object,
    auth: PubSubAuthMetadata = VALID_AUTH
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      this.raw[method](request, metadataOf(auth), (error, response) =>
        error ? reject(error) : resolve(response as T)
      );
    });
  }

  subscribe(auth: PubSubAuthMetadata = VALID_AUTH): SubscribeStream {
    return new SubscribeStream(this.raw.Subscribe(metadataOf(auth)));
  }

  close(): void {
    this.raw.close();
  }
}

/** Records every FetchResponse and the final status of one Subscribe stream. */
export class SubscribeStream {
  readonly call: ClientDuplexStream<object, FetchResponseMessage>;
  readonly responses: FetchResponseMessage[] = [];
  readonly ended: Promise<ServiceError | StatusObject>;
  #waiters: (() => void)[] = [];

  constructor(call: ClientDuplexStream<object, FetchResponseMessage>) {
    this.call = call;
    call.on('data', (response: FetchResponseMessage) => {
      this.responses.push(response);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.ended = new Promise((resolve) => {
      call.on('error', (error: ServiceError) => resolve(error));
      call.on('status', (status: StatusObject) => {
        if (status.code === 0) resolve(status);
      });
    });
  }

  request(fetch: {
    topic_name?: string;
    replay_preset?: 'LATEST' | 'EARLIEST' | 'CUSTOM';
    replay_id?: Buffer;
    num_requested: number;
  }): void {
    this.call.write(fetch);
  }

  get events(): FetchResponseMessage['events'] {
    return this.responses.flatMap((response) => response.events);
  }

  /** Resolves once `predicate` holds over the responses so far, or rejects after `timeoutMs`. */
  async until(predicate: (stream: this) => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`condition not met within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  cancel(): void {
    this.call.cancel();
  }
}

/** Waits until the server has `count` open subscriptions (the first FetchRequest processed). */
export async function waitForSubscriptions(fx: Fixture, count = 1): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (fx.server.faults.counters().activeSubscriptions < count) {
    if (Date.now() > deadline) throw new Error(`${count} subscription(s) not open within 5 s`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
