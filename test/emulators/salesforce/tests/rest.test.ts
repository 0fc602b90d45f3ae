import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { call, soql, startHarness } from './helpers.ts';
import type { Harness } from './helpers.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());
beforeEach(() => h.emu.control.resetData());

type Saved = { id: string; success: boolean; errors: unknown[]; created?: boolean };
const create = async (object: string, body: Record<string, unknown>) => {
  const res = await h.api('POST', `/sobjects/${object}`, body);
  expect(res.status, res.text).toBe(201);
  return (res.body as Saved).id;
};

describe('versions and resources', () => {
  it('lists the supported versions without authentication or a limit header', async () => {
    const res = await call(`${h.emu.instanceUrl}/services/data/`, 'GET', null);
    expect(res.status).toBe(200);
    expect(res.body).toContainEqual({
      label: "Winter '25",
      url: '/services/data/v62.0',
      version: '62.0'
    });
    expect(res.headers.get('sforce-limit-info')).toBeNull();
  });

  it('lists the resources of a version', async () => {
    const res = await h.api('GET', '/');
    expect(res.body).toMatchObject({
      sobjects: '/services/data/v62.0/sobjects',
      query: '/services/data/v62.0/query'
    });
  });

  it('answers NOT_FOUND for an unsupported version', async () => {
    const res = await call(`${h.emu.instanceUrl}/services/data/v20.0/sobjects`, 'GET', h.token);
    expect(res.status).toBe(404);
    expect(res.body).toEqual([
      { message: 'The requested resource does not exist', errorCode: 'NOT_FOUND' }
    ]);
  });

  it('answers 401 INVALID_SESSION_ID without a valid token', async () => {
    const res = await call(`${h.emu.instanceUrl}/services/data/v62.0/sobjects`, 'GET', 'bogus');
    expect(res.status).toBe(401);
    expect(res.body).toEqual([
      { message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }
    ]);
  });

  it('sends Sforce-Limit-Info on API responses', async () => {
    const res = await h.api('GET', '/sobjects');
    expect(res.headers.get('sforce-limit-info')).toMatch(/^api-usage=\d+\/100000$/);
  });
});

describe('describe', () => {
  it('lists every object in the global describe', async () => {
    const res = await h.api('GET', '/sobjects');
    const names = (res.body as { sobjects: { name: string; keyPrefix: string }[] }).sobjects.map(
      (s) => s.name
    );
    expect(names).toEqual(
      expect.arrayContaining(['Account', 'Invoice__c', 'PricebookEntry', 'D365_Sync_Result__e'])
    );
  });

  it('describes fields with external ID, uniqueness, case sensitivity and picklist values', async () => {
    const res = await h.api('GET', '/sobjects/Account/describe');
    const fields = (res.body as { fields: Record<string, unknown>[] }).fields;
    expect(fields.find((f) => f.name === 'D365_Customer_Number__c')).toMatchObject({
      type: 'string',
      length: 20,
      externalId: true,
      unique: true,
      caseSensitive: false,
      nillable: true,
      createable: true,
      updateable: true
    });
    const status = fields.find((f) => f.name === 'D365_Sync_Status__c');
    expect(status).toMatchObject({ type: 'picklist', restrictedPicklist: true });
    expect((status?.picklistValues as { value: string }[]).map((p) => p.value)).toContain('Synced');
    expect(fields.find((f) => f.name === 'OwnerId')).toMatchObject({
      referenceTo: ['User'],
      relationshipName: 'Owner'
    });
  });

  it('serves basic object info and 404 for an unknown object', async () => {
    expect(
      (
        (await h.api('GET', '/sobjects/Invoice__c')).body as {
          objectDescribe: { keyPrefix: string };
        }
      ).objectDescribe.keyPrefix
    ).toBe('a00');
    expect((await h.api('GET', '/sobjects/Nope__c')).status).toBe(404);
  });
});

describe('CRUD', () => {
  it('creates, reads with 15- and 18-character IDs, updates and deletes a record', async () => {
    const id = await create('Account', { Name: 'Acme', BillingCity: 'Oslo' });
    expect(id).toMatch(/^001[0-9A-Za-z]{15}$/);
    const read = await h.api('GET', `/sobjects/Account/${id.slice(0, 15)}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({
      attributes: { type: 'Account', url: `/services/data/v62.0/sobjects/Account/${id}` },
      Id: id,
      Name: 'Acme',
      BillingCity: 'Oslo',
      OwnerId: h.emu.integrationUser.id,
      IsDeleted: false
    });
    expect((read.body as { CreatedDate: string }).CreatedDate).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/
    );
    expect((await h.api('PATCH', `/sobjects/Account/${id}`, { Phone: '555' })).status).toBe(204);
    expect(
      ((await h.api('GET', `/sobjects/Account/${id}?fields=Phone`)).body as { Phone: string }).Phone
    ).toBe('555');
    expect((await h.api('DELETE', `/sobjects/Account/${id}`)).status).toBe(204);
    const gone = await h.api('GET', `/sobjects/Account/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body).toEqual([
      { message: 'entity is deleted', errorCode: 'ENTITY_IS_DELETED', fields: [] }
    ]);
  });

  it('answers NOT_FOUND for an unknown ID of the right object', async () => {
    const res = await h.api('GET', '/sobjects/Account/001000000000000AAA');
    expect(res.status).toBe(404);
  });

  it('answers MALFORMED_ID for an ID of another object', async () => {
    const res = await h.api('GET', `/sobjects/Account/${h.emu.integrationUser.id}`);
    expect(res.status).toBe(400);
    expect((res.body as { errorCode: string }[])[0]?.errorCode).toBe('MALFORMED_ID');
  });

  it('deletes an account’s contacts with it', async () => {
    const account = await create('Account', { Name: 'Parent' });
    const contact = await create('Contact', { LastName: 'Child', AccountId: account });
    await h.api('DELETE', `/sobjects/Account/${account}`);
    expect((await h.api('GET', `/sobjects/Contact/${contact}`)).status).toBe(404);
  });

  it('clears a lookup when its parent is deleted', async () => {
    const parent = await create('Account', { Name: 'Parent' });
    const child = await create('Account', { Name: 'Child', ParentId: parent });
    await h.api('DELETE', `/sobjects/Account/${parent}`);
    expect(
      ((await h.api('GET', `/sobjects/Account/${child}`)).body as { ParentId: unknown }).ParentId
    ).toBeNull();
  });

  it('cascades deletes to master-detail children', async () => {
    const account = await create('Account', { Name: 'Parent' });
    const invoice = await create('Invoice__c', { Name: 'INV-1', Account__c: account });
    await h.api('DELETE', `/sobjects/Account/${account}`);
    expect((await h.api('GET', `/sobjects/Invoice__c/${invoice}`)).status).toBe(404);
  });
});

describe('replication resources', () => {
  it('lists records updated and deleted in a window', async () => {
    const start = new Date(Date.now() - 60_000).toISOString();
    const kept = await create('Account', { Name: 'Kept' });
    const gone = await create('Account', { Name: 'Gone' });
    await h.api('DELETE', `/sobjects/Account/${gone}`);
    const end = new Date(Date.now() + 60_000).toISOString();
    const window = `start=${encodeURIComponent(start)}&end=${encodeURIComponent(end)}`;
    const updated = await h.api('GET', `/sobjects/Account/updated/?${window}`);
    expect((updated.body as { ids: string[] }).ids).toEqual([kept]);
    const deleted = await h.api('GET', `/sobjects/Account/deleted/?${window}`);
    expect(
      (deleted.body as { deletedRecords: { id: string }[] }).deletedRecords.map((d) => d.id)
    ).toEqual([gone]);
  });

  it('refuses a window without dates', async () => {
    expect((await h.api('GET', '/sobjects/Account/updated/')).status).toBe(400);
  });
});

describe('field validation', () => {
  const errorOf = async (object: string, body: Record<string, unknown>) => {
    const res = await h.api('POST', `/sobjects/${object}`, body);
    expect(res.status).toBe(400);
    return (res.body as { errorCode: string; message: string; fields?: string[] }[])[0];
  };

  it('rejects unknown fields with INVALID_FIELD', async () => {
    expect(await errorOf('Account', { Name: 'A', abcd: 1 })).toEqual({
      message: "No such column 'abcd' on sobject of type Account",
      errorCode: 'INVALID_FIELD',
      fields: []
    });
  });

  it('rejects an Id in the body of a create', async () => {
    expect(await errorOf('Account', { Id: '001000000000000AAA', Name: 'A' })).toEqual({
      message: 'The Id field should not be specified in the sobject data.',
      errorCode: 'INVALID_FIELD',
      fields: []
    });
  });

  it('rejects missing required fields with REQUIRED_FIELD_MISSING', async () => {
    expect(await errorOf('Contact', { FirstName: 'Ann' })).toEqual({
      message: 'Required fields are missing: [LastName]',
      errorCode: 'REQUIRED_FIELD_MISSING',
      fields: ['LastName']
    });
  });

  it('rejects values longer than the field with STRING_TOO_LONG', async () => {
    const e = await errorOf('Account', { Name: 'A', D365_Legal_Entity__c: 'USMF1' });
    expect(e?.errorCode).toBe('STRING_TOO_LONG');
    expect(e?.fields).toEqual(['D365_Legal_Entity__c']);
  });

  it('rejects a value outside a restricted picklist', async () => {
    const e = await errorOf('Account', { Name: 'A', D365_Sync_Status__c: 'Done' });
    expect(e?.errorCode).toBe('INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST');
    expect(e?.message).toContain('bad value for restricted picklist field: Done');
  });

  it('accepts any value in an unrestricted picklist', async () => {
    await create('Account', { Name: 'A', D365_On_Hold__c: 'Sometimes' });
  });

  it('rejects read-only fields with INVALID_FIELD_FOR_INSERT_UPDATE', async () => {
    const e = await errorOf('Account', { Name: 'A', CreatedDate: '2024-01-01T00:00:00Z' });
    expect(e?.errorCode).toBe('INVALID_FIELD_FOR_INSERT_UPDATE');
    expect(e?.fields).toEqual(['CreatedDate']);
  });

  it('rejects values of the wrong type', async () => {
    expect((await errorOf('Account', { Name: 'A', D365_Open_Balance__c: 'lots' }))?.errorCode).toBe(
      'JSON_PARSER_ERROR'
    );
    expect(
      (await errorOf('Account', { Name: 'A', D365_Last_Synced__c: 'yesterday' }))?.errorCode
    ).toBe('JSON_PARSER_ERROR');
    expect((await errorOf('Account', { Name: 'A', D365_Open_Balance__c: 1e20 }))?.errorCode).toBe(
      'NUMBER_OUTSIDE_VALID_RANGE'
    );
  });

  it('rejects a lookup to a record that does not exist', async () => {
    const e = await errorOf('Contact', { LastName: 'X', AccountId: '001000000000000AAA' });
    expect(e?.errorCode).toBe('INVALID_CROSS_REFERENCE_KEY');
  });

  it('enforces unique External IDs case-insensitively unless the field is case-sensitive', async () => {
    await create('Account', { Name: 'A', D365_Customer_Number__c: 'C-1' });
    const dup = await errorOf('Account', { Name: 'B', D365_Customer_Number__c: 'c-1' });
    expect(dup?.errorCode).toBe('DUPLICATE_VALUE');
    expect(dup?.message).toMatch(
      /^duplicate value found: D365_Customer_Number__c duplicates value on record with id: 001\w{12}$/
    );
    await create('Product2', { Name: 'P', D365_Item_Number__c: 'ITEM-a' });
    await create('Product2', { Name: 'P', D365_Item_Number__c: 'ITEM-A' });
  });

  it('sets a lookup through a parent External ID', async () => {
    const account = await create('Account', { Name: 'A', D365_Customer_Number__c: 'C-9' });
    const contact = await create('Contact', {
      LastName: 'X',
      Account: { D365_Customer_Number__c: 'C-9' }
    });
    expect(
      ((await h.api('GET', `/sobjects/Contact/${contact}`)).body as { AccountId: string }).AccountId
    ).toBe(account);
  });
});

describe('upsert by External ID', () => {
  const upsert = (value: string, body: Record<string, unknown>, version = 'v62.0') =>
    call(
      `${h.emu.instanceUrl}/services/data/${version}/sobjects/Account/D365_Customer_Number__c/${encodeURIComponent(value)}`,
      'PATCH',
      h.token,
      body
    );

  it('creates with 201 and created:true, then updates with 200 and created:false', async () => {
    const first = await upsert('C100', { Name: 'Acme' });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({
      id: expect.stringMatching(/^001/),
      success: true,
      errors: [],
      created: true
    });
    const second = await upsert('c100', { Name: 'Acme 2' });
    expect(second.status).toBe(200);
    expect(second.body).toEqual({
      id: (first.body as Saved).id,
      success: true,
      errors: [],
      created: false
    });
  });

  it('answers 204 without a body for updates before API version 46.0', async () => {
    const v45 = (body: Record<string, unknown>) =>
      call(
        `${h.emu.instanceUrl}/services/data/v45.0/sobjects/Account/D365_Customer_Number__c/C7`,
        'PATCH',
        h.token,
        body
      );
    const created = await v45({ Name: 'A' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: expect.any(String), success: true, errors: [] });
    const updated = await v45({ Name: 'B' });
    expect(updated.status).toBe(204);
    expect(updated.text).toBe('');
  });

  it('answers 404 for a field that is not an External ID', async () => {
    const res = await h.api('PATCH', '/sobjects/Account/Phone/123', { Name: 'A' });
    expect(res.status).toBe(404);
    expect(res.body).toEqual([
      {
        message: 'Provided external ID field does not exist or is not accessible: Phone',
        errorCode: 'NOT_FOUND'
      }
    ]);
  });

  it('answers 400 when the body carries Id', async () => {
    const res = await upsert('C200', { Name: 'A', Id: '001000000000000AAA' });
    expect(res.status).toBe(400);
    expect((res.body as { errorCode: string }[])[0]?.errorCode).toBe(
      'INVALID_FIELD_FOR_INSERT_UPDATE'
    );
  });

  it('answers 300 with the record URLs when a non-unique External ID matches twice', async () => {
    // Contact.Email is an idLookup field without uniqueness.
    const a = await create('Contact', { LastName: 'A', Email: 'same@example.com' });
    const b = await create('Contact', { LastName: 'B', Email: 'same@example.com' });
    const res = await h.api('PATCH', '/sobjects/Contact/Email/same@example.com', { Title: 'X' });
    expect(res.status).toBe(300);
    expect(res.body).toEqual([
      `/services/data/v62.0/sobjects/Contact/${a}`,
      `/services/data/v62.0/sobjects/Contact/${b}`
    ]);
  });

  it('reads a record by External ID', async () => {
    await upsert('C300', { Name: 'Read me' });
    const res = await h.api('GET', '/sobjects/Account/D365_Customer_Number__c/C300');
    expect((res.body as { Name: string }).Name).toBe('Read me');
  });
});

describe('price books', () => {
  const standardBook = async () => {
    const res = await h.api(
      'GET',
      `/query?q=${encodeURIComponent('SELECT Id FROM Pricebook2 WHERE IsStandard = true')}`
    );
    return (res.body as { records: { Id: string }[] }).records[0]?.Id as string;
  };

  it('has a standard price book', async () => {
    expect(await standardBook()).toMatch(/^01s/);
  });

  it('requires the standard price before a custom price book entry', async () => {
    const product = await create('Product2', { Name: 'Widget', D365_Item_Number__c: 'W1' });
    const custom = await create('Pricebook2', { Name: 'EU', IsActive: true });
    const early = await h.api('POST', '/sobjects/PricebookEntry', {
      Pricebook2Id: custom,
      Product2Id: product,
      UnitPrice: 9
    });
    expect(early.status).toBe(400);
    expect((early.body as { errorCode: string }[])[0]?.errorCode).toBe(
      'STANDARD_PRICE_NOT_DEFINED'
    );
    await create('PricebookEntry', {
      Pricebook2Id: await standardBook(),
      Product2Id: product,
      UnitPrice: 10,
      IsActive: true
    });
    await create('PricebookEntry', {
      Pricebook2Id: custom,
      Product2Id: product,
      UnitPrice: 9,
      IsActive: true
    });
  });

  it('does not let Pricebook2Id or Product2Id change on update', async () => {
    const product = await create('Product2', { Name: 'Widget' });
    const entry = await create('PricebookEntry', {
      Pricebook2Id: await standardBook(),
      Product2Id: product,
      UnitPrice: 10
    });
    const other = await create('Product2', { Name: 'Other' });
    const res = await h.api('PATCH', `/sobjects/PricebookEntry/${entry}`, { Product2Id: other });
    expect(res.status).toBe(400);
    expect((res.body as { errorCode: string }[])[0]?.errorCode).toBe(
      'INVALID_FIELD_FOR_INSERT_UPDATE'
    );
  });

  it('totals opportunity line items into the opportunity amount', async () => {
    const product = await create('Product2', { Name: 'Widget' });
    const entry = await create('PricebookEntry', {
      Pricebook2Id: await standardBook(),
      Product2Id: product,
      UnitPrice: 10
    });
    const opp = await create('Opportunity', {
      Name: 'Deal',
      StageName: 'Prospecting',
      CloseDate: '2025-01-31'
    });
    await create('OpportunityLineItem', {
      OpportunityId: opp,
      PricebookEntryId: entry,
      Quantity: 3,
      UnitPrice: 12.5
    });
    const read = (await h.api('GET', `/sobjects/Opportunity/${opp}`)).body as Record<
      string,
      unknown
    >;
    expect(read).toMatchObject({
      Amount: 37.5,
      HasOpportunityLineItem: true,
      Pricebook2Id: await standardBook()
    });
  });

  it('derives IsWon and IsClosed from the stage', async () => {
    const opp = await create('Opportunity', {
      Name: 'Deal',
      StageName: 'Closed Won',
      CloseDate: '2025-01-31'
    });
    expect((await h.api('GET', `/sobjects/Opportunity/${opp}`)).body).toMatchObject({
      IsWon: true,
      IsClosed: true
    });
  });
});

describe('custom metadata', () => {
  it('serves the records from force-app through SOQL', async () => {
    const res = await h.api(
      'GET',
      soql(
        'SELECT DeveloperName, Default_Legal_Entity__c, Callout_Timeout_Ms__c, Account_Sync_Enabled__c FROM D365_Integration_Setting__mdt'
      )
    );
    expect((res.body as { records: unknown[] }).records).toMatchObject([
      {
        DeveloperName: 'Default',
        Default_Legal_Entity__c: 'usmf',
        Callout_Timeout_Ms__c: 10000,
        Account_Sync_Enabled__c: true
      }
    ]);
  });

  it('takes an admin’s Setup edit through the control API, and SOQL reads it', async () => {
    const edit = await fetch(
      `${h.emu.instanceUrl}/_emulator/metadata/D365_Integration_Setting__mdt/Default`,
      {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ Account_Sync_Enabled__c: false })
      }
    );
    expect(edit.status).toBe(200);
    const empty = await fetch(
      `${h.emu.instanceUrl}/_emulator/metadata/D365_Integration_Setting__mdt/Default`,
      { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '[]' }
    );
    expect(empty.status).toBe(400);
    const res = await h.api(
      'GET',
      soql(
        "SELECT Account_Sync_Enabled__c, Callout_Timeout_Ms__c FROM D365_Integration_Setting__mdt WHERE DeveloperName = 'Default'"
      )
    );
    expect((res.body as { records: unknown[] }).records).toMatchObject([
      { Account_Sync_Enabled__c: false, Callout_Timeout_Ms__c: 10000 }
    ]);
    expect(() =>
      h.emu.control.setMetadataValues('D365_Integration_Setting__mdt', 'Nope', {})
    ).toThrow('has no record Nope');
    expect(() => h.emu.control.setMetadataValues('Account', 'Default', {})).toThrow(
      'not a custom metadata type'
    );
  });

  it('refuses writes through the data API', async () => {
    const res = await h.api('POST', '/sobjects/D365_Integration_Setting__mdt', {});
    expect(res.status).toBe(400);
    expect((res.body as { errorCode: string }[])[0]?.errorCode).toBe('INVALID_TYPE');
  });
});

describe('platform events over REST', () => {
  it('publishes an event and answers 201 with OPERATION_ENQUEUED and the event UUID', async () => {
    const res = await h.api('POST', '/sobjects/D365_Sync_Result__e', {
      Record_Id__c: '001000000000000AAA',
      Status__c: 'Synced'
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^e00\w{15}$/),
      success: true,
      errors: [
        {
          statusCode: 'OPERATION_ENQUEUED',
          message: expect.stringMatching(/^[0-9a-f-]{36}$/),
          fields: []
        }
      ]
    });
  });

  it('validates event field values like record fields', async () => {
    const res = await h.api('POST', '/sobjects/D365_Sync_Result__e', {
      Record_Id__c: '0010000000000000000000'
    });
    expect(res.status).toBe(400);
    expect((res.body as { errorCode: string; fields: string[] }[])[0]).toMatchObject({
      errorCode: 'STRING_TOO_LONG',
      fields: ['Record_Id__c']
    });
  });

  it('rejects unknown event fields', async () => {
    const res = await h.api('POST', '/sobjects/D365_Sync_Result__e', { Nope__c: 'x' });
    expect(res.status).toBe(400);
    expect((res.body as { errorCode: string }[])[0]?.errorCode).toBe('INVALID_FIELD');
  });
});
