import { describe, expect, it } from 'vitest';

import { EVENT_RETENTION_MS, EventBus, EventValidationError, ReplayIdError } from '../event-bus.ts';
import { avroSchemaFor } from '../schema.ts';
import type { PlatformEventDefinition } from '../types.ts';
import { SYNC_RESULT_EVENT, SYNC_RESULT_TOPIC, syncResultFields, USER_ID } from './helpers.ts';

const TYPED_EVENT: PlatformEventDefinition = {
  apiName: 'Typed__e',
  fields: [
    { apiName: 'Amount__c', type: 'Number', precision: 5, scale: 2 },
    { apiName: 'Flag__c', type: 'Checkbox' },
    { apiName: 'When__c', type: 'DateTime' },
    { apiName: 'Day__c', type: 'Date' },
    { apiName: 'Mail__c', type: 'Email' }
  ]
};
const TYPED_TOPIC = '/event/Typed__e';

function decode(bus: EventBus, topic: string): Record<string, unknown>[] {
  const type = bus.topicSchema(topic)!.type;
  const cursor = bus.openCursor(topic, { preset: 'EARLIEST' });
  return cursor.take(100).map((e) => type.fromBuffer(e.event.payload));
}

function validationError(run: () => unknown): EventValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof EventValidationError) return error;
    throw error;
  }
  throw new Error('expected an EventValidationError');
}

describe('EventBus', () => {
  it('names one /event/ topic per definition', () => {
    const bus = new EventBus({ definitions: [SYNC_RESULT_EVENT, TYPED_EVENT] });
    expect(bus.topicNames()).toEqual([SYNC_RESULT_TOPIC, TYPED_TOPIC]);
  });

  it('assigns strictly increasing 8-byte big-endian replay ids', () => {
    const bus = new EventBus({ definitions: [SYNC_RESULT_EVENT, TYPED_EVENT] });
    const ids = [
      bus.publish(SYNC_RESULT_TOPIC, syncResultFields(1), USER_ID),
      bus.publish(TYPED_TOPIC, {}, USER_ID),
      bus.publish(SYNC_RESULT_TOPIC, syncResultFields(2), USER_ID)
    ].map((p) => p.replayId);
    expect(ids.every((id) => id.length === 8)).toBe(true);
    const values = ids.map((id) => id.readBigUInt64BE());
    expect(values[1]).toBeGreaterThan(values[0]!);
    expect(values[2]).toBeGreaterThan(values[1]!);
  });

  it('fills CreatedDate from the clock and CreatedById from the publisher', () => {
    const bus = new EventBus({ definitions: [SYNC_RESULT_EVENT], now: () => 1_700_000_000_000 });
    const { eventUuid } = bus.publish(SYNC_RESULT_TOPIC, { Status__c: 'Synced' }, USER_ID);
    expect(eventUuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4/);
    expect(decode(bus, SYNC_RESULT_TOPIC)[0]).toMatchObject({
      CreatedDate: 1_700_000_000_000,
      CreatedById: USER_ID,
      Status__c: 'Synced',
      Message__c: null
    });
  });

  it('rejects a field the event does not define with INVALID_FIELD', () => {
    const bus = new EventBus({ definitions: [SYNC_RESULT_EVENT] });
    const error = validationError(() => bus.publish(SYNC_RESULT_TOPIC, { Nope__c: 'x' }, USER_ID));
    expect(error).toMatchObject({ errorCode: 'INVALID_FIELD', fields: ['Nope__c'] });
    expect(error.message).toBe("No such column 'Nope__c' on sobject of type D365_Sync_Result__e");
  });

  it('rejects text longer than the field length with STRING_TOO_LONG', () => {
    const bus = new EventBus({ definitions: [SYNC_RESULT_EVENT] });
    const error = validationError(() =>
      bus.publish(SYNC_RESULT_TOPIC, { Record_Id__c: 'x'.repeat(19) }, USER_ID)
    );
    expect(error).toMatchObject({ errorCode: 'STRING_TOO_LONG', fields: ['Record_Id__c'] });
    expect(error.message).toContain('(max length=18)');
  });

  it('rejects a value of the wrong type', () => {
    const bus = new EventBus({ definitions: [SYNC_RESULT_EVENT, TYPED_EVENT] });
    expect(
      validationError(() => bus.publish(SYNC_RESULT_TOPIC, { Status__c: 42 }, USER_ID)).errorCode
    ).toBe('INVALID_TYPE_ON_FIELD_IN_RECORD');
    expect(
      validationError(() => bus.publish(TYPED_TOPIC, { Flag__c: 'yes' }, USER_ID)).errorCode
    ).toBe('INVALID_TYPE_ON_FIELD_IN_RECORD');
  });

  it('rejects a number beyond the precision with NUMBER_OUTSIDE_VALID_RANGE', () => {
    const bus = new EventBus({ definitions: [TYPED_EVENT] });
    expect(
      validationError(() => bus.publish(TYPED_TOPIC, { Amount__c: 1000 }, USER_ID)).errorCode
    ).toBe('NUMBER_OUTSIDE_VALID_RANGE');
  });

  it('rejects a malformed email with INVALID_EMAIL_ADDRESS', () => {
    const bus = new EventBus({ definitions: [TYPED_EVENT] });
    expect(
      validationError(() => bus.publish(TYPED_TOPIC, { Mail__c: 'not-an-email' }, USER_ID))
        .errorCode
    ).toBe('INVALID_EMAIL_ADDRESS');
  });

  it('stores nothing when validation fails', () => {
    const bus = new EventBus({ definitions: [SYNC_RESULT_EVENT] });
    validationError(() => bus.publish(SYNC_RESULT_TOPIC, { Nope__c: 'x' }, USER_ID));
    expect(bus.publishedCount).toBe(0);
    expect(bus.openCursor(SYNC_RESULT_TOPIC, { preset: 'EARLIEST' }).available()).toBe(0);
  });

  it('encodes dates as epoch numbers and an absent checkbox as false', () => {
    const bus = new EventBus({ definitions: [TYPED_EVENT] });
    bus.publish(
      TYPED_TOPIC,
      { Amount__c: 123.45, When__c: '2024-10-01T12:00:00.000Z', Day__c: '2024-10-01' },
      USER_ID
    );
    expect(decode(bus, TYPED_TOPIC)[0]).toMatchObject({
      Amount__c: 123.45,
      Flag__c: false,
      When__c: Date.parse('2024-10-01T12:00:00.000Z'),
      Day__c: Date.parse('2024-10-01T00:00:00Z') / 86_400_000
    });
  });

  it('forgets every event on clear, refusing replay ids issued before it', () => {
    const bus = new EventBus({ definitions: [SYNC_RESULT_EVENT] });
    const first = bus.publish(SYNC_RESULT_TOPIC, syncResultFields(1), USER_ID);
    bus.publish(SYNC_RESULT_TOPIC, syncResultFields(2), USER_ID);
    bus.clear();
    const after = bus.publish(SYNC_RESULT_TOPIC, syncResultFields(3), USER_ID);
    const cursor = bus.openCursor(SYNC_RESULT_TOPIC, { preset: 'EARLIEST' });
    expect(cursor.take(10).map((e) => e.replay_id)).toEqual([after.replayId]);
    expect(() =>
      bus.openCursor(SYNC_RESULT_TOPIC, { preset: 'CUSTOM', replayId: first.replayId })
    ).toThrow(ReplayIdError);
  });

  describe('retention', () => {
    function clockedBus() {
      let now = 1_700_000_000_000;
      const bus = new EventBus({ definitions: [SYNC_RESULT_EVENT], now: () => now });
      return { bus, advance: (ms: number) => (now += ms) };
    }

    it('drops events older than 72 hours from EARLIEST replay', () => {
      const { bus, advance } = clockedBus();
      bus.publish(SYNC_RESULT_TOPIC, syncResultFields(1), USER_ID);
      advance(EVENT_RETENTION_MS - 1000);
      const kept = bus.publish(SYNC_RESULT_TOPIC, syncResultFields(2), USER_ID);
      advance(2000);
      const cursor = bus.openCursor(SYNC_RESULT_TOPIC, { preset: 'EARLIEST' });
      expect(cursor.take(10).map((e) => e.replay_id)).toEqual([kept.replayId]);
    });

    it('refuses a CUSTOM replay id that fell out of the retention window', () => {
      const { bus, advance } = clockedBus();
      const old = bus.publish(SYNC_RESULT_TOPIC, syncResultFields(1), USER_ID);
      bus.publish(SYNC_RESULT_TOPIC, syncResultFields(2), USER_ID);
      const last = bus.publish(SYNC_RESULT_TOPIC, syncResultFields(3), USER_ID);
      advance(EVENT_RETENTION_MS + 1);
      expect(() =>
        bus.openCursor(SYNC_RESULT_TOPIC, { preset: 'CUSTOM', replayId: old.replayId })
      ).toThrow(ReplayIdError);
      // The newest evicted id is still a valid resume point: nothing after it was lost.
      const cursor = bus.openCursor(SYNC_RESULT_TOPIC, {
        preset: 'CUSTOM',
        replayId: last.replayId
      });
      expect(cursor.available()).toBe(0);
    });
  });
});

describe('avroSchemaFor', () => {
  it('maps field types to nullable Avro types with a null default', () => {
    const schema = JSON.parse(avroSchemaFor(TYPED_EVENT).schemaJson);
    expect(schema.fields.map((f: { name: string; type: unknown }) => [f.name, f.type])).toEqual([
      ['CreatedDate', 'long'],
      ['CreatedById', 'string'],
      ['Amount__c', ['null', 'double']],
      ['Flag__c', ['null', 'boolean']],
      ['When__c', ['null', 'long']],
      ['Day__c', ['null', 'int']],
      ['Mail__c', ['null', 'string']]
    ]);
    expect(schema.fields.slice(2).every((f: { default: unknown }) => f.default === null)).toBe(
      true
    );
  });

  it('changes the schema id when the schema changes', () => {
    const base = avroSchemaFor(SYNC_RESULT_EVENT).schemaId;
    const extended = avroSchemaFor({
      ...SYNC_RESULT_EVENT,
      fields: [...SYNC_RESULT_EVENT.fields, { apiName: 'Extra__c', type: 'Text', length: 10 }]
    }).schemaId;
    expect(extended).not.toBe(base);
  });
});
