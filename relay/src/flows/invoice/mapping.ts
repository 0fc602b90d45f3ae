import { createHash } from 'node:crypto';

/** The two D365 business events this flow consumes (reference/d365-fo.md §6). */
export const SALES_INVOICE_POSTED = 'SalesInvoicePostedBusinessEvent';
export const FREE_TEXT_INVOICE_POSTED = 'CustFreeTextInvoicePostedBusinessEvent';

export const INVOICE_HEADER_ENTITY = 'SalesInvoiceHeadersV2';
export const INVOICE_HEADER_FIELDS = [
  'dataAreaId',
  'InvoiceNumber',
  'InvoiceDate',
  'DueDate',
  'SalesOrderNumber',
  'InvoiceCustomerAccountNumber',
  'CustomersOrderReference',
  'TotalInvoiceAmount',
  'TotalTaxAmount',
  'CurrencyCode'
] as const;

export interface InvoiceHeader {
  dataAreaId: string;
  InvoiceNumber: string;
  InvoiceDate: string;
  DueDate: string;
  SalesOrderNumber: string;
  InvoiceCustomerAccountNumber: string;
  CustomersOrderReference: string;
  TotalInvoiceAmount: number;
  TotalTaxAmount: number;
  CurrencyCode: string;
}

/** What a posted-invoice event tells the flow; the invoice itself is read from OData. */
export interface InvoiceEvent {
  businessEventId: string;
  legalEntity: string;
  invoiceId: string;
  customerAccount: string;
  controlNumber: number;
  /** Epoch ms of the posting in D365. */
  eventTime: number;
}

/** `Invoice__c` field sizes in force-app (docs/contracts.md). */
const NAME_MAX = 80;
const INVOICE_KEY_MAX = 40;
const ORDER_NUMBER_MAX = 20;
/** D365 writes this for an empty date (reference/d365-fo.md §1). */
const D365_EMPTY_DATE_PREFIX = '1900-01-01';
/** The Salesforce record id pattern: only such a `CustomersOrderReference` can be an Opportunity id. */
const SALESFORCE_ID = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/;
const OPPORTUNITY_KEY_PREFIX = '006';

/** A payload that cannot be an invoice event: running it again cannot help. */
export class InvoiceEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvoiceEventError';
  }
}

/** `/Date(1714557600000)/` (D365's JSON date) → epoch ms; null when not in that form. */
export function parseD365JsonDate(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const match = /^\/Date\((-?\d+)\)\/$/.exec(value);
  return match ? Number(match[1]) : null;
}

export function parseInvoiceEvent(payload: unknown): InvoiceEvent {
  if (typeof payload !== 'object' || payload === null)
    throw new InvoiceEventError('The business event is not a JSON object');
  const event = payload as Record<string, unknown>;
  const text = (name: string): string => {
    const value = event[name];
    if (typeof value !== 'string' || value.trim() === '')
      throw new InvoiceEventError(`The business event has no ${name}`);
    return value.trim();
  };
  const eventTime =
    parseD365JsonDate(event.EventTime) ??
    (typeof event.EventTimeIso8601 === 'string' ? Date.parse(event.EventTimeIso8601) : NaN);
  if (!Number.isFinite(eventTime)) throw new InvoiceEventError('The business event has no time');
  // The contract's LegalEntity wins over the envelope's: it names the company the invoice is in.
  const legalEntity =
    typeof event.LegalEntity === 'string' && event.LegalEntity !== ''
      ? event.LegalEntity
      : text('BusinessEventLegalEntity');
  return {
    businessEventId: text('BusinessEventId'),
    legalEntity: legalEntity.toLowerCase(),
    invoiceId: text('InvoiceId'),
    customerAccount: text('InvoiceAccount'),
    controlNumber: Number(event.ControlNumber ?? 0),
    eventTime
  };
}

/** `<dataAreaId>|<invoice id>`, legal entity in lower case (docs/contracts.md). */
export function invoiceKey(legalEntity: string, invoiceId: string): string {
  const key = `${legalEntity.toLowerCase()}|${invoiceId}`;
  if (key.length > INVOICE_KEY_MAX)
    throw new InvoiceEventError(`Invoice key ${key} is longer than ${INVOICE_KEY_MAX} characters`);
  return key;
}

/** D365 date-only values come as `YYYY-MM-DDT12:00:00Z`; empty dates as 1900-01-01. */
export function d365Date(value: string | null | undefined): string | null {
  if (!value || value.startsWith(D365_EMPTY_DATE_PREFIX)) return null;
  return value.slice(0, 10);
}

/** The Opportunity id the order reference holds, if it looks like one (the connector writes it there). */
export function opportunityIdOf(reference: string): string | null {
  const trimmed = reference.trim();
  return SALESFORCE_ID.test(trimmed) && trimmed.startsWith(OPPORTUNITY_KEY_PREFIX) ? trimmed : null;
}

export type InvoiceType = 'Sales Order' | 'Free Text';

export function invoiceTypeOf(businessEventId: string, salesOrderNumber: string): InvoiceType {
  if (businessEventId === FREE_TEXT_INVOICE_POSTED) return 'Free Text';
  return salesOrderNumber === '' ? 'Free Text' : 'Sales Order';
}

/**
 * Header fields of `Invoice__c` (payment fields are the payment flow's). Lossy: the name is cut to
 * 80 characters and the sales order number to 20 (the package's field sizes).
 */
export function toInvoiceFields(
  header: InvoiceHeader,
  type: InvoiceType
): Record<string, string | number | null> {
  return {
    Name: header.InvoiceNumber.slice(0, NAME_MAX),
    D365_Invoice_Key__c: invoiceKey(header.dataAreaId, header.InvoiceNumber),
    Sales_Order_Number__c: header.SalesOrderNumber
      ? header.SalesOrderNumber.slice(0, ORDER_NUMBER_MAX)
      : null,
    Invoice_Type__c: type,
    Invoice_Date__c: d365Date(header.InvoiceDate),
    Due_Date__c: d365Date(header.DueDate),
    Amount__c: Number(header.TotalInvoiceAmount),
    Tax_Amount__c: Number(header.TotalTaxAmount),
    Currency_Code__c: header.CurrencyCode || null,
    Legal_Entity__c: header.dataAreaId.toLowerCase()
  };
}

/** Stable hash of the fields a write would send: equal hashes mean nothing to write. */
export function contentHash(fields: Readonly<Record<string, unknown>>): string {
  const sorted = Object.keys(fields)
    .sort()
    .map((key) => [key, fields[key]]);
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex');
}
