import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ORDER_REQUEST_FIELDS,
  OrderRejection,
  itemProblems,
  mapSalesOrder,
  opportunityFieldsForError,
  opportunityFieldsForOrder,
  orderKey,
  parseOrderRequest,
  roundQuantity,
  truncate,
  warningText,
  type OrderRequest,
  type ReleasedItem
} from '../../../src/flows/order/mapping.ts';

const ROOT = resolve(import.meta.dirname, '../../../..');
const OPPORTUNITY = '006000000000001AAA';
const ACCOUNT = '001000000000001AAA';

function payload(overrides: Record<string, unknown> = {}, lines?: unknown[]) {
  return {
    Opportunity: {
      Id: OPPORTUNITY,
      Name: 'Big deal',
      CloseDate: '2026-11-26',
      CurrencyIsoCode: null,
      Amount: 560
    },
    Account: {
      Id: ACCOUNT,
      Name: 'Contoso',
      D365_Customer_Number__c: 'US-001',
      D365_Legal_Entity__c: null
    },
    Lines: lines ?? [
      {
        Id: '00k000000000001AAA',
        Product2Id: '01t000000000001AAA',
        ItemNumber: 'D0001',
        Quantity: 2,
        UnitPrice: 280,
        Description: 'Speaker'
      }
    ],
    ...overrides
  };
}

function event(body: unknown = payload(), fields: Record<string, unknown> = {}) {
  return {
    Record_Id__c: OPPORTUNITY,
    Idempotency_Key__c: `${OPPORTUNITY}:1714557600000`,
    Account_Id__c: ACCOUNT,
    Legal_Entity__c: 'usmf',
    Payload__c: JSON.stringify(body),
    ...fields
  };
}

function request(lines?: unknown[], fields: Record<string, unknown> = {}): OrderRequest {
  return parseOrderRequest(event(payload({}, lines), fields), 'usmf');
}

describe('order request contract with force-app', () => {
  it('lists exactly the fields D365_Order_Request__e has in force-app', () => {
    const dir = join(ROOT, 'force-app/main/default/objects/D365_Order_Request__e/fields');
    const names = readdirSync(dir).map((file) => file.replace('.field-meta.xml', ''));
    expect([...ORDER_REQUEST_FIELDS].sort()).toEqual(names.sort());
  });

  it('reads every payload key D365OrderService serialises', () => {
    const apex = readFileSync(
      join(ROOT, 'force-app/main/default/classes/services/D365OrderService.cls'),
      'utf8'
    );
    const body = apex.slice(apex.indexOf('private static Map<String, Object> payloadOf'));
    const keys = [...body.matchAll(/'(\w+)' =>/g)].map((m) => m[1]);
    expect(new Set(keys)).toEqual(
      new Set([
        ...['Id', 'Product2Id', 'ItemNumber', 'Quantity', 'UnitPrice', 'Description'],
        ...['Opportunity', 'Name', 'CloseDate', 'CurrencyIsoCode', 'Amount'],
        ...['Account', 'D365_Customer_Number__c', 'D365_Legal_Entity__c', 'Lines']
      ])
    );
  });
});

describe('parseOrderRequest', () => {
  it('reads the opportunity, account and lines of a valid event', () => {
    const parsed = parseOrderRequest(event(), 'usmf');
    expect(parsed).toMatchObject({
      opportunityId: OPPORTUNITY,
      accountId: ACCOUNT,
      legalEntity: 'usmf',
      idempotencyKey: `${OPPORTUNITY}:1714557600000`
    });
    expect(parsed.payload.Lines[0]).toMatchObject({ ItemNumber: 'D0001', Quantity: 2 });
  });

  it.each([
    ['event legal entity wins', 'DEMF', 'usmf', null, 'demf'],
    ["account's routing field when the event has none", null, 'Demf', null, 'demf'],
    ['default from settings when neither names one', null, null, 'demf', 'demf']
  ])('legal entity: %s', (_name, fromEvent, fromAccount, fallback, expected) => {
    const body = payload({
      Account: { ...payload().Account, D365_Legal_Entity__c: fromAccount }
    });
    expect(
      parseOrderRequest(event(body, { Legal_Entity__c: fromEvent }), fallback ?? 'usmf').legalEntity
    ).toBe(expected);
  });

  it.each([
    ['a missing opportunity id', event(payload(), { Record_Id__c: null }), /opportunity id/],
    ['a 15-character id', event(payload(), { Record_Id__c: '006000000000001' }), /opportunity id/],
    ['a payload that is not JSON', event(payload(), { Payload__c: '{' }), /not valid JSON/],
    ['a payload without lines', event({ Opportunity: {}, Account: {} }), /Lines/],
    [
      'a payload for another opportunity',
      event(payload({ Opportunity: { ...payload().Opportunity, Id: '006000000000002AAA' } })),
      /different opportunity/
    ],
    ['no lines', event(payload({}, [])), /no products/],
    ['a line without quantity', event(payload({}, [{ ItemNumber: 'D0001' }])), /Line 1/],
    ['a legal entity over 4 characters', event(payload(), { Legal_Entity__c: 'usmf1' }), /usmf1/]
  ])('rejects %s', (_name, input, message) => {
    expect(() => parseOrderRequest(input, 'usmf')).toThrow(OrderRejection);
    expect(() => parseOrderRequest(input, 'usmf')).toThrow(message);
  });
});

describe('roundQuantity (lossy: D365 keeps 2 decimals)', () => {
  it.each([
    [2, 2, false],
    [1.5, 1.5, false],
    [1.25, 1.25, false],
    [1.005, 1.01, true],
    [2.345, 2.35, true],
    [0.004, 0, true],
    [10.999, 11, true]
  ])('%d → %d (rounded: %s)', (input, value, rounded) => {
    expect(roundQuantity(input)).toEqual({ value, rounded });
  });
});

describe('truncate', () => {
  it.each([
    ['abc', 3, 'abc', false],
    ['abcd', 3, 'abc', true]
  ])('%s to %d', (input, max, value, cut) => {
    expect(truncate(input, max)).toEqual({ value, cut });
  });
});

describe('itemProblems (item numbers matched exactly)', () => {
  const released = new Map<string, ReleasedItem>([
    ['D0001', { itemNumber: 'D0001', productName: 'MidRangeSpeaker2' }]
  ]);
  const line = (ItemNumber: string, Description: string | null = 'Widget') => ({
    Id: '00k000000000001AAA',
    ItemNumber,
    Quantity: 1,
    UnitPrice: 10,
    Description
  });

  it('accepts an item spelled as D365 stores it', () => {
    expect(itemProblems(request([line('D0001')]), released)).toEqual([]);
  });

  it('refuses an item in the wrong case, in words a rep understands', () => {
    expect(itemProblems(request([line('d0001')]), released)).toEqual([
      "Product 'Widget' (item d0001) is not a released product in D365 legal entity usmf (D365 has D0001). Check the item number's spelling and case."
    ]);
  });

  it('refuses an unknown item', () => {
    expect(itemProblems(request([line('X9999')]), released)).toEqual([
      "Product 'Widget' (item X9999) is not a released product in D365 legal entity usmf. Check the item number's spelling and case."
    ]);
  });

  it("names the product by D365's name when the line has no description", () => {
    expect(itemProblems(request([line('d0001', null)]), released)[0]).toMatch(
      /^Product 'MidRangeSpeaker2' \(item d0001\)/
    );
  });

  it('refuses an item number longer than D365 allows', () => {
    expect(itemProblems(request([line('X'.repeat(21))]), released)[0]).toMatch(/20 characters/);
  });
});

describe('mapSalesOrder', () => {
  it('maps header and lines: customer, opportunity id as reference, price and quantity carried', () => {
    const draft = mapSalesOrder(request(), 'US-001');
    expect(draft.header).toEqual({
      dataAreaId: 'usmf',
      OrderingCustomerAccountNumber: 'US-001',
      CustomersOrderReference: OPPORTUNITY,
      SalesOrderName: 'Big deal'
    });
    expect(draft.lines).toEqual([
      {
        dataAreaId: 'usmf',
        ItemNumber: 'D0001',
        OrderedSalesQuantity: 2,
        SalesPrice: 280,
        LineDescription: 'Speaker'
      }
    ]);
    expect(draft.warnings).toEqual([]);
  });

  it('carries the currency to header and lines in multi-currency orgs', () => {
    const body = payload({ Opportunity: { ...payload().Opportunity, CurrencyIsoCode: 'eur' } });
    const draft = mapSalesOrder(parseOrderRequest(event(body), 'usmf'), 'DE-001');
    expect(draft.header.CurrencyCode).toBe('EUR');
    expect(draft.lines[0]!.CurrencyCode).toBe('EUR');
  });

  it("leaves the price to D365's trade agreements when the line has none", () => {
    const draft = mapSalesOrder(
      request([{ ItemNumber: 'D0001', Quantity: 1, UnitPrice: null }]),
      'US-001'
    );
    expect(draft.lines[0]).not.toHaveProperty('SalesPrice');
  });

  it('rounds a quantity to 2 decimals and records a warning', () => {
    const draft = mapSalesOrder(
      request([{ ItemNumber: 'D0001', Quantity: 2.345, UnitPrice: 1 }]),
      'US-001'
    );
    expect(draft.lines[0]!.OrderedSalesQuantity).toBe(2.35);
    expect(draft.warnings).toEqual(['Line 1 (D0001): quantity 2.345 rounded to 2.35.']);
  });

  it('refuses a quantity that rounds to zero', () => {
    expect(() =>
      mapSalesOrder(request([{ ItemNumber: 'D0001', Quantity: 0.001, UnitPrice: 1 }]), 'US-001')
    ).toThrow(/at least 0.01/);
  });

  it('cuts the order name to 100 and the line text to 1,000 characters, with warnings', () => {
    const body = payload({ Opportunity: { ...payload().Opportunity, Name: 'N'.repeat(120) } }, [
      { ItemNumber: 'D0001', Quantity: 1, UnitPrice: 1, Description: 'D'.repeat(1001) }
    ]);
    const draft = mapSalesOrder(parseOrderRequest(event(body), 'usmf'), 'US-001');
    expect(draft.header.SalesOrderName).toHaveLength(100);
    expect(draft.lines[0]!.LineDescription).toHaveLength(1000);
    expect(draft.warnings).toEqual([
      'Order name cut to 100 characters.',
      'Line 1 description cut to 1000 characters.'
    ]);
  });
});

describe('write-back fields', () => {
  const order = { legalEntity: 'usmf', salesOrderNumber: '000123', status: 'Backorder' };

  it('writes number, status and Synced, clearing the last error', () => {
    expect(opportunityFieldsForOrder(order, [])).toEqual({
      D365_Sales_Order_Number__c: '000123',
      D365_Order_Status__c: 'Backorder',
      D365_Sync_Status__c: 'Synced',
      D365_Last_Sync_Error__c: null,
      D365_Sync_Warning__c: null
    });
  });

  it('leaves the order status empty for a D365 status the picklist does not hold', () => {
    expect(opportunityFieldsForOrder({ ...order, status: 'None' }, []).D365_Order_Status__c).toBe(
      null
    );
  });

  it('cuts warnings to the 255 characters of D365_Sync_Warning__c', () => {
    const text = warningText(['w'.repeat(300)]);
    expect(text).toHaveLength(255);
    expect(text!.endsWith('…')).toBe(true);
  });

  it('writes Error with the message', () => {
    expect(opportunityFieldsForError('Bad item')).toEqual({
      D365_Sync_Status__c: 'Error',
      D365_Last_Sync_Error__c: 'Bad item'
    });
  });

  it('keys the order as <legal entity>|<number>', () => {
    expect(orderKey(order)).toBe('usmf|000123');
  });
});
