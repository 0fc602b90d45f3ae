import { randomUUID } from 'node:crypto';

import avsc from 'avsc';

import { EVENT_SCHEMA_NAMESPACE, type CompiledEventSchema } from './schema.ts';
import type { ChangeEventEntity, ChangeEventField } from './types.ts';

// Change event header and bitmaps: Change Data Capture Developer Guide, "Change Event Header
// Fields", and Pub/Sub API guide, "Event Deserialization Considerations".

export const CHANGE_TYPES = ['CREATE', 'UPDATE', 'DELETE', 'UNDELETE'] as const;
export type ChangeType = (typeof CHANGE_TYPES)[number];

// The GAP_* symbols exist in live schemas; the emulator never emits them.
const CHANGE_TYPE_SYMBOLS = [
  ...CHANGE_TYPES,
  'GAP_CREATE',
  'GAP_UPDATE',
  'GAP_DELETE',
  'GAP_UNDELETE',
  'GAP_OVERFLOW'
];

// Sub-fields of a compound address, in the order live AccountChangeEvent schemas list them
// (pozil client README sample).
const ADDRESS_FIELDS: { name: string; type: 'string' | 'double' }[] = [
  { name: 'Street', type: 'string' },
  { name: 'City', type: 'string' },
  { name: 'State', type: 'string' },
  { name: 'PostalCode', type: 'string' },
  { name: 'Country', type: 'string' },
  { name: 'StateCode', type: 'string' },
  { name: 'CountryCode', type: 'string' },
  { name: 'Latitude', type: 'double' },
  { name: 'Longitude', type: 'double' },
  { name: 'Xyz', type: 'string' },
  { name: 'GeocodeAccuracy', type: 'string' }
];
const ADDRESS_TYPE_NAME = `${EVENT_SCHEMA_NAMESPACE}.Address`;

const AVRO_TYPE: Record<Exclude<ChangeEventField['type'], 'Address'>, string> = {
  Text: 'string',
  TextArea: 'string',
  LongTextArea: 'string',
  Email: 'string',
  Phone: 'string',
  Url: 'string',
  Picklist: 'string',
  Reference: 'string',
  Number: 'double',
  Currency: 'double',
  Checkbox: 'boolean',
  DateTime: 'long',
  Date: 'int'
};

const stringArray = { type: 'array', items: 'string' };

export const CHANGE_EVENT_HEADER_SCHEMA = {
  type: 'record',
  name: 'ChangeEventHeader',
  fields: [
    { name: 'entityName', type: 'string' },
    { name: 'recordIds', type: stringArray },
    {
      name: 'changeType',
      type: { type: 'enum', name: 'ChangeType', symbols: CHANGE_TYPE_SYMBOLS }
    },
    { name: 'changeOrigin', type: 'string' },
    { name: 'transactionKey', type: 'string' },
    { name: 'sequenceNumber', type: 'int' },
    { name: 'commitTimestamp', type: 'long' },
    { name: 'commitNumber', type: 'long' },
    { name: 'commitUser', type: 'string' },
    { name: 'nulledFields', type: stringArray },
    { name: 'diffFields', type: stringArray },
    { name: 'changedFields', type: stringArray }
  ]
};

export function changeEventTopicName(entityName: string): string {
  return `/data/${entityName}ChangeEvent`;
}

export function compileChangeEventSchema(entity: ChangeEventEntity): CompiledEventSchema {
  let addressDefined = false;
  const fields = entity.fields.map((field) => {
    if (field.type !== 'Address') {
      return { name: field.apiName, type: ['null', AVRO_TYPE[field.type]], default: null };
    }
    // Avro allows a named type to be defined once; later address fields refer to it by name.
    const addressType = addressDefined
      ? ADDRESS_TYPE_NAME
      : {
          type: 'record',
          name: 'Address',
          fields: ADDRESS_FIELDS.map((sub) => ({
            name: sub.name,
            type: ['null', sub.type],
            default: null
          }))
        };
    addressDefined = true;
    return { name: field.apiName, type: ['null', addressType], default: null };
  });
  const schema = {
    name: `${entity.entityName}ChangeEvent`,
    namespace: EVENT_SCHEMA_NAMESPACE,
    type: 'record',
    fields: [{ name: 'ChangeEventHeader', type: CHANGE_EVENT_HEADER_SCHEMA }, ...fields]
  };
  const type = avsc.Type.forSchema(schema as avsc.Schema);
  const schemaId = type.fingerprint('md5').toString('base64url');
  return { schemaJson: JSON.stringify({ ...schema, uuid: schemaId }), schemaId, type };
}

/**
 * Encodes field names as Salesforce bitmaps: bit i (least significant first) marks the field at
 * index i of the event schema, written as uppercase hex with a 0x prefix; sub-fields of a compound
 * field follow as "<parent index>-0x<hex>" over the compound's own fields.
 */
export function encodeFieldBitmaps(entity: ChangeEventEntity, names: string[]): string[] {
  if (names.length === 0) return [];
  // Index 0 is ChangeEventHeader, so entity field i sits at schema index i + 1.
  const indexOf = new Map(entity.fields.map((field, i) => [field.apiName, i + 1]));
  let topLevel = 0n;
  const children = new Map<number, bigint>();
  for (const name of names) {
    const [parent, child] = name.split('.');
    const index = indexOf.get(parent!);
    if (index === undefined) throw new Error(`Unknown field ${name} on ${entity.entityName}`);
    if (child === undefined) {
      topLevel |= 1n << BigInt(index);
      continue;
    }
    const childIndex = ADDRESS_FIELDS.findIndex((sub) => sub.name === child);
    if (childIndex === -1) throw new Error(`Unknown field ${name} on ${entity.entityName}`);
    children.set(index, (children.get(index) ?? 0n) | (1n << BigInt(childIndex)));
  }
  return [
    toHex(topLevel),
    ...[...children.entries()].sort(([a], [b]) => a - b).map(([i, bits]) => `${i}-${toHex(bits)}`)
  ];
}

function toHex(bits: bigint): string {
  const hex = bits.toString(16).toUpperCase();
  return `0x${hex.length % 2 === 0 ? hex : `0${hex}`}`;
}

export interface ChangeInput {
  changeType: ChangeType;
  recordIds: string[];
  /** 18-character id of the user who made the change. */
  commitUser: string;
  /** `com/salesforce/api/<api>/<version>;client=<id>`: the echo-loop guard reads this. */
  changeOrigin?: string;
  /** New values; an address takes an object of its sub-fields. Unlisted fields are sent as null. */
  values?: Record<string, unknown>;
  /** Names for the changedFields bitmap, e.g. 'Name', 'BillingAddress.City'. UPDATE only. */
  changedFields?: string[];
  /** Names set to null by this change. UPDATE only; defaults to values given as null. */
  nulledFields?: string[];
  diffFields?: string[];
}

// Default origin of a change made through the REST API (no client id set).
const DEFAULT_CHANGE_ORIGIN = 'com/salesforce/api/rest/62.0';

export interface ChangeContext {
  commitTimestamp: number;
  commitNumber: number;
}

/** Builds the Avro record of one change event; throws Error on names or values it cannot carry. */
export function changeEventRecord(
  entity: ChangeEventEntity,
  change: ChangeInput,
  context: ChangeContext
): Record<string, unknown> {
  const values = change.values ?? {};
  const fieldsByName = new Map(entity.fields.map((f) => [f.apiName, f]));
  for (const name of Object.keys(values)) {
    if (!fieldsByName.has(name)) throw new Error(`Unknown field ${name} on ${entity.entityName}`);
  }
  const isUpdate = change.changeType === 'UPDATE';
  const changedFields = isUpdate ? (change.changedFields ?? namesOf(entity, values)) : [];
  const nulledFields = isUpdate
    ? (change.nulledFields ?? Object.keys(values).filter((name) => values[name] === null))
    : [];
  const record: Record<string, unknown> = {
    ChangeEventHeader: {
      entityName: entity.entityName,
      recordIds: change.recordIds,
      changeType: change.changeType,
      changeOrigin: change.changeOrigin ?? DEFAULT_CHANGE_ORIGIN,
      transactionKey: randomUUID(),
      sequenceNumber: 1,
      commitTimestamp: context.commitTimestamp,
      commitNumber: context.commitNumber,
      commitUser: change.commitUser,
      nulledFields: encodeFieldBitmaps(entity, nulledFields),
      diffFields: encodeFieldBitmaps(entity, isUpdate ? (change.diffFields ?? []) : []),
      changedFields: encodeFieldBitmaps(entity, changedFields)
    }
  };
  for (const field of entity.fields) {
    const value = change.changeType === 'DELETE' ? null : (values[field.apiName] ?? null);
    record[field.apiName] =
      field.type === 'Address' && value !== null ? addressValue(value) : value;
  }
  return record;
}

/** Field names a set of values touches; an address contributes its sub-fields. */
function namesOf(entity: ChangeEventEntity, values: Record<string, unknown>): string[] {
  const addressFields = new Set(
    entity.fields.filter((f) => f.type === 'Address').map((f) => f.apiName)
  );
  return Object.entries(values).flatMap(([name, value]) =>
    addressFields.has(name) && value !== null && typeof value === 'object'
      ? Object.keys(value).map((sub) => `${name}.${sub}`)
      : [name]
  );
}

function addressValue(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null) throw new Error('An address must be an object');
  const given = value as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!ADDRESS_FIELDS.some((sub) => sub.name === name)) {
      throw new Error(`Unknown address field ${name}`);
    }
  }
  return Object.fromEntries(ADDRESS_FIELDS.map((sub) => [sub.name, given[sub.name] ?? null]));
}
