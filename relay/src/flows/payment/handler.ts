import type { Logger } from 'pino';
import type { D365Client } from '../../d365/index.ts';
import { filter, type Filter } from '../../d365/odata.ts';
import { soqlList, soqlString } from '../../salesforce/soql.ts';
import type { SalesforceClient } from '../../salesforce/index.ts';
import type { LedgerEntry, Store } from '../../store/types.ts';
import { contentHash } from '../invoice/mapping.ts';
import { salesforceTime } from '../invoice/handler.ts';
import { publishSyncResults } from '../shared/writeback.ts';
import { d365Of, salesforceOf } from '../shared/clients.ts';
import type { FlowContext, FlowOutcome } from '../types.ts';
import {
  accountBalance,
  CUST_TRANS_ENTITY,
  CUST_TRANS_FIELDS,
  invoicePayment,
  invoiceTransactions,
  utcDate,
  type CustTransRow
} from './mapping.ts';

export const PAYMENT_FLOW = 'payment';
export const DEFAULT_PAYMENT_BULK_THRESHOLD = 2_000;
/** Transactions closed this long ago or earlier are not read again: their invoices were marked Paid then. */
const RECENTLY_CLOSED_DAYS = 35;
/** D365's empty date (`Closed` of an open transaction). */
const D365_EMPTY_DATE = new Date('1900-01-01T12:00:00Z');
/** Keys per SOQL IN list: 200 keys of ≤ 40 characters stay far below SOQL's 100,000-character limit. */
const SOQL_IN_CHUNK = 200;
const DAY_MS = 86_400_000;

export interface PaymentDeps {
  d365: Pick<D365Client, 'query'>;
  salesforce: Pick<SalesforceClient, 'query' | 'collections' | 'bulkIngest'>;
  store: Store;
  logger: Logger;
  correlationId: string;
  defaultLegalEntity: string;
  bulkThreshold: number;
  now: () => number;
}

/** One customer (after its payment event), or every account that has a D365 customer number. */
export type PaymentScope = { customerAccount: string; legalEntity: string } | { all: true };

export interface PaymentReport {
  accounts: number;
  invoices: number;
  written: number;
  unchanged: number;
  failed: number;
  via: 'none' | 'collections' | 'bulk';
}

interface AccountRow {
  Id: string;
  D365_Customer_Number__c: string;
  D365_Legal_Entity__c: string | null;
}

interface InvoiceRow {
  Id: string;
  D365_Invoice_Key__c: string;
  D365_Modified_At__c: string | null;
}

interface Update {
  sobject: 'Account' | 'Invoice__c';
  recordKey: string;
  d365Key: string;
  id: string;
  fields: Record<string, unknown>;
  hash: string;
}

async function collect<T>(rows: AsyncGenerator<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const row of rows) out.push(row);
  return out;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function transactionFilter(scope: PaymentScope, closedSince: Date): Filter {
  const recent = filter.or(filter.eq('Closed', D365_EMPTY_DATE), filter.ge('Closed', closedSince));
  if ('all' in scope) return recent;
  return filter.and(
    filter.eq('dataAreaId', scope.legalEntity),
    filter.eq('AccountNum', scope.customerAccount)
  );
}

/**
 * Reads customer transactions from D365 and writes what changed: the account's payment status and
 * balances, each invoice's amount paid, balance and payment status. Changes are found by a content
 * hash per record in the ledger; an invoice that the invoice flow wrote from a later read is left alone.
 */
export async function refreshPayments(
  deps: PaymentDeps,
  scope: PaymentScope
): Promise<PaymentReport> {
  const readAt = deps.now();
  const today = utcDate(readAt);
  const transactions = await collect(
    deps.d365.query<CustTransRow>(CUST_TRANS_ENTITY, {
      filter: transactionFilter(scope, new Date(readAt - RECENTLY_CLOSED_DAYS * DAY_MS)),
      select: CUST_TRANS_FIELDS,
      crossCompany: true
    })
  );
  const byCustomer = new Map<string, CustTransRow[]>();
  for (const row of transactions) {
    const key = `${row.dataAreaId.toLowerCase()}|${row.AccountNum.toUpperCase()}`;
    const list = byCustomer.get(key) ?? [];
    list.push(row);
    byCustomer.set(key, list);
  }

  const accountSoql =
    'SELECT Id, D365_Customer_Number__c, D365_Legal_Entity__c FROM Account WHERE ' +
    ('all' in scope
      ? 'D365_Customer_Number__c != null'
      : `D365_Customer_Number__c = ${soqlString(scope.customerAccount)}`);
  const accounts = await collect(deps.salesforce.query<AccountRow>(accountSoql));

  const ledger = new Map<string, LedgerEntry>();
  for (const entry of await deps.store.queryLedger({
    flow: PAYMENT_FLOW,
    limit: Number.MAX_SAFE_INTEGER
  })) {
    ledger.set(entry.recordKey, entry);
  }
  const updates: Update[] = [];
  let unchanged = 0;
  const consider = (update: Omit<Update, 'hash'>): void => {
    const hash = contentHash(update.fields);
    const previous = ledger.get(update.recordKey);
    if (previous?.contentHash === hash && previous.lastStatus === 'Synced') unchanged += 1;
    else updates.push({ ...update, hash });
  };

  const invoiceRows: CustTransRow[] = [];
  for (const account of accounts) {
    const legalEntity = (account.D365_Legal_Entity__c || deps.defaultLegalEntity).toLowerCase();
    // Only the event's legal entity was read: an account routed elsewhere is not this customer.
    if (!('all' in scope) && legalEntity !== scope.legalEntity) continue;
    const rows =
      byCustomer.get(`${legalEntity}|${account.D365_Customer_Number__c.toUpperCase()}`) ?? [];
    consider({
      sobject: 'Account',
      recordKey: `account:${account.Id}`,
      d365Key: `${legalEntity}|${account.D365_Customer_Number__c}`,
      id: account.Id,
      fields: { ...accountBalance(rows, today) }
    });
    invoiceRows.push(...invoiceTransactions(rows));
  }

  const invoiceKeys = invoiceRows.map((row) => `${row.dataAreaId.toLowerCase()}|${row.Invoice}`);
  const invoices = new Map<string, InvoiceRow>();
  for (const keys of chunks([...new Set(invoiceKeys)], SOQL_IN_CHUNK)) {
    for (const row of await collect(
      deps.salesforce.query<InvoiceRow>(
        `SELECT Id, D365_Invoice_Key__c, D365_Modified_At__c FROM Invoice__c WHERE D365_Invoice_Key__c IN ${soqlList(keys)}`
      )
    )) {
      invoices.set(row.D365_Invoice_Key__c.toLowerCase(), row);
    }
  }
  invoiceRows.forEach((row, index) => {
    const key = invoiceKeys[index] as string;
    const invoice = invoices.get(key.toLowerCase());
    // Not in Salesforce yet: the invoice flow creates it with its payment state.
    if (!invoice) return;
    const written = salesforceTime(invoice.D365_Modified_At__c);
    if (written !== null && written > readAt) return;
    consider({
      sobject: 'Invoice__c',
      recordKey: `invoice:${key}`,
      d365Key: key,
      id: invoice.Id,
      fields: { ...invoicePayment(row, today) }
    });
  });

  const report: PaymentReport = {
    accounts: accounts.length,
    invoices: invoices.size,
    written: 0,
    unchanged,
    failed: 0,
    via: 'none'
  };
  if (updates.length === 0) return report;
  const stamp = new Date(readAt).toISOString();
  const withStamp = (update: Update) =>
    update.sobject === 'Invoice__c'
      ? { ...update.fields, D365_Modified_At__c: stamp }
      : update.fields;
  const results =
    updates.length > deps.bulkThreshold
      ? await writeBulk(deps, updates, withStamp)
      : await writeCollections(deps, updates, withStamp);
  report.via = updates.length > deps.bulkThreshold ? 'bulk' : 'collections';

  const succeeded: Update[] = [];
  for (const [index, update] of updates.entries()) {
    const error = results[index] ?? null;
    if (error === null) {
      report.written += 1;
      succeeded.push(update);
    } else report.failed += 1;
    await deps.store.upsertLedger({
      flow: PAYMENT_FLOW,
      recordKey: update.recordKey,
      salesforceId: update.id,
      d365Key: update.d365Key,
      lastStatus: error === null ? 'Synced' : 'Error',
      lastError: error,
      contentHash: error === null ? update.hash : null,
      correlationId: deps.correlationId
    });
  }
  await publishResults(deps, succeeded, readAt);
  return report;
}

/**
 * Writes the updates one object at a time, accounts first. Per update: null when written, else
 * Salesforce's reason.
 */
async function writeByObject(
  updates: Update[],
  write: (sobject: Update['sobject'], group: Update[]) => Promise<(string | null)[]>
): Promise<(string | null)[]> {
  const results: (string | null)[] = new Array<string | null>(updates.length).fill(null);
  for (const sobject of ['Account', 'Invoice__c'] as const) {
    const indexes = updates.flatMap((u, i) => (u.sobject === sobject ? [i] : []));
    if (indexes.length === 0) continue;
    const written = await write(
      sobject,
      indexes.map((i) => updates[i] as Update)
    );
    indexes.forEach((updateIndex, position) => {
      results[updateIndex] = written[position] ?? null;
    });
  }
  return results;
}

function writeCollections(
  deps: PaymentDeps,
  updates: Update[],
  fieldsOf: (update: Update) => Record<string, unknown>
): Promise<(string | null)[]> {
  return writeByObject(updates, async (sobject, group) => {
    const saved = await deps.salesforce.collections.update(
      sobject,
      group.map((update) => ({ ...fieldsOf(update), Id: update.id }))
    );
    return group.map((_update, position) => {
      const result = saved[position];
      return result?.success
        ? null
        : (result?.errors.map((e) => `${e.errorCode}: ${e.message}`).join('; ') ?? 'no result');
    });
  });
}

function writeBulk(
  deps: PaymentDeps,
  updates: Update[],
  fieldsOf: (update: Update) => Record<string, unknown>
): Promise<(string | null)[]> {
  return writeByObject(updates, async (sobject, group) => {
    const job = await deps.salesforce.bulkIngest({
      object: sobject,
      operation: 'update',
      records: group.map((update) => ({
        Id: update.id,
        ...(fieldsOf(update) as Record<string, string | number>)
      })),
      results: 'failures'
    });
    const failedById = new Map(
      job.failed.map((f) => [f.record.Id, `${f.errorCode}: ${f.message}`])
    );
    return group.map((update) =>
      job.state !== 'JobComplete'
        ? `Bulk job ${job.jobId} ended ${job.state}: ${job.errorMessage ?? ''}`
        : (failedById.get(update.id) ?? null)
    );
  });
}

/** Sync result events for the changed accounts, so an open Account page refreshes its status. */
async function publishResults(deps: PaymentDeps, written: Update[], readAt: number): Promise<void> {
  await publishSyncResults(
    deps.salesforce,
    written
      .filter((u) => u.sobject === 'Account')
      .map((u) => ({
        recordId: u.id,
        idempotencyKey: `${u.id}:payment:${readAt}`,
        flow: PAYMENT_FLOW,
        status: 'Synced' as const,
        message: `Payment status ${String(u.fields.D365_Payment_Status__c)}`,
        d365Key: u.d365Key
      })),
    deps.logger
  );
}

export function paymentDeps(context: FlowContext): PaymentDeps {
  return {
    d365: d365Of(context),
    salesforce: salesforceOf(context),
    store: context.store,
    logger: context.logger,
    correlationId: context.correlationId,
    defaultLegalEntity: context.config?.D365_DEFAULT_LEGAL_ENTITY ?? 'usmf',
    bulkThreshold: context.config?.PAYMENT_BULK_THRESHOLD ?? DEFAULT_PAYMENT_BULK_THRESHOLD,
    now: Date.now
  };
}

/** A payment event names one customer; anything else (schedule, admin, CLI) refreshes all. */
export function scopeOf(payload: unknown): PaymentScope {
  const event = (payload ?? {}) as Record<string, unknown>;
  const customer = event.CustomerAccount;
  const legalEntity = event.LegalEntity ?? event.BusinessEventLegalEntity;
  if (typeof customer === 'string' && customer !== '' && typeof legalEntity === 'string') {
    return { customerAccount: customer, legalEntity: legalEntity.toLowerCase() };
  }
  return { all: true };
}

export async function handlePayments(payload: unknown, context: FlowContext): Promise<FlowOutcome> {
  const report = await refreshPayments(paymentDeps(context), scopeOf(payload));
  context.logger.info({ report }, 'Payment status refreshed');
  return { status: 'done' };
}
