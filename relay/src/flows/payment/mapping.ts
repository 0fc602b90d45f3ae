/** The D365 payment business event (its real class name is unconfirmed; the emulator uses this one). */
export const CUSTOMER_PAYMENT_POSTED = 'CustomerPaymentPostedBusinessEvent';

/** Customer transactions (CustTrans field names, reference/d365-fo.md §7). */
export const CUST_TRANS_ENTITY = 'CustTransactions';
export const CUST_TRANS_FIELDS = [
  'dataAreaId',
  'RecId',
  'AccountNum',
  'Invoice',
  'TransType',
  'AmountCur',
  'AmountMST',
  'SettleAmountCur',
  'SettleAmountMST',
  'DueDate',
  'Closed'
] as const;

export interface CustTransRow {
  dataAreaId: string;
  RecId: number;
  AccountNum: string;
  Invoice: string;
  TransType: string;
  AmountCur: number;
  AmountMST: number;
  SettleAmountCur: number;
  SettleAmountMST: number;
  DueDate: string;
  Closed: string;
}

/** D365 writes 1900-01-01 for an empty date: `Closed` stays empty while the transaction is open. */
const D365_EMPTY_DATE_PREFIX = '1900-01-01';

export type InvoicePaymentStatus = 'Open' | 'Partially Paid' | 'Paid' | 'Overdue';
export type AccountPaymentStatus = 'No Balance' | 'Open' | 'Overdue';

export interface InvoicePayment {
  Amount_Paid__c: number;
  Balance_Due__c: number;
  Payment_Status__c: InvoicePaymentStatus;
}

export interface AccountBalance {
  D365_Payment_Status__c: AccountPaymentStatus;
  D365_Open_Balance__c: number;
  D365_Overdue_Balance__c: number;
}

export function isOpen(row: Pick<CustTransRow, 'Closed'>): boolean {
  return !row.Closed || row.Closed.startsWith(D365_EMPTY_DATE_PREFIX);
}

function dateOnly(value: string): string | null {
  if (!value || value.startsWith(D365_EMPTY_DATE_PREFIX)) return null;
  return value.slice(0, 10);
}

function isPastDue(row: Pick<CustTransRow, 'DueDate'>, today: string): boolean {
  const due = dateOnly(row.DueDate);
  return due !== null && due < today;
}

function cents(value: number): number {
  return Math.round(value * 100) / 100;
}

/**
 * Payment state of one invoice from its customer transaction (in the invoice currency). Overdue wins
 * over Partially Paid: a rep chasing the customer needs to know the due date has passed.
 */
export function invoicePayment(row: CustTransRow, today: string): InvoicePayment {
  const amount = Number(row.AmountCur);
  const paid = cents(Number(row.SettleAmountCur));
  const balance = cents(amount - paid);
  let status: InvoicePaymentStatus;
  if (balance <= 0) status = 'Paid';
  else if (isPastDue(row, today)) status = 'Overdue';
  else if (paid > 0) status = 'Partially Paid';
  else status = 'Open';
  return { Amount_Paid__c: paid, Balance_Due__c: Math.max(balance, 0), Payment_Status__c: status };
}

/**
 * Balances of one customer from its open transactions, in the accounting currency (MST) so that
 * invoices in several currencies add up. Unsettled payments (credits) lower the open balance; only
 * debits past their due date count as overdue. Lossy: the balance is rounded to cents.
 */
export function accountBalance(rows: readonly CustTransRow[], today: string): AccountBalance {
  let open = 0;
  let overdue = 0;
  for (const row of rows) {
    if (!isOpen(row)) continue;
    const remaining = Number(row.AmountMST) - Number(row.SettleAmountMST);
    open += remaining;
    if (remaining > 0 && isPastDue(row, today)) overdue += remaining;
  }
  const openBalance = cents(open);
  const overdueBalance = cents(overdue);
  let status: AccountPaymentStatus;
  if (openBalance <= 0) status = 'No Balance';
  else if (overdueBalance > 0) status = 'Overdue';
  else status = 'Open';
  return {
    D365_Payment_Status__c: status,
    D365_Open_Balance__c: openBalance,
    D365_Overdue_Balance__c: overdueBalance
  };
}

/** The invoice transactions among a customer's transactions (payments and others carry no invoice). */
export function invoiceTransactions(rows: readonly CustTransRow[]): CustTransRow[] {
  return rows.filter((row) => row.Invoice !== '' && Number(row.AmountCur) > 0);
}

/** Today's date in UTC as `YYYY-MM-DD`; D365 stores due dates as dates without time zone. */
export function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
