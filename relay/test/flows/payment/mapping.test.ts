import { describe, expect, it } from 'vitest';
import {
  accountBalance,
  invoicePayment,
  invoiceTransactions,
  type CustTransRow
} from '../../../src/flows/payment/mapping.ts';

const OPEN = '1900-01-01T12:00:00Z';
const TODAY = '2026-11-26';

const trans = (overrides: Partial<CustTransRow>): CustTransRow => ({
  dataAreaId: 'usmf',
  RecId: 1,
  AccountNum: 'US-001',
  Invoice: 'CIV-1',
  TransType: 'Sales',
  AmountCur: 100,
  AmountMST: 100,
  SettleAmountCur: 0,
  SettleAmountMST: 0,
  DueDate: '2026-12-26T12:00:00Z',
  Closed: OPEN,
  ...overrides
});

describe('invoicePayment', () => {
  it.each([
    ['nothing paid, not due', {}, { paid: 0, balance: 100, status: 'Open' }],
    [
      'part paid, not due',
      { SettleAmountCur: 40 },
      { paid: 40, balance: 60, status: 'Partially Paid' }
    ],
    [
      'fully paid',
      { SettleAmountCur: 100, Closed: '2026-11-20T12:00:00Z' },
      { paid: 100, balance: 0, status: 'Paid' }
    ],
    [
      'past due and part paid: overdue wins',
      { SettleAmountCur: 40, DueDate: '2026-11-25T12:00:00Z' },
      { paid: 40, balance: 60, status: 'Overdue' }
    ],
    [
      'due today is not overdue',
      { DueDate: '2026-11-26T12:00:00Z' },
      { paid: 0, balance: 100, status: 'Open' }
    ],
    [
      'rounds to cents',
      { AmountCur: 0.3, SettleAmountCur: 0.1 },
      { paid: 0.1, balance: 0.2, status: 'Partially Paid' }
    ]
  ])('%s', (_name, overrides, expected) => {
    expect(invoicePayment(trans(overrides), TODAY)).toEqual({
      Amount_Paid__c: expected.paid,
      Balance_Due__c: expected.balance,
      Payment_Status__c: expected.status
    });
  });
});

describe('accountBalance', () => {
  it('has no balance without open transactions', () => {
    expect(accountBalance([trans({ Closed: '2026-11-01T12:00:00Z' })], TODAY)).toEqual({
      D365_Payment_Status__c: 'No Balance',
      D365_Open_Balance__c: 0,
      D365_Overdue_Balance__c: 0
    });
  });

  it('sums open amounts in accounting currency; only past-due debits are overdue', () => {
    const rows = [
      trans({ AmountMST: 200, SettleAmountMST: 50 }),
      trans({ RecId: 2, AmountMST: 80, DueDate: '2026-10-01T12:00:00Z' }),
      trans({ RecId: 3, Invoice: '', TransType: 'Payment', AmountMST: -30, DueDate: OPEN })
    ];
    expect(accountBalance(rows, TODAY)).toEqual({
      D365_Payment_Status__c: 'Overdue',
      D365_Open_Balance__c: 200,
      D365_Overdue_Balance__c: 80
    });
  });

  it('is Open when something is owed but nothing is past due', () => {
    expect(accountBalance([trans({})], TODAY).D365_Payment_Status__c).toBe('Open');
  });

  it('has no balance when an unsettled payment covers the debts (credit)', () => {
    const rows = [trans({}), trans({ RecId: 2, Invoice: '', AmountMST: -150, DueDate: OPEN })];
    expect(accountBalance(rows, TODAY)).toMatchObject({
      D365_Payment_Status__c: 'No Balance',
      D365_Open_Balance__c: -50
    });
  });
});

describe('invoiceTransactions', () => {
  it('keeps only debit transactions that carry an invoice number', () => {
    const rows = [
      trans({}),
      trans({ RecId: 2, Invoice: '', AmountCur: -10 }),
      trans({ RecId: 3, AmountCur: -5 })
    ];
    expect(invoiceTransactions(rows).map((r) => r.RecId)).toEqual([1]);
  });
});
