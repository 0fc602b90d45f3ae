/**
 * Change Data Capture: committed writes of CDC-enabled objects (Account by default) become
 * `/data/<Object>ChangeEvent` events on the Pub/Sub bus, with the header the relay's echo-loop
 * guard reads (`changeOrigin`, `changedFields`).
 */
import type { FieldModel, ObjectModel, OrgModel } from './model.ts';
import type { EventBus } from './pubsub/event-bus.ts';
import type { ChangeInput } from './pubsub/change-events.ts';
import type { ChangeEventEntity, ChangeEventField } from './pubsub/types.ts';
import type { RecordChange, SfRecord } from './store.ts';

const ADDRESS_PARTS = ['Street', 'City', 'State', 'PostalCode', 'Country'];
/** Fields a change event does not carry (CDC Developer Guide: Id is in recordIds; these are system-only). */
const NOT_IN_EVENTS = new Set(['Id', 'IsDeleted', 'SystemModstamp']);
const DAY_MS = 86_400_000;

const CHANGE_TYPE: Record<string, ChangeEventField['type']> = {
  string: 'Text',
  textarea: 'TextArea',
  email: 'Email',
  phone: 'Phone',
  url: 'Url',
  picklist: 'Picklist',
  multipicklist: 'Text',
  reference: 'Reference',
  double: 'Number',
  int: 'Number',
  percent: 'Number',
  currency: 'Currency',
  boolean: 'Checkbox',
  datetime: 'DateTime',
  date: 'Date'
};

/** `BillingStreet` → `BillingAddress` / `Street`, for the compound address fields. */
function addressPart(f: FieldModel): { compound: string; part: string } | null {
  for (const part of ADDRESS_PARTS) {
    if (!f.custom && f.name.endsWith(part) && f.name.length > part.length) {
      const prefix = f.name.slice(0, -part.length);
      if (['Billing', 'Shipping', 'Mailing', 'Other'].includes(prefix))
        return { compound: `${prefix}Address`, part };
    }
  }
  return null;
}

export function changeEntityFor(object: ObjectModel): ChangeEventEntity {
  const fields: ChangeEventField[] = [];
  const seen = new Set<string>();
  for (const f of object.fields) {
    if (NOT_IN_EVENTS.has(f.name)) continue;
    const address = addressPart(f);
    if (address) {
      if (!seen.has(address.compound)) fields.push({ apiName: address.compound, type: 'Address' });
      seen.add(address.compound);
      continue;
    }
    const type = CHANGE_TYPE[f.type];
    if (type) fields.push({ apiName: f.name, type });
  }
  return { entityName: object.name, fields };
}

export function changeEntities(model: OrgModel, objectNames: string[]): ChangeEventEntity[] {
  return objectNames.flatMap((name) => {
    const object = model.objects.get(name.toLowerCase());
    return object ? [changeEntityFor(object)] : [];
  });
}

function eventValue(f: FieldModel, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  // Avro `int` days since the epoch for dates; DateTime stays epoch ms.
  if (f.type === 'date') return Math.round(Date.parse(`${value as string}T00:00:00Z`) / DAY_MS);
  return value;
}

/** Event values and changed field names of one write; unchanged fields stay null, as documented. */
function diff(object: ObjectModel, old: SfRecord | null, next: SfRecord) {
  const values: Record<string, unknown> = {};
  const changed: string[] = [];
  const nulled: string[] = [];
  for (const f of object.fields) {
    if (NOT_IN_EVENTS.has(f.name) || !CHANGE_TYPE[f.type]) continue;
    const before = old ? old[f.name] : null;
    const after = next[f.name];
    const isChange = old ? before !== after : after !== null && after !== undefined;
    if (!isChange) continue;
    const address = addressPart(f);
    if (address) {
      const compound = (values[address.compound] ?? {}) as Record<string, unknown>;
      compound[address.part] = after ?? null;
      values[address.compound] = compound;
      changed.push(`${address.compound}.${address.part}`);
      if (old && (after === null || after === undefined))
        nulled.push(`${address.compound}.${address.part}`);
      continue;
    }
    values[f.name] = eventValue(f, after);
    changed.push(f.name);
    if (old && (after === null || after === undefined)) nulled.push(f.name);
  }
  return { values, changed, nulled };
}

export function toChangeInput(change: RecordChange, apiVersion = '62.0'): ChangeInput {
  const { object, old, next } = change;
  const recordIds = [next.Id as string];
  const commitUser = next.LastModifiedById as string;
  const changeOrigin = change.origin ?? `com/salesforce/api/rest/${apiVersion}`;
  if (next.IsDeleted === true) return { changeType: 'DELETE', recordIds, commitUser, changeOrigin };
  const { values, changed, nulled } = diff(object, old, next);
  if (!old) return { changeType: 'CREATE', recordIds, commitUser, changeOrigin, values };
  return {
    changeType: 'UPDATE',
    recordIds,
    commitUser,
    changeOrigin,
    values,
    changedFields: changed,
    diffFields: [],
    nulledFields: nulled
  };
}

/** The Database listener: publishes changes of the CDC-enabled objects. */
export function changePublisher(
  bus: EventBus,
  objectNames: string[]
): (change: RecordChange) => void {
  const enabled = new Set(objectNames.map((n) => n.toLowerCase()));
  return (change) => {
    if (!enabled.has(change.object.name.toLowerCase())) return;
    try {
      bus.publishChange(change.object.name, toChangeInput(change));
    } catch (error) {
      // The write is committed; a change event the bus cannot encode must not turn it into a failure.
      process.emitWarning(
        `change event for ${change.object.name} not published: ${(error as Error).message}`
      );
    }
  };
}

/** `Sforce-Call-Options: client=<id>` → the changeOrigin Salesforce records for the call. */
export function changeOrigin(version: string, callOptions: string | undefined): string {
  const client = callOptions ? /(?:^|[;,\s])client=([^;,\s]+)/i.exec(callOptions)?.[1] : undefined;
  return `com/salesforce/api/rest/${version}${client ? `;client=${client}` : ''}`;
}
