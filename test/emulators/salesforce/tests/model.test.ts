import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadModel } from '../metadata.ts';
import { contractFixture, fieldXml, writeProject } from './helpers.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()?.();
});

function project(objects = contractFixture()) {
  const p = writeProject(objects);
  cleanups.push(p.remove);
  return p.dir;
}

describe('object model from force-app', () => {
  it('gives standard objects their real key prefixes', () => {
    const { model } = loadModel(project());
    const prefixes = Object.fromEntries(
      [
        'Account',
        'Contact',
        'Opportunity',
        'OpportunityLineItem',
        'Product2',
        'Pricebook2',
        'PricebookEntry',
        'User'
      ].map((n) => [n, model.objects.get(n.toLowerCase())?.keyPrefix])
    );
    expect(prefixes).toEqual({
      Account: '001',
      Contact: '003',
      Opportunity: '006',
      OpportunityLineItem: '00k',
      Product2: '01t',
      Pricebook2: '01s',
      PricebookEntry: '01u',
      User: '005'
    });
  });

  it('merges custom fields onto standard objects with their flags', () => {
    const { model } = loadModel(project());
    const account = model.objects.get('account');
    const customerNumber = account?.fieldsByLower.get('d365_customer_number__c');
    expect(customerNumber).toMatchObject({
      type: 'string',
      length: 20,
      externalId: true,
      unique: true,
      caseSensitive: false
    });
    const itemNumber = model.objects.get('product2')?.fieldsByLower.get('d365_item_number__c');
    expect(itemNumber).toMatchObject({ externalId: true, caseSensitive: true });
    const status = account?.fieldsByLower.get('d365_sync_status__c');
    expect(status?.restrictedPicklist).toBe(true);
    expect(status?.picklistValues.map((p) => p.value)).toEqual([
      'Not Synced',
      'Pending',
      'Synced',
      'Error'
    ]);
    expect(account?.fieldsByLower.get('d365_open_balance__c')).toMatchObject({
      type: 'currency',
      precision: 16,
      scale: 2
    });
  });

  it('models a custom object with a master-detail field and its child relationship', () => {
    const { model } = loadModel(project());
    const invoice = model.objects.get('invoice__c');
    expect(invoice?.keyPrefix).toBe('a00');
    expect(invoice?.hasOwner).toBe(false);
    expect(invoice?.fieldsByLower.get('account__c')).toMatchObject({
      type: 'reference',
      referenceTo: ['Account'],
      relationshipName: 'Account__r',
      nillable: false,
      updateable: false
    });
    expect(
      model.objects.get('account')?.childRelationshipsByLower.get('invoices__r')
    ).toMatchObject({
      childSObject: 'Invoice__c',
      field: 'Account__c',
      cascadeDelete: true
    });
  });

  it('turns platform events into definitions for the Pub/Sub API', () => {
    const { model, platformEvents } = loadModel(project());
    expect(model.objects.get('d365_sync_result__e')?.kind).toBe('event');
    expect(platformEvents).toEqual([
      {
        apiName: 'D365_Sync_Result__e',
        fields: [
          { apiName: 'Message__c', type: 'Text', length: 255 },
          { apiName: 'Record_Id__c', type: 'Text', length: 18 },
          { apiName: 'Status__c', type: 'Text', length: 20 }
        ]
      }
    ]);
  });

  it('reads custom metadata types and their records', () => {
    const { model, metadataRecords, warnings } = loadModel(project());
    expect(model.objects.get('d365_integration_setting__mdt')).toMatchObject({
      kind: 'metadata',
      keyPrefix: 'm00'
    });
    expect(metadataRecords).toEqual([
      {
        object: 'D365_Integration_Setting__mdt',
        developerName: 'Default',
        label: 'Default',
        values: {
          Default_Legal_Entity__c: 'usmf',
          Callout_Timeout_Ms__c: '10000',
          Account_Sync_Enabled__c: 'true'
        }
      }
    ]);
    expect(warnings).toEqual([]);
  });

  it('follows force-app changes without code edits', () => {
    const dir = project();
    expect(loadModel(dir).model.objects.get('account')?.fieldsByLower.has('new_field__c')).toBe(
      false
    );
    writeFileSync(
      join(dir, 'force-app/main/default/objects/Account/fields/New_Field__c.field-meta.xml'),
      fieldXml({
        fullName: 'New_Field__c',
        label: 'New',
        length: '7',
        type: 'Text',
        required: 'true'
      })
    );
    const added = loadModel(dir).model.objects.get('account')?.fieldsByLower.get('new_field__c');
    expect(added).toMatchObject({ length: 7, nillable: false });
    expect(
      loadModel(dir)
        .model.objects.get('account')
        ?.requiredOnCreate.map((f) => f.name)
    ).toContain('New_Field__c');
  });

  it('assigns custom key prefixes in a stable, name-sorted order', () => {
    const objects = contractFixture();
    objects.Alpha__c = {};
    const { model } = loadModel(project(objects));
    expect(model.objects.get('alpha__c')?.keyPrefix).toBe('a00');
    expect(model.objects.get('invoice__c')?.keyPrefix).toBe('a01');
  });

  it('loads the repository’s own package', () => {
    const root = join(import.meta.dirname, '../../../..');
    if (!existsSync(join(root, 'force-app/main/default/objects/Invoice__c'))) return;
    const { model, platformEvents } = loadModel(root);
    expect(
      model.objects.get('invoice__c')?.fieldsByLower.get('d365_invoice_key__c')?.externalId
    ).toBe(true);
    expect(platformEvents.map((e) => e.apiName)).toContain('D365_Sync_Result__e');
    expect(loadModel(root).warnings).toEqual([]);
  });
});
