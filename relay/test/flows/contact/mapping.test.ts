import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONTACT_SYNC_TOPIC } from '../../../src/flows/contact/index.ts';
import {
  CONTACT_EVENT_FIELDS,
  CONTACT_PAYLOAD_KEYS,
  InvalidContactEventError,
  isSamePerson,
  mapContactToPerson,
  parseContactEvent,
  personPatchBody,
  type ContactPayload
} from '../../../src/flows/contact/mapping.ts';

const ID = '003000000000001AAA';
const ACCOUNT = '001000000000001AAA';

function contact(overrides: Partial<ContactPayload> = {}): ContactPayload {
  return {
    Id: ID,
    AccountId: ACCOUNT,
    FirstName: 'Ada',
    LastName: 'Lovelace',
    Email: null,
    Phone: null,
    Title: null,
    D365_Contact_Person_Id__c: null,
    Account: { D365_Customer_Number__c: 'US-001', D365_Legal_Entity__c: null },
    ...overrides
  };
}

describe('the event contract with force-app', () => {
  it("subscribes to the topic of the package's event object", () => {
    expect(CONTACT_SYNC_TOPIC).toBe('/event/D365_Contact_Sync__e');
    expect(readdirSync('force-app/main/default/objects')).toContain('D365_Contact_Sync__e');
  });

  it('reads exactly the fields D365_Contact_Sync__e defines', () => {
    const defined = readdirSync('force-app/main/default/objects/D365_Contact_Sync__e/fields')
      .map((file) => file.replace('.field-meta.xml', ''))
      .sort();
    expect([...CONTACT_EVENT_FIELDS].sort()).toEqual(defined);
  });

  it('reads exactly the payload keys the Apex service serialises', () => {
    const apex = readFileSync(
      'force-app/main/default/classes/services/D365ContactSyncService.cls',
      'utf8'
    );
    const body = apex.slice(apex.indexOf('payloadOf(Contact contact, Account account)'));
    const keys = [...body.matchAll(/'([A-Za-z0-9_]+)' =>/g)].map((m) => m[1]);
    // The nested Account map's keys follow the contact's own.
    expect(keys).toEqual([
      ...CONTACT_PAYLOAD_KEYS,
      'D365_Customer_Number__c',
      'D365_Legal_Entity__c'
    ]);
  });
});

describe('parseContactEvent', () => {
  const event = {
    Record_Id__c: ID,
    Idempotency_Key__c: `${ID}:1`,
    Operation__c: 'create',
    Account_Id__c: ACCOUNT,
    Legal_Entity__c: 'USMF',
    D365_Contact_Person_Id__c: null,
    Changed_Fields__c: 'AccountId,FirstName',
    Payload__c: JSON.stringify({
      Id: ID,
      FirstName: 'Ada',
      LastName: 'Lovelace',
      Account: { D365_Customer_Number__c: 'US-001', D365_Legal_Entity__c: null }
    })
  };
  it('reads the event and its nested account keys', () => {
    expect(parseContactEvent(event)).toMatchObject({
      operation: 'create',
      legalEntity: 'usmf',
      changedFields: ['AccountId', 'FirstName'],
      contact: { LastName: 'Lovelace', Account: { D365_Customer_Number__c: 'US-001' } }
    });
  });
  it.each([
    ['no account id', { Account_Id__c: null }],
    ['a resync operation (contacts have none)', { Operation__c: 'resync' }],
    ['a payload that is not JSON', { Payload__c: 'x' }]
  ])('refuses %s', (_what, patch) => {
    expect(() => parseContactEvent({ ...event, ...patch })).toThrow(InvalidContactEventError);
  });
});

describe('mapContactToPerson (every lossy transform warns)', () => {
  it('maps every field', () => {
    expect(
      mapContactToPerson(contact({ Email: 'ada@example.com', Phone: '+44 20', Title: 'Analyst' }))
    ).toEqual({
      fields: {
        FirstName: 'Ada',
        LastName: 'Lovelace',
        PrimaryEmailAddress: 'ada@example.com',
        PrimaryPhoneNumber: '+44 20',
        EmploymentJobTitle: 'Analyst'
      },
      warnings: []
    });
  });
  it.each([
    ['FirstName', 'FirstName', 25, 'First name cut to 25'],
    ['LastName', 'LastName', 25, 'Last name cut to 25'],
    ['Title', 'EmploymentJobTitle', 60, 'Title cut to 60'],
    ['Email', 'PrimaryEmailAddress', 255, 'Email cut to 255'],
    ['Phone', 'PrimaryPhoneNumber', 255, 'Phone cut to 255']
  ] as const)('truncates a long %s and flags it', (source, target, limit, warning) => {
    const mapped = mapContactToPerson(contact({ [source]: 'x'.repeat(limit + 5) }));
    expect(mapped.fields[target]).toHaveLength(limit);
    expect(mapped.warnings.join()).toContain(warning);
  });
});

describe('personPatchBody', () => {
  const mapped = mapContactToPerson(contact({ Email: 'ada@example.com' }));
  it.each([
    [['Email'], { PrimaryEmailAddress: 'ada@example.com' }],
    [['Title'], { EmploymentJobTitle: '' }],
    [['AccountId'], {}]
  ])('for changed %j sends %j', (changed, expected) => {
    expect(personPatchBody(mapped, changed)).toEqual(expected);
  });
});

describe('isSamePerson', () => {
  const mapped = mapContactToPerson(contact({ Email: 'Ada@Example.com' }));
  it.each([
    [{ PrimaryEmailAddress: 'ada@example.com', FirstName: 'A', LastName: 'L' }, true],
    [{ PrimaryEmailAddress: 'other@example.com', FirstName: 'Ada', LastName: 'Lovelace' }, false],
    [{ PrimaryEmailAddress: '', FirstName: 'ada', LastName: 'LOVELACE' }, true],
    [{ PrimaryEmailAddress: '', FirstName: 'Grace', LastName: 'Hopper' }, false]
  ])('%j → %s', (existing, expected) => {
    expect(isSamePerson(existing, mapped)).toBe(expected);
  });
});
