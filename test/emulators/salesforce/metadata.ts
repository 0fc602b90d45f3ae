/**
 * Reads the project's own SFDX source (`force-app/**​/objects/…`) into the emulator's object model, so
 * the emulator follows the package without edits: custom objects, custom fields on standard objects,
 * platform events (`__e`) and global value sets.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { keyPrefixAt } from './ids.ts';
import { field, finishObject, linkModel } from './model.ts';
import type { FieldModel, FieldType, OrgModel, PicklistEntry } from './model.ts';
import { standardObjects, systemFields } from './standard-objects.ts';
import type { ObjectSeed } from './standard-objects.ts';
import type { PlatformEventDefinition, PlatformEventField } from './pubsub/types.ts';

/** One custom metadata record (`customMetadata/<Type>.<Name>.md-meta.xml`), field values as text. */
export interface MetadataRecord {
  object: string;
  developerName: string;
  label: string;
  values: Record<string, string | null>;
}

export interface LoadedModel {
  model: OrgModel;
  platformEvents: PlatformEventDefinition[];
  metadataRecords: MetadataRecord[];
  /** Metadata the emulator could not use (an object it has no built-in model for, …). */
  warnings: string[];
}

type Xml = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  isArray: (name) => ['fields', 'value', 'values', 'customValue', 'referenceTo'].includes(name)
});

interface ObjectSource {
  name: string;
  object: Xml | null;
  fields: Xml[];
}

export function loadModel(projectDir: string): LoadedModel {
  const warnings: string[] = [];
  const sources = new Map<string, ObjectSource>();
  const globalValueSets = new Map<string, PicklistEntry[]>();
  const metadataRecords: MetadataRecord[] = [];
  const directories = packageDirectories(projectDir);
  if (directories.length === 0) {
    warnings.push(`no package directory (sfdx-project.json or force-app) under ${projectDir}`);
  }
  for (const dir of directories) {
    walk(dir, (path, name) => {
      if (name === 'objects') collectObjects(path, sources);
      if (name === 'globalValueSets') collectGlobalValueSets(path, globalValueSets);
      if (name === 'customMetadata') collectMetadataRecords(path, metadataRecords);
    });
  }

  const seeds = standardObjects();
  const seedByName = new Map(seeds.map((s) => [s.name, s]));
  const customNames = [...sources.keys()].filter((n) => n.endsWith('__c')).sort();
  const eventNames = [...sources.keys()].filter((n) => n.endsWith('__e')).sort();

  for (const source of sources.values()) {
    const seed = seedByName.get(source.name);
    if (!seed) continue;
    for (const xml of source.fields) seed.fields.push(toField(xml, globalValueSets));
  }
  customNames.forEach((name, i) => {
    seeds.push(
      customObjectSeed(sources.get(name) as ObjectSource, keyPrefixAt('a', i), globalValueSets)
    );
  });
  const platformEvents: PlatformEventDefinition[] = [];
  eventNames.forEach((name, i) => {
    const seed = eventSeed(sources.get(name) as ObjectSource, keyPrefixAt('e', i), globalValueSets);
    seeds.push(seed);
    platformEvents.push(eventDefinition(seed, warnings));
  });
  const metadataNames = [...sources.keys()].filter((n) => n.endsWith('__mdt')).sort();
  metadataNames.forEach((name, i) => {
    seeds.push(
      metadataSeed(sources.get(name) as ObjectSource, keyPrefixAt('m', i), globalValueSets)
    );
  });
  for (const name of sources.keys()) {
    if (!seedByName.has(name) && !/__(c|e|mdt)$/.test(name)) {
      warnings.push(`object ${name}: not modelled by the emulator (no built-in model)`);
    }
  }
  const known = new Set(metadataNames);
  for (const r of metadataRecords) {
    if (!known.has(r.object))
      warnings.push(`custom metadata record ${r.object}.${r.developerName}: no such type`);
  }
  return {
    model: linkModel(seeds.map(finishObject)),
    platformEvents,
    metadataRecords: metadataRecords.filter((r) => known.has(r.object)),
    warnings
  };
}

function collectMetadataRecords(dir: string, records: MetadataRecord[]): void {
  for (const file of readdirSync(dir).sort()) {
    const m = /^([^.]+)\.(.+)\.md-meta\.xml$/.exec(file);
    if (!m) continue;
    const xml = readXml(join(dir, file), 'CustomMetadata');
    const values: Record<string, string | null> = {};
    for (const v of (xml.values as Xml[] | undefined) ?? []) {
      // `<value xsi:nil="true"/>` parses as an empty string: the field is null.
      const raw = (v.value as unknown[] | undefined)?.[0];
      values[String(v.field)] = raw === undefined || raw === '' ? null : String(raw);
    }
    records.push({
      object: `${m[1]}__mdt`,
      developerName: m[2] as string,
      label: str(xml.label) ?? (m[2] as string),
      values
    });
  }
}

function packageDirectories(projectDir: string): string[] {
  const projectFile = join(projectDir, 'sfdx-project.json');
  if (existsSync(projectFile)) {
    const project = JSON.parse(readFileSync(projectFile, 'utf8')) as {
      packageDirectories?: { path: string }[];
    };
    const dirs = (project.packageDirectories ?? []).map((p) => join(projectDir, p.path));
    if (dirs.length > 0) return dirs.filter((d) => existsSync(d));
  }
  const fallback = join(projectDir, 'force-app');
  return existsSync(fallback) ? [fallback] : [];
}

function walk(dir: string, visit: (path: string, name: string) => void): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const path = join(dir, entry.name);
    visit(path, entry.name);
    walk(path, visit);
  }
}

function readXml(path: string, root: string): Xml {
  const doc = parser.parse(readFileSync(path, 'utf8')) as Xml;
  return (doc[root] ?? {}) as Xml;
}

function collectObjects(objectsDir: string, sources: Map<string, ObjectSource>): void {
  for (const name of readdirSync(objectsDir)) {
    const dir = join(objectsDir, name);
    if (!statSync(dir).isDirectory()) continue;
    const source = sources.get(name) ?? { name, object: null, fields: [] };
    const objectFile = join(dir, `${name}.object-meta.xml`);
    if (existsSync(objectFile)) {
      source.object = readXml(objectFile, 'CustomObject');
      // Metadata API style: fields inline in the object file.
      for (const f of (source.object.fields as Xml[] | undefined) ?? []) source.fields.push(f);
    }
    const fieldsDir = join(dir, 'fields');
    if (existsSync(fieldsDir)) {
      for (const file of readdirSync(fieldsDir).sort()) {
        if (file.endsWith('.field-meta.xml')) {
          source.fields.push(readXml(join(fieldsDir, file), 'CustomField'));
        }
      }
    }
    sources.set(name, source);
  }
}

function collectGlobalValueSets(dir: string, sets: Map<string, PicklistEntry[]>): void {
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.globalValueSet-meta.xml')) continue;
    const xml = readXml(join(dir, file), 'GlobalValueSet');
    const values = ((xml.customValue as Xml[] | undefined) ?? []).map((v) => picklistEntry(v));
    sets.set(file.replace('.globalValueSet-meta.xml', ''), values);
  }
}

function picklistEntry(v: Xml): PicklistEntry {
  const value = String(v.fullName);
  return {
    value,
    label: v.label === undefined ? value : String(v.label),
    defaultValue: v.default === 'true',
    active: v.isActive !== 'false'
  };
}

const str = (v: unknown): string | undefined => (v === undefined ? undefined : String(v));
const num = (v: unknown, fallback: number): number =>
  v === undefined || v === '' ? fallback : Number(v);

/** Metadata API field type → describe `type`, with the describe length for fixed-size types. */
const TYPE_MAP: Record<string, { type: FieldType; length?: number }> = {
  Text: { type: 'string' },
  TextArea: { type: 'textarea', length: 255 },
  LongTextArea: { type: 'textarea' },
  Html: { type: 'textarea' },
  EncryptedText: { type: 'encryptedstring' },
  Number: { type: 'double' },
  Currency: { type: 'currency' },
  Percent: { type: 'percent' },
  Checkbox: { type: 'boolean' },
  Date: { type: 'date' },
  DateTime: { type: 'datetime' },
  Time: { type: 'time' },
  Email: { type: 'email', length: 80 },
  Phone: { type: 'phone', length: 40 },
  Url: { type: 'url', length: 255 },
  Picklist: { type: 'picklist', length: 255 },
  MultiselectPicklist: { type: 'multipicklist', length: 4099 },
  Lookup: { type: 'reference', length: 18 },
  MasterDetail: { type: 'reference', length: 18 },
  Hierarchy: { type: 'reference', length: 18 },
  AutoNumber: { type: 'string', length: 30 },
  Summary: { type: 'double' }
};

function toField(xml: Xml, globalValueSets: Map<string, PicklistEntry[]>): FieldModel {
  const name = String(xml.fullName);
  const metadataType = String(xml.type ?? 'Text');
  const mapped = TYPE_MAP[metadataType] ?? { type: 'string' as FieldType };
  const isFormula = xml.formula !== undefined;
  const calculated = isFormula || metadataType === 'Summary';
  const required = xml.required === 'true';
  const masterDetail = metadataType === 'MasterDetail';
  const autoNumber = metadataType === 'AutoNumber';
  const precision = num(xml.precision, 0);
  const scale = num(xml.scale, 0);
  const values = picklistValues(xml, globalValueSets);
  const isBoolean = mapped.type === 'boolean';
  const defaultValue = isBoolean
    ? xml.defaultValue === 'true'
    : (values.find((v) => v.defaultValue)?.value ?? literalDefault(str(xml.defaultValue)));
  const readOnly = calculated || autoNumber;
  const referenceTo =
    metadataType === 'Hierarchy' ? ['User'] : ((xml.referenceTo as string[] | undefined) ?? []);
  return field({
    name,
    type: mapped.type,
    metadataType,
    label: str(xml.label) ?? name,
    length: mapped.length ?? num(xml.length, mapped.type === 'string' ? 255 : 0),
    precision,
    scale,
    nillable: isBoolean ? false : !(required || masterDetail),
    createable: !readOnly,
    updateable: !readOnly && (!masterDetail || xml.reparentableMasterDetail === 'true'),
    defaultedOnCreate:
      isBoolean || autoNumber || (defaultValue !== null && defaultValue !== undefined),
    defaultValue: defaultValue ?? null,
    externalId: xml.externalId === 'true',
    unique: xml.unique === 'true',
    caseSensitive: xml.caseSensitive === 'true',
    idLookup: xml.externalId === 'true' || autoNumber,
    picklistValues: values,
    restrictedPicklist:
      values.length > 0 &&
      ((xml.valueSet as Xml | undefined)?.restricted === 'true' ||
        (xml.valueSet as Xml | undefined)?.valueSetName !== undefined),
    referenceTo,
    relationshipName: referenceTo.length > 0 ? name.replace(/__c$/, '__r') : null,
    childRelationshipName:
      referenceTo.length > 0 && xml.relationshipName !== undefined
        ? `${String(xml.relationshipName)}__r`
        : null,
    deleteConstraint: masterDetail
      ? 'Cascade'
      : referenceTo.length > 0
        ? ((str(xml.deleteConstraint) as FieldModel['deleteConstraint']) ?? 'SetNull')
        : null,
    calculated,
    autoNumber,
    autoNumberFormat: str(xml.displayFormat) ?? null,
    custom: true
  });
}

/** Only literal defaults are applied; formula defaults (TODAY() …) need a formula engine the emulator does not have. */
function literalDefault(raw: string | undefined): unknown {
  if (raw === undefined) return null;
  const quoted = /^"(.*)"$/s.exec(raw) ?? /^'(.*)'$/s.exec(raw);
  if (quoted) return quoted[1];
  return /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : null;
}

function picklistValues(xml: Xml, globalValueSets: Map<string, PicklistEntry[]>): PicklistEntry[] {
  const valueSet = xml.valueSet as Xml | undefined;
  if (!valueSet) return [];
  if (valueSet.valueSetName !== undefined) {
    return globalValueSets.get(String(valueSet.valueSetName)) ?? [];
  }
  const definition = valueSet.valueSetDefinition as Xml | undefined;
  return ((definition?.value as Xml[] | undefined) ?? []).map((v) => picklistEntry(v));
}

function customObjectSeed(
  source: ObjectSource,
  keyPrefix: string,
  globalValueSets: Map<string, PicklistEntry[]>
): ObjectSeed {
  const meta = source.object ?? {};
  const customFields = source.fields.map((f) => toField(f, globalValueSets));
  const isDetail = customFields.some((f) => f.metadataType === 'MasterDetail');
  const nameField = (meta.nameField as Xml | undefined) ?? {};
  const autoNumberName = nameField.type === 'AutoNumber';
  const name = field({
    name: 'Name',
    type: 'string',
    length: autoNumberName ? 30 : 80,
    label: str(nameField.label) ?? 'Name',
    nameField: true,
    nillable: autoNumberName,
    createable: !autoNumberName,
    updateable: !autoNumberName,
    defaultedOnCreate: autoNumberName,
    autoNumber: autoNumberName,
    autoNumberFormat: str(nameField.displayFormat) ?? null,
    idLookup: true
  });
  return {
    name: source.name,
    label: str(meta.label) ?? source.name.replace(/__c$/, '').replace(/_/g, ' '),
    labelPlural: str(meta.pluralLabel) ?? source.name,
    keyPrefix,
    kind: 'custom',
    fields: [...systemFields(!isDetail), name, ...customFields]
  };
}

/** Custom metadata types are readable through the data APIs but not writable (Metadata API only). */
function metadataSeed(
  source: ObjectSource,
  keyPrefix: string,
  globalValueSets: Map<string, PicklistEntry[]>
): ObjectSeed {
  const meta = source.object ?? {};
  const readOnly = { createable: false, updateable: false };
  const text = (name: string, length: number) =>
    field({ name, type: 'string', length, ...readOnly, idLookup: name === 'DeveloperName' });
  return {
    name: source.name,
    label: str(meta.label) ?? source.name,
    labelPlural: str(meta.pluralLabel) ?? source.name,
    keyPrefix,
    kind: 'metadata',
    fields: [
      field({ name: 'Id', type: 'id', length: 18, nillable: false, ...readOnly, idLookup: true }),
      text('DeveloperName', 40),
      text('MasterLabel', 40),
      text('Label', 40),
      text('NamespacePrefix', 15),
      text('QualifiedApiName', 70),
      ...source.fields.map((f) => ({ ...toField(f, globalValueSets), ...readOnly }))
    ]
  };
}

function eventSeed(
  source: ObjectSource,
  keyPrefix: string,
  globalValueSets: Map<string, PicklistEntry[]>
): ObjectSeed {
  const meta = source.object ?? {};
  const readOnly = { createable: false, updateable: false };
  return {
    name: source.name,
    label: str(meta.label) ?? source.name,
    labelPlural: str(meta.pluralLabel) ?? source.name,
    keyPrefix,
    kind: 'event',
    fields: [
      field({ name: 'ReplayId', type: 'string', length: 255, ...readOnly }),
      field({ name: 'EventUuid', type: 'string', length: 36, ...readOnly }),
      field({ name: 'CreatedDate', type: 'datetime', ...readOnly, defaultedOnCreate: true }),
      field({
        name: 'CreatedById',
        type: 'reference',
        length: 18,
        referenceTo: ['User'],
        relationshipName: 'CreatedBy',
        ...readOnly,
        defaultedOnCreate: true
      }),
      ...source.fields.map((f) => toField(f, globalValueSets))
    ]
  };
}

const EVENT_FIELD_TYPES = new Set<string>([
  'Text',
  'TextArea',
  'LongTextArea',
  'Number',
  'Checkbox',
  'Date',
  'DateTime',
  'Email',
  'Phone',
  'Url',
  'Picklist'
]);

function eventDefinition(seed: ObjectSeed, warnings: string[]): PlatformEventDefinition {
  const fields: PlatformEventField[] = [];
  for (const f of seed.fields) {
    if (!f.custom || !f.metadataType) continue;
    if (!EVENT_FIELD_TYPES.has(f.metadataType)) {
      warnings.push(
        `${seed.name}.${f.name}: type ${f.metadataType} is not a platform event field type`
      );
      continue;
    }
    fields.push({
      apiName: f.name,
      type: f.metadataType as PlatformEventField['type'],
      ...(f.length ? { length: f.length } : {}),
      ...(f.metadataType === 'Number' ? { precision: f.precision, scale: f.scale } : {})
    });
  }
  return { apiName: seed.name, fields };
}
