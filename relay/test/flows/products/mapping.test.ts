import { describe, expect, it } from 'vitest';
import {
  agreementPrice,
  contentHash,
  mapPrices,
  mapProduct,
  parseList,
  parseUnitMap,
  priceKey,
  priceKeyTooLong,
  priceRecord,
  roundPrice,
  truncate,
  type D365Agreement,
  type ProductSettings
} from '../../../src/flows/products/mapping.ts';
import { nestRelations, productSyncSettings } from '../../../src/flows/products/handler.ts';

const settings: ProductSettings = {
  currencies: ['USD'],
  priceBookName: 'D365 Prices',
  priceGroups: ['10'],
  unitMap: { ea: 'Each', pcs: 'Each' },
  multiCurrency: false
};
const TODAY = '2026-11-26';
const product = (values: Record<string, unknown> = {}) => ({
  ItemNumber: 'D0001',
  ProductName: 'Mid-range speaker',
  SearchName: 'Speaker',
  SalesPrice: 300,
  SalesPriceQuantity: 1,
  SalesUnitSymbol: 'ea',
  IsSalesBlocked: 'No',
  ...values
});
const agreement = (values: Partial<D365Agreement> = {}): D365Agreement => ({
  ItemNumber: 'D0001',
  PriceCustomerGroupCode: 'All',
  PriceCustomerGroupId: '',
  Price: 270,
  PriceCurrencyCode: 'USD',
  SalesPriceQuantity: 1,
  FromQuantity: 0,
  PriceApplicableFromDate: '1900-01-01T12:00:00Z',
  PriceApplicableToDate: '1900-01-01T12:00:00Z',
  PriceSiteId: '',
  PriceWarehouseId: '',
  ...values
});

describe('mapProduct', () => {
  it.each([
    [
      'keeps the item number exactly (case-sensitive key)',
      { ItemNumber: 'd0001' },
      { D365_Item_Number__c: 'd0001', ProductCode: 'd0001' },
      []
    ],
    [
      'maps name, search name as description, active and unit',
      {},
      {
        Name: 'Mid-range speaker',
        Description: 'Speaker',
        IsActive: true,
        QuantityUnitOfMeasure: 'Each'
      },
      []
    ],
    ['a sales-blocked item is inactive', { IsSalesBlocked: 'Yes' }, { IsActive: false }, []],
    [
      'a blank name falls back to the item number',
      { ProductName: '  ' },
      { Name: 'D0001' },
      ['no product name in D365: the item number is used as the name']
    ],
    [
      'a name over 255 characters is truncated',
      { ProductName: 'n'.repeat(300) },
      { Name: 'n'.repeat(255) },
      ['name truncated to 255 characters']
    ],
    [
      'a description over 4000 characters is truncated',
      { SearchName: 'd'.repeat(4100) },
      { Description: 'd'.repeat(4000) },
      ['description truncated to 4000 characters']
    ],
    [
      'control characters are dropped and CR LF becomes LF',
      { SearchName: 'a\r\nb\u0007c' },
      { Description: 'a\nbc' },
      []
    ],
    ['an empty description is null', { SearchName: '' }, { Description: null }, []],
    [
      'unit symbols match case-insensitively',
      { SalesUnitSymbol: 'PCS' },
      { QuantityUnitOfMeasure: 'Each' },
      []
    ],
    [
      'an unknown unit is left blank with a warning',
      { SalesUnitSymbol: 'kg' },
      { QuantityUnitOfMeasure: null },
      ['unit kg has no Salesforce unit of measure: left blank']
    ],
    [
      'no unit is blank without a warning',
      { SalesUnitSymbol: '' },
      { QuantityUnitOfMeasure: null },
      []
    ]
  ])('%s', (_title, values, expected, warnings) => {
    const mapped = mapProduct(product(values), settings);
    expect(mapped.fields).toMatchObject(expected);
    expect(mapped.warnings).toEqual(warnings);
  });

  it('hash changes with a mapped field and not otherwise', () => {
    const a = mapProduct(product(), settings).hash;
    expect(mapProduct(product({ SalesPrice: 999 }), settings).hash).toBe(a);
    expect(mapProduct(product({ ProductName: 'Other' }), settings).hash).not.toBe(a);
  });
});

describe('roundPrice and truncate', () => {
  it.each([
    [1.005, 1.01],
    [2.675, 2.68],
    [-1.005, -1.01],
    [10, 10],
    [0.004, 0],
    [33.333333, 33.33]
  ])('rounds %d half away from zero to %d', (value, expected) => {
    expect(roundPrice(value)).toBe(expected);
  });

  it('truncates without splitting a surrogate pair', () => {
    expect(truncate('ab😀c', 3)).toEqual({ value: 'ab😀', truncated: true });
    expect(truncate('abc', 3)).toEqual({ value: 'abc', truncated: false });
  });
});

describe('agreementPrice', () => {
  it.each<[string, D365Agreement[], number | null]>([
    ['an All agreement applies', [agreement()], 270],
    [
      'a configured group wins over All',
      [
        agreement(),
        agreement({ PriceCustomerGroupCode: 'GroupId', PriceCustomerGroupId: '10', Price: 250 })
      ],
      250
    ],
    [
      'a group not configured is ignored',
      [agreement({ PriceCustomerGroupCode: 'GroupId', PriceCustomerGroupId: '20', Price: 1 })],
      null
    ],
    [
      'a customer-specific agreement is ignored',
      [agreement({ PriceCustomerGroupCode: 'Table', Price: 1 })],
      null
    ],
    ['a quantity break above 1 is ignored', [agreement({ FromQuantity: 10 })], null],
    ['a site-bound agreement is ignored', [agreement({ PriceSiteId: '1' })], null],
    [
      'an expired agreement is ignored',
      [agreement({ PriceApplicableToDate: '2026-01-31T12:00:00Z' })],
      null
    ],
    [
      'a future agreement is ignored',
      [agreement({ PriceApplicableFromDate: '2027-01-01T12:00:00Z' })],
      null
    ],
    ['another currency is ignored', [agreement({ PriceCurrencyCode: 'EUR' })], null]
  ])('%s', (_title, agreements, expected) => {
    const found = agreementPrice(agreements, 'USD', settings, TODAY);
    expect(found ? found.Price : null).toBe(expected);
  });
});

describe('mapPrices', () => {
  it('standard book gets the base price, the configured book the agreement price', () => {
    const prices = mapPrices(product(), [agreement()], settings, TODAY);
    expect(prices.map((p) => [p.key, p.book, p.unitPrice])).toEqual([
      ['STANDARD|D0001|USD', 'standard', 300],
      ['D365 Prices|D0001|USD', 'custom', 270]
    ]);
  });

  it('without an agreement the configured book gets the base price', () => {
    const prices = mapPrices(product(), [], settings, TODAY);
    expect(prices.map((p) => p.unitPrice)).toEqual([300, 300]);
  });

  it('only the standard book when no price book is configured', () => {
    const prices = mapPrices(product(), [agreement()], { ...settings, priceBookName: null }, TODAY);
    expect(prices.map((p) => p.key)).toEqual(['STANDARD|D0001|USD']);
  });

  it('a price per 100 units becomes a rounded unit price with a warning', () => {
    const [standard] = mapPrices(
      product({ SalesPrice: 12.345, SalesPriceQuantity: 100 }),
      [],
      settings,
      TODAY
    );
    expect(standard?.unitPrice).toBe(0.12);
    expect(standard?.warnings).toEqual(['price 12.345 per 100 units converted to 0.12 per unit']);
  });

  it('a price with more than two decimals is rounded with a warning', () => {
    const [standard] = mapPrices(product({ SalesPrice: 9.999 }), [], settings, TODAY);
    expect(standard?.unitPrice).toBe(10);
    expect(standard?.warnings).toEqual(['price 9.999 rounded to 10']);
  });

  it('a second currency takes its standard price from the agreement, and none without one', () => {
    const multi = { ...settings, currencies: ['USD', 'EUR', 'GBP'], multiCurrency: true };
    const prices = mapPrices(
      product(),
      [agreement({ PriceCurrencyCode: 'EUR', Price: 280 })],
      multi,
      TODAY
    );
    expect(prices.map((p) => [p.key, p.unitPrice])).toEqual([
      ['STANDARD|D0001|USD', 300],
      ['D365 Prices|D0001|USD', 300],
      ['STANDARD|D0001|EUR', 280],
      ['D365 Prices|D0001|EUR', 280]
    ]);
  });

  it('the price hash changes with the price only', () => {
    const [a] = mapPrices(product(), [], settings, TODAY);
    const [b] = mapPrices(product({ ProductName: 'x' }), [], settings, TODAY);
    const [c] = mapPrices(product({ SalesPrice: 301 }), [], settings, TODAY);
    expect(b?.hash).toBe(a?.hash);
    expect(c?.hash).not.toBe(a?.hash);
  });
});

describe('price records and keys', () => {
  const [price] = mapPrices(product(), [], settings, TODAY);

  it('a new entry carries its price book and product (by External ID)', () => {
    expect(
      priceRecord(price!, { pricebookId: '01s000000000001AAA', multiCurrency: false })
    ).toEqual({
      D365_Price_Key__c: 'STANDARD|D0001|USD',
      UnitPrice: 300,
      IsActive: true,
      Pricebook2Id: '01s000000000001AAA',
      'Product2.D365_Item_Number__c': 'D0001'
    });
  });

  it('an existing entry sends neither (Salesforce refuses to change them)', () => {
    expect(priceRecord(price!, null)).toEqual({
      D365_Price_Key__c: 'STANDARD|D0001|USD',
      UnitPrice: 300,
      IsActive: true
    });
  });

  it('multi-currency orgs get CurrencyIsoCode on new entries', () => {
    expect(priceRecord(price!, { pricebookId: 'x', multiCurrency: true }).CurrencyIsoCode).toBe(
      'USD'
    );
  });

  it('REST records nest the relationship column', () => {
    expect(nestRelations({ a: 1, 'Product2.D365_Item_Number__c': 'D1' })).toEqual({
      a: 1,
      Product2: { D365_Item_Number__c: 'D1' }
    });
  });

  it('keys longer than D365_Price_Key__c (100) are detected', () => {
    expect(priceKeyTooLong(priceKey('b'.repeat(80), 'I'.repeat(20), 'USD'))).toBe(true);
    expect(priceKeyTooLong(priceKey('b'.repeat(75), 'I'.repeat(20), 'USD'))).toBe(false);
  });

  it('content hashes ignore key order', () => {
    expect(contentHash({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(
      contentHash({ b: [1, { d: 3, c: 2 }], a: 1 })
    );
  });
});

describe('settings', () => {
  it('parses lists and unit maps', () => {
    expect(parseList(' 10, ,20 ')).toEqual(['10', '20']);
    expect(parseUnitMap('EA=Each, kg = Kilogram,bad')).toEqual({ ea: 'Each', kg: 'Kilogram' });
  });

  it('defaults: the default legal entity, USD, the D365 Prices book', () => {
    expect(productSyncSettings({ D365_DEFAULT_LEGAL_ENTITY: 'USMF' })).toMatchObject({
      legalEntity: 'usmf',
      currencies: ['USD'],
      priceBookName: 'D365 Prices',
      bulkThreshold: 1000
    });
  });

  it('an empty price book name means the standard book only', () => {
    expect(productSyncSettings({ PRODUCTS_PRICE_BOOK: '' }).priceBookName).toBeNull();
  });

  it('several currencies without multi-currency are a permanent configuration error', () => {
    expect(() => productSyncSettings({ PRODUCTS_CURRENCIES: 'USD,EUR' })).toThrow(
      /PRODUCTS_MULTI_CURRENCY is false/
    );
  });
});
