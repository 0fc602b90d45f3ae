import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkContract,
  checkCustomNameReferences,
  checkManifestCoverage,
  type RelayContract
} from './contract.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
const contract = JSON.parse(
  readFileSync(path.join(REPO_ROOT, 'scripts', 'package', 'relay-contract.json'), 'utf8')
) as RelayContract;

let work: string;
let packageDir: string;

// Each test edits its own copy of force-app, as a developer renaming or retyping something would.
beforeEach(() => {
  work = mkdtempSync(path.join(tmpdir(), 'contract-test-'));
  packageDir = path.join(work, 'force-app');
  cpSync(
    path.join(REPO_ROOT, 'force-app', 'main', 'default'),
    path.join(packageDir, 'main', 'default'),
    {
      recursive: true,
      filter: (source) =>
        !source.includes(`${path.sep}lwc${path.sep}`) && !source.endsWith(`${path.sep}lwc`)
    }
  );
  cpSync(path.join(REPO_ROOT, 'force-app', 'tests'), path.join(packageDir, 'tests'), {
    recursive: true
  });
});

afterEach(() => {
  rmSync(work, { recursive: true, force: true });
});

function source(relative: string): string {
  return path.join(packageDir, 'main', 'default', relative);
}

function edit(relative: string, from: string, to: string): void {
  const file = source(relative);
  const text = readFileSync(file, 'utf8');
  expect(text).toContain(from);
  writeFileSync(file, text.replace(from, to));
}

describe('checkContract', () => {
  it('passes on the package as committed', () => {
    expect(checkContract(packageDir, contract)).toEqual([]);
  });

  it('reports a field the relay needs that was deleted', () => {
    unlinkSync(source('objects/Account/fields/D365_Customer_Number__c.field-meta.xml'));
    expect(checkContract(packageDir, contract)).toEqual([
      'Account.D365_Customer_Number__c: field is missing'
    ]);
  });

  it('reports an item number that is no longer case-sensitive', () => {
    edit(
      'objects/Product2/fields/D365_Item_Number__c.field-meta.xml',
      '<caseSensitive>true</caseSensitive>',
      '<caseSensitive>false</caseSensitive>'
    );
    expect(checkContract(packageDir, contract)).toEqual([
      'Product2.D365_Item_Number__c: caseSensitive is false, the contract needs true'
    ]);
  });

  it('reports a shortened text field and a renamed picklist value', () => {
    edit(
      'objects/Invoice__c/fields/D365_Invoice_Key__c.field-meta.xml',
      '<length>40</length>',
      '<length>30</length>'
    );
    edit(
      'objects/Invoice__c/fields/Payment_Status__c.field-meta.xml',
      '<fullName>Partially Paid</fullName>',
      '<fullName>Partial</fullName>'
    );
    expect(checkContract(packageDir, contract)).toEqual([
      'Invoice__c.D365_Invoice_Key__c: length is 30, the contract needs 40',
      'Invoice__c.Payment_Status__c: picklist lacks Partially Paid',
      'Invoice__c.Payment_Status__c: picklist has values the contract does not list: Partial'
    ]);
  });

  it('reports an event that no longer publishes after commit', () => {
    edit(
      'objects/D365_Order_Request__e/D365_Order_Request__e.object-meta.xml',
      'PublishAfterCommit',
      'PublishImmediately'
    );
    expect(checkContract(packageDir, contract)).toEqual([
      'D365_Order_Request__e: publishBehavior is PublishImmediately, the contract needs PublishAfterCommit'
    ]);
  });

  it('reports a relay credential that sends another header', () => {
    edit(
      'externalCredentials/D365_Relay_Auth.externalCredential-meta.xml',
      '<parameterName>X-Relay-Key</parameterName>',
      '<parameterName>X-Api-Key</parameterName>'
    );
    expect(checkContract(packageDir, contract)).toEqual([
      'External Credential D365_Relay_Auth does not send X-Relay-Key from $Credential.D365_Relay_Auth.ApiKey'
    ]);
  });

  it('reports a controller method that stopped being cacheable', () => {
    edit(
      'classes/controllers/D365InvoiceController.cls',
      '@AuraEnabled(cacheable=true)',
      '@AuraEnabled'
    );
    expect(checkContract(packageDir, contract)).toEqual([
      'D365InvoiceController.getInvoices: cacheable must be true'
    ]);
  });
});

describe('checkCustomNameReferences', () => {
  it('passes on the package as committed', () => {
    expect(checkCustomNameReferences(packageDir)).toEqual([]);
  });

  it('reports a misspelt field on a standard object, which apex-ls lets through', () => {
    edit(
      'classes/selectors/AccountsSelector.cls',
      'SELECT Id, Name, D365_Customer_Number__c, D365_Legal_Entity__c',
      'SELECT Id, Name, D365_Custmer_Number__c, D365_Legal_Entity__c'
    );
    const problems = checkCustomNameReferences(packageDir);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^force-app\/main\/default\/classes\/selectors\/AccountsSelector\.cls:\d+: D365_Custmer_Number__c is not defined in the package$/
    );
  });
});

describe('checkManifestCoverage', () => {
  function manifest(name: string, types: Record<string, string[]>): string {
    const file = path.join(work, name);
    const body = Object.entries(types)
      .map(
        ([type, members]) =>
          `<types>${members.map((m) => `<members>${m}</members>`).join('')}<name>${type}</name></types>`
      )
      .join('');
    writeFileSync(
      file,
      `<?xml version="1.0"?><Package xmlns="http://soap.sforce.com/2006/04/metadata">${body}</Package>`
    );
    return file;
  }

  it('accepts wildcards and exact members', () => {
    const converted = manifest('converted.xml', {
      ApexClass: ['A', 'B'],
      CustomField: ['Account.X__c']
    });
    const deploy = manifest('deploy.xml', { ApexClass: ['*'], CustomField: ['Account.X__c'] });
    expect(checkManifestCoverage(converted, deploy)).toEqual([]);
  });

  it('reports components left out of the deploy and members the source lacks', () => {
    const converted = manifest('converted.xml', { CustomField: ['Account.X__c', 'Account.Y__c'] });
    const deploy = manifest('deploy.xml', { CustomField: ['Account.X__c', 'Account.Old__c'] });
    expect(checkManifestCoverage(converted, deploy)).toEqual([
      'manifest/package.xml lacks CustomField Account.Y__c',
      'manifest/package.xml lists CustomField Account.Old__c, which force-app does not contain'
    ]);
  });
});
