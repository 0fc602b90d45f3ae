/** Describe results (global, basic info, per object) built once per object from the model. */
import type { FieldModel, ObjectModel, OrgModel } from './model.ts';

const SOAP_TYPES: Record<string, string> = {
  id: 'tns:ID',
  reference: 'tns:ID',
  boolean: 'xsd:boolean',
  double: 'xsd:double',
  currency: 'xsd:double',
  percent: 'xsd:double',
  int: 'xsd:int',
  date: 'xsd:date',
  datetime: 'xsd:dateTime',
  time: 'xsd:time'
};

const cache = new WeakMap<ObjectModel, Record<string, unknown>>();

function objectFlags(o: ObjectModel): Record<string, unknown> {
  const isEvent = o.kind === 'event';
  const readOnly = isEvent || o.kind === 'metadata';
  return {
    activateable: false,
    createable: o.kind !== 'metadata',
    custom: o.kind !== 'standard',
    customSetting: false,
    deletable: !readOnly,
    deprecatedAndHidden: false,
    feedEnabled: false,
    hasSubtypes: false,
    isSubtype: false,
    keyPrefix: o.keyPrefix,
    label: o.label,
    labelPlural: o.labelPlural,
    layoutable: !isEvent,
    mergeable: o.name === 'Account' || o.name === 'Contact',
    mruEnabled: !isEvent,
    name: o.name,
    queryable: !isEvent,
    replicateable: !isEvent,
    retrieveable: !isEvent,
    searchable: !isEvent,
    triggerable: true,
    undeletable: !isEvent,
    updateable: !readOnly
  };
}

export function objectUrls(o: ObjectModel, version: string): Record<string, string> {
  const base = `/services/data/v${version}/sobjects/${o.name}`;
  return { sobject: base, describe: `${base}/describe`, rowTemplate: `${base}/{ID}` };
}

export function globalDescribe(model: OrgModel, version: string): Record<string, unknown> {
  return {
    encoding: 'UTF-8',
    maxBatchSize: 200,
    sobjects: [...model.objects.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((o) => ({ ...objectFlags(o), urls: objectUrls(o, version) }))
  };
}

export function basicInfo(o: ObjectModel, version: string): Record<string, unknown> {
  return { objectDescribe: { ...objectFlags(o), urls: objectUrls(o, version) }, recentItems: [] };
}

function describeField(f: FieldModel): Record<string, unknown> {
  const numeric = ['double', 'currency', 'percent'].includes(f.type);
  const textual = !numeric && !['boolean', 'int', 'date', 'datetime', 'time'].includes(f.type);
  return {
    autoNumber: f.autoNumber,
    byteLength: textual ? f.length * 3 : 0,
    calculated: f.calculated,
    caseSensitive: f.caseSensitive,
    createable: f.createable,
    custom: f.custom,
    defaultValue: f.type === 'boolean' ? f.defaultValue : null,
    defaultedOnCreate: f.defaultedOnCreate,
    digits: f.type === 'int' ? f.digits : 0,
    externalId: f.externalId,
    filterable: !(f.type === 'textarea' && f.length > 255),
    groupable: !['double', 'currency', 'percent', 'datetime', 'textarea'].includes(f.type),
    idLookup: f.idLookup || f.type === 'id',
    label: f.label,
    length: textual ? f.length : 0,
    name: f.name,
    nameField: f.nameField,
    nillable: f.nillable,
    picklistValues: f.picklistValues.map((p) => ({
      active: p.active,
      defaultValue: p.defaultValue,
      label: p.label,
      validFor: null,
      value: p.value
    })),
    precision: numeric ? f.precision : 0,
    referenceTo: f.referenceTo,
    relationshipName: f.relationshipName,
    restrictedPicklist: f.restrictedPicklist,
    scale: numeric ? f.scale : 0,
    soapType: SOAP_TYPES[f.type] ?? 'xsd:string',
    sortable: !(f.type === 'textarea' && f.length > 255),
    type: f.type,
    unique: f.unique,
    updateable: f.updateable
  };
}

export function describeObject(o: ObjectModel, version: string): Record<string, unknown> {
  let body = cache.get(o);
  if (!body) {
    body = {
      ...objectFlags(o),
      childRelationships: o.childRelationships.map((r) => ({
        cascadeDelete: r.cascadeDelete,
        childSObject: r.childSObject,
        deprecatedAndHidden: false,
        field: r.field,
        relationshipName: r.relationshipName
      })),
      fields: o.fields.map(describeField),
      recordTypeInfos: []
    };
    cache.set(o, body);
  }
  return { ...body, urls: objectUrls(o, version) };
}
