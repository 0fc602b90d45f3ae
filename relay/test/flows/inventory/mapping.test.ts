import { describe, expect, it } from 'vitest';
import {
  InventoryRequestError,
  onHandFilter,
  parseItemNumbers,
  toItemStock,
  type OnHandRow
} from '../../../src/flows/inventory/mapping.ts';

const row = (overrides: Partial<OnHandRow>): OnHandRow => ({
  dataAreaId: 'usmf',
  ItemNumber: 'A0001',
  InventorySiteId: '1',
  InventoryWarehouseId: '11',
  AvailableOnHandQuantity: 0,
  ReservedOnHandQuantity: 0,
  OrderedQuantity: 0,
  ...overrides
});

describe('parseItemNumbers', () => {
  it.each([
    ['A0001', ['A0001']],
    [' A0001 , D0001 ', ['A0001', 'D0001']],
    ['A0001,,A0001, ', ['A0001']],
    ['a0001,A0001', ['a0001', 'A0001']],
    ["O'BRIEN", ["O'BRIEN"]]
  ])('%j becomes %j', (raw, expected) => {
    expect(parseItemNumbers(raw)).toEqual(expected);
  });

  it.each([
    [' , ', 'Choose or type at least one D365 item number.'],
    [
      Array.from({ length: 51 }, (_, i) => `I${i}`).join(','),
      'You can look up at most 50 items at once; you asked for 51.'
    ],
    ['X'.repeat(21), /at most 20 characters/],
    ['A*', /contains "\*"/]
  ])('refuses %j with a message for the rep', (raw, message) => {
    expect(() => parseItemNumbers(raw)).toThrow(InventoryRequestError);
    expect(() => parseItemNumbers(raw)).toThrow(message);
  });
});

describe('onHandFilter', () => {
  it('quotes every item number as a literal in one filter', () => {
    expect(onHandFilter('usmf', ['A0001', "O'B"]).text).toBe(
      "(dataAreaId eq 'usmf') and ((ItemNumber eq 'A0001') or (ItemNumber eq 'O''B'))"
    );
  });
});

describe('toItemStock', () => {
  it('keeps the request order and gives items without rows an empty site list', () => {
    const stock = toItemStock(['Z9', 'A0001'], [row({ AvailableOnHandQuantity: 5 })]);
    expect(stock.map((s) => s.itemNumber)).toEqual(['Z9', 'A0001']);
    expect(stock[0]?.sites).toEqual([]);
  });

  it('maps available, reserved and ordered (incoming) per site and warehouse', () => {
    const stock = toItemStock(
      ['A0001'],
      [
        row({
          InventoryWarehouseId: '12',
          AvailableOnHandQuantity: 7,
          ReservedOnHandQuantity: 3,
          OrderedQuantity: 20
        }),
        row({ InventorySiteId: '1', InventoryWarehouseId: '11', AvailableOnHandQuantity: 1 })
      ]
    );
    expect(stock[0]?.sites).toEqual([
      { siteId: '1', warehouseId: '11', available: 1, reserved: 0, ordered: 0 },
      { siteId: '1', warehouseId: '12', available: 7, reserved: 3, ordered: 20 }
    ]);
  });

  it('sums rows of one site and warehouse that differ only in product dimensions (lossy)', () => {
    const stock = toItemStock(
      ['A0001'],
      [
        row({ AvailableOnHandQuantity: 0.1, ReservedOnHandQuantity: 1 }),
        row({ AvailableOnHandQuantity: 0.2, ReservedOnHandQuantity: 2 })
      ]
    );
    expect(stock[0]?.sites).toEqual([
      { siteId: '1', warehouseId: '11', available: 0.3, reserved: 3, ordered: 0 }
    ]);
  });

  it('drops rows whose item number differs only in case (D365 matches case-insensitively)', () => {
    const stock = toItemStock(
      ['A0001'],
      [row({ ItemNumber: 'a0001', AvailableOnHandQuantity: 9 })]
    );
    expect(stock[0]?.sites).toEqual([]);
  });
});
