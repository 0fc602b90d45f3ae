import { get } from 'node:https';
import { unzipSync, zipSync } from 'fflate';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ENTITY_BY_SET, packageFor, start, type D365Emulator } from '../index.ts';
import { dataClient, type DataClient } from './helpers.ts';

let emu: D365Emulator;
let api: DataClient;
const ACTIONS = '/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities';

beforeAll(async () => {
  emu = await start({ seed: 'demo' });
  api = await dataClient(emu);
});
beforeEach(() => emu.control.reset());
afterAll(async () => {
  api.http.agent.destroy();
  await emu.close();
});

async function action(name: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await api.post(`${ACTIONS}.${name}`, body);
  expect(r.status).toBe(200);
  return r.json();
}

async function upload(zip: Uint8Array): Promise<string> {
  const write = await action('GetAzureWriteUrl', { uniqueFileName: `pkg-${Date.now()}` });
  const { BlobUrl } = JSON.parse(String(write.value)) as { BlobUrl: string };
  const put = await api.http.send('PUT', BlobUrl, Buffer.from(zip), {
    'x-ms-blob-type': 'BlockBlob',
    'content-type': 'application/zip'
  });
  expect(put.status).toBe(201);
  return BlobUrl;
}

async function waitFor(executionId: string): Promise<string> {
  for (;;) {
    const status = String((await action('GetExecutionSummaryStatus', { executionId })).value);
    if (status !== 'NotRun' && status !== 'Executing') return status;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const customers = ENTITY_BY_SET.get('CustomersV3')!;

describe('GetAzureWriteUrl and the blob store', () => {
  it('returns value as a JSON string holding BlobId and a SAS BlobUrl', async () => {
    const body = await action('GetAzureWriteUrl', { uniqueFileName: 'abc' });
    expect(body['@odata.context']).toBe(`${emu.url}/data/$metadata#Edm.String`);
    expect(typeof body.value).toBe('string');
    const inner = JSON.parse(String(body.value)) as { BlobId: string; BlobUrl: string };
    expect(inner.BlobId).toMatch(/^\{[0-9A-F-]{36}\}$/);
    expect(inner.BlobUrl).toMatch(/\/_blob\/dmf\/abc\?.*sig=/);
  });

  it('refuses a PUT without x-ms-blob-type as Azure Storage does', async () => {
    const { BlobUrl } = JSON.parse(
      String((await action('GetAzureWriteUrl', { uniqueFileName: 'nohdr' })).value)
    ) as { BlobUrl: string };
    const r = await api.http.send('PUT', BlobUrl, Buffer.from('x'));
    expect(r.status).toBe(400);
    expect(r.body).toContain('<Code>MissingRequiredHeader</Code>');
  });

  it('refuses a PUT with a tampered signature', async () => {
    const { BlobUrl } = JSON.parse(
      String((await action('GetAzureWriteUrl', { uniqueFileName: 'sig' })).value)
    ) as { BlobUrl: string };
    const r = await api.http.send(
      'PUT',
      BlobUrl.replace(/sig=[^&]+/, 'sig=AAAA'),
      Buffer.from('x'),
      { 'x-ms-blob-type': 'BlockBlob' }
    );
    expect(r.status).toBe(403);
  });
});

describe('ImportFromPackage', () => {
  it('imports a real package zip and reports Succeeded', async () => {
    const url = await upload(
      packageFor(customers, [
        {
          CUSTOMERACCOUNT: 'US-900',
          ORGANIZATIONNAME: 'Imported One',
          CUSTOMERGROUPID: '10',
          CREDITLIMIT: '1500.50'
        },
        {
          CUSTOMERACCOUNT: 'US-901',
          ORGANIZATIONNAME: 'Imported Two',
          CUSTOMERGROUPID: '20',
          ONHOLDSTATUS: 'Invoice'
        }
      ])
    );
    const executionId = String(
      (
        await action('ImportFromPackage', {
          packageUrl: url,
          definitionGroupId: 'Import customers',
          executionId: '',
          execute: true,
          overwrite: true,
          legalEntityId: 'usmf'
        })
      ).value
    );
    expect(await waitFor(executionId)).toBe('Succeeded');
    const row = (
      await api.get("/data/CustomersV3(dataAreaId='usmf',CustomerAccount='US-901')")
    ).json();
    expect(row).toMatchObject({ OrganizationName: 'Imported Two', OnHoldStatus: 'Invoice' });
  });

  it('imports valid rows, skips invalid ones with OData validation and reports PartiallySucceeded', async () => {
    const url = await upload(
      packageFor(customers, [
        { CUSTOMERACCOUNT: 'US-910', ORGANIZATIONNAME: 'Good', CUSTOMERGROUPID: '10' },
        { CUSTOMERACCOUNT: 'US-911', ORGANIZATIONNAME: 'Bad group', CUSTOMERGROUPID: 'Local' },
        { CUSTOMERACCOUNT: 'US-912', ORGANIZATIONNAME: 'y'.repeat(101), CUSTOMERGROUPID: '10' }
      ])
    );
    const executionId = String(
      (
        await action('ImportFromPackage', {
          packageUrl: url,
          definitionGroupId: 'Import customers',
          executionId: 'exec-partial',
          execute: true,
          overwrite: true,
          legalEntityId: 'usmf'
        })
      ).value
    );
    expect(executionId).toBe('exec-partial');
    expect(await waitFor(executionId)).toBe('PartiallySucceeded');
    const errors = JSON.parse(
      String((await action('GetExecutionErrors', { executionId })).value)
    ) as string[];
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/US-911.*'Local' in field 'Customer group' is not found/);
    expect(
      emu.control
        .read('CustomersV3', { filter: "CustomerAccount eq 'US-91*'" })
        .map((c) => c.CustomerAccount)
    ).toEqual(['US-910']);
  });

  it('produces an error keys file for the failed rows', async () => {
    const url = await upload(
      packageFor(customers, [
        { CUSTOMERACCOUNT: 'US-920', ORGANIZATIONNAME: 'Bad', CUSTOMERGROUPID: 'NOPE' }
      ])
    );
    const executionId = String(
      (
        await action('ImportFromPackage', {
          packageUrl: url,
          definitionGroupId: 'g',
          executionId: '',
          execute: true,
          overwrite: true,
          legalEntityId: 'usmf'
        })
      ).value
    );
    expect(await waitFor(executionId)).toBe('Failed');
    const generated = await action('GenerateImportTargetErrorKeysFile', {
      executionId,
      entityName: 'Customers V3'
    });
    expect(generated).toMatchObject({
      '@odata.context': `${emu.url}/data/$metadata#Edm.Boolean`,
      value: true
    });
    const fileUrl = String(
      (await action('GetImportTargetErrorKeysFileUrl', { executionId, entityName: 'Customers V3' }))
        .value
    );
    expect((await api.http.send('GET', fileUrl)).body).toBe('KEY\r\nUS-920\r\n');
  });

  it('fails a package without Manifest.xml', async () => {
    const url = await upload(zipSync({ 'data.xml': new Uint8Array([60, 68, 47, 62]) }));
    const executionId = String(
      (
        await action('ImportFromPackage', {
          packageUrl: url,
          definitionGroupId: 'g',
          executionId: '',
          execute: true,
          overwrite: true,
          legalEntityId: 'usmf'
        })
      ).value
    );
    expect(await waitFor(executionId)).toBe('Failed');
  });

  it('keeps a slow job Executing while the injected DMF delay lasts', async () => {
    emu.control.setFaults({ dmfDelayMs: 300 });
    const url = await upload(
      packageFor(customers, [
        { CUSTOMERACCOUNT: 'US-930', ORGANIZATIONNAME: 'Slow', CUSTOMERGROUPID: '10' }
      ])
    );
    const executionId = String(
      (
        await action('ImportFromPackage', {
          packageUrl: url,
          definitionGroupId: 'g',
          executionId: '',
          execute: true,
          overwrite: true,
          legalEntityId: 'usmf'
        })
      ).value
    );
    await new Promise((r) => setTimeout(r, 100));
    expect((await action('GetExecutionSummaryStatus', { executionId })).value).toBe('Executing');
    expect(await waitFor(executionId)).toBe('Succeeded');
  });

  it('answers Unknown for an execution id it never saw', async () => {
    expect((await action('GetExecutionSummaryStatus', { executionId: 'nope' })).value).toBe(
      'Unknown'
    );
  });
});

describe('ExportToPackage', () => {
  it('exports a package zip whose data file holds the rows, reachable through GetExportedPackageUrl', async () => {
    emu.control.defineDataProject({
      definitionGroupId: 'Export groups',
      entitySet: 'CustomerGroups'
    });
    const executionId = String(
      (
        await action('ExportToPackage', {
          definitionGroupId: 'Export groups',
          packageName: 'groups',
          executionId: '',
          reExecute: false,
          legalEntityId: 'usmf'
        })
      ).value
    );
    expect(await waitFor(executionId)).toBe('Succeeded');
    const url = String((await action('GetExportedPackageUrl', { executionId })).value);
    const raw = await fetchBinary(url);
    const files = unzipSync(raw);
    expect(Object.keys(files).sort()).toEqual([
      'Customer groups.xml',
      'Manifest.xml',
      'PackageHeader.xml'
    ]);
    const data = Buffer.from(files['Customer groups.xml']!.slice(2)).toString('utf16le');
    expect(data.match(/<CUSTCUSTOMERGROUPENTITY /g)).toHaveLength(5);
    const header = Buffer.from(files['PackageHeader.xml']!.slice(2)).toString('utf16le');
    expect(header).toContain('<PackageType>DefinitionGroup</PackageType>');
  });

  it('returns an empty package URL until the export has run', async () => {
    emu.control.setFaults({ dmfDelayMs: 300 });
    const executionId = String(
      (
        await action('ExportToPackage', {
          definitionGroupId: 'CustomerGroups',
          packageName: 'p',
          executionId: '',
          reExecute: false,
          legalEntityId: 'usmf'
        })
      ).value
    );
    expect((await action('GetExportedPackageUrl', { executionId })).value).toBe('');
  });
});

describe('recurring integrations', () => {
  it('enqueues a bare CSV file for an entity, imports it and reports Processed through GetMessageStatus', async () => {
    const csv = 'CUSTOMERGROUPID,DESCRIPTION\r\nRI1,Recurring one\r\nRI2,Recurring two\r\n';
    const r = await api.http.send(
      'POST',
      '/api/connector/enqueue/%7B6D31E09F-0249-459F-94F0-AAD9C2C47B64%7D?entity=Customer%20groups&company=usmf',
      csv,
      {
        authorization: await bearer(),
        'content-type': 'text/csv'
      }
    );
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/^\{[0-9A-F-]{36}\}$/);
    await emu.control.dmfIdle();
    expect((await action('GetMessageStatus', { messageId: r.body })).value).toBe('Processed');
    expect(emu.control.read('CustomerGroups', { filter: "CustomerGroupId eq 'RI*'" })).toHaveLength(
      2
    );
  });

  it('is exempt from throttling', async () => {
    emu.control.throttleStorm({ seconds: 5 });
    const r = await api.http.send(
      'POST',
      '/api/connector/enqueue/act?entity=Customer%20groups',
      'CUSTOMERGROUPID\r\nRI3\r\n',
      {
        authorization: await bearer()
      }
    );
    expect(r.status).toBe(200);
  });
});

async function bearer(): Promise<string> {
  return `Bearer ${await emu.control.issueToken({ clientId: emu.clientId })}`;
}

function fetchBinary(url: string): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    get(url, { agent: api.http.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    }).on('error', reject);
  });
}
