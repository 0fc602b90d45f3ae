// Offline checks of force-app/ against what the rest of the product relies on. Pure functions over files:
// each returns the list of problems found (empty = pass), so they are unit-tested without Java or the sf CLI.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';

export interface ContractField {
  object: string;
  field: string;
  type: string;
  length?: number;
  precision?: number;
  scale?: number;
  externalId?: boolean;
  unique?: boolean;
  caseSensitive?: boolean;
  referenceTo?: string;
  relationshipName?: string;
  values?: string[];
  restricted?: boolean;
}

export interface ContractObject {
  name: string;
  kind: 'CustomObject' | 'CustomMetadataType' | 'PlatformEvent';
  nameFieldType?: string;
  eventType?: string;
  publishBehavior?: string;
}

export interface RelayContract {
  objects: ContractObject[];
  fields: ContractField[];
  customMetadataRecords: { type: string; name: string }[];
  namedCredentials: { name: string; type: string; externalCredential: string }[];
  externalCredentials: {
    name: string;
    protocol: string;
    principal: string;
    authHeader: string;
    authParameter: string;
  }[];
  apexMethods: { class: string; method: string; cacheable: boolean }[];
}

type Xml = Record<string, unknown>;

const xml = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  isArray: (name) =>
    [
      'value',
      'namedCredentialParameters',
      'externalCredentialParameters',
      'types',
      'members'
    ].includes(name)
});

/** Every file below `dir`, as absolute paths. */
export function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

function readXml(file: string, root: string): Xml {
  const parsed = xml.parse(readFileSync(file, 'utf8')) as Xml;
  return (parsed[root] as Xml | undefined) ?? {};
}

function text(value: unknown): string | undefined {
  return value === undefined || value === null ? undefined : String(value);
}

/** Source files of a package directory indexed the way checks look them up. */
export interface SourceIndex {
  fieldFiles: Map<string, string>; // "Object.Field" -> file
  objectFiles: Map<string, string>; // "Object" -> file (only objects with an .object-meta.xml)
  files: string[];
}

export function indexSource(packageDir: string): SourceIndex {
  const files = listFiles(packageDir);
  const fieldFiles = new Map<string, string>();
  const objectFiles = new Map<string, string>();
  for (const file of files) {
    const field = /[\\/]objects[\\/]([^\\/]+)[\\/]fields[\\/]([^\\/]+)\.field-meta\.xml$/.exec(
      file
    );
    if (field) fieldFiles.set(`${field[1]}.${field[2]}`, file);
    const object = /[\\/]objects[\\/]([^\\/]+)[\\/]([^\\/]+)\.object-meta\.xml$/.exec(file);
    if (object?.[1] && object[1] === object[2]) objectFiles.set(object[1], file);
  }
  return { fieldFiles, objectFiles, files };
}

function checkField(expected: ContractField, file: string): string[] {
  const actual = readXml(file, 'CustomField');
  const where = `${expected.object}.${expected.field}`;
  const problems: string[] = [];
  const compare = (name: string, want: unknown, got: string | undefined, fallback?: string) => {
    if (want === undefined) return;
    const value = got ?? fallback;
    if (String(want) !== value) {
      problems.push(
        `${where}: ${name} is ${value ?? '(not set)'}, the contract needs ${String(want)}`
      );
    }
  };
  compare('type', expected.type, text(actual.type));
  compare('length', expected.length, text(actual.length));
  compare('precision', expected.precision, text(actual.precision));
  compare('scale', expected.scale, text(actual.scale));
  compare('externalId', expected.externalId ?? false, text(actual.externalId), 'false');
  compare('unique', expected.unique ?? false, text(actual.unique), 'false');
  if (expected.unique)
    compare('caseSensitive', expected.caseSensitive ?? false, text(actual.caseSensitive), 'false');
  compare('referenceTo', expected.referenceTo, text(actual.referenceTo));
  compare('relationshipName', expected.relationshipName, text(actual.relationshipName));
  if (expected.values) {
    const valueSet = (actual.valueSet as Xml | undefined) ?? {};
    const definition = (valueSet.valueSetDefinition as Xml | undefined) ?? {};
    const values = ((definition.value as Xml[] | undefined) ?? []).map((v) => text(v.fullName));
    const missing = expected.values.filter((v) => !values.includes(v));
    const extra = values.filter((v) => v !== undefined && !expected.values?.includes(v));
    if (missing.length > 0) problems.push(`${where}: picklist lacks ${missing.join(', ')}`);
    if (extra.length > 0)
      problems.push(
        `${where}: picklist has values the contract does not list: ${extra.join(', ')}`
      );
    compare('restricted', expected.restricted ?? false, text(valueSet.restricted), 'false');
  }
  return problems;
}

function checkObject(expected: ContractObject, index: SourceIndex): string[] {
  const file = index.objectFiles.get(expected.name);
  if (!file) return [`${expected.name}: object is missing (no ${expected.name}.object-meta.xml)`];
  const actual = readXml(file, 'CustomObject');
  const problems: string[] = [];
  if (expected.kind === 'PlatformEvent') {
    for (const key of ['eventType', 'publishBehavior'] as const) {
      if (text(actual[key]) !== expected[key]) {
        problems.push(
          `${expected.name}: ${key} is ${text(actual[key]) ?? '(not set)'}, the contract needs ${expected[key]}`
        );
      }
    }
  }
  if (expected.nameFieldType) {
    const nameField = (actual.nameField as Xml | undefined) ?? {};
    if (text(nameField.type) !== expected.nameFieldType) {
      problems.push(
        `${expected.name}: name field type is ${text(nameField.type) ?? '(not set)'}, the contract needs ${expected.nameFieldType}`
      );
    }
  }
  return problems;
}

function findFile(index: SourceIndex, suffix: string): string | undefined {
  return index.files.find(
    (file) => file.endsWith(path.sep + suffix) || file.endsWith('/' + suffix)
  );
}

/** Everything in the relay contract exists in the package directory with the promised shape. */
export function checkContract(packageDir: string, contract: RelayContract): string[] {
  const index = indexSource(packageDir);
  const problems: string[] = [];
  for (const object of contract.objects) problems.push(...checkObject(object, index));
  for (const field of contract.fields) {
    const file = index.fieldFiles.get(`${field.object}.${field.field}`);
    if (!file) problems.push(`${field.object}.${field.field}: field is missing`);
    else problems.push(...checkField(field, file));
  }
  for (const record of contract.customMetadataRecords) {
    const typeName = record.type.replace(/__mdt$/, '');
    if (!findFile(index, `${typeName}.${record.name}.md-meta.xml`)) {
      problems.push(`${record.type} record ${record.name} is missing`);
    }
  }
  for (const credential of contract.namedCredentials) {
    const file = findFile(index, `${credential.name}.namedCredential-meta.xml`);
    if (!file) {
      problems.push(`Named Credential ${credential.name} is missing`);
      continue;
    }
    const actual = readXml(file, 'NamedCredential');
    if (text(actual.namedCredentialType) !== credential.type) {
      problems.push(
        `Named Credential ${credential.name}: type is ${text(actual.namedCredentialType)}, the contract needs ${credential.type}`
      );
    }
    const params = (actual.namedCredentialParameters as Xml[] | undefined) ?? [];
    if (
      !params.some(
        (p) =>
          text(p.parameterType) === 'Authentication' &&
          text(p.externalCredential) === credential.externalCredential
      )
    ) {
      problems.push(
        `Named Credential ${credential.name} does not authenticate with ${credential.externalCredential}`
      );
    }
  }
  for (const credential of contract.externalCredentials) {
    const file = findFile(index, `${credential.name}.externalCredential-meta.xml`);
    if (!file) {
      problems.push(`External Credential ${credential.name} is missing`);
      continue;
    }
    const actual = readXml(file, 'ExternalCredential');
    const params = (actual.externalCredentialParameters as Xml[] | undefined) ?? [];
    if (text(actual.authenticationProtocol) !== credential.protocol) {
      problems.push(
        `External Credential ${credential.name}: protocol is ${text(actual.authenticationProtocol)}, the contract needs ${credential.protocol}`
      );
    }
    if (
      !params.some(
        (p) =>
          text(p.parameterType) === 'NamedPrincipal' &&
          text(p.parameterName) === credential.principal
      )
    ) {
      problems.push(
        `External Credential ${credential.name} has no named principal ${credential.principal}`
      );
    }
    const formula = `$Credential.${credential.name}.${credential.authParameter}`;
    if (
      !params.some(
        (p) =>
          text(p.parameterType) === 'AuthHeader' &&
          text(p.parameterName) === credential.authHeader &&
          text(p.parameterValue)?.includes(formula)
      )
    ) {
      problems.push(
        `External Credential ${credential.name} does not send ${credential.authHeader} from ${formula}`
      );
    }
  }
  for (const method of contract.apexMethods) {
    const file = findFile(index, `${method.class}.cls`);
    if (!file) {
      problems.push(`Apex class ${method.class} is missing`);
      continue;
    }
    const source = readFileSync(file, 'utf8');
    const declaration = new RegExp(
      String.raw`@AuraEnabled(\s*\(\s*cacheable\s*=\s*true\s*\))?\s+public\s+static\s+[\w<>,.\s]+?\s${method.method}\s*\(`,
      'i'
    ).exec(source);
    if (!declaration)
      problems.push(`${method.class}.${method.method}: no public static @AuraEnabled method`);
    else if (Boolean(declaration[1]) !== method.cacheable) {
      problems.push(`${method.class}.${method.method}: cacheable must be ${method.cacheable}`);
    }
  }
  return problems;
}

/**
 * Every custom field, event or metadata type named in Apex exists in the package. apex-ls reports unknown
 * fields on custom objects but not on standard ones (an org may add fields there), so a typo such as
 * `Account.D365_Custmer_Number__c` would otherwise pass until deploy.
 */
export function checkCustomNameReferences(packageDir: string): string[] {
  const index = indexSource(packageDir);
  const fieldNames = new Set([...index.fieldFiles.keys()].map((key) => key.split('.')[1]));
  const objectNames = new Set(index.objectFiles.keys());
  const problems: string[] = [];
  for (const file of index.files.filter((f) => /\.(cls|trigger)$/.test(f))) {
    const source = readFileSync(file, 'utf8');
    source.split('\n').forEach((line, i) => {
      for (const match of line.matchAll(/\b[A-Za-z][A-Za-z0-9_]*__(c|e|mdt)\b/g)) {
        const name = match[0];
        const known = name.endsWith('__c')
          ? fieldNames.has(name) || objectNames.has(name)
          : objectNames.has(name);
        if (!known)
          problems.push(
            `${path.relative(path.dirname(packageDir), file)}:${i + 1}: ${name} is not defined in the package`
          );
      }
    });
  }
  return problems;
}

/** Members of a package.xml by metadata type. */
export function readManifest(file: string): Map<string, Set<string>> {
  const pkg = readXml(file, 'Package');
  const result = new Map<string, Set<string>>();
  for (const type of (pkg.types as Xml[] | undefined) ?? []) {
    const name = text(type.name) ?? '';
    const members = ((type.members as unknown[] | undefined) ?? []).map((m) => String(m));
    result.set(name, new Set([...(result.get(name) ?? []), ...members]));
  }
  return result;
}

/**
 * The deploy manifest covers every component of the converted source (so nothing is silently left out of
 * `sf:deploy`) and names nothing the source lacks (which would fail the deploy).
 */
export function checkManifestCoverage(convertedManifest: string, deployManifest: string): string[] {
  const converted = readManifest(convertedManifest);
  const manifest = readManifest(deployManifest);
  const problems: string[] = [];
  for (const [type, members] of converted) {
    const listed = manifest.get(type) ?? new Set<string>();
    for (const member of members) {
      if (!listed.has(member) && !listed.has('*'))
        problems.push(`manifest/package.xml lacks ${type} ${member}`);
    }
  }
  for (const [type, members] of manifest) {
    const present = converted.get(type) ?? new Set<string>();
    for (const member of members) {
      if (member !== '*' && !present.has(member))
        problems.push(
          `manifest/package.xml lists ${type} ${member}, which force-app does not contain`
        );
    }
  }
  return problems;
}
