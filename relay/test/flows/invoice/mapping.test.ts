import { describe, expect, it } from 'vitest';
import { UnknownAccountError } from '../../../src/flows/invoice/handler.ts';
import {
  contentHash,
  d365Date,
  invoiceKey,
  invoiceTypeOf,
  opportunityIdOf,
  parseInvoiceEvent,
  toInvoiceFields,
  type InvoiceHeader
} from '../../../src/flows/invoice/mapping.ts';
import { classifyFailure } from '../../../src/queue/classify.ts';

const header: InvoiceHeader = {
  dataAreaId: 'usmf',
  InvoiceNumber: 'CIV-000123',
  InvoiceDate: '2026-11-02T12:00:00Z',
  DueDate: '2026-12-02T12:00:00Z',
  SalesOrderNumber: '000042',
  InvoiceCustomerAccountNumber: 'US-001',
  CustomersOrderReference: '',
  TotalInvoiceAmount: 1080,
  TotalTaxAmount: 80,
  CurrencyCode: 'USD'
};

const event = {
  BusinessEventId: 'SalesInvoicePostedBusinessEvent',
  BusinessEventLegalEntity: 'USMF',
  ControlNumber: 5637144600,
  EventId: '0F7C2A4B-1D3E-4F60-9A8B-000000000001',
  EventTime: '/Date(1714557600000)/',
  InvoiceAccount: 'US-001',
  InvoiceId: 'CIV-000123'
};

describe('parseInvoiceEvent', () => {
  it('reads the invoice reference, lower-casing the legal entity', () => {
    expect(parseInvoiceEvent(event)).toEqual({
      businessEventId: 'SalesInvoicePostedBusinessEvent',
      legalEntity: 'usmf',
      invoiceId: 'CIV-000123',
      customerAccount: 'US-001',
      controlNumber: 5637144600,
      eventTime: 1714557600000
    });
  });

  it('prefers the contract LegalEntity over the envelope', () => {
    expect(parseInvoiceEvent({ ...event, LegalEntity: 'DEMF' }).legalEntity).toBe('demf');
  });

  it('falls back to EventTimeIso8601', () => {
    expect(
      parseInvoiceEvent({
        ...event,
        EventTime: undefined,
        EventTimeIso8601: '2024-05-01T10:00:00.0000000Z'
      }).eventTime
    ).toBe(Date.parse('2024-05-01T10:00:00Z'));
  });

  it.each([[null], [{ ...event, InvoiceId: '' }], [{ ...event, EventTime: 'yesterday' }]])(
    'refuses %j',
    (payload) => {
      expect(() => parseInvoiceEvent(payload)).toThrow();
    }
  );
});

describe('toInvoiceFields', () => {
  it('maps the header to Invoice__c fields', () => {
    expect(toInvoiceFields(header, 'Sales Order')).toEqual({
      Name: 'CIV-000123',
      D365_Invoice_Key__c: 'usmf|CIV-000123',
      Sales_Order_Number__c: '000042',
      Invoice_Type__c: 'Sales Order',
      Invoice_Date__c: '2026-11-02',
      Due_Date__c: '2026-12-02',
      Amount__c: 1080,
      Tax_Amount__c: 80,
      Currency_Code__c: 'USD',
      Legal_Entity__c: 'usmf'
    });
  });

  it('writes empty D365 dates and sales order numbers as null', () => {
    const fields = toInvoiceFields(
      { ...header, SalesOrderNumber: '', DueDate: '1900-01-01T12:00:00Z' },
      'Free Text'
    );
    expect(fields).toMatchObject({ Sales_Order_Number__c: null, Due_Date__c: null });
  });

  it('cuts the sales order number to the 20 characters of Sales_Order_Number__c (lossy)', () => {
    const fields = toInvoiceFields({ ...header, SalesOrderNumber: 'S'.repeat(25) }, 'Sales Order');
    expect(fields.Sales_Order_Number__c).toBe('S'.repeat(20));
  });
});

describe('small rules', () => {
  it.each([
    ['usmf', 'CIV-1', 'usmf|CIV-1'],
    ['USMF', 'civ-1', 'usmf|civ-1']
  ])('invoiceKey(%s, %s) = %s', (entity, id, key) => {
    expect(invoiceKey(entity, id)).toBe(key);
  });

  it('refuses an invoice key longer than D365_Invoice_Key__c (40)', () => {
    expect(() => invoiceKey('usmf', 'X'.repeat(36))).toThrow(/longer than 40/);
  });

  it.each([
    ['2026-11-02T12:00:00Z', '2026-11-02'],
    ['1900-01-01T12:00:00Z', null],
    ['', null]
  ])('d365Date(%j) = %j', (value, expected) => {
    expect(d365Date(value)).toBe(expected);
  });

  it.each([
    ['006Dn00000AbCdEFG1', '006Dn00000AbCdEFG1'],
    ['PO-4711', null],
    ['001Dn00000AbCdEFG1', null]
  ])('opportunityIdOf(%j) = %j', (reference, expected) => {
    expect(opportunityIdOf(reference)).toBe(expected);
  });

  it.each([
    ['CustFreeTextInvoicePostedBusinessEvent', '000042', 'Free Text'],
    ['SalesInvoicePostedBusinessEvent', '000042', 'Sales Order'],
    ['SalesInvoicePostedBusinessEvent', '', 'Free Text']
  ])('invoiceTypeOf(%s, %j) = %s', (eventId, order, type) => {
    expect(invoiceTypeOf(eventId, order)).toBe(type);
  });

  it('hashes content independently of key order', () => {
    expect(contentHash({ a: 1, b: 'x' })).toBe(contentHash({ b: 'x', a: 1 }));
    expect(contentHash({ a: 1 })).not.toBe(contentHash({ a: 2 }));
  });

  it('retries an invoice of an unknown account, then dead-letters it with the reason', () => {
    const error = new UnknownAccountError('US-999', 'usmf|CIV-1');
    expect(classifyFailure(error, 1, 12).action).toBe('retry');
    expect(classifyFailure(error, 12, 12)).toEqual({
      action: 'dead-letter',
      reason: 'exhausted',
      message:
        'UnknownAccountError: No Salesforce account has D365 customer number US-999; invoice usmf|CIV-1 waits for it'
    });
  });
});
