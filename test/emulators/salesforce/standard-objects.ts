/**
 * Built-in model of the standard objects the package touches, with their real key prefixes and the
 * standard fields the relay and common tooling use (Salesforce Object Reference, v62.0). Custom
 * fields from force-app are merged on top by metadata.ts.
 */
import { field, picklist } from './model.ts';
import type { FieldModel, ObjectKind } from './model.ts';

export interface ObjectSeed {
  name: string;
  label: string;
  labelPlural: string;
  keyPrefix: string;
  kind: ObjectKind;
  fields: FieldModel[];
}

const text = (name: string, length: number, extra: Partial<FieldModel> = {}): FieldModel =>
  field({ name, type: 'string', length, ...extra });
const readOnly: Partial<FieldModel> = { createable: false, updateable: false };
const ref = (
  name: string,
  target: string,
  relationshipName: string,
  extra: Partial<FieldModel> = {}
): FieldModel =>
  field({ name, type: 'reference', length: 18, referenceTo: [target], relationshipName, ...extra });

/** Id, IsDeleted and the audit fields every record carries. */
export function systemFields(withOwner: boolean): FieldModel[] {
  const fields = [
    field({ name: 'Id', type: 'id', length: 18, nillable: false, ...readOnly, idLookup: true }),
    field({ name: 'IsDeleted', type: 'boolean', ...readOnly, label: 'Deleted' }),
    field({ name: 'CreatedDate', type: 'datetime', ...readOnly, defaultedOnCreate: true }),
    ref('CreatedById', 'User', 'CreatedBy', { ...readOnly, defaultedOnCreate: true }),
    field({ name: 'LastModifiedDate', type: 'datetime', ...readOnly, defaultedOnCreate: true }),
    ref('LastModifiedById', 'User', 'LastModifiedBy', { ...readOnly, defaultedOnCreate: true }),
    field({ name: 'SystemModstamp', type: 'datetime', ...readOnly, defaultedOnCreate: true })
  ];
  if (withOwner) {
    fields.push(
      ref('OwnerId', 'User', 'Owner', {
        nillable: false,
        defaultedOnCreate: true,
        label: 'Owner ID'
      })
    );
  }
  return fields;
}

const address = (prefix: string): FieldModel[] => [
  field({ name: `${prefix}Street`, type: 'textarea', length: 255 }),
  text(`${prefix}City`, 40),
  text(`${prefix}State`, 80),
  text(`${prefix}PostalCode`, 20),
  text(`${prefix}Country`, 80)
];

const STAGES = [
  'Prospecting',
  'Qualification',
  'Needs Analysis',
  'Value Proposition',
  'Id. Decision Makers',
  'Perception Analysis',
  'Proposal/Price Quote',
  'Negotiation/Review',
  'Closed Won',
  'Closed Lost'
];

/** Stage → (IsClosed, IsWon), as the default sales process defines them. */
export const STAGE_OUTCOME: Record<string, { closed: boolean; won: boolean }> = {
  'Closed Won': { closed: true, won: true },
  'Closed Lost': { closed: true, won: false }
};

export function standardObjects(): ObjectSeed[] {
  return [
    {
      name: 'Account',
      label: 'Account',
      labelPlural: 'Accounts',
      keyPrefix: '001',
      kind: 'standard',
      fields: [
        ...systemFields(true),
        text('Name', 255, { nillable: false, nameField: true, label: 'Account Name' }),
        field({
          name: 'Type',
          type: 'picklist',
          length: 255,
          picklistValues: picklist(['Prospect', 'Customer - Direct', 'Customer - Channel', 'Other'])
        }),
        ref('ParentId', 'Account', 'Parent'),
        text('AccountNumber', 40),
        ...address('Billing'),
        ...address('Shipping'),
        field({ name: 'Phone', type: 'phone', length: 40 }),
        field({ name: 'Fax', type: 'phone', length: 40 }),
        field({ name: 'Website', type: 'url', length: 255 }),
        field({ name: 'Industry', type: 'picklist', length: 255 }),
        field({ name: 'AnnualRevenue', type: 'currency', precision: 18, scale: 0 }),
        field({ name: 'NumberOfEmployees', type: 'int', digits: 8 }),
        field({ name: 'Description', type: 'textarea', length: 32000 })
      ]
    },
    {
      name: 'Contact',
      label: 'Contact',
      labelPlural: 'Contacts',
      keyPrefix: '003',
      kind: 'standard',
      fields: [
        ...systemFields(true),
        // Deleting an account deletes its contacts and opportunities (Object Reference, Account).
        ref('AccountId', 'Account', 'Account', { deleteConstraint: 'Cascade' }),
        text('LastName', 80, { nillable: false }),
        text('FirstName', 40),
        field({
          name: 'Salutation',
          type: 'picklist',
          length: 40,
          picklistValues: picklist(['Mr.', 'Ms.', 'Mrs.', 'Dr.', 'Prof.'])
        }),
        text('Name', 121, { ...readOnly, calculated: true, nameField: true, label: 'Full Name' }),
        field({ name: 'Email', type: 'email', length: 80, idLookup: true }),
        field({ name: 'Phone', type: 'phone', length: 40 }),
        field({ name: 'MobilePhone', type: 'phone', length: 40 }),
        text('Title', 128),
        text('Department', 80),
        ...address('Mailing'),
        field({ name: 'Description', type: 'textarea', length: 32000 })
      ]
    },
    {
      name: 'Opportunity',
      label: 'Opportunity',
      labelPlural: 'Opportunities',
      keyPrefix: '006',
      kind: 'standard',
      fields: [
        ...systemFields(true),
        // Deleting an account deletes its contacts and opportunities (Object Reference, Account).
        ref('AccountId', 'Account', 'Account', { deleteConstraint: 'Cascade' }),
        text('Name', 120, { nillable: false, nameField: true }),
        field({ name: 'Description', type: 'textarea', length: 32000 }),
        field({
          name: 'StageName',
          type: 'picklist',
          length: 255,
          nillable: false,
          label: 'Stage',
          picklistValues: picklist(STAGES)
        }),
        field({ name: 'Amount', type: 'currency', precision: 18, scale: 2 }),
        field({ name: 'Probability', type: 'percent', precision: 3, scale: 0 }),
        field({ name: 'CloseDate', type: 'date', nillable: false }),
        field({ name: 'Type', type: 'picklist', length: 255 }),
        field({ name: 'LeadSource', type: 'picklist', length: 255 }),
        field({ name: 'IsClosed', type: 'boolean', ...readOnly, label: 'Closed' }),
        field({ name: 'IsWon', type: 'boolean', ...readOnly, label: 'Won' }),
        ref('Pricebook2Id', 'Pricebook2', 'Pricebook2'),
        field({ name: 'HasOpportunityLineItem', type: 'boolean', ...readOnly })
      ]
    },
    {
      name: 'OpportunityLineItem',
      label: 'Opportunity Product',
      labelPlural: 'Opportunity Product',
      keyPrefix: '00k',
      kind: 'standard',
      fields: [
        ...systemFields(false),
        ref('OpportunityId', 'Opportunity', 'Opportunity', {
          nillable: false,
          updateable: false,
          deleteConstraint: 'Cascade'
        }),
        ref('PricebookEntryId', 'PricebookEntry', 'PricebookEntry', { updateable: false }),
        ref('Product2Id', 'Product2', 'Product2', { updateable: false }),
        text('ProductCode', 255, readOnly),
        text('Name', 376, { ...readOnly, nameField: true }),
        field({ name: 'Quantity', type: 'double', precision: 12, scale: 2, nillable: false }),
        field({
          name: 'UnitPrice',
          type: 'currency',
          precision: 18,
          scale: 2,
          label: 'Sales Price'
        }),
        field({ name: 'ListPrice', type: 'currency', precision: 18, scale: 2, ...readOnly }),
        field({ name: 'TotalPrice', type: 'currency', precision: 18, scale: 2 }),
        field({ name: 'Discount', type: 'percent', precision: 5, scale: 2 }),
        text('Description', 255, { label: 'Line Description' }),
        field({ name: 'ServiceDate', type: 'date' }),
        field({ name: 'SortOrder', type: 'int', digits: 9 })
      ]
    },
    {
      name: 'Product2',
      label: 'Product',
      labelPlural: 'Products',
      keyPrefix: '01t',
      kind: 'standard',
      fields: [
        ...systemFields(false),
        text('Name', 255, { nillable: false, nameField: true, label: 'Product Name' }),
        text('ProductCode', 255),
        field({ name: 'Description', type: 'textarea', length: 4000 }),
        field({ name: 'IsActive', type: 'boolean', label: 'Active' }),
        field({ name: 'IsArchived', type: 'boolean', ...readOnly }),
        field({
          name: 'Family',
          type: 'picklist',
          length: 255,
          picklistValues: picklist(['None'])
        }),
        field({ name: 'QuantityUnitOfMeasure', type: 'picklist', length: 255 }),
        text('StockKeepingUnit', 180),
        text('ExternalId', 255)
      ]
    },
    {
      name: 'Pricebook2',
      label: 'Price Book',
      labelPlural: 'Price Books',
      keyPrefix: '01s',
      kind: 'standard',
      fields: [
        ...systemFields(false),
        text('Name', 255, { nillable: false, nameField: true, label: 'Price Book Name' }),
        field({ name: 'IsActive', type: 'boolean', label: 'Active' }),
        field({
          name: 'IsStandard',
          type: 'boolean',
          ...readOnly,
          label: 'Is Standard Price Book'
        }),
        field({ name: 'IsArchived', type: 'boolean', ...readOnly }),
        text('Description', 255)
      ]
    },
    {
      name: 'PricebookEntry',
      label: 'Price Book Entry',
      labelPlural: 'Price Book Entries',
      keyPrefix: '01u',
      kind: 'standard',
      fields: [
        ...systemFields(false),
        text('Name', 255, { ...readOnly, nameField: true, label: 'Product Name' }),
        ref('Pricebook2Id', 'Pricebook2', 'Pricebook2', { nillable: false, updateable: false }),
        ref('Product2Id', 'Product2', 'Product2', { nillable: false, updateable: false }),
        field({ name: 'UnitPrice', type: 'currency', precision: 18, scale: 2, nillable: false }),
        field({ name: 'IsActive', type: 'boolean', label: 'Active' }),
        field({ name: 'UseStandardPrice', type: 'boolean' }),
        text('ProductCode', 255, readOnly),
        field({ name: 'IsArchived', type: 'boolean', ...readOnly })
      ]
    },
    {
      name: 'User',
      label: 'User',
      labelPlural: 'Users',
      keyPrefix: '005',
      kind: 'standard',
      fields: [
        ...systemFields(false).filter((f) => f.name !== 'IsDeleted'),
        text('Username', 80, { nillable: false, unique: true, idLookup: true }),
        text('LastName', 80, { nillable: false }),
        text('FirstName', 40),
        text('Name', 121, { ...readOnly, calculated: true, nameField: true, label: 'Full Name' }),
        field({ name: 'Email', type: 'email', length: 128, nillable: false }),
        text('Alias', 8, { nillable: false }),
        field({ name: 'IsActive', type: 'boolean', defaultValue: true, label: 'Active' }),
        text('TimeZoneSidKey', 40, { defaultValue: 'GMT', defaultedOnCreate: true }),
        text('LocaleSidKey', 40, { defaultValue: 'en_US', defaultedOnCreate: true }),
        text('LanguageLocaleKey', 40, { defaultValue: 'en_US', defaultedOnCreate: true })
      ]
    }
  ];
}
