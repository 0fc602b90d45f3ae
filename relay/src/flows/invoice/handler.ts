import type { Logger } from 'pino';
import type { D365Client } from '../../d365/index.ts';
import { filter } from '../../d365/odata.ts';
import { PermanentFlowError } from '../../errors.ts';
import { ClientError } from '../../net/errors.ts';
import { soqlString } from '../../salesforce/soql.ts';
import type { SalesforceClient } from '../../salesforce/index.ts';
import type { Store } from '../../store/types.ts';
import {
  CUST_TRANS_ENTITY,
  CUST_TRANS_FIELDS,
  invoicePayment,
  utcDate,
  type CustTransRow
} from '../payment/mapping.ts';
import { d365Of, salesforceOf } from '../shared/clients.ts';
import { isTriggeredRun } from '../shared/triggers.ts';
import type { FlowContext, FlowOutcome } from '../types.ts';
import {
  contentHash,
  INVOICE_HEADER_ENTITY,
  INVOICE_HEADER_FIELDS,
  InvoiceEventError,
  invoiceKey,
  invoiceTypeOf,
  opportunityIdOf,
  parseInvoiceEvent,
  toInvoiceFields,
  type InvoiceHeader
} from './mapping.ts';
import { accountLookupFor, type AccountLookup } from './accounts.ts';
import { reconcileInvoices } from './reconcile.ts';
import { invoiceWriterFor, type InvoiceWriter } from './writer.ts';

export const INVOICE_FLOW = 'invoice';

export interface InvoiceDeps {
  d365: Pick<D365Client, 'get' | 'query'>;
  salesforce: Pick<SalesforceClient, 'query'>;
  writer: InvoiceWriter;
  accounts: AccountLookup;
  store: Store;
  logger: Logger;
  correlationId: string;
  now: () => number;
}

export interface InvoiceRef {
  legalEntity: string;
  invoiceId: string;
  /** The business event that announced it; decides Sales Order vs Free Text when the header cannot. */
  businessEventId?: string;
}

export type InvoiceSyncOutcome =
  | { status: 'written'; id: string; created: boolean }
  | { status: 'unchanged'; id: string }
  | { status: 'newer-in-salesforce'; id: string };

/**
 * The account is not in Salesforce (yet): the invoice is parked by retrying with backoff, because the
 * account flow may create it shortly; after the flow's attempts it is dead-lettered with this reason.
 */
export class UnknownAccountError extends Error {
  constructor(customerAccount: string, key: string) {
    super(
      `No Salesforce account has D365 customer number ${customerAccount}; invoice ${key} waits for it`
    );
    this.name = 'UnknownAccountError';
  }
}

/** The event announced an invoice OData does not show (yet): retried like a transient failure. */
export class InvoiceNotFoundError extends Error {
  constructor(key: string) {
    super(`D365 has no invoice ${key} (SalesInvoiceHeadersV2)`);
    this.name = 'InvoiceNotFoundError';
  }
}

/**
 * Record errors worth another attempt: a locked row, and Account__c refused on update, which means
 * another job created the invoice between this job's query and its upsert (the next attempt sees it).
 */
const RETRYABLE_SAVE_ERRORS: ReadonlySet<string> = new Set([
  'UNABLE_TO_LOCK_ROW',
  'INVALID_FIELD_FOR_INSERT_UPDATE'
]);

/** Salesforce answers date-times as `2026-11-26T15:22:29.000+0000`; Date.parse wants `+00:00`. */
export function salesforceTime(value: string | null | undefined): number | null {
  if (!value) return null;
  const time = Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isNaN(time) ? null : time;
}

async function first<T>(rows: AsyncGenerator<T>): Promise<T | null> {
  for await (const row of rows) {
    await rows.return(undefined);
    return row;
  }
  return null;
}

/**
 * Reads one invoice from D365 (header and its customer transaction) and upserts `Invoice__c`.
 * The data is read when the job runs, so `D365_Modified_At__c` is the time of that read: a job that
 * runs later carries newer data whatever order its event came in. A write is skipped when Salesforce
 * already holds data read later (an overtaking job) or the same content (a duplicate).
 */
export async function syncInvoice(
  deps: InvoiceDeps,
  ref: InvoiceRef,
  options: { force?: boolean } = {}
): Promise<InvoiceSyncOutcome> {
  const legalEntity = ref.legalEntity.toLowerCase();
  const key = invoiceKey(legalEntity, ref.invoiceId);
  const readAt = deps.now();
  const header = await deps.d365.get<InvoiceHeader>(
    INVOICE_HEADER_ENTITY,
    { dataAreaId: legalEntity, InvoiceNumber: ref.invoiceId },
    { select: INVOICE_HEADER_FIELDS, crossCompany: true }
  );
  if (!header) throw new InvoiceNotFoundError(key);
  const customer = header.InvoiceCustomerAccountNumber;
  const transaction = await first(
    deps.d365.query<CustTransRow>(CUST_TRANS_ENTITY, {
      filter: filter.and(
        filter.eq('dataAreaId', legalEntity),
        filter.eq('AccountNum', customer),
        filter.eq('Invoice', header.InvoiceNumber)
      ),
      select: CUST_TRANS_FIELDS,
      crossCompany: true
    })
  );

  const account = await deps.accounts.find(customer, key);
  if (!account) {
    await deps.store.upsertLedger({
      flow: INVOICE_FLOW,
      recordKey: key,
      salesforceId: null,
      d365Key: key,
      lastStatus: 'Pending',
      lastError: `No Salesforce account has D365 customer number ${customer}`,
      contentHash: null,
      correlationId: deps.correlationId
    });
    throw new UnknownAccountError(customer, key);
  }
  const existing = account.existing;
  const existingReadAt = salesforceTime(existing?.D365_Modified_At__c);
  if (existing && existingReadAt !== null && existingReadAt > readAt) {
    return { status: 'newer-in-salesforce', id: existing.Id };
  }

  const opportunityId = await findOpportunity(deps, header);
  const fields: Record<string, unknown> = {
    ...toInvoiceFields(header, invoiceTypeOf(ref.businessEventId ?? '', header.SalesOrderNumber)),
    ...(transaction ? invoicePayment(transaction, utcDate(readAt)) : {}),
    Account__c: account.accountId,
    Opportunity__c: opportunityId
  };
  const hash = contentHash(fields);
  const [ledger] = await deps.store.queryLedger({ flow: INVOICE_FLOW, d365Key: key, limit: 1 });
  // Reconciliation forces the write: the ledger says what was sent, not what Salesforce holds now.
  if (
    !options.force &&
    existing &&
    ledger?.contentHash === hash &&
    ledger.lastStatus === 'Synced'
  ) {
    return { status: 'unchanged', id: existing.Id };
  }

  // Account__c is master-detail without reparenting: Salesforce refuses it on an update.
  const { Account__c: accountId, ...updatable } = fields;
  const result = await deps.writer.write({
    fields: {
      ...(existing ? updatable : { Account__c: accountId, ...updatable }),
      D365_Modified_At__c: new Date(readAt).toISOString()
    },
    flow: INVOICE_FLOW,
    idempotencyKey: `${key}:${readAt}`,
    message: `Invoice ${header.InvoiceNumber} from D365`
  });
  if (!result.success || result.id === null) {
    const detail = result.errors.map((e) => `${e.errorCode}: ${e.message}`).join('; ');
    await deps.store.upsertLedger({
      flow: INVOICE_FLOW,
      recordKey: key,
      salesforceId: existing?.Id ?? null,
      d365Key: key,
      lastStatus: 'Error',
      lastError: detail,
      contentHash: null,
      correlationId: deps.correlationId
    });
    throw new ClientError(`Salesforce refused invoice ${key}: ${detail}`, {
      system: 'salesforce',
      kind: result.errors.some((e) => RETRYABLE_SAVE_ERRORS.has(e.errorCode))
        ? 'transient'
        : 'validation',
      code: result.errors[0]?.errorCode ?? 'UPSERT_FAILED'
    });
  }
  await deps.store.upsertLedger({
    flow: INVOICE_FLOW,
    recordKey: key,
    salesforceId: result.id,
    d365Key: key,
    lastStatus: 'Synced',
    lastError: null,
    contentHash: hash,
    correlationId: deps.correlationId
  });
  return { status: 'written', id: result.id, created: result.created };
}

async function findOpportunity(deps: InvoiceDeps, header: InvoiceHeader): Promise<string | null> {
  const conditions: string[] = [];
  if (header.SalesOrderNumber)
    conditions.push(`D365_Sales_Order_Number__c = ${soqlString(header.SalesOrderNumber)}`);
  const referenced = opportunityIdOf(header.CustomersOrderReference ?? '');
  if (referenced) conditions.push(`Id = ${soqlString(referenced)}`);
  if (conditions.length === 0) return null;
  const row = await first(
    deps.salesforce.query<{ Id: string }>(
      `SELECT Id FROM Opportunity WHERE ${conditions.join(' OR ')} LIMIT 1`
    )
  );
  return row?.Id ?? null;
}

export function invoiceDeps(context: FlowContext): InvoiceDeps {
  const salesforce = salesforceOf(context);
  return {
    d365: d365Of(context),
    salesforce,
    writer: invoiceWriterFor(salesforce),
    accounts: accountLookupFor(salesforce),
    store: context.store,
    logger: context.logger,
    correlationId: context.correlationId,
    now: Date.now
  };
}

const DAY_MS = 86_400_000;

/** A job without a business event: a scheduled or requested reconciliation run. */
function isReconcileRun(payload: unknown): payload is { trigger: string; since?: string } {
  return isTriggeredRun(payload);
}

export async function handleInvoiceEvent(
  payload: unknown,
  context: FlowContext
): Promise<FlowOutcome> {
  if (isReconcileRun(payload)) {
    const days = context.config?.INVOICE_RECONCILE_DAYS ?? 7;
    const since = payload.since ? new Date(payload.since) : new Date(Date.now() - days * DAY_MS);
    if (Number.isNaN(since.getTime()))
      throw new PermanentFlowError(`Reconciliation start ${payload.since} is not a date`);
    const report = await reconcileInvoices(invoiceDeps(context), since);
    context.logger.info({ report }, 'Invoices reconciled');
    if (report.failed > 0) {
      // Failures are per invoice (e.g. unknown account); the next run compares them again.
      context.logger.warn({ failures: report.failures }, 'Some invoices could not be repaired');
    }
    return { status: 'done' };
  }
  let event;
  try {
    event = parseInvoiceEvent(payload);
    invoiceKey(event.legalEntity, event.invoiceId);
  } catch (error) {
    if (error instanceof InvoiceEventError) throw new PermanentFlowError(error.message);
    throw error;
  }
  const outcome = await syncInvoice(invoiceDeps(context), {
    legalEntity: event.legalEntity,
    invoiceId: event.invoiceId,
    businessEventId: event.businessEventId
  });
  if (outcome.status === 'written') return { status: 'done' };
  return {
    status: 'skipped',
    reason:
      outcome.status === 'unchanged'
        ? 'Invoice__c already holds this data'
        : 'Invoice__c holds data read later'
  };
}
