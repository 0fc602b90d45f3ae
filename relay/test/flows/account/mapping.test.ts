import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACCOUNT_SYNC_TOPIC } from '../../../src/flows/account/index.ts';
import {
  ACCOUNT_EVENT_FIELDS,
  ACCOUNT_MAPPED_FIELDS,
  ACCOUNT_PAYLOAD_KEYS,
  accountCreateEvent,
  countryRegionId,
  customerCreateBody,
  customerPatchBody,
  InvalidEventError,
  mapAccountToCustomer,
  ownedFieldChanges,
  parseAccountEvent,
  parseFieldOwnership,
  stateId,
  street,
  warningText,
  type AccountPayload
} from '../../../src/flows/account/mapping.ts';

const ID = '001000000000001AAA';
const settings = { customerGroup: '30', defaultLegalEntity: 'usmf' };

function account(overrides: Partial<AccountPayload> = {}): AccountPayload {
  return {
    Id: ID,
    Name: 'Acme',
    BillingStreet: null,
    BillingCity: null,
    BillingState: null,
    BillingPostalCode: null,
    BillingCountry: null,
    Phone: null,
    Website: null,
    CurrencyIsoCode: null,
    D365_Legal_Entity__c: null,
    D365_Customer_Number__c: null,
    ...overrides
  };
}

describe('the event contract with force-app', () => {
  it("subscribes to the topic of the package's event object", () => {
    expect(ACCOUNT_SYNC_TOPIC).toBe('/event/D365_Account_Sync__e');
    expect(readdirSync('force-app/main/default/objects')).toContain('D365_Account_Sync__e');
  });

  const objectDir = 'force-app/main/default/objects/D365_Account_Sync__e/fields';
  it('reads exactly the fields D365_Account_Sync__e defines', () => {
    const defined = readdirSync(objectDir)
      .map((file) => file.replace('.field-meta.xml', ''))
      .sort();
    expect([...ACCOUNT_EVENT_FIELDS].sort()).toEqual(defined);
  });

  it('reads exactly the payload keys the Apex service serialises', () => {
    const apex = readFileSync(
      join('force-app/main/default/classes/services/D365AccountSyncService.cls'),
      'utf8'
    );
    const payloadOf = apex.slice(apex.indexOf('payloadOf(Account account)'));
    const keys = [...payloadOf.matchAll(/'([A-Za-z0-9_]+)' =>/g)].map((m) => m[1]);
    expect(keys).toEqual([...ACCOUNT_PAYLOAD_KEYS]);
  });

  it('lists as changed the mapped fields of the Apex service', () => {
    const apex = readFileSync(
      join('force-app/main/default/classes/services/D365AccountSyncService.cls'),
      'utf8'
    );
    const list = /MAPPED_FIELDS = new List<String>\{([^}]*)\}/.exec(apex)?.[1] ?? '';
    expect([...ACCOUNT_MAPPED_FIELDS]).toEqual(
      [...list.matchAll(/'([A-Za-z0-9_]+)'/g)].map((m) => m[1])
    );
  });
});

describe('accountCreateEvent', () => {
  it('builds the create event the trigger would publish from an account row', () => {
    const event = accountCreateEvent(
      ID,
      { Id: ID, Name: 'Acme', BillingCity: 'Seattle', D365_Sync_Status__c: 'Pending' },
      { idempotencyKey: `${ID}:order:006000000000001AAA`, legalEntity: 'usmf' }
    );
    expect(parseAccountEvent(event)).toEqual({
      recordId: ID,
      idempotencyKey: `${ID}:order:006000000000001AAA`,
      operation: 'create',
      legalEntity: 'usmf',
      customerNumber: null,
      changedFields: [...ACCOUNT_MAPPED_FIELDS],
      account: account({ BillingCity: 'Seattle' })
    });
  });
});

describe('parseAccountEvent', () => {
  const event = {
    Record_Id__c: ID,
    Idempotency_Key__c: `${ID}:1`,
    Operation__c: 'update',
    Legal_Entity__c: 'USMF',
    D365_Customer_Number__c: 'US-001',
    Changed_Fields__c: 'Name,Phone',
    Payload__c: JSON.stringify({ Id: ID, Name: 'Acme', Phone: '' })
  };
  it('reads the fields, lower-cases the legal entity, splits the changed fields, blanks to null', () => {
    const parsed = parseAccountEvent(event);
    expect(parsed).toMatchObject({
      recordId: ID,
      operation: 'update',
      legalEntity: 'usmf',
      customerNumber: 'US-001',
      changedFields: ['Name', 'Phone']
    });
    expect(parsed.account.Phone).toBeNull();
  });
  it.each([
    ['a short id', { Record_Id__c: '001' }],
    ['an unknown operation', { Operation__c: 'delete' }],
    ['a payload that is not JSON', { Payload__c: '{' }],
    ['no idempotency key', { Idempotency_Key__c: '' }]
  ])('refuses %s', (_what, patch) => {
    expect(() => parseAccountEvent({ ...event, ...patch })).toThrow(InvalidEventError);
  });
});

describe('countryRegionId', () => {
  it.each([
    ['United States', 'USA'],
    ['US', 'USA'],
    ['USA', 'USA'],
    ['U.S.A.', 'USA'],
    ['united states of america', 'USA'],
    ['Germany', 'DEU'],
    ['de', 'DEU'],
    ['United Kingdom', 'GBR'],
    ['England', 'GBR'],
    ['Viet Nam', 'VNM'],
    ['  France ', 'FRA'],
    ['Atlantis', null],
    ['XX', null],
    [null, null]
  ])('%s → %s', (input, expected) => {
    expect(countryRegionId(input)).toBe(expected);
  });
});

describe('stateId and street', () => {
  it.each([
    ['California', 'USA', 'CA'],
    ['massachusetts', 'USA', 'MA'],
    ['WA', 'USA', 'WA'],
    ['Bayern', 'DEU', 'Bayern'],
    [null, 'USA', null]
  ])('state %s in %s → %s', (state, region, expected) => {
    expect(stateId(state, region)).toBe(expected);
  });
  it.each([
    ['1 Main St\r\nSuite 5', '1 Main St\nSuite 5'],
    ['1 Main St\n\n  Floor 2 ', '1 Main St\nFloor 2'],
    ['\n', null]
  ])('street %j → %j', (input, expected) => {
    expect(street(input)).toBe(expected);
  });
});

describe('mapAccountToCustomer (every lossy transform warns)', () => {
  it('maps every field', () => {
    const mapped = mapAccountToCustomer(
      {
        legalEntity: null,
        account: account({
          BillingStreet: '1 Main St\nSuite 5',
          BillingCity: 'Seattle',
          BillingState: 'Washington',
          BillingPostalCode: '98052',
          BillingCountry: 'United States',
          Phone: '+1 555 0100',
          Website: 'https://acme.example',
          CurrencyIsoCode: 'usd',
          D365_Legal_Entity__c: 'DEMF'
        })
      },
      settings
    );
    expect(mapped).toEqual({
      dataAreaId: 'demf',
      fields: {
        OrganizationName: 'Acme',
        IdentificationNumber: ID,
        AddressCountryRegionId: 'USA',
        AddressStreet: '1 Main St\nSuite 5',
        AddressCity: 'Seattle',
        AddressState: 'WA',
        AddressZipCode: '98052',
        PrimaryContactPhone: '+1 555 0100',
        PrimaryContactURL: 'https://acme.example',
        SalesCurrencyCode: 'USD'
      },
      warnings: []
    });
  });

  it.each([
    ['name over 100', { Name: 'N'.repeat(120) }, 'OrganizationName', 100, 'Name cut to 100'],
    ['city over 60', { BillingCity: 'C'.repeat(70) }, 'AddressCity', 60, 'City cut to 60'],
    ['ZIP over 10', { BillingPostalCode: '12345-67890' }, 'AddressZipCode', 10, 'Postal code cut'],
    ['state over 10', { BillingState: 'Schleswig-Holstein' }, 'AddressState', 10, 'State cut'],
    ['street over 250', { BillingStreet: 'S'.repeat(300) }, 'AddressStreet', 250, 'Street cut'],
    ['website over 255', { Website: 'w'.repeat(300) }, 'PrimaryContactURL', 255, 'Website cut'],
    ['phone over 255', { Phone: '1'.repeat(300) }, 'PrimaryContactPhone', 255, 'Phone cut']
  ])('truncates a %s and flags it', (_what, patch, field, length, warning) => {
    const mapped = mapAccountToCustomer({ legalEntity: 'usmf', account: account(patch) }, settings);
    expect(mapped.fields[field]).toHaveLength(length);
    expect(mapped.warnings.join()).toContain(warning);
  });

  it('drops an unknown country and flags it', () => {
    const mapped = mapAccountToCustomer(
      { legalEntity: 'usmf', account: account({ BillingCountry: 'Atlantis' }) },
      settings
    );
    expect(mapped.fields.AddressCountryRegionId).toBeUndefined();
    expect(mapped.warnings).toEqual([
      'Country "Atlantis" is not a known country; not sent to D365'
    ]);
  });

  it('takes the legal entity from the event, else the account, else the setting', () => {
    const a = account({ D365_Legal_Entity__c: 'DEMF' });
    expect(mapAccountToCustomer({ legalEntity: 'usmf', account: a }, settings).dataAreaId).toBe(
      'usmf'
    );
    expect(mapAccountToCustomer({ legalEntity: null, account: a }, settings).dataAreaId).toBe(
      'demf'
    );
    expect(
      mapAccountToCustomer({ legalEntity: null, account: account() }, settings).dataAreaId
    ).toBe('usmf');
  });

  it('creates with the customer group from settings; never sends an e-mail (Account has none)', () => {
    const mapped = mapAccountToCustomer({ legalEntity: 'usmf', account: account() }, settings);
    const body = customerCreateBody(mapped, settings);
    expect(body).toMatchObject({ dataAreaId: 'usmf', CustomerGroupId: '30' });
    expect(body).not.toHaveProperty('PrimaryContactEmail');
  });
});

describe('customerPatchBody', () => {
  const mapped = mapAccountToCustomer(
    {
      legalEntity: 'usmf',
      account: account({ Phone: '555', BillingCountry: 'US', BillingState: 'Texas' })
    },
    settings
  );
  it.each([
    [['Phone'], { PrimaryContactPhone: '555' }],
    [['BillingCountry'], { AddressCountryRegionId: 'USA', AddressState: 'TX' }],
    [['Website'], { PrimaryContactURL: '' }],
    [['D365_Legal_Entity__c'], {}]
  ])('for changed %j sends %j', (changed, expected) => {
    expect(customerPatchBody(mapped, changed)).toEqual(expected);
  });
});

describe('warningText', () => {
  it('joins, clips to 255, and is null without warnings (clearing an old one)', () => {
    expect(warningText([])).toBeNull();
    expect(warningText(['a', 'b'])).toBe('a; b');
    expect(warningText(['x'.repeat(300)])).toHaveLength(255);
  });
});

describe('field ownership and D365-owned fields', () => {
  it('parses the setting; unnamed fields belong to D365; bad values are refused', () => {
    expect(parseFieldOwnership('creditLimit:salesforce')).toEqual({
      creditLimit: 'salesforce',
      customerGroup: 'd365',
      onHold: 'd365'
    });
    expect(() => parseFieldOwnership('color:d365')).toThrow(/Unknown field/);
    expect(() => parseFieldOwnership('onHold:both')).toThrow(/must be d365 or salesforce/);
  });

  const customer = { CreditLimit: 5000.129, CustomerGroupId: '30', OnHoldStatus: 'Invoice' };
  it('writes to Salesforce only the D365-owned values that differ', () => {
    const changes = ownedFieldChanges(
      customer,
      { D365_Credit_Limit__c: 5000.13, D365_Customer_Group__c: '10', D365_On_Hold__c: null },
      parseFieldOwnership('')
    );
    expect(changes).toEqual({
      salesforce: { D365_Customer_Group__c: '30', D365_On_Hold__c: 'Invoice' },
      d365: {}
    });
  });
  it('writes nothing when both sides agree (no ping-pong)', () => {
    expect(
      ownedFieldChanges(
        customer,
        { D365_Credit_Limit__c: 5000.13, D365_Customer_Group__c: '30', D365_On_Hold__c: 'Invoice' },
        parseFieldOwnership('')
      )
    ).toEqual({ salesforce: {}, d365: {} });
  });
  it('sends a Salesforce-owned value to D365 instead', () => {
    expect(
      ownedFieldChanges(
        customer,
        { D365_Credit_Limit__c: 7000, D365_Customer_Group__c: '30', D365_On_Hold__c: 'Invoice' },
        parseFieldOwnership('creditLimit:salesforce')
      )
    ).toEqual({ salesforce: {}, d365: { CreditLimit: 7000 } });
  });
});
