import { filter } from '../../d365/odata.ts';
import { soqlList } from '../../salesforce/soql.ts';
import {
  INVOICE_HEADER_ENTITY,
  INVOICE_HEADER_FIELDS,
  invoiceKey,
  invoiceTypeOf,
  toInvoiceFields,
  type InvoiceHeader
} from './mapping.ts';
import { syncInvoice, type InvoiceDeps } from './handler.ts';

export interface ReconcileReport {
  since: string;
  /** Invoices D365 posted in the period. */
  found: number;
  missing: number;
  different: number;
  repaired: number;
  failed: number;
  /** `<invoice key>: <reason>` per failure (the first 20). */
  failures: string[];
}

/** Fields compared with D365: the header fields this flow owns (payment fields are the payment flow's). */
const COMPARED_FIELDS = [
  'Name',
  'Sales_Order_Number__c',
  'Invoice_Type__c',
  'Invoice_Date__c',
  'Due_Date__c',
  'Amount__c',
  'Tax_Amount__c',
  'Currency_Code__c',
  'Legal_Entity__c'
] as const;
const SOQL_IN_CHUNK = 200;
/** Repairs in flight at once: enough to fill the writer's Collections batches, few enough for D365. */
const REPAIR_CONCURRENCY = 8;
const MAX_REPORTED_FAILURES = 20;

function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' || typeof b === 'number') return Number(a) === Number(b);
  return (a ?? null) === (b ?? null);
}

/**
 * Compares the invoices D365 posted since `since` with `Invoice__c` and re-syncs those missing or
 * different, through the same path as the business events (so the unknown-account rule applies).
 */
export async function reconcileInvoices(deps: InvoiceDeps, since: Date): Promise<ReconcileReport> {
  const headers: InvoiceHeader[] = [];
  for await (const header of deps.d365.query<InvoiceHeader>(INVOICE_HEADER_ENTITY, {
    filter: filter.ge('InvoiceDate', since),
    select: INVOICE_HEADER_FIELDS,
    crossCompany: true
  })) {
    headers.push(header);
  }
  const report: ReconcileReport = {
    since: since.toISOString(),
    found: headers.length,
    missing: 0,
    different: 0,
    repaired: 0,
    failed: 0,
    failures: []
  };
  const keyed = headers.map((header) => ({
    header,
    key: invoiceKey(header.dataAreaId, header.InvoiceNumber)
  }));
  const stored = new Map<string, Record<string, unknown>>();
  for (let i = 0; i < keyed.length; i += SOQL_IN_CHUNK) {
    const keys = keyed.slice(i, i + SOQL_IN_CHUNK).map((k) => k.key);
    for await (const row of deps.salesforce.query<Record<string, unknown>>(
      `SELECT D365_Invoice_Key__c, ${COMPARED_FIELDS.join(', ')} FROM Invoice__c WHERE D365_Invoice_Key__c IN ${soqlList(keys)}`
    )) {
      stored.set(String(row.D365_Invoice_Key__c).toLowerCase(), row);
    }
  }

  const toRepair = keyed.filter(({ header, key }) => {
    const current = stored.get(key.toLowerCase());
    if (!current) {
      report.missing += 1;
      return true;
    }
    const expected = toInvoiceFields(header, invoiceTypeOf('', header.SalesOrderNumber));
    if (COMPARED_FIELDS.every((field) => sameValue(current[field], expected[field]))) return false;
    report.different += 1;
    return true;
  });

  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < toRepair.length) {
      const { header, key } = toRepair[next++] as (typeof toRepair)[number];
      try {
        const outcome = await syncInvoice(
          deps,
          { legalEntity: header.dataAreaId, invoiceId: header.InvoiceNumber },
          { force: true }
        );
        // newer-in-salesforce: a job that read D365 later wrote meanwhile; nothing to repair.
        if (outcome.status === 'written') report.repaired += 1;
      } catch (error) {
        report.failed += 1;
        if (report.failures.length < MAX_REPORTED_FAILURES)
          report.failures.push(`${key}: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: REPAIR_CONCURRENCY }, worker));
  return report;
}
