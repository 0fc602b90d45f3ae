/** Shared test fixtures: a small SFDX project written to a temp dir, and a started emulator. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { start } from '../index.ts';
import type { RunningEmulator, StartOptions } from '../index.ts';

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';

export function fieldXml(props: Record<string, string | string[]>, extra = ''): string {
  const body = Object.entries(props)
    .map(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `    <${k}>${x}</${k}>`).join('\n'))
    .join('\n');
  return `${XML_HEAD}<CustomField xmlns="http://soap.sforce.com/2006/04/metadata">\n${body}\n${extra}</CustomField>\n`;
}

export function picklistXml(values: string[], restricted: boolean): string {
  const entries = values
    .map(
      (v) =>
        `            <value><fullName>${v}</fullName><default>false</default><label>${v}</label></value>`
    )
    .join('\n');
  return `    <valueSet>\n        <restricted>${restricted}</restricted>\n        <valueSetDefinition>\n            <sorted>false</sorted>\n${entries}\n        </valueSetDefinition>\n    </valueSet>\n`;
}

const text = (name: string, length: number, more: Record<string, string> = {}) =>
  fieldXml({
    fullName: name,
    label: name.replace(/__c$/, ''),
    length: String(length),
    type: 'Text',
    ...more
  });
const externalId = (name: string, length: number, caseSensitive: boolean) =>
  text(name, length, { caseSensitive: String(caseSensitive), externalId: 'true', unique: 'true' });
const currency = (name: string) =>
  fieldXml({ fullName: name, label: name, precision: '16', scale: '2', type: 'Currency' });
const picklist = (name: string, values: string[], restricted: boolean) =>
  fieldXml({ fullName: name, label: name, type: 'Picklist' }, picklistXml(values, restricted));

/** Object name → field file name → XML. Mirrors the fields of docs/contracts.md the tests use. */
export function contractFixture(): Record<string, Record<string, string>> {
  return {
    Account: {
      D365_Customer_Number__c: externalId('D365_Customer_Number__c', 20, false),
      D365_Legal_Entity__c: text('D365_Legal_Entity__c', 4),
      D365_Sync_Status__c: picklist(
        'D365_Sync_Status__c',
        ['Not Synced', 'Pending', 'Synced', 'Error'],
        true
      ),
      D365_Open_Balance__c: currency('D365_Open_Balance__c'),
      D365_Last_Synced__c: fieldXml({
        fullName: 'D365_Last_Synced__c',
        label: 'Last Synced',
        type: 'DateTime'
      }),
      D365_On_Hold__c: picklist('D365_On_Hold__c', ['No', 'Invoice', 'All'], false)
    },
    Contact: { D365_Contact_Person_Id__c: externalId('D365_Contact_Person_Id__c', 20, false) },
    Opportunity: {
      D365_Sales_Order_Number__c: externalId('D365_Sales_Order_Number__c', 20, false)
    },
    Product2: { D365_Item_Number__c: externalId('D365_Item_Number__c', 20, true) },
    PricebookEntry: { D365_Price_Key__c: externalId('D365_Price_Key__c', 100, true) },
    Invoice__c: {
      '': `${XML_HEAD}<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">\n    <deploymentStatus>Deployed</deploymentStatus>\n    <label>Invoice</label>\n    <nameField><label>Invoice Number</label><type>Text</type></nameField>\n    <pluralLabel>Invoices</pluralLabel>\n    <sharingModel>ControlledByParent</sharingModel>\n</CustomObject>\n`,
      Account__c: fieldXml({
        fullName: 'Account__c',
        label: 'Account',
        referenceTo: 'Account',
        relationshipName: 'Invoices',
        type: 'MasterDetail'
      }),
      D365_Invoice_Key__c: externalId('D365_Invoice_Key__c', 40, false),
      Amount__c: currency('Amount__c'),
      Invoice_Date__c: fieldXml({
        fullName: 'Invoice_Date__c',
        label: 'Invoice Date',
        type: 'Date'
      }),
      Payment_Status__c: picklist(
        'Payment_Status__c',
        ['Open', 'Partially Paid', 'Paid', 'Overdue'],
        true
      )
    },
    D365_Integration_Setting__mdt: {
      '': `${XML_HEAD}<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">\n    <label>D365 Integration Setting</label>\n    <pluralLabel>D365 Integration Settings</pluralLabel>\n    <visibility>Public</visibility>\n</CustomObject>\n`,
      Default_Legal_Entity__c: text('Default_Legal_Entity__c', 4),
      Callout_Timeout_Ms__c: fieldXml({
        fullName: 'Callout_Timeout_Ms__c',
        label: 'Timeout',
        precision: '18',
        scale: '0',
        type: 'Number'
      }),
      Account_Sync_Enabled__c: fieldXml({
        fullName: 'Account_Sync_Enabled__c',
        label: 'Account',
        defaultValue: 'false',
        type: 'Checkbox'
      })
    },
    D365_Sync_Result__e: {
      '': `${XML_HEAD}<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">\n    <deploymentStatus>Deployed</deploymentStatus>\n    <eventType>HighVolume</eventType>\n    <label>D365 Sync Result</label>\n    <pluralLabel>D365 Sync Results</pluralLabel>\n    <publishBehavior>PublishAfterCommit</publishBehavior>\n</CustomObject>\n`,
      Record_Id__c: text('Record_Id__c', 18),
      Status__c: text('Status__c', 20),
      Message__c: text('Message__c', 255)
    }
  };
}

/** Custom metadata record files by name (`<Type>.<Record>`). */
export function metadataFixture(): Record<string, string> {
  return {
    'D365_Integration_Setting.Default': `${XML_HEAD}<CustomMetadata xmlns="http://soap.sforce.com/2006/04/metadata" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
    <label>Default</label>
    <protected>false</protected>
    <values><field>Default_Legal_Entity__c</field><value xsi:type="xsd:string">usmf</value></values>
    <values><field>Callout_Timeout_Ms__c</field><value xsi:type="xsd:double">10000</value></values>
    <values><field>Account_Sync_Enabled__c</field><value xsi:type="xsd:boolean">true</value></values>
</CustomMetadata>
`
  };
}

/** Writes an SFDX project (sfdx-project.json + force-app) and returns its directory. */
export function writeProject(
  objects = contractFixture(),
  customMetadata = metadataFixture()
): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sf-emulator-project-'));
  writeFileSync(
    join(dir, 'sfdx-project.json'),
    JSON.stringify({
      packageDirectories: [{ path: 'force-app', default: true }],
      sourceApiVersion: '62.0'
    })
  );
  for (const [object, files] of Object.entries(objects)) {
    const objectDir = join(dir, 'force-app', 'main', 'default', 'objects', object);
    mkdirSync(join(objectDir, 'fields'), { recursive: true });
    for (const [name, xml] of Object.entries(files)) {
      const path =
        name === ''
          ? join(objectDir, `${object}.object-meta.xml`)
          : join(objectDir, 'fields', `${name}.field-meta.xml`);
      writeFileSync(path, xml);
    }
  }
  const metadataDir = join(dir, 'force-app', 'main', 'default', 'customMetadata');
  mkdirSync(metadataDir, { recursive: true });
  for (const [name, xml] of Object.entries(customMetadata)) {
    writeFileSync(join(metadataDir, `${name}.md-meta.xml`), xml);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Harness {
  emu: RunningEmulator;
  token: string;
  /** Calls the REST API as the integration user; `path` starts after `/services/data/v62.0`. */
  api(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>
  ): Promise<ApiResult>;
  close(): Promise<void>;
}

export interface ApiResult {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

export const CLIENT_ID = 'test-client';
export const CLIENT_SECRET = 'test-secret';

export async function token(instanceUrl: string): Promise<string> {
  const res = await fetch(`${instanceUrl}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET
    })
  });
  const body = (await res.json()) as { access_token: string };
  return body.access_token;
}

export async function call(
  url: string,
  method: string,
  accessToken: string | null,
  body?: unknown,
  headers: Record<string, string> = {}
): Promise<ApiResult> {
  const res = await fetch(url, {
    method,
    headers: {
      ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
      ...(body !== undefined && typeof body !== 'string'
        ? { 'content-type': 'application/json' }
        : {}),
      ...headers
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {})
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // Non-JSON bodies (CSV) stay text.
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

export async function startHarness(options: StartOptions = {}): Promise<Harness> {
  const project = options.projectDir ? null : writeProject();
  const emu = await start({ projectDir: project?.dir, ...options });
  emu.control.registerClientCredentialsApp({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  const accessToken = await token(emu.instanceUrl);
  const harness: Harness = {
    emu,
    token: accessToken,
    api: (method, path, body, headers) =>
      call(`${emu.instanceUrl}/services/data/v62.0${path}`, method, harness.token, body, headers),
    async close() {
      await emu.close();
      project?.remove();
    }
  };
  return harness;
}

export const soql = (q: string) => `/query?q=${encodeURIComponent(q)}`;
