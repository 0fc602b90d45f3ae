import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, soql } from './helpers.ts';
import type { Harness } from './helpers.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());
beforeEach(() => h.emu.control.resetData());

const account = (fields: Record<string, unknown>) => ({
  attributes: { type: 'Account' },
  ...fields
});
const countAccounts = async () =>
  ((await h.api('GET', soql('SELECT COUNT() FROM Account'))).body as { totalSize: number })
    .totalSize;

describe('sObject Collections', () => {
  it('creates records in order and returns SaveResults', async () => {
    const res = await h.api('POST', '/composite/sobjects', {
      allOrNone: false,
      records: [account({ Name: 'A' }), account({ Name: 'B' })]
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      { id: expect.stringMatching(/^001/), success: true, errors: [] },
      { id: expect.stringMatching(/^001/), success: true, errors: [] }
    ]);
  });

  it('reports item errors with statusCode and keeps the valid records without allOrNone', async () => {
    const res = await h.api('POST', '/composite/sobjects', {
      records: [account({ Name: 'A' }), account({})]
    });
    expect(res.body).toEqual([
      { id: expect.any(String), success: true, errors: [] },
      {
        success: false,
        errors: [
          {
            statusCode: 'REQUIRED_FIELD_MISSING',
            message: 'Required fields are missing: [Name]',
            fields: ['Name']
          }
        ]
      }
    ]);
    expect(await countAccounts()).toBe(1);
  });

  it('rolls everything back with allOrNone and reports ALL_OR_NONE_OPERATION_ROLLED_BACK', async () => {
    const res = await h.api('POST', '/composite/sobjects', {
      allOrNone: true,
      records: [account({ Name: 'A' }), account({})]
    });
    const [first, second] = res.body as {
      success: boolean;
      errors: { statusCode: string; message: string }[];
    }[];
    expect(first).toEqual({
      success: false,
      errors: [
        {
          statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
          message:
            'Record rolled back because not all records were valid and the request was using AllOrNone header',
          fields: []
        }
      ]
    });
    expect(second?.errors[0]?.statusCode).toBe('REQUIRED_FIELD_MISSING');
    expect(await countAccounts()).toBe(0);
  });

  it('refuses more than 200 records', async () => {
    const records = Array.from({ length: 201 }, (_, i) => account({ Name: `A${i}` }));
    const res = await h.api('POST', '/composite/sobjects', { records });
    expect(res.status).toBe(400);
    expect((res.body as { errorCode: string }[])[0]?.errorCode).toBe('EXCEEDED_ID_LIMIT');
  });

  it('requires attributes.type on each record', async () => {
    const res = await h.api('POST', '/composite/sobjects', { records: [{ Name: 'A' }] });
    expect(res.body).toEqual([
      {
        success: false,
        errors: [
          { statusCode: 'INVALID_TYPE', message: 'Must send a concrete entity type.', fields: [] }
        ]
      }
    ]);
  });

  it('updates records by id', async () => {
    const id = h.emu.control.insert('Account', { Name: 'Old' });
    const res = await h.api('PATCH', '/composite/sobjects', {
      records: [account({ id, Name: 'New' })]
    });
    expect(res.body).toEqual([{ id, success: true, errors: [] }]);
    expect(((await h.api('GET', `/sobjects/Account/${id}`)).body as { Name: string }).Name).toBe(
      'New'
    );
  });

  it('upserts by External ID with created flags', async () => {
    const existing = h.emu.control.insert('Account', {
      Name: 'Old',
      D365_Customer_Number__c: 'C1'
    });
    const res = await h.api('PATCH', '/composite/sobjects/Account/D365_Customer_Number__c', {
      allOrNone: false,
      records: [
        account({ D365_Customer_Number__c: 'c1', Name: 'Updated' }),
        account({ D365_Customer_Number__c: 'C2', Name: 'New' }),
        account({ D365_Customer_Number__c: 'C3' })
      ]
    });
    expect(res.body).toEqual([
      { id: existing, success: true, errors: [], created: false },
      { id: expect.stringMatching(/^001/), success: true, errors: [], created: true },
      {
        success: false,
        errors: [
          {
            statusCode: 'REQUIRED_FIELD_MISSING',
            message: 'Required fields are missing: [Name]',
            fields: ['Name']
          }
        ],
        created: false
      }
    ]);
  });

  it('retrieves records by ids and fields', async () => {
    const id = h.emu.control.insert('Account', { Name: 'A', Phone: '1' });
    const res = await h.api(
      'GET',
      `/composite/sobjects/Account?ids=${id},001000000000000AAA&fields=Name,Phone`
    );
    expect(res.body).toEqual([
      {
        attributes: { type: 'Account', url: `/services/data/v62.0/sobjects/Account/${id}` },
        Name: 'A',
        Phone: '1'
      },
      null
    ]);
  });

  it('deletes records by ids', async () => {
    const id = h.emu.control.insert('Account', { Name: 'A' });
    const res = await h.api('DELETE', `/composite/sobjects?ids=${id}`);
    expect(res.body).toEqual([{ id, success: true, errors: [] }]);
    expect(await countAccounts()).toBe(0);
  });
});

describe('Composite', () => {
  it('runs subrequests in order and resolves references between them', async () => {
    const res = await h.api('POST', '/composite', {
      allOrNone: true,
      compositeRequest: [
        {
          method: 'POST',
          url: '/services/data/v62.0/sobjects/Account',
          referenceId: 'refAccount',
          body: { Name: 'Sample' }
        },
        {
          method: 'POST',
          url: '/services/data/v62.0/sobjects/Contact',
          referenceId: 'refContact',
          body: { LastName: 'Sample', AccountId: '@{refAccount.id}' }
        },
        {
          method: 'GET',
          url: '/services/data/v62.0/sobjects/Account/@{refAccount.id}?fields=Name',
          referenceId: 'readBack'
        },
        {
          method: 'GET',
          url: "/services/data/v62.0/query?q=SELECT+Id+FROM+Contact+WHERE+AccountId+%3D+'@{refAccount.id}'",
          referenceId: 'contacts'
        },
        {
          method: 'PATCH',
          url: '/services/data/v62.0/sobjects/Contact/@{contacts.records[0].Id}',
          referenceId: 'touch',
          body: { Title: 'Boss' }
        }
      ]
    });
    expect(res.status).toBe(200);
    const responses = (
      res.body as {
        compositeResponse: {
          httpStatusCode: number;
          referenceId: string;
          body: unknown;
          httpHeaders: Record<string, string>;
        }[];
      }
    ).compositeResponse;
    expect(responses.map((r) => [r.referenceId, r.httpStatusCode])).toEqual([
      ['refAccount', 201],
      ['refContact', 201],
      ['readBack', 200],
      ['contacts', 200],
      ['touch', 204]
    ]);
    const accountId = (responses[0]?.body as { id: string }).id;
    expect(responses[0]?.httpHeaders.Location).toBe(
      `/services/data/v62.0/sobjects/Account/${accountId}`
    );
    expect((responses[2]?.body as { Name: string }).Name).toBe('Sample');
  });

  it('rolls back with allOrNone and marks the other subrequests PROCESSING_HALTED', async () => {
    const res = await h.api('POST', '/composite', {
      allOrNone: true,
      compositeRequest: [
        {
          method: 'POST',
          url: '/services/data/v62.0/sobjects/Account',
          referenceId: 'ok',
          body: { Name: 'Kept?' }
        },
        {
          method: 'POST',
          url: '/services/data/v62.0/sobjects/Contact',
          referenceId: 'bad',
          body: { FirstName: 'No last name' }
        },
        {
          method: 'POST',
          url: '/services/data/v62.0/sobjects/Account',
          referenceId: 'after',
          body: { Name: 'After' }
        }
      ]
    });
    const responses = (
      res.body as {
        compositeResponse: {
          httpStatusCode: number;
          body: { errorCode: string; message: string }[];
        }[];
      }
    ).compositeResponse;
    expect(responses.map((r) => r.httpStatusCode)).toEqual([400, 400, 400]);
    expect(responses[0]?.body).toEqual([
      {
        errorCode: 'PROCESSING_HALTED',
        message:
          'The transaction was rolled back since another operation in the same transaction failed.'
      }
    ]);
    expect(responses[1]?.body[0]?.errorCode).toBe('REQUIRED_FIELD_MISSING');
    expect(await countAccounts()).toBe(0);
  });

  it('without allOrNone keeps successes and halts only dependent subrequests', async () => {
    const res = await h.api('POST', '/composite', {
      compositeRequest: [
        {
          method: 'POST',
          url: '/services/data/v62.0/sobjects/Contact',
          referenceId: 'bad',
          body: {}
        },
        {
          method: 'POST',
          url: '/services/data/v62.0/sobjects/Account',
          referenceId: 'independent',
          body: { Name: 'Kept' }
        },
        {
          method: 'PATCH',
          url: '/services/data/v62.0/sobjects/Contact/@{bad.id}',
          referenceId: 'dependent',
          body: { Title: 'x' }
        }
      ]
    });
    const responses = (
      res.body as {
        compositeResponse: {
          httpStatusCode: number;
          body: { errorCode: string; message: string }[];
        }[];
      }
    ).compositeResponse;
    expect(responses.map((r) => r.httpStatusCode)).toEqual([400, 201, 400]);
    expect(responses[2]?.body[0]).toMatchObject({
      errorCode: 'PROCESSING_HALTED',
      message: expect.stringContaining(
        'Invalid reference specified. No value for bad.id found in bad.'
      )
    });
    expect(await countAccounts()).toBe(1);
  });

  it('refuses more than 25 subrequests', async () => {
    const compositeRequest = Array.from({ length: 26 }, (_, i) => ({
      method: 'GET',
      url: '/services/data/v62.0/limits',
      referenceId: `r${i}`
    }));
    const res = await h.api('POST', '/composite', { compositeRequest });
    expect(res.status).toBe(400);
  });

  it('counts the whole composite request as one API call', async () => {
    const before = h.emu.control.counters();
    await h.api('POST', '/composite', {
      compositeRequest: [
        { method: 'GET', url: '/services/data/v62.0/limits', referenceId: 'a' },
        { method: 'GET', url: '/services/data/v62.0/limits', referenceId: 'b' }
      ]
    });
    const after = h.emu.control.counters();
    expect(after.apiUsed - before.apiUsed).toBe(1);
    expect(after.composite - before.composite).toBe(1);
  });
});

describe('Composite graph', () => {
  it('commits a successful graph and rolls back a failing one on its own', async () => {
    const res = await h.api('POST', '/composite/graph', {
      graphs: [
        {
          graphId: 'good',
          compositeRequest: [
            {
              method: 'POST',
              url: '/services/data/v62.0/sobjects/Account',
              referenceId: 'a',
              body: { Name: 'Graph A' }
            },
            {
              method: 'POST',
              url: '/services/data/v62.0/sobjects/Contact',
              referenceId: 'c',
              body: { LastName: 'G', AccountId: '@{a.id}' }
            }
          ]
        },
        {
          graphId: 'bad',
          compositeRequest: [
            {
              method: 'POST',
              url: '/services/data/v62.0/sobjects/Account',
              referenceId: 'a',
              body: { Name: 'Graph B' }
            },
            {
              method: 'POST',
              url: '/services/data/v62.0/sobjects/Contact',
              referenceId: 'c',
              body: {}
            }
          ]
        }
      ]
    });
    expect(res.status).toBe(200);
    const graphs = (res.body as { graphs: { graphId: string; isSuccessful: boolean }[] }).graphs;
    expect(graphs.map((g) => [g.graphId, g.isSuccessful])).toEqual([
      ['good', true],
      ['bad', false]
    ]);
    const names = await h.api('GET', soql('SELECT Name FROM Account'));
    expect((names.body as { records: { Name: string }[] }).records.map((r) => r.Name)).toEqual([
      'Graph A'
    ]);
  });
});

describe('sObject Tree', () => {
  it('creates nested records and returns their ids by referenceId', async () => {
    const res = await h.api('POST', '/composite/tree/Account', {
      records: [
        {
          attributes: { type: 'Account', referenceId: 'acc1' },
          Name: 'Tree Co',
          Contacts: {
            records: [{ attributes: { type: 'Contact', referenceId: 'con1' }, LastName: 'Leaf' }]
          }
        }
      ]
    });
    expect(res.status).toBe(201);
    const body = res.body as { hasErrors: boolean; results: { referenceId: string; id: string }[] };
    expect(body.hasErrors).toBe(false);
    expect(body.results.map((r) => r.referenceId)).toEqual(['acc1', 'con1']);
    const contact = await h.api('GET', `/sobjects/Contact/${body.results[1]?.id}`);
    expect((contact.body as { AccountId: string }).AccountId).toBe(body.results[0]?.id);
  });

  it('creates nothing when one record fails, and reports its errors', async () => {
    const res = await h.api('POST', '/composite/tree/Account', {
      records: [
        { attributes: { type: 'Account', referenceId: 'ok' }, Name: 'Fine' },
        { attributes: { type: 'Account', referenceId: 'broken' }, Phone: '1' }
      ]
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      hasErrors: true,
      results: [
        {
          referenceId: 'broken',
          errors: [
            {
              statusCode: 'REQUIRED_FIELD_MISSING',
              message: 'Required fields are missing: [Name]',
              fields: ['Name']
            }
          ]
        }
      ]
    });
    expect(await countAccounts()).toBe(0);
  });
});
