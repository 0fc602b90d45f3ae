import type { ServiceError } from '@grpc/grpc-js';
import PubSubApiClient from 'salesforce-pubsub-api-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { encodeFieldBitmaps } from '../change-events.ts';
import { EventBus, EventValidationError } from '../event-bus.ts';
import { startPubSubServer, type PubSubServer } from '../server.ts';
import type { ChangeEventEntity } from '../types.ts';
import {
  fakeAuthenticate,
  INSTANCE_URL,
  ORG_ID,
  PubSubTestClient,
  USER_ID,
  VALID_TOKEN
} from './helpers.ts';

const ACCOUNT_TOPIC = '/data/AccountChangeEvent';
const ACCOUNT_ID = '0015g00000XyZ12AAB';

// A slice of Account in the order a live AccountChangeEvent schema lists it.
const ACCOUNT: ChangeEventEntity = {
  entityName: 'Account',
  fields: [
    { apiName: 'Name', type: 'Text' },
    { apiName: 'Type', type: 'Picklist' },
    { apiName: 'ParentId', type: 'Reference' },
    { apiName: 'BillingAddress', type: 'Address' },
    { apiName: 'ShippingAddress', type: 'Address' },
    { apiName: 'Phone', type: 'Phone' },
    { apiName: 'AnnualRevenue', type: 'Currency' },
    { apiName: 'LastModifiedDate', type: 'DateTime' },
    { apiName: 'D365_Customer_Number__c', type: 'Text' }
  ]
};

interface ParsedChange {
  replayId: number;
  payload: Record<string, unknown> & {
    ChangeEventHeader: Record<string, unknown>;
  };
}

describe('encodeFieldBitmaps', () => {
  it('sets bit i for the field at schema index i, as uppercase hex', () => {
    // Name is schema field 1 and Phone field 6 (field 0 is ChangeEventHeader): 0b1000010.
    expect(encodeFieldBitmaps(ACCOUNT, ['Name', 'Phone'])).toEqual(['0x42']);
    expect(encodeFieldBitmaps(ACCOUNT, ['D365_Customer_Number__c'])).toEqual(['0x0200']);
  });

  it('adds one "<parent index>-0x<hex>" entry per compound field', () => {
    // BillingAddress is schema field 4; City and State are its sub-fields 1 and 2.
    expect(
      encodeFieldBitmaps(ACCOUNT, [
        'LastModifiedDate',
        'BillingAddress.City',
        'BillingAddress.State'
      ])
    ).toEqual(['0x0100', '4-0x06']);
  });

  it('encodes no names as an empty list', () => {
    expect(encodeFieldBitmaps(ACCOUNT, [])).toEqual([]);
  });
});

describe('Change Data Capture for Account', () => {
  let bus: EventBus;
  let server: PubSubServer;
  let client: PubSubApiClient;
  let received: ParsedChange[];

  beforeEach(async () => {
    bus = new EventBus({
      definitions: [],
      changeEntities: [ACCOUNT],
      now: () => 1_700_000_000_000
    });
    server = await startPubSubServer({ port: 0, bus, authenticate: fakeAuthenticate });
    client = new PubSubApiClient(
      {
        authType: 'user-supplied',
        accessToken: VALID_TOKEN,
        instanceUrl: INSTANCE_URL,
        organizationId: ORG_ID,
        pubSubEndpoint: server.endpoint,
        rejectUnauthorizedSsl: false
      },
      { debug() {}, info() {}, warn() {}, error() {} }
    );
    await client.connect();
    received = [];
  });
  afterEach(async () => {
    client.close();
    await server.close();
  });

  async function receive(count: number): Promise<ParsedChange[]> {
    client.subscribeFromEarliestEvent(
      ACCOUNT_TOPIC,
      (_info, type, data) => {
        if (type === 'event') received.push(data as ParsedChange);
      },
      count
    );
    const deadline = Date.now() + 5_000;
    while (received.length < count) {
      if (Date.now() > deadline) throw new Error(`received ${received.length} of ${count}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return received;
  }

  it('delivers an update whose bitmaps the pozil client decodes to field names', async () => {
    bus.publishChange('Account', {
      changeType: 'UPDATE',
      recordIds: [ACCOUNT_ID],
      commitUser: USER_ID,
      changeOrigin: 'com/salesforce/api/rest/62.0;client=d365-relay',
      values: {
        Name: 'Acme SAS',
        LastModifiedDate: 1_700_000_000_000,
        BillingAddress: { City: 'Paris', State: 'IDF' }
      }
    });
    const [event] = await receive(1);
    expect(event!.payload.ChangeEventHeader).toMatchObject({
      entityName: 'Account',
      recordIds: [ACCOUNT_ID],
      changeType: 'UPDATE',
      changeOrigin: 'com/salesforce/api/rest/62.0;client=d365-relay',
      commitUser: USER_ID,
      commitTimestamp: 1_700_000_000_000,
      changedFields: ['Name', 'LastModifiedDate', 'BillingAddress.City', 'BillingAddress.State'],
      nulledFields: [],
      diffFields: []
    });
    expect(event!.payload).toMatchObject({
      Name: 'Acme SAS',
      Phone: null,
      ShippingAddress: null,
      BillingAddress: expect.objectContaining({ City: 'Paris', State: 'IDF', Street: null })
    });
  });

  it('lists fields set to null in nulledFields', async () => {
    bus.publishChange('Account', {
      changeType: 'UPDATE',
      recordIds: [ACCOUNT_ID],
      commitUser: USER_ID,
      values: { Phone: null, D365_Customer_Number__c: 'C-0042' }
    });
    const [event] = await receive(1);
    expect(event!.payload.ChangeEventHeader).toMatchObject({
      changedFields: ['Phone', 'D365_Customer_Number__c'],
      nulledFields: ['Phone']
    });
  });

  it('sends a create with its values and no changed-field bitmaps', async () => {
    bus.publishChange('Account', {
      changeType: 'CREATE',
      recordIds: [ACCOUNT_ID],
      commitUser: USER_ID,
      values: { Name: 'Acme SAS', AnnualRevenue: 1_000_000 }
    });
    const [event] = await receive(1);
    expect(event!.payload.ChangeEventHeader).toMatchObject({
      changeType: 'CREATE',
      changedFields: []
    });
    expect(event!.payload).toMatchObject({ Name: 'Acme SAS', AnnualRevenue: 1_000_000 });
  });

  it('sends a delete with every field null', async () => {
    bus.publishChange('Account', {
      changeType: 'DELETE',
      recordIds: [ACCOUNT_ID],
      commitUser: USER_ID,
      values: { Name: 'ignored' }
    });
    const [event] = await receive(1);
    expect(event!.payload.ChangeEventHeader).toMatchObject({ changeType: 'DELETE' });
    expect(event!.payload.Name).toBeNull();
  });

  it('rejects a change naming a field the entity does not have', () => {
    expect(() =>
      bus.publishChange('Account', {
        changeType: 'UPDATE',
        recordIds: [ACCOUNT_ID],
        commitUser: USER_ID,
        values: { Nope__c: 'x' }
      })
    ).toThrow(EventValidationError);
    expect(bus.publishedCount).toBe(0);
  });

  it('describes the change topic as subscribable but not publishable', async () => {
    const raw = new PubSubTestClient(server.endpoint, server.caCertPem);
    try {
      const topic = await raw.unary<{ can_publish: boolean; can_subscribe: boolean }>('GetTopic', {
        topic_name: ACCOUNT_TOPIC
      });
      expect(topic).toMatchObject({ can_publish: false, can_subscribe: true });
      const error = (await raw
        .unary('Publish', {
          topic_name: ACCOUNT_TOPIC,
          events: [{ id: 'x', payload: Buffer.alloc(1) }]
        })
        .catch((e: ServiceError) => e)) as ServiceError;
      expect(error.code).toBe(7);
      expect(error.metadata.get('error-code')).toEqual([
        'sfdc.platform.eventbus.grpc.topic.meta.permission'
      ]);
    } finally {
      raw.close();
    }
  });
});
