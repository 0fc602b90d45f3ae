/**
 * In-memory org data: one table per object with Maps by ID, by each unique / External ID field
 * (lower-cased where case-insensitive) and by parent ID for lookups. All writes go through the DML
 * methods here, which validate against the object model like the platform does, and can be rolled
 * back to a savepoint (allOrNone, Composite).
 */
import { IdFactory, normalizeId } from './ids.ts';
import type { FieldModel, ObjectModel, OrgModel } from './model.ts';
import { STAGE_OUTCOME } from './standard-objects.ts';
import { coerceCsv, coerceJson, dmlError } from './values.ts';
import type { DmlError } from './values.ts';

export type SfRecord = Record<string, unknown>;

interface Index {
  field: FieldModel;
  kind: 'unique' | 'lookup' | 'child';
  map: Map<string, Set<string>>;
}

export interface Table {
  object: ObjectModel;
  byId: Map<string, SfRecord>;
  indexes: Index[];
  indexByField: Map<string, Index>;
  autoNumber: number;
}

export interface DmlContext {
  userId: string;
  /** `json` for REST bodies; `csv` for Bulk rows, where blank cells are ignored and `#N/A` is null. */
  mode: 'json' | 'csv';
  /** Change Data Capture `changeOrigin` of the call, e.g. `com/salesforce/api/rest/62.0;client=relay`. */
  origin?: string;
}

/** A committed write of one record: old null = created; next deleted = deleted. */
export interface RecordChange {
  object: ObjectModel;
  old: SfRecord | null;
  next: SfRecord;
  origin: string | undefined;
}

export type DmlResult =
  | { ok: true; id: string; created: boolean }
  | { ok: false; errors: DmlError[]; httpStatus: number };

export type UpsertOutcome = DmlResult | { ok: false; multiple: string[]; httpStatus: 300 };

const fail = (error: DmlError, httpStatus = 400): DmlResult => ({
  ok: false,
  errors: [error],
  httpStatus
});

/** Bulk API 2.0: "#N/A" sets a field to null; a blank cell leaves it unchanged. */
export const CSV_NULL = '#N/A';
const AUDIT_REFERENCES = new Set(['CreatedById', 'LastModifiedById', 'OwnerId']);

export class Database {
  readonly model: OrgModel;
  readonly tables = new Map<string, Table>();
  private readonly ids = new IdFactory();
  private undoLog: (() => void)[] = [];
  private depth = 0;
  private replaying = false;
  /** Changes made inside a transaction, with the undo-log position they belong to. */
  private pending: { position: number; change: RecordChange }[] = [];
  private origin: string | undefined;
  /** Called once per committed record change (Change Data Capture feeds on it). */
  onChange: ((change: RecordChange) => void) | null = null;
  private readonly now: () => number;
  /** One entry per price book × product (PricebookEntry has no such field to index). */
  private readonly priceEntries = new Map<string, string>();

  constructor(model: OrgModel, now: () => number = Date.now) {
    this.model = model;
    this.now = now;
    for (const object of model.objects.values()) {
      if (object.kind === 'event') continue;
      const indexes: Index[] = [];
      for (const f of object.fields) {
        if (f.type === 'id') continue;
        if (f.unique || f.externalId || (f.idLookup && f.type !== 'reference')) {
          indexes.push({ field: f, kind: f.unique ? 'unique' : 'lookup', map: new Map() });
        } else if (f.type === 'reference' && !AUDIT_REFERENCES.has(f.name)) {
          indexes.push({ field: f, kind: 'child', map: new Map() });
        }
      }
      this.tables.set(object.name.toLowerCase(), {
        object,
        byId: new Map(),
        indexes,
        indexByField: new Map(indexes.map((i) => [i.field.name, i])),
        autoNumber: 0
      });
    }
  }

  table(objectName: string): Table | undefined {
    return this.tables.get(objectName.toLowerCase());
  }

  /** The record with this ID (15 or 18 chars, any object), deleted ones included. */
  getById(id: string): { table: Table; record: SfRecord } | null {
    const id18 = normalizeId(id);
    if (!id18) return null;
    const object = this.model.byKeyPrefix.get(id18.slice(0, 3));
    const table = object ? this.table(object.name) : undefined;
    const record = table?.byId.get(id18);
    return table && record ? { table, record } : null;
  }

  newId(keyPrefix: string): string {
    return this.ids.next(keyPrefix);
  }

  /** IDs of live records whose indexed field equals `value` (case rules of the field). */
  findBy(table: Table, fieldName: string, value: unknown): string[] {
    const index = table.indexByField.get(fieldName);
    if (!index) return [];
    return [...(index.map.get(indexKey(index.field, value)) ?? [])];
  }

  childrenOf(table: Table, fieldName: string, parentId: string): Set<string> | undefined {
    return table.indexByField.get(fieldName)?.map.get(parentId);
  }

  // ---- transactions -------------------------------------------------------------------------

  /** Starts recording undo steps; returns the savepoint to roll back to. */
  begin(): number {
    this.depth++;
    return this.undoLog.length;
  }

  rollbackTo(savepoint: number): void {
    // Undo steps write through put(), which must not log them again.
    const depth = this.depth;
    this.depth = 0;
    this.replaying = true;
    try {
      while (this.undoLog.length > savepoint) (this.undoLog.pop() as () => void)();
    } finally {
      this.depth = depth;
      this.replaying = false;
    }
    this.pending = this.pending.filter((p) => p.position <= savepoint);
  }

  end(): void {
    this.depth--;
    if (this.depth > 0) return;
    this.undoLog.length = 0;
    const committed = this.pending;
    this.pending = [];
    for (const p of committed) this.onChange?.(p.change);
  }

  // ---- DML ----------------------------------------------------------------------------------

  /**
   * Custom metadata records come from force-app and are read-only through the data APIs; the
   * error code for a write is not documented, INVALID_TYPE is the most likely.
   */
  private readOnlyType(table: Table, verb: string): DmlResult | null {
    if (table.object.kind !== 'metadata') return null;
    return fail(dmlError('INVALID_TYPE', `entity type cannot be ${verb}: ${table.object.label}`));
  }

  /** Stores a record as given (custom metadata from force-app), outside validation and DML. */
  load(objectName: string, values: SfRecord): string {
    const table = this.table(objectName);
    if (!table) throw new Error(`unknown object ${objectName}`);
    const record: SfRecord = {};
    for (const f of table.object.fields) record[f.name] = f.type === 'boolean' ? false : null;
    Object.assign(record, values, { Id: this.ids.next(table.object.keyPrefix) });
    this.put(table, null, record);
    return record.Id as string;
  }

  insert(objectName: string, input: SfRecord, ctx: DmlContext, forcedValues?: SfRecord): DmlResult {
    this.origin = ctx.origin;
    const table = this.table(objectName);
    if (!table) return fail(dmlError('NOT_FOUND', 'The requested resource does not exist'), 404);
    const readOnly = this.readOnlyType(table, 'inserted');
    if (readOnly) return readOnly;
    const prepared = this.prepare(table, input, ctx, null);
    if ('errors' in prepared) return { ok: false, errors: prepared.errors, httpStatus: 400 };
    const object = table.object;
    const now = this.now();
    const record: SfRecord = {};
    for (const f of object.fields) {
      record[f.name] = f.type === 'boolean' ? false : null;
      if (f.defaultedOnCreate && f.defaultValue !== null && !f.autoNumber)
        record[f.name] = f.defaultValue;
    }
    Object.assign(record, prepared.values, forcedValues);
    const missing = object.requiredOnCreate.filter((f) => isBlank(record[f.name]));
    if (missing.length > 0) {
      const names = missing.map((f) => f.name);
      return fail(
        dmlError(
          'REQUIRED_FIELD_MISSING',
          `Required fields are missing: [${names.join(', ')}]`,
          names
        )
      );
    }
    record.IsDeleted = false;
    record.CreatedDate = now;
    record.LastModifiedDate = now;
    record.SystemModstamp = now;
    record.CreatedById = ctx.userId;
    record.LastModifiedById = ctx.userId;
    if (object.hasOwner && record.OwnerId === null) record.OwnerId = ctx.userId;
    const hookError = this.beforeWrite(table, record, null);
    if (hookError) return fail(hookError);
    const refError = this.checkReferences(table, record, prepared.values);
    if (refError) return fail(refError);
    const dup = this.checkUnique(table, record, null);
    if (dup) return fail(dup);
    for (const f of object.fields) {
      if (f.autoNumber)
        record[f.name] = formatAutoNumber(f.autoNumberFormat, ++table.autoNumber, now);
    }
    record.Id = this.ids.next(object.keyPrefix);
    this.put(table, null, record);
    this.afterWrite(table, null, record, ctx);
    return { ok: true, id: record.Id as string, created: true };
  }

  update(
    objectName: string | null,
    id: string,
    input: SfRecord,
    ctx: DmlContext,
    options: { ignoreNotUpdateable?: string[] } = {}
  ): DmlResult {
    this.origin = ctx.origin;
    const found = this.getById(id);
    const table = objectName ? this.table(objectName) : found?.table;
    if (!table) return fail(dmlError('NOT_FOUND', 'The requested resource does not exist'), 404);
    if (!found || found.table !== table) {
      const id18 = normalizeId(id);
      if (id18 && found) {
        return fail(
          dmlError('MALFORMED_ID', `${table.object.label} ID: id value of incorrect type: ${id}`, [
            'Id'
          ])
        );
      }
      return id18
        ? fail(dmlError('NOT_FOUND', 'The requested resource does not exist'), 404)
        : fail(
            dmlError(
              'MALFORMED_ID',
              `${table.object.label} ID: id value of incorrect type: ${id}`,
              ['Id']
            )
          );
    }
    const old = found.record;
    const readOnly = this.readOnlyType(table, 'updated');
    if (readOnly) return readOnly;
    if (old.IsDeleted === true)
      return fail(dmlError('ENTITY_IS_DELETED', 'entity is deleted'), 404);
    const prepared = this.prepare(table, input, ctx, old, options.ignoreNotUpdateable);
    if ('errors' in prepared) return { ok: false, errors: prepared.errors, httpStatus: 400 };
    const record: SfRecord = { ...old, ...prepared.values };
    const cleared = table.object.fields.filter(
      (f) =>
        f.name in prepared.values &&
        !f.nillable &&
        f.createable &&
        isBlank(record[f.name]) &&
        f.type !== 'boolean'
    );
    if (cleared.length > 0) {
      const names = cleared.map((f) => f.name);
      return fail(
        dmlError(
          'REQUIRED_FIELD_MISSING',
          `Required fields are missing: [${names.join(', ')}]`,
          names
        )
      );
    }
    const now = Math.max(this.now(), (old.SystemModstamp as number) + 1);
    record.LastModifiedDate = now;
    record.SystemModstamp = now;
    record.LastModifiedById = ctx.userId;
    const hookError = this.beforeWrite(table, record, old);
    if (hookError) return fail(hookError);
    const refError = this.checkReferences(table, record, prepared.values);
    if (refError) return fail(refError);
    const dup = this.checkUnique(table, record, old);
    if (dup) return fail(dup);
    this.put(table, old, record);
    this.afterWrite(table, old, record, ctx);
    return { ok: true, id: record.Id as string, created: false };
  }

  /**
   * Upsert by External ID. Matching follows the field's index: case-insensitive unless the field is
   * caseSensitive (the docs leave matching unspecified; uniqueness uses the same rule).
   */
  upsert(
    objectName: string,
    extFieldName: string,
    extValue: unknown,
    input: SfRecord,
    ctx: DmlContext
  ): UpsertOutcome {
    const table = this.table(objectName);
    if (!table) return fail(dmlError('NOT_FOUND', 'The requested resource does not exist'), 404);
    const extField = table.object.fieldsByLower.get(extFieldName.toLowerCase());
    if (extField?.name === 'Id') {
      if (isBlank(extValue)) return this.insert(objectName, input, ctx);
      return this.update(objectName, String(extValue), input, ctx);
    }
    if (!extField || !(extField.externalId || extField.idLookup)) {
      return fail(
        dmlError(
          'NOT_FOUND',
          `Provided external ID field does not exist or is not accessible: ${extFieldName}`
        ),
        404
      );
    }
    const body: SfRecord = {};
    for (const key of Object.keys(input)) {
      const lower = key.toLowerCase();
      if (lower === 'id') {
        return fail(
          dmlError(
            'INVALID_FIELD_FOR_INSERT_UPDATE',
            'Unable to create/update fields: Id. Please check the security settings of this field and verify that it is read/write for your profile or permission set.',
            ['Id']
          )
        );
      }
      if (lower === extField.name.toLowerCase()) {
        // A body value equal to the key is harmless; a different one would change the key.
        if (
          !isBlank(input[key]) &&
          indexKey(extField, input[key]) !== indexKey(extField, extValue)
        ) {
          return fail(
            dmlError(
              'INVALID_FIELD',
              `The value of ${extField.name} in the request body must match the value in the URL`,
              [extField.name]
            )
          );
        }
        continue;
      }
      body[key] = input[key];
    }
    const matches = this.findBy(table, extField.name, extValue);
    if (matches.length > 1) return { ok: false, multiple: matches, httpStatus: 300 };
    if (matches.length === 1) {
      return this.update(objectName, matches[0] as string, body, ctx, {
        ignoreNotUpdateable: [extField.name]
      });
    }
    body[extField.name] = extValue;
    return this.insert(objectName, body, ctx);
  }

  delete(objectName: string | null, id: string, origin?: string): DmlResult {
    this.origin = origin;
    const found = this.getById(id);
    const table = objectName ? this.table(objectName) : found?.table;
    if (!table || !found || found.table !== table) {
      return normalizeId(id)
        ? fail(dmlError('NOT_FOUND', 'The requested resource does not exist'), 404)
        : fail(dmlError('MALFORMED_ID', `malformed id ${id}`, []), 400);
    }
    const readOnly = this.readOnlyType(table, 'deleted');
    if (readOnly) return readOnly;
    if (found.record.IsDeleted === true)
      return fail(dmlError('ENTITY_IS_DELETED', 'entity is deleted'), 404);
    if (table.object.name === 'User') {
      return fail(dmlError('DELETE_FAILED', 'Users cannot be deleted; deactivate them instead'));
    }
    if (table.object.name === 'Pricebook2' && found.record.IsStandard === true) {
      return fail(dmlError('DELETE_FAILED', 'You cannot delete the standard price book'));
    }
    const error = this.deleteCascade(table, found.record);
    if (error) return fail(error);
    return { ok: true, id: found.record.Id as string, created: false };
  }

  // ---- internals ----------------------------------------------------------------------------

  private prepare(
    table: Table,
    input: SfRecord,
    ctx: DmlContext,
    existing: SfRecord | null,
    ignoreNotUpdateable: string[] = []
  ): { values: SfRecord } | { errors: DmlError[] } {
    const object = table.object;
    const values: SfRecord = {};
    const notWritable: string[] = [];
    for (const key of Object.keys(input)) {
      if (key === 'attributes') continue;
      let raw = input[key];
      if (ctx.mode === 'csv') {
        if (raw === '') continue;
        if (raw === CSV_NULL) raw = null;
      }
      const lower = key.toLowerCase();
      const f = object.fieldsByLower.get(lower);
      if (!f) {
        const resolved = this.resolveRelationship(object, key, raw);
        if ('error' in resolved) return { errors: [resolved.error] };
        values[resolved.field.name] = resolved.id;
        continue;
      }
      if (lower === 'id') {
        if (existing) continue;
        // Verbatim from the REST API guide, "Create a Record".
        return {
          errors: [
            dmlError('INVALID_FIELD', 'The Id field should not be specified in the sobject data.')
          ]
        };
      }
      const writable = existing ? f.updateable : f.createable;
      if (!writable) {
        const unchangedKey = existing && ignoreNotUpdateable.includes(f.name) && f.name in existing;
        if (!unchangedKey) notWritable.push(f.name);
        continue;
      }
      const coerced =
        ctx.mode === 'csv' && raw !== null ? coerceCsv(f, String(raw)) : coerceJson(f, raw);
      if (!coerced.ok) return { errors: [coerced.error] };
      values[f.name] = coerced.value;
    }
    if (notWritable.length > 0) {
      return {
        errors: [
          dmlError(
            'INVALID_FIELD_FOR_INSERT_UPDATE',
            `Unable to create/update fields: ${notWritable.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
            notWritable
          )
        ]
      };
    }
    return { values };
  }

  /** `Account: {D365_Customer_Number__c: 'C1'}` (JSON) or `Account.D365_Customer_Number__c` (CSV). */
  private resolveRelationship(
    object: ObjectModel,
    key: string,
    raw: unknown
  ): { field: FieldModel; id: string | null } | { error: DmlError } {
    let relName = key;
    let extName: string | undefined;
    let extValue: unknown;
    const dot = key.indexOf('.');
    if (dot > 0) {
      relName = key.slice(0, dot);
      extName = key.slice(dot + 1);
      extValue = raw;
    }
    const ref = object.relationshipsByLower.get(relName.toLowerCase());
    const unknown = {
      error: dmlError(
        'INVALID_FIELD',
        `No such column '${key}' on sobject of type ${object.name}`,
        []
      )
    };
    if (!ref) return unknown;
    if (extName === undefined) {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return unknown;
      const keys = Object.keys(raw).filter((k) => k !== 'attributes');
      if (keys.length !== 1) return unknown;
      extName = keys[0] as string;
      extValue = (raw as SfRecord)[extName];
    }
    if (isBlank(extValue)) return { field: ref, id: null };
    const targetName =
      ((raw as { attributes?: { type?: string } } | null)?.attributes?.type as
        string | undefined) ?? ref.referenceTo[0];
    const target = targetName ? this.table(targetName) : undefined;
    if (!target) return unknown;
    const extField = target.object.fieldsByLower.get(extName.toLowerCase());
    if (!extField || !(extField.externalId || extField.idLookup)) {
      return {
        error: dmlError(
          'INVALID_FIELD',
          `Field name provided, ${extName} is not an External ID or indexed field for ${target.object.name}`,
          []
        )
      };
    }
    const ids =
      extField.name === 'Id'
        ? [normalizeId(String(extValue))].filter((x): x is string => !!x && target.byId.has(x))
        : this.findBy(target, extField.name, extValue);
    if (ids.length === 0) {
      return {
        error: dmlError(
          'INVALID_FIELD',
          `Foreign key external ID: ${String(extValue)} not found for field ${extField.name} in entity ${target.object.name}`,
          []
        )
      };
    }
    if (ids.length > 1) {
      return {
        error: dmlError(
          'DUPLICATE_EXTERNAL_ID',
          `Foreign key external ID: ${String(extValue)} matched more than one record`,
          []
        )
      };
    }
    return { field: ref, id: ids[0] as string };
  }

  private checkReferences(table: Table, record: SfRecord, changed: SfRecord): DmlError | null {
    for (const name of Object.keys(changed)) {
      const f = table.object.fieldsByLower.get(name.toLowerCase());
      const value = record[name];
      if (!f || f.type !== 'reference' || isBlank(value)) continue;
      const target = this.getById(value as string);
      if (!target || !f.referenceTo.includes(target.table.object.name)) {
        if (
          !target &&
          f.referenceTo.some(
            (r) => this.table(r)?.object.keyPrefix === (value as string).slice(0, 3)
          )
        ) {
          return dmlError('INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id', [f.name]);
        }
        return dmlError(
          'FIELD_INTEGRITY_EXCEPTION',
          `${f.label}: id value of incorrect type: ${String(value)}`,
          [f.name]
        );
      }
      if (target.record.IsDeleted === true) {
        return dmlError('ENTITY_IS_DELETED', 'entity is deleted', [f.name]);
      }
    }
    return null;
  }

  private checkUnique(table: Table, record: SfRecord, old: SfRecord | null): DmlError | null {
    for (const index of table.indexes) {
      if (index.kind !== 'unique') continue;
      const value = record[index.field.name];
      if (isBlank(value)) continue;
      const holders = index.map.get(indexKey(index.field, value));
      if (!holders) continue;
      for (const holder of holders) {
        if (old && holder === old.Id) continue;
        return dmlError(
          'DUPLICATE_VALUE',
          `duplicate value found: ${index.field.name} duplicates value on record with id: ${holder.slice(0, 15)}`,
          []
        );
      }
    }
    return null;
  }

  /** Stores `next` in place of `old` (insert when old is null), keeping indexes and the undo log. */
  private put(table: Table, old: SfRecord | null, next: SfRecord | null): void {
    const id = (next ?? old)?.Id as string;
    for (const index of table.indexes) {
      const before = old && old.IsDeleted !== true ? old[index.field.name] : null;
      const after = next && next.IsDeleted !== true ? next[index.field.name] : null;
      if (before === after) continue;
      if (!isBlank(before)) removeFromIndex(index, indexKey(index.field, before), id);
      if (!isBlank(after)) addToIndex(index, indexKey(index.field, after), id);
    }
    if (next) table.byId.set(id, next);
    else table.byId.delete(id);
    this.trackPriceEntry(table, old, next);
    if (this.depth > 0) this.undoLog.push(() => this.put(table, next, old));
    if (this.replaying || !next || !this.onChange) return;
    const change = { object: table.object, old, next, origin: this.origin };
    if (this.depth > 0) this.pending.push({ position: this.undoLog.length, change });
    else this.onChange(change);
  }

  private trackPriceEntry(table: Table, old: SfRecord | null, next: SfRecord | null): void {
    if (table.object.name !== 'PricebookEntry') return;
    if (old) this.priceEntries.delete(`${String(old.Pricebook2Id)}|${String(old.Product2Id)}`);
    if (next && next.IsDeleted !== true) {
      this.priceEntries.set(
        `${String(next.Pricebook2Id)}|${String(next.Product2Id)}`,
        next.Id as string
      );
    }
  }

  private deleteCascade(table: Table, record: SfRecord): DmlError | null {
    const id = record.Id as string;
    for (const rel of table.object.childRelationships) {
      const childTable = this.table(rel.childSObject);
      if (!childTable) continue;
      const childField = childTable.object.fieldsByLower.get(rel.field.toLowerCase()) as FieldModel;
      const children = [...(this.childrenOf(childTable, rel.field, id) ?? [])];
      for (const childId of children) {
        const child = childTable.byId.get(childId) as SfRecord;
        if (childField.deleteConstraint === 'Restrict') {
          return dmlError(
            'DELETE_FAILED',
            `Your attempt to delete ${String(record.Name ?? id)} could not be completed because it is associated with the following ${childTable.object.labelPlural}.`
          );
        }
        if (childField.deleteConstraint === 'Cascade' || !childField.nillable) {
          const error = this.deleteCascade(childTable, child);
          if (error) return error;
        } else {
          this.put(childTable, child, { ...child, [rel.field]: null });
        }
      }
    }
    const deleted = { ...record, IsDeleted: true, SystemModstamp: this.now() };
    this.put(table, record, deleted);
    this.afterWrite(table, record, deleted, null);
    return null;
  }

  /** Platform behaviour of the standard objects (derived fields, price book rules). */
  private beforeWrite(table: Table, record: SfRecord, old: SfRecord | null): DmlError | null {
    switch (table.object.name) {
      case 'Contact':
      case 'User':
        record.Name = [record.FirstName, record.LastName].filter((v) => !isBlank(v)).join(' ');
        return null;
      case 'Opportunity': {
        const outcome = STAGE_OUTCOME[record.StageName as string];
        record.IsClosed = outcome?.closed ?? false;
        record.IsWon = outcome?.won ?? false;
        return null;
      }
      case 'PricebookEntry':
        return this.beforePricebookEntry(record, old);
      case 'OpportunityLineItem':
        return this.beforeLineItem(record, old);
      default:
        return null;
    }
  }

  private beforePricebookEntry(record: SfRecord, old: SfRecord | null): DmlError | null {
    const product = this.getById(String(record.Product2Id))?.record;
    const book = this.getById(String(record.Pricebook2Id))?.record;
    if (!product || !book) return null;
    record.Name = product.Name;
    record.ProductCode = product.ProductCode;
    if (old) return null;
    if (this.priceEntries.has(`${String(book.Id)}|${String(product.Id)}`)) {
      return dmlError('DUPLICATE_VALUE', 'This price definition already exists in this price book');
    }
    if (book.IsStandard !== true) {
      const standardId = this.standardPricebookId();
      const standardEntry = standardId
        ? this.priceEntries.get(`${standardId}|${String(product.Id)}`)
        : undefined;
      // "You must load the standard price for a product before … its custom price(s)" (PricebookEntry reference).
      if (!standardEntry) {
        return dmlError('STANDARD_PRICE_NOT_DEFINED', 'No standard price defined for this product');
      }
      if (record.UseStandardPrice === true) {
        record.UnitPrice = this.getById(standardEntry)?.record.UnitPrice ?? record.UnitPrice;
      }
    } else if (record.UseStandardPrice === true) {
      return dmlError(
        'FIELD_INTEGRITY_EXCEPTION',
        'field integrity exception: UseStandardPrice (standard price book entries cannot use the standard price)',
        ['UseStandardPrice']
      );
    }
    return null;
  }

  private beforeLineItem(record: SfRecord, old: SfRecord | null): DmlError | null {
    const opportunity = this.getById(String(record.OpportunityId))?.record;
    if (!opportunity) return null;
    if (!old) {
      let entryId = record.PricebookEntryId as string | null;
      if (!entryId && record.Product2Id) {
        const book = (opportunity.Pricebook2Id as string | null) ?? this.standardPricebookId();
        entryId = this.priceEntries.get(`${String(book)}|${String(record.Product2Id)}`) ?? null;
      }
      const entry = entryId ? this.getById(entryId)?.record : undefined;
      if (!entry) {
        return dmlError(
          'REQUIRED_FIELD_MISSING',
          'Required fields are missing: [PricebookEntryId]',
          ['PricebookEntryId']
        );
      }
      if (opportunity.Pricebook2Id && opportunity.Pricebook2Id !== entry.Pricebook2Id) {
        return dmlError(
          'FIELD_INTEGRITY_EXCEPTION',
          'field integrity exception: PricebookEntryId (pricebook entry is in a different pricebook than the one assigned to the opportunity)',
          ['PricebookEntryId']
        );
      }
      record.PricebookEntryId = entry.Id;
      record.Product2Id = entry.Product2Id;
      record.ListPrice = entry.UnitPrice;
      record.ProductCode = entry.ProductCode;
      record.Name = `${String(opportunity.Name)} ${String(entry.Name)}`;
      if (!isBlank(record.UnitPrice) && !isBlank(record.TotalPrice)) {
        return dmlError(
          'FIELD_INTEGRITY_EXCEPTION',
          'field integrity exception: TotalPrice (cannot specify both UnitPrice and TotalPrice)',
          ['TotalPrice']
        );
      }
    }
    const quantity = record.Quantity as number;
    if (isBlank(record.UnitPrice) && !isBlank(record.TotalPrice) && quantity) {
      record.UnitPrice = Math.round(((record.TotalPrice as number) / quantity) * 100) / 100;
    }
    if (isBlank(record.UnitPrice)) {
      return dmlError(
        'FIELD_INTEGRITY_EXCEPTION',
        'field integrity exception: unknown (must specify either TotalPrice or UnitPrice)'
      );
    }
    const discount = (record.Discount as number | null) ?? 0;
    record.TotalPrice =
      Math.round(quantity * (record.UnitPrice as number) * (1 - discount / 100) * 100) / 100;
    return null;
  }

  private afterWrite(
    table: Table,
    old: SfRecord | null,
    next: SfRecord,
    ctx: DmlContext | null
  ): void {
    if (table.object.name !== 'OpportunityLineItem') return;
    const opportunityId = (next.OpportunityId ?? old?.OpportunityId) as string;
    const opportunities = this.table('Opportunity') as Table;
    const opportunity = opportunities.byId.get(opportunityId);
    if (!opportunity || opportunity.IsDeleted === true) return;
    const lines = [...(this.childrenOf(table, 'OpportunityId', opportunityId) ?? [])]
      .map((id) => table.byId.get(id) as SfRecord)
      .filter((r) => r.IsDeleted !== true);
    const amount = lines.reduce((sum, r) => sum + ((r.TotalPrice as number) ?? 0), 0);
    const entry = lines[0] ? this.getById(String(lines[0].PricebookEntryId))?.record : undefined;
    this.put(opportunities, opportunity, {
      ...opportunity,
      Amount: lines.length > 0 ? Math.round(amount * 100) / 100 : opportunity.Amount,
      HasOpportunityLineItem: lines.length > 0,
      Pricebook2Id: opportunity.Pricebook2Id ?? entry?.Pricebook2Id ?? null,
      LastModifiedById: ctx?.userId ?? opportunity.LastModifiedById
    });
  }

  standardPricebookId(): string | null {
    const books = this.table('Pricebook2');
    if (!books) return null;
    for (const book of books.byId.values()) {
      if (book.IsStandard === true && book.IsDeleted !== true) return book.Id as string;
    }
    return null;
  }
}

export function isBlank(value: unknown): boolean {
  return value === null || value === undefined || value === '';
}

export function indexKey(f: FieldModel, value: unknown): string {
  if (f.type === 'reference' || f.type === 'id') return normalizeId(String(value)) ?? String(value);
  const text = String(value);
  return f.caseSensitive ? text : text.toLowerCase();
}

function addToIndex(index: Index, key: string, id: string): void {
  const set = index.map.get(key);
  if (set) set.add(id);
  else index.map.set(key, new Set([id]));
}

function removeFromIndex(index: Index, key: string, id: string): void {
  const set = index.map.get(key);
  if (!set) return;
  set.delete(id);
  if (set.size === 0) index.map.delete(key);
}

/** `INV-{00000}` → `INV-00042`; `{YYYY}`, `{YY}`, `{MM}`, `{DD}` from the creation date. */
function formatAutoNumber(format: string | null, n: number, now: number): string {
  const d = new Date(now);
  return (format ?? '{0}')
    .replace(/\{(0+)\}/, (_, zeros: string) => String(n).padStart(zeros.length, '0'))
    .replace('{YYYY}', String(d.getUTCFullYear()))
    .replace('{YY}', String(d.getUTCFullYear()).slice(2))
    .replace('{MM}', String(d.getUTCMonth() + 1).padStart(2, '0'))
    .replace('{DD}', String(d.getUTCDate()).padStart(2, '0'));
}
