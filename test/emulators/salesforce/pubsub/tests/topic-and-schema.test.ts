import type { ServiceError } from '@grpc/grpc-js';
import avsc from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { avroSchemaFor } from '../schema.ts';
import {
  type Fixture,
  ORG_ID,
  startFixture,
  SYNC_RESULT_EVENT,
  SYNC_RESULT_TOPIC,
  VALID_AUTH
} from './helpers.ts';

interface TopicInfo {
  topic_name: string;
  tenant_guid: string;
  can_publish: boolean;
  can_subscribe: boolean;
  schema_id: string;
  rpc_id: string;
}

interface SchemaInfo {
  schema_json: string;
  schema_id: string;
}

describe('GetTopic and GetSchema', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await startFixture();
  });
  afterAll(() => fx.close());

  it('describes a platform event topic with its schema id', async () => {
    const topic = await fx.client.unary<TopicInfo>('GetTopic', { topic_name: SYNC_RESULT_TOPIC });
    expect(topic).toMatchObject({
      topic_name: SYNC_RESULT_TOPIC,
      tenant_guid: ORG_ID,
      can_publish: true,
      can_subscribe: true,
      schema_id: avroSchemaFor(SYNC_RESULT_EVENT).schemaId
    });
    expect(topic.rpc_id).not.toBe('');
  });

  it('answers an unknown topic with NOT_FOUND and the topic.not.found trailer', async () => {
    const error = await fx.client
      .unary('GetTopic', { topic_name: '/event/Nope__e' })
      .catch((e: ServiceError) => e);
    expect(error).toMatchObject({ code: 5 });
    expect((error as ServiceError).metadata.get('error-code')).toEqual([
      'sfdc.platform.eventbus.grpc.topic.not.found'
    ]);
    expect((error as ServiceError).details).toMatch(/rpcId: [0-9a-f-]{36}$/);
  });

  it('returns the Avro schema JSON for the topic schema id', async () => {
    const topic = await fx.client.unary<TopicInfo>('GetTopic', { topic_name: SYNC_RESULT_TOPIC });
    const schema = await fx.client.unary<SchemaInfo>('GetSchema', { schema_id: topic.schema_id });
    const parsed = JSON.parse(schema.schema_json);
    expect(schema.schema_id).toBe(topic.schema_id);
    expect(parsed).toMatchObject({
      type: 'record',
      name: 'D365_Sync_Result__e',
      namespace: 'com.sforce.eventbus',
      uuid: topic.schema_id
    });
    expect(parsed.fields.slice(0, 3)).toEqual([
      { name: 'CreatedDate', type: 'long', doc: 'CreatedDate:DateTime' },
      { name: 'CreatedById', type: 'string', doc: 'CreatedBy:EntityId' },
      { name: 'Record_Id__c', type: ['null', 'string'], doc: 'Data:Text', default: null }
    ]);
    expect(() => avsc.Type.forSchema(parsed)).not.toThrow();
  });

  it('derives a 22-character schema id that is stable across starts', async () => {
    const again = await startFixture();
    try {
      const first = await fx.client.unary<TopicInfo>('GetTopic', { topic_name: SYNC_RESULT_TOPIC });
      const second = await again.client.unary<TopicInfo>('GetTopic', {
        topic_name: SYNC_RESULT_TOPIC
      });
      expect(first.schema_id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(second.schema_id).toBe(first.schema_id);
    } finally {
      await again.close();
    }
  });

  it('answers an unknown schema id with NOT_FOUND and a schema error code', async () => {
    const error = (await fx.client
      .unary('GetSchema', { schema_id: 'AAAAAAAAAAAAAAAAAAAAAA' })
      .catch((e: ServiceError) => e)) as ServiceError;
    expect(error.code).toBe(5);
    expect(error.metadata.get('error-code')).toEqual([
      'sfdc.platform.eventbus.grpc.schema.meta.permission'
    ]);
  });

  it('rejects a call with an invalid access token with the auth.error trailer', async () => {
    const error = (await fx.client
      .unary('GetTopic', { topic_name: SYNC_RESULT_TOPIC }, { ...VALID_AUTH, accesstoken: 'bad' })
      .catch((e: ServiceError) => e)) as ServiceError;
    expect(error.code).toBe(16);
    expect(error.metadata.get('error-code')).toEqual([
      'sfdc.platform.eventbus.grpc.service.auth.error'
    ]);
  });

  it('rejects a call whose tenantid is another org', async () => {
    const error = (await fx.client
      .unary(
        'GetTopic',
        { topic_name: SYNC_RESULT_TOPIC },
        { ...VALID_AUTH, tenantid: '00D000000000001AAA' }
      )
      .catch((e: ServiceError) => e)) as ServiceError;
    expect(error.code).toBe(16);
    expect(error.metadata.get('error-code')).toEqual([
      'sfdc.platform.eventbus.grpc.service.auth.error'
    ]);
  });

  it('rejects a call without the auth headers with the auth.headers.invalid trailer', async () => {
    const error = (await fx.client
      .unary('GetTopic', { topic_name: SYNC_RESULT_TOPIC }, { accesstoken: VALID_AUTH.accesstoken })
      .catch((e: ServiceError) => e)) as ServiceError;
    expect(error.code).toBe(16);
    expect(error.metadata.get('error-code')).toEqual([
      'sfdc.platform.eventbus.grpc.service.auth.headers.invalid'
    ]);
  });
});
