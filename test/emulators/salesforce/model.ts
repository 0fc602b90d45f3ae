/** The emulator's object model: what describe returns and what DML, SOQL and Bulk validate against. */

export type FieldType =
  | 'id'
  | 'string'
  | 'textarea'
  | 'boolean'
  | 'double'
  | 'int'
  | 'currency'
  | 'percent'
  | 'date'
  | 'datetime'
  | 'time'
  | 'email'
  | 'phone'
  | 'url'
  | 'picklist'
  | 'multipicklist'
  | 'reference'
  | 'encryptedstring';

export interface PicklistEntry {
  value: string;
  label: string;
  defaultValue: boolean;
  active: boolean;
}

export interface FieldModel {
  name: string;
  label: string;
  type: FieldType;
  /** Metadata API type (`Text`, `LongTextArea`…) for custom fields; used for platform event schemas. */
  metadataType: string | null;
  length: number;
  precision: number;
  scale: number;
  digits: number;
  nillable: boolean;
  createable: boolean;
  updateable: boolean;
  defaultedOnCreate: boolean;
  defaultValue: unknown;
  externalId: boolean;
  unique: boolean;
  caseSensitive: boolean;
  idLookup: boolean;
  picklistValues: PicklistEntry[];
  restrictedPicklist: boolean;
  referenceTo: string[];
  relationshipName: string | null;
  /** Custom lookups: the parent's name for the children (metadata `relationshipName` + `__r`). */
  childRelationshipName: string | null;
  deleteConstraint: 'SetNull' | 'Restrict' | 'Cascade' | null;
  calculated: boolean;
  autoNumber: boolean;
  autoNumberFormat: string | null;
  custom: boolean;
  nameField: boolean;
}

export interface ChildRelationship {
  childSObject: string;
  field: string;
  relationshipName: string;
  cascadeDelete: boolean;
}

export type ObjectKind = 'standard' | 'custom' | 'event' | 'metadata';

export interface ObjectModel {
  name: string;
  label: string;
  labelPlural: string;
  keyPrefix: string;
  kind: ObjectKind;
  fields: FieldModel[];
  fieldsByLower: Map<string, FieldModel>;
  /** Reference fields by lower-cased relationship name (`account` → AccountId). */
  relationshipsByLower: Map<string, FieldModel>;
  childRelationships: ChildRelationship[];
  childRelationshipsByLower: Map<string, ChildRelationship>;
  /** Unique or External ID fields that get an index in the store. */
  indexedFields: FieldModel[];
  requiredOnCreate: FieldModel[];
  hasOwner: boolean;
}

export interface OrgModel {
  objects: Map<string, ObjectModel>;
  byKeyPrefix: Map<string, ObjectModel>;
}

export function field(
  partial: Partial<FieldModel> & Pick<FieldModel, 'name' | 'type'>
): FieldModel {
  const type = partial.type;
  const isBoolean = type === 'boolean';
  return {
    label: partial.name.replace(/__c$/, '').replace(/_/g, ' '),
    metadataType: null,
    length: 0,
    precision: 0,
    scale: 0,
    digits: 0,
    nillable: !isBoolean,
    createable: true,
    updateable: true,
    defaultedOnCreate: isBoolean,
    defaultValue: isBoolean ? false : null,
    externalId: false,
    unique: false,
    caseSensitive: false,
    idLookup: false,
    picklistValues: [],
    restrictedPicklist: false,
    referenceTo: [],
    relationshipName: null,
    childRelationshipName: null,
    deleteConstraint: null,
    calculated: false,
    autoNumber: false,
    autoNumberFormat: null,
    custom: partial.name.endsWith('__c'),
    nameField: false,
    ...partial
  };
}

export function picklist(values: string[], defaultValue?: string): PicklistEntry[] {
  return values.map((value) => ({
    value,
    label: value,
    defaultValue: value === defaultValue,
    active: true
  }));
}

/** Builds the lookup maps of one object once its fields are known. */
export function finishObject(
  base: Pick<ObjectModel, 'name' | 'label' | 'labelPlural' | 'keyPrefix' | 'kind' | 'fields'>
): ObjectModel {
  const fieldsByLower = new Map<string, FieldModel>();
  const relationshipsByLower = new Map<string, FieldModel>();
  for (const f of base.fields) {
    fieldsByLower.set(f.name.toLowerCase(), f);
    if (f.relationshipName) relationshipsByLower.set(f.relationshipName.toLowerCase(), f);
  }
  return {
    ...base,
    fieldsByLower,
    relationshipsByLower,
    childRelationships: [],
    childRelationshipsByLower: new Map(),
    indexedFields: base.fields.filter((f) => f.unique || f.externalId || f.idLookup),
    requiredOnCreate: base.fields.filter(
      (f) => f.createable && !f.nillable && !f.defaultedOnCreate && f.type !== 'boolean'
    ),
    hasOwner: fieldsByLower.has('ownerid')
  };
}

/** Links child relationships (Account.Contacts …) once every object is known. */
export function linkModel(objects: ObjectModel[]): OrgModel {
  const byName = new Map<string, ObjectModel>();
  const byKeyPrefix = new Map<string, ObjectModel>();
  for (const o of objects) {
    byName.set(o.name.toLowerCase(), o);
    byKeyPrefix.set(o.keyPrefix, o);
  }
  for (const child of objects) {
    for (const f of child.fields) {
      if (f.type !== 'reference' || !f.relationshipName) continue;
      const childName =
        CHILD_RELATIONSHIP_NAMES[`${child.name}.${f.name}`] ?? f.childRelationshipName;
      if (!childName) continue;
      for (const target of f.referenceTo) {
        const parent = byName.get(target.toLowerCase());
        if (!parent) continue;
        const rel: ChildRelationship = {
          childSObject: child.name,
          field: f.name,
          relationshipName: childName,
          cascadeDelete: f.deleteConstraint === 'Cascade'
        };
        parent.childRelationships.push(rel);
        parent.childRelationshipsByLower.set(childName.toLowerCase(), rel);
      }
    }
  }
  return { objects: byName, byKeyPrefix };
}

/** Standard child relationship names, from the standard object reference. */
const CHILD_RELATIONSHIP_NAMES: Record<string, string> = {
  'Contact.AccountId': 'Contacts',
  'Opportunity.AccountId': 'Opportunities',
  'OpportunityLineItem.OpportunityId': 'OpportunityLineItems',
  'PricebookEntry.Product2Id': 'PricebookEntries',
  'PricebookEntry.Pricebook2Id': 'PricebookEntries',
  'Account.ParentId': 'ChildAccounts'
};
