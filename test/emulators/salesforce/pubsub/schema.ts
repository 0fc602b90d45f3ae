import avsc from 'avsc';

import type { PlatformEventDefinition, PlatformEventFieldType } from './types.ts';

// Every Salesforce event schema lives in this Avro namespace (REST "Platform Event Schema" sample).
export const EVENT_SCHEMA_NAMESPACE = 'com.sforce.eventbus';

type AvroPrimitive = 'string' | 'double' | 'boolean' | 'long' | 'int';

const AVRO_TYPE_BY_FIELD_TYPE: Record<PlatformEventFieldType, AvroPrimitive> = {
  Text: 'string',
  TextArea: 'string',
  LongTextArea: 'string',
  Email: 'string',
  Phone: 'string',
  Url: 'string',
  Picklist: 'string',
  Number: 'double',
  Checkbox: 'boolean',
  // Pub/Sub sends dates as epoch numbers ("Date fields are in Epoch time"); DateTime is epoch
  // milliseconds like CreatedDate. For Date the docs are silent on the unit: we pick Avro's own
  // convention, an int of days since 1970-01-01.
  DateTime: 'long',
  Date: 'int'
};

export interface EventSchema {
  /** Avro schema JSON as GetSchema returns it, with `uuid` = the schema id. */
  schemaJson: string;
  /** 22-character URL-safe id, e.g. '5E5OtZj5_Gm6Vax9XMXH9A'. */
  schemaId: string;
}

export interface CompiledEventSchema extends EventSchema {
  type: avsc.Type;
}

function schemaObjectFor(def: PlatformEventDefinition): Record<string, unknown> {
  return {
    name: def.apiName,
    namespace: EVENT_SCHEMA_NAMESPACE,
    type: 'record',
    fields: [
      { name: 'CreatedDate', type: 'long', doc: 'CreatedDate:DateTime' },
      { name: 'CreatedById', type: 'string', doc: 'CreatedBy:EntityId' },
      ...def.fields.map((field) => ({
        name: field.apiName,
        type: ['null', AVRO_TYPE_BY_FIELD_TYPE[field.type]],
        doc: `Data:${field.type}`,
        default: null
      }))
    ]
  };
}

export function compileEventSchema(def: PlatformEventDefinition): CompiledEventSchema {
  const schema = schemaObjectFor(def);
  const type = avsc.Type.forSchema(schema as avsc.Schema);
  // The proto calls schema_id "a hash of the schema" and live ids are 22 URL-safe base64
  // characters, i.e. 16 bytes: the MD5 Avro fingerprint of the canonical form fits both.
  const schemaId = type.fingerprint('md5').toString('base64url');
  return { schemaJson: JSON.stringify({ ...schema, uuid: schemaId }), schemaId, type };
}

export function avroSchemaFor(def: PlatformEventDefinition): EventSchema {
  const { schemaJson, schemaId } = compileEventSchema(def);
  return { schemaJson, schemaId };
}
