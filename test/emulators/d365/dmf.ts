// Data management package API (shared/reference/d365-fo.md §5): a built-in blob store that takes
// the SAS-style PUT, package import with the same per-record validation as OData, export to a
// package, execution status, errors and error keys.
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { parse as parseCsv } from 'csv-parse/sync';
import { XMLParser } from 'fast-xml-parser';
import { unzipSync, zipSync } from 'fflate';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ENTITIES, NAMESPACE, type EntityDef, type PropertyDef } from './entities.ts';
import { ODataError } from './errors.ts';
import type { Domain } from './domain.ts';
import type { Faults } from './faults.ts';
import { JSON_TYPE, type BoundAction, type DataResponse } from './odata.ts';
import { keyPart } from './store.ts';
import { coerceValue, type Values } from './values.ts';

/** Status values of GetExecutionSummaryStatus [MS dmf]. */
export type ExecutionStatus =
  'Unknown' | 'NotRun' | 'Executing' | 'Succeeded' | 'PartiallySucceeded' | 'Failed' | 'Canceled';

/** Blobs and SAS URLs in DMF expire after seven days [MS dmf]. */
const SAS_LIFETIME_MS = 7 * 24 * 3600 * 1000;
/** Rows imported between yields to the event loop, so /data stays responsive during a big import. */
const IMPORT_SLICE = 2000;
const DM_NS = 'http://schemas.microsoft.com/dynamics/2015/01/DataManagement';

export interface ImportError {
  entity: string;
  row: number;
  key: string;
  message: string;
}

export interface Execution {
  executionId: string;
  kind: 'import' | 'export';
  definitionGroupId: string;
  legalEntityId: string;
  status: ExecutionStatus;
  rows: number;
  errors: ImportError[];
  /** Blob name of the exported package or of the error-keys file. */
  packageBlob?: string;
  errorKeysBlob?: string;
  /** The package itself could not be read (recurring integrations: PreProcessingError). */
  unreadable?: boolean;
}

interface Blob {
  data: Buffer;
  contentType: string;
  etag: string;
  lastModified: string;
}

export class DataManagement {
  private readonly baseUrl: string;
  private readonly domain: Domain;
  private readonly faults: Faults;
  private readonly blobs = new Map<string, Blob>();
  readonly executions = new Map<string, Execution>();
  private readonly signingKey = randomBytes(32);
  /** Definition groups for ExportToPackage: data project → entity set. */
  readonly projects = new Map<string, string>();
  /** ImportFromPackage must not run in parallel [MS dmf]: jobs run one after another. */
  private queue: Promise<void> = Promise.resolve();
  private seq = 0;

  constructor(baseUrl: string, domain: Domain, faults: Faults) {
    this.baseUrl = baseUrl;
    this.domain = domain;
    this.faults = faults;
  }

  reset(): void {
    this.blobs.clear();
    this.executions.clear();
    this.projects.clear();
  }

  /** Waits until every queued import/export has finished (tests, benchmarks). */
  idle(): Promise<void> {
    return this.queue;
  }

  // ---- blob store ---------------------------------------------------------------------------

  private sign(name: string, expiry: string, permissions: string): string {
    return createHmac('sha256', this.signingKey)
      .update(`${name}\n${expiry}\n${permissions}`)
      .digest('base64');
  }

  blobUrl(name: string, permissions: 'rw' | 'r'): string {
    const se = new Date(Date.now() + SAS_LIFETIME_MS).toISOString().slice(0, 19) + 'Z';
    const q = new URLSearchParams({
      sv: '2020-08-04',
      sr: 'b',
      sp: permissions,
      se,
      sig: this.sign(name, se, permissions)
    });
    return `${this.baseUrl}/_blob/dmf/${encodeURIComponent(name)}?${q.toString()}`;
  }

  /** Resolves a SAS URL of this store to its blob name when the signature and expiry hold. */
  private authorised(name: string, q: URLSearchParams, write: boolean): boolean {
    const se = q.get('se') ?? '';
    const sp = q.get('sp') ?? '';
    const sig = q.get('sig') ?? '';
    if (write && !sp.includes('w')) return false;
    if (Date.parse(se) < Date.now()) return false;
    return sig === this.sign(name, se, sp);
  }

  putBlob(name: string, data: Buffer, contentType = 'application/octet-stream'): void {
    this.blobs.set(name, {
      data,
      contentType,
      etag: `"0x${createHash('md5').update(data).digest('hex').slice(0, 15).toUpperCase()}"`,
      lastModified: new Date().toUTCString()
    });
  }

  blobRoutes(app: FastifyInstance): void {
    app.put('/_blob/dmf/:name', async (req, reply) => {
      const { name } = req.params as { name: string };
      const q = new URLSearchParams(req.url.split('?')[1] ?? '');
      if (!this.authorised(name, q, true))
        return azureError(
          reply,
          403,
          'AuthenticationFailed',
          'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.'
        );
      const type = req.headers['x-ms-blob-type'];
      if (!type)
        return azureError(
          reply,
          400,
          'MissingRequiredHeader',
          "An HTTP header that's mandatory for this request is not specified.",
          'x-ms-blob-type'
        );
      if (type !== 'BlockBlob')
        return azureError(
          reply,
          400,
          'InvalidHeaderValue',
          'The value for one of the HTTP headers is not in the correct format.',
          'x-ms-blob-type'
        );
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      this.putBlob(name, body, req.headers['content-type'] ?? 'application/octet-stream');
      const blob = this.blobs.get(name)!;
      return reply
        .code(201)
        .header('ETag', blob.etag)
        .header('Last-Modified', blob.lastModified)
        .header('Content-MD5', createHash('md5').update(body).digest('base64'))
        .header('x-ms-request-id', randomUUID())
        .header('x-ms-version', '2020-08-04')
        .header('x-ms-request-server-encrypted', 'true')
        .send('');
    });
    app.get('/_blob/dmf/:name', async (req, reply) => {
      const { name } = req.params as { name: string };
      const q = new URLSearchParams(req.url.split('?')[1] ?? '');
      if (!this.authorised(name, q, false))
        return azureError(
          reply,
          403,
          'AuthenticationFailed',
          'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.'
        );
      const blob = this.blobs.get(name);
      if (!blob)
        return azureError(reply, 404, 'BlobNotFound', 'The specified blob does not exist.');
      return reply
        .code(200)
        .header('Content-Type', blob.contentType)
        .header('ETag', blob.etag)
        .header('x-ms-blob-type', 'BlockBlob')
        .send(blob.data);
    });
  }

  // ---- OData actions --------------------------------------------------------------------------

  readonly action: BoundAction = (action, body) => {
    const b = (body ?? {}) as Record<string, unknown>;
    const str = (k: string): string => (typeof b[k] === 'string' ? (b[k] as string) : '');
    switch (action) {
      case 'GetAzureWriteUrl': {
        const name = str('uniqueFileName') || randomUUID();
        // `value` is a JSON string that itself holds JSON (§5.1).
        const value = JSON.stringify({
          BlobId: `{${randomUUID().toUpperCase()}}`,
          BlobUrl: this.blobUrl(name, 'rw')
        });
        return edm('Edm.String', value, this.baseUrl);
      }
      case 'ImportFromPackage':
      case 'ImportFromPackageAsync':
        return edm(
          'Edm.String',
          this.startImport(
            str('packageUrl'),
            str('definitionGroupId'),
            str('executionId'),
            str('legalEntityId'),
            b.overwrite !== false
          ),
          this.baseUrl
        );
      case 'ExportToPackage':
      case 'ExportToPackageAsync':
        return edm(
          'Edm.String',
          this.startExport(
            str('definitionGroupId'),
            str('packageName'),
            str('executionId'),
            str('legalEntityId')
          ),
          this.baseUrl
        );
      case 'GetMessageStatus': {
        const e = this.executions.get(str('messageId'));
        return edm('Edm.String', e ? messageStatus(e) : 'Unknown', this.baseUrl);
      }
      case 'GetExecutionSummaryStatus':
        return edm(
          'Edm.String',
          this.executions.get(str('executionId'))?.status ?? 'Unknown',
          this.baseUrl
        );
      case 'GetExportedPackageUrl': {
        const e = this.executions.get(str('executionId'));
        // Plain string (RIS reads it as such), empty until the package exists (§5.1).
        return edm(
          'Edm.String',
          e?.packageBlob ? this.blobUrl(e.packageBlob, 'r') : '',
          this.baseUrl
        );
      }
      case 'GetExecutionErrors': {
        const e = this.executions.get(str('executionId'));
        // Shape UNCONFIRMED ("a set of error messages in a JSON list"): a JSON string of messages.
        const messages = (e?.errors ?? []).map(
          (x) => `${x.entity}: row ${x.row} (${x.key}): ${x.message}`
        );
        return edm('Edm.String', JSON.stringify(messages), this.baseUrl);
      }
      case 'GenerateImportTargetErrorKeysFile': {
        const e = this.executions.get(str('executionId'));
        const entity = str('entityName');
        const errors = (e?.errors ?? []).filter((x) => !entity || matchesEntity(x.entity, entity));
        if (!e || errors.length === 0) return edm('Edm.Boolean', false, this.baseUrl);
        const name = `${e.executionId}-${entity || 'all'}-errorkeys.csv`;
        this.putBlob(
          name,
          Buffer.from(['KEY', ...errors.map((x) => x.key)].join('\r\n') + '\r\n'),
          'text/csv'
        );
        e.errorKeysBlob = name;
        return edm('Edm.Boolean', true, this.baseUrl);
      }
      case 'GetImportTargetErrorKeysFileUrl': {
        const e = this.executions.get(str('executionId'));
        return edm(
          'Edm.String',
          e?.errorKeysBlob ? this.blobUrl(e.errorKeysBlob, 'r') : '',
          this.baseUrl
        );
      }
      default:
        throw new ODataError(404, {
          error: {
            code: '',
            message: `No HTTP resource was found that matches the request URI '${this.baseUrl}/data/DataManagementDefinitionGroups/${NAMESPACE}.${action}'.`
          }
        });
    }
  };

  private newExecutionId(prefix: string, given: string): string {
    if (given) return given;
    // D365 builds IDs from the project name and a timestamp; the exact format is UNCONFIRMED.
    return `${prefix || 'DMF'}-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${++this.seq}`;
  }

  private startImport(
    packageUrl: string,
    definitionGroupId: string,
    executionId: string,
    legalEntityId: string,
    overwrite: boolean
  ): string {
    const blobName = this.blobNameOf(packageUrl);
    const blob = blobName === undefined ? undefined : this.blobs.get(blobName);
    if (!blob) {
      throw new ODataError(500, {
        error: {
          code: '',
          message: 'An error has occurred.',
          innererror: {
            message: `The package at '${packageUrl}' could not be read.`,
            type: 'Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataException',
            stacktrace: ''
          }
        }
      });
    }
    const id = this.newExecutionId(definitionGroupId, executionId);
    const exec: Execution = {
      executionId: id,
      kind: 'import',
      definitionGroupId,
      legalEntityId: keyPart(legalEntityId || 'usmf'),
      status: 'NotRun',
      rows: 0,
      errors: []
    };
    this.executions.set(id, exec);
    this.queue = this.queue.then(() => this.runImport(exec, blob.data, overwrite));
    return id;
  }

  private blobNameOf(url: string): string | undefined {
    try {
      const u = new URL(url);
      const m = /^\/_blob\/dmf\/(.+)$/.exec(u.pathname);
      if (!m || `${u.protocol}//${u.host}` !== this.baseUrl) return undefined;
      const name = decodeURIComponent(m[1]!);
      return this.authorised(name, u.searchParams, false) ? name : undefined;
    } catch {
      return undefined;
    }
  }

  private async runImport(exec: Execution, zip: Buffer, overwrite: boolean): Promise<void> {
    exec.status = 'Executing';
    await delay(this.faults.config.dmfDelayMs ?? 0);
    try {
      const files = unzipSync(new Uint8Array(zip.buffer, zip.byteOffset, zip.byteLength));
      const byName = new Map(Object.keys(files).map((n) => [n.toLowerCase(), n]));
      const manifestName = byName.get('manifest.xml');
      if (!manifestName || !byName.has('packageheader.xml')) {
        throw new Error('The package must contain Manifest.xml and PackageHeader.xml.');
      }
      const entries = parseManifest(decodeText(files[manifestName]!));
      let imported = 0;
      for (const entry of entries) {
        const def = ENTITIES.find(
          (d) =>
            matchesEntity(d.aotName, entry.targetEntity) ||
            matchesEntity(d.dmfLabel, entry.entityName)
        );
        if (!def || def.readOnly)
          throw new Error(
            `Entity '${entry.entityName || entry.targetEntity}' is not available for import.`
          );
        const fileName = byName.get(entry.inputFilePath.toLowerCase());
        if (!fileName)
          throw new Error(`Data file '${entry.inputFilePath}' is missing from the package.`);
        const rows = readRows(decodeText(files[fileName]!), entry.sourceFormat);
        imported += await this.importRows(exec, def, rows, entry.fieldMap, overwrite);
      }
      exec.status =
        exec.errors.length === 0 ? 'Succeeded' : imported > 0 ? 'PartiallySucceeded' : 'Failed';
    } catch (err) {
      exec.errors.push({
        entity: exec.definitionGroupId,
        row: 0,
        key: '',
        message: err instanceof Error ? err.message : String(err)
      });
      exec.status = 'Failed';
    }
  }

  private async importRows(
    exec: Execution,
    def: EntityDef,
    rows: Array<Record<string, string>>,
    fieldMap: Map<string, string>,
    overwrite: boolean
  ): Promise<number> {
    const byUpper = new Map(def.properties.map((p) => [p.name.toUpperCase(), p]));
    let ok = 0;
    for (let i = 0; i < rows.length; i++) {
      if (i > 0 && i % IMPORT_SLICE === 0) await new Promise((r) => setImmediate(r));
      exec.rows++;
      const raw = rows[i]!;
      const values: Values = {};
      let key = '';
      try {
        for (const [field, text] of Object.entries(raw)) {
          const p = byUpper.get((fieldMap.get(field.toUpperCase()) ?? field).toUpperCase());
          if (!p || text === '') continue;
          values[p.name] = fileValue(def, p, text);
        }
        key = def.keys
          .filter((k) => k !== 'dataAreaId')
          .map((k) => String(values[k] ?? ''))
          .join('|');
        if (overwrite) this.domain.upsert(def.entitySet, values, exec.legalEntityId);
        else this.domain.create(def.entitySet, values, exec.legalEntityId);
        ok++;
      } catch (err) {
        const message =
          err instanceof ODataError
            ? (err.body.error.innererror?.message ?? err.body.error.message)
            : String(err);
        exec.errors.push({ entity: def.dmfLabel, row: i + 1, key, message });
      }
    }
    return ok;
  }

  /**
   * Recurring integrations enqueue (§5.3): the body is a package zip, or a bare data file for the
   * entity named in `?entity=`. Returns the message ID; the import runs like ImportFromPackage.
   */
  enqueue(activityId: string, entityName: string, body: Buffer, legalEntity: string): string {
    let zip = body;
    if (!(body[0] === 0x50 && body[1] === 0x4b)) {
      const def = ENTITIES.find((d) =>
        [d.dmfLabel, d.entitySet, d.aotName].some((n) => matchesEntity(n, entityName))
      );
      if (!def || def.readOnly) {
        throw new ODataError(400, {
          error: { code: '', message: `Entity '${entityName}' is not available for import.` }
        });
      }
      const text = decodeText(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
      const format = text.trimStart().startsWith('<') ? 'XML-Attribute' : 'CSV-Unicode';
      const dataFile = `${def.dmfLabel}.${format === 'XML-Attribute' ? 'xml' : 'csv'}`;
      zip = Buffer.from(
        zipSync({
          'Manifest.xml': utf16(manifestXml(def, activityId, dataFile, format)),
          'PackageHeader.xml': utf16(packageHeaderXml(activityId)),
          [dataFile]: new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
        })
      );
    }
    const messageId = `{${randomUUID().toUpperCase()}}`;
    const exec: Execution = {
      executionId: messageId,
      kind: 'import',
      definitionGroupId: activityId,
      legalEntityId: keyPart(legalEntity),
      status: 'NotRun',
      rows: 0,
      errors: []
    };
    this.executions.set(messageId, exec);
    const data = zip;
    this.queue = this.queue.then(() => this.runImport(exec, data, true));
    return messageId;
  }

  private startExport(
    definitionGroupId: string,
    packageName: string,
    executionId: string,
    legalEntityId: string
  ): string {
    const set =
      this.projects.get(definitionGroupId) ??
      ENTITIES.find((d) =>
        [d.entitySet, d.aotName, d.dmfLabel].some((n) => matchesEntity(n, definitionGroupId))
      )?.entitySet;
    if (!set) {
      throw new ODataError(500, {
        error: {
          code: '',
          message: 'An error has occurred.',
          innererror: {
            message: `Data project '${definitionGroupId}' does not exist.`,
            type: 'Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataException',
            stacktrace: ''
          }
        }
      });
    }
    const id = this.newExecutionId(definitionGroupId, executionId);
    const exec: Execution = {
      executionId: id,
      kind: 'export',
      definitionGroupId,
      legalEntityId: keyPart(legalEntityId || 'usmf'),
      status: 'NotRun',
      rows: 0,
      errors: []
    };
    this.executions.set(id, exec);
    this.queue = this.queue.then(async () => {
      exec.status = 'Executing';
      await delay(this.faults.config.dmfDelayMs ?? 0);
      const def = ENTITIES.find((d) => d.entitySet === set)!;
      const zip = this.buildPackage(def, definitionGroupId, exec);
      exec.packageBlob = `${packageName || definitionGroupId}-${id}.zip`;
      this.putBlob(exec.packageBlob, Buffer.from(zip), 'application/zip');
      exec.status = 'Succeeded';
    });
    return id;
  }

  /** A package as F&O writes it: UTF-16 LE XML with BOM, XML-Attribute data file (§5.2). */
  buildPackage(def: EntityDef, definitionGroupId: string, exec?: Execution): Uint8Array {
    const company = exec?.legalEntityId;
    const tag = def.aotName.toUpperCase();
    const rows: string[] = [];
    for (const row of this.domain.store.table(def.entitySet).rows.values()) {
      if (def.companySpecific && company && row.values.dataAreaId !== company) continue;
      const attrs = def.properties
        .map((p) => `${p.name.toUpperCase()}="${xmlAttr(String(row.values[p.name]))}"`)
        .join(' ');
      rows.push(`<${tag} ${attrs} />`);
    }
    if (exec) exec.rows = rows.length;
    const dataFile = `${def.dmfLabel}.xml`;
    return zipSync({
      'Manifest.xml': utf16(manifestXml(def, definitionGroupId, dataFile)),
      'PackageHeader.xml': utf16(packageHeaderXml(definitionGroupId)),
      [dataFile]: utf16(`<Document>\r\n${rows.join('\r\n')}\r\n</Document>`)
    });
  }
}

export function manifestXml(
  def: EntityDef,
  definitionGroupId: string,
  dataFile: string,
  format = 'XML-Attribute'
): string {
  const maps = def.properties
    .map(
      (p, i) =>
        `<EntityMap><ArrayIndex>${i}</ArrayIndex><EntityField>${p.name.toUpperCase()}</EntityField><EntityFieldConversionList i:nil="true" /><IsAutoDefault>false</IsAutoDefault><IsAutoGenerated>false</IsAutoGenerated><IsDefaultValueEqualNull>false</IsDefaultValueEqualNull><UseTextQualifier>false</UseTextQualifier><XMLField>${p.name.toUpperCase()}</XMLField></EntityMap>`
    )
    .join('');
  return `<DataManagementPackageManifest xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="${DM_NS}"><DefinitionGroupName>${xmlAttr(definitionGroupId)}</DefinitionGroupName><Description>${xmlAttr(definitionGroupId)}</Description><PackageEntityList><DataManagementPackageEntityData><DefaultRefreshType>FullPush</DefaultRefreshType><Disable>false</Disable><EntityMapList>${maps}</EntityMapList><EntityName>${def.dmfLabel}</EntityName><EntityTransformList i:nil="true" /><ExcelSheetName /><ExecutionUnit>1</ExecutionUnit><FailExecutionUnitOnError>false</FailExecutionUnitOnError><FailLevelOnError>false</FailLevelOnError><InputFilePath>${xmlAttr(dataFile)}</InputFilePath><LevelInExecutionUnit>1</LevelInExecutionUnit><QueryFilter i:nil="true" /><RunBusinessLogic>true</RunBusinessLogic><RunBusinessValidation>true</RunBusinessValidation><SampleFilePath /><SequenceInLevel>1</SequenceInLevel><SourceFormat>${format}</SourceFormat><TargetEntity>${def.aotName}</TargetEntity><ValidationStatus>Yes</ValidationStatus></DataManagementPackageEntityData></PackageEntityList><ProjectCategory>0</ProjectCategory><RulesData i:nil="true" /></DataManagementPackageManifest>`;
}

export function packageHeaderXml(description: string): string {
  return `<DataManagementPackageHeader xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="${DM_NS}"><Description>${xmlAttr(description)}</Description><ManifestType>Microsoft.Dynamics.AX.Framework.Tools.DataManagement.Serialization.DataManagementPackageManifest</ManifestType><PackageType>DefinitionGroup</PackageType><PackageVersion>2</PackageVersion></DataManagementPackageHeader>`;
}

interface ManifestEntry {
  entityName: string;
  targetEntity: string;
  inputFilePath: string;
  sourceFormat: string;
  /** Staging field (file column/attribute) → entity field, both upper case. */
  fieldMap: Map<string, string>;
}

function parseManifest(xml: string): ManifestEntry[] {
  const parser = new XMLParser({
    ignoreAttributes: true,
    removeNSPrefix: true,
    parseTagValue: false,
    isArray: (name) => name === 'DataManagementPackageEntityData' || name === 'EntityMap'
  });
  const doc = parser.parse(xml) as Record<string, unknown>;
  const manifest = doc.DataManagementPackageManifest as Record<string, unknown> | undefined;
  const list = (manifest?.PackageEntityList as Record<string, unknown> | undefined)
    ?.DataManagementPackageEntityData;
  if (!Array.isArray(list) || list.length === 0) throw new Error('Manifest.xml lists no entity.');
  return list.map((e: Record<string, unknown>) => {
    const maps = ((e.EntityMapList as Record<string, unknown> | undefined)?.EntityMap ??
      []) as Array<Record<string, unknown>>;
    return {
      entityName: String(e.EntityName ?? ''),
      targetEntity: String(e.TargetEntity ?? ''),
      inputFilePath:
        String(e.InputFilePath ?? '')
          .split(/[\\/]/)
          .pop() ?? '',
      sourceFormat: String(e.SourceFormat ?? 'XML-Attribute'),
      fieldMap: new Map(
        maps.map((m) => [
          String(m.XMLField ?? '').toUpperCase(),
          String(m.EntityField ?? '').toUpperCase()
        ])
      )
    };
  });
}

const ATTR = /([A-Za-z_][\w.-]*)="([^"]*)"/g;
const ELEMENT = /<([A-Za-z_][\w.-]*)\s([^>]*?)\/?>/g;

/** XML-Attribute (`<Document><ENTITY A="…" /></Document>`) or CSV data file rows. */
function readRows(text: string, format: string): Array<Record<string, string>> {
  if (/csv/i.test(format)) {
    return parseCsv(text, {
      columns: true,
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true
    }) as Array<Record<string, string>>;
  }
  // A flat attribute scan: the data file is one element per record, attributes only.
  const rows: Array<Record<string, string>> = [];
  for (const el of text.matchAll(ELEMENT)) {
    if (el[1] === 'Document') continue;
    const row: Record<string, string> = {};
    for (const a of el[2]!.matchAll(ATTR)) row[a[1]!] = unescapeXml(a[2]!);
    rows.push(row);
  }
  return rows;
}

function fileValue(def: EntityDef, p: PropertyDef, text: string): string | number {
  if (p.type === 'Enum') {
    return coerceValue(def.typeName, p, text);
  }
  if (p.type === 'String') return text;
  return coerceValue(
    def.typeName,
    p,
    p.type === 'Decimal' || p.type === 'Int64' || p.type === 'Int32' ? Number(text) : text
  );
}

/** Recurring-integration message states [MS recurring] derived from the job's execution. */
function messageStatus(e: Execution): string {
  switch (e.status) {
    case 'NotRun':
      return 'Enqueued';
    case 'Executing':
      return 'Processing';
    case 'Succeeded':
      return 'Processed';
    default:
      return e.unreadable ? 'PreProcessingError' : 'ProcessedWithErrors';
  }
}

function matchesEntity(a: string, b: string): boolean {
  return a !== '' && b !== '' && a.toLowerCase() === b.toLowerCase();
}

function decodeText(bytes: Uint8Array): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe)
    return Buffer.from(bytes.buffer, bytes.byteOffset + 2, bytes.byteLength - 2).toString(
      'utf16le'
    );
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
    return Buffer.from(bytes.buffer, bytes.byteOffset + 3, bytes.byteLength - 3).toString('utf8');
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

function utf16(text: string): Uint8Array {
  const body = Buffer.from(text, 'utf16le');
  const out = new Uint8Array(body.length + 2);
  out[0] = 0xff;
  out[1] = 0xfe;
  out.set(body, 2);
  return out;
}

export function xmlAttr(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

function unescapeXml(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(lt|gt|quot|apos|amp|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) => {
    if (e === 'lt') return '<';
    if (e === 'gt') return '>';
    if (e === 'quot') return '"';
    if (e === 'apos') return "'";
    if (e === 'amp') return '&';
    return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });
}

function edm(
  type: 'Edm.String' | 'Edm.Boolean',
  value: string | boolean,
  baseUrl: string
): DataResponse {
  return {
    status: 200,
    headers: { 'Content-Type': JSON_TYPE, 'OData-Version': '4.0' },
    body: JSON.stringify({ '@odata.context': `${baseUrl}/data/$metadata#${type}`, value })
  };
}

function azureError(
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
  header?: string
): FastifyReply {
  const detail = header ? `<HeaderName>${header}</HeaderName>` : '';
  return reply
    .code(status)
    .header('Content-Type', 'application/xml')
    .header('x-ms-error-code', code)
    .send(
      `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}\nRequestId:${randomUUID()}\nTime:${new Date().toISOString()}</Message>${detail}</Error>`
    );
}

function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

/** Builds a real package zip for one entity from rows of entity field values (tests, bench). */
export function packageFor(
  def: EntityDef,
  rows: Array<Record<string, string | number>>,
  definitionGroupId = def.dmfLabel
): Uint8Array {
  const tag = def.aotName.toUpperCase();
  const lines = rows.map(
    (r) =>
      `<${tag} ${Object.entries(r)
        .map(([k, v]) => `${k.toUpperCase()}="${xmlAttr(String(v))}"`)
        .join(' ')} />`
  );
  const dataFile = `${def.dmfLabel}.xml`;
  return zipSync({
    'Manifest.xml': utf16(manifestXml(def, definitionGroupId, dataFile)),
    'PackageHeader.xml': utf16(packageHeaderXml(definitionGroupId)),
    [dataFile]: utf16(`<Document>\r\n${lines.join('\r\n')}\r\n</Document>`)
  });
}
