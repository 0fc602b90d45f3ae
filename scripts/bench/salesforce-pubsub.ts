// Pub/Sub emulator throughput: events per second delivered over ONE Subscribe stream.
// Run: npx tsx scripts/bench/salesforce-pubsub.ts [--events 200000]
// Target (issue 4): >= 20,000 events/s on 2 cores.
import { parseArgs } from 'node:util';

import { credentials, Metadata } from '@grpc/grpc-js';

import { EventBus } from '../../test/emulators/salesforce/pubsub/event-bus.ts';
import { loadPubSubService } from '../../test/emulators/salesforce/pubsub/proto.ts';
import { startPubSubServer } from '../../test/emulators/salesforce/pubsub/server.ts';
import type { PlatformEventDefinition } from '../../test/emulators/salesforce/pubsub/types.ts';

const TARGET_EVENTS_PER_SECOND = 20_000;
const NUM_REQUESTED = 100;
const ORG_ID = '00D5g000004SfAbEAK';
const USER_ID = '0055g00000AbCdEAAZ';
const TOKEN = 'bench-token';
const TOPIC = '/event/D365_Sync_Result__e';

const SYNC_RESULT_EVENT: PlatformEventDefinition = {
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

interface FetchResponse {
  events: unknown[];
  pending_num_requested: number;
}

const { values } = parseArgs({ options: { events: { type: 'string', default: '200000' } } });
const total = Number(values.events);

const bus = new EventBus({ definitions: [SYNC_RESULT_EVENT] });
const publishStart = performance.now();
for (let i = 0; i < total; i += 1) {
  bus.publish(
    TOPIC,
    {
      Record_Id__c: '0015g00000XyZ12AAB',
      Idempotency_Key__c: `0015g00000XyZ12AAB:${1_700_000_000_000 + i}`,
      Flow__c: 'account',
      Status__c: 'Synced',
      Message__c: 'Customer upserted in D365',
      D365_Key__c: `usmf|C-${i}`
    },
    USER_ID
  );
}
const publishSeconds = (performance.now() - publishStart) / 1000;

const server = await startPubSubServer({
  port: 0,
  bus,
  authenticate: (md) => (md.accesstoken === TOKEN ? { userId: USER_ID, orgId: ORG_ID } : null)
});
const PubSub = loadPubSubService();
const client = new PubSub(server.endpoint, credentials.createSsl(Buffer.from(server.caCertPem)), {
  'grpc.ssl_target_name_override': 'localhost'
}) as unknown as {
  Subscribe(md: Metadata): NodeJS.ReadWriteStream & {
    write(req: object): boolean;
    cancel(): void;
  };
  close(): void;
};
const metadata = new Metadata();
metadata.set('accesstoken', TOKEN);
metadata.set('instanceurl', 'https://bench.my.salesforce.com');
metadata.set('tenantid', ORG_ID);

const deliveryStart = performance.now();
const received = await new Promise<number>((resolve, reject) => {
  let count = 0;
  const call = client.Subscribe(metadata);
  call.on('data', (response: FetchResponse) => {
    count += response.events.length;
    if (count >= total) {
      call.cancel();
      resolve(count);
      return;
    }
    // Re-request what this batch used up, so about NUM_REQUESTED stay in flight.
    if (response.events.length > 0) call.write({ num_requested: response.events.length });
  });
  call.on('error', (error: Error & { code?: number }) => {
    if (count < total) reject(error);
  });
  call.write({ topic_name: TOPIC, replay_preset: 'EARLIEST', num_requested: NUM_REQUESTED });
});
const deliverySeconds = (performance.now() - deliveryStart) / 1000;
const rate = received / deliverySeconds;

client.close();
await server.close();

console.log('Salesforce emulator Pub/Sub benchmark');
console.log(`command: npx tsx scripts/bench/salesforce-pubsub.ts --events ${total}`);
console.log(`publish into bus: ${total} events in ${publishSeconds.toFixed(2)} s`);
console.log(
  `delivered over one Subscribe stream (EARLIEST, num_requested ${NUM_REQUESTED}, re-requested per batch): ` +
    `${received} events in ${deliverySeconds.toFixed(2)} s = ${Math.round(rate)} events/s ` +
    `(target >= ${TARGET_EVENTS_PER_SECOND}: ${rate >= TARGET_EVENTS_PER_SECOND ? 'met' : 'NOT met'})`
);
