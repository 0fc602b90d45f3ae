/**
 * Batched `Invoice__c` upserts by `D365_Invoice_Key__c`, with the `D365_Sync_Result__e` event of
 * each written invoice: concurrent jobs share one sObject Collections upsert (≤ 200 records) and
 * one event publish instead of two calls each. Each caller gets its own record's result.
 */

import { createBatcher } from '../shared/batcher.ts';
import { SYNC_RESULT_EVENT, eventRecord } from '../shared/writeback.ts';
import type { SalesforceClient, SaveResult } from '../../salesforce/index.ts';
import { SALESFORCE_COLLECTION_MAX_RECORDS } from '../../salesforce/limits.ts';

export const INVOICE_OBJECT = 'Invoice__c';
export const INVOICE_KEY_FIELD = 'D365_Invoice_Key__c';
const DEFAULT_MAX_WAIT_MS = 20;

export interface InvoiceWrite {
  /** Includes `D365_Invoice_Key__c` and `D365_Modified_At__c` (ISO date-time). */
  fields: Record<string, unknown>;
  flow: string;
  /** Unique per written state: the event's Idempotency_Key__c. */
  idempotencyKey: string;
  message?: string;
}

export interface InvoiceWriteResult {
  success: boolean;
  id: string | null;
  created: boolean;
  errors: SaveResult['errors'];
}

export interface InvoiceWriter {
  write(item: InvoiceWrite): Promise<InvoiceWriteResult>;
  flush(): Promise<void>;
}

type WriterSalesforce = Pick<SalesforceClient, 'collections'>;

export function createInvoiceWriter(
  salesforce: WriterSalesforce,
  options: { maxWaitMs?: number } = {}
): InvoiceWriter {
  const batcher = createBatcher<InvoiceWrite, InvoiceWriteResult>({
    maxWaitMs: options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS,
    maxBatch: SALESFORCE_COLLECTION_MAX_RECORDS,
    send
  });

  async function send(batch: InvoiceWrite[]): Promise<InvoiceWriteResult[]> {
    const saved = await salesforce.collections.upsert(
      INVOICE_OBJECT,
      INVOICE_KEY_FIELD,
      batch.map((item) => item.fields)
    );
    const results = batch.map((_entry, index): InvoiceWriteResult => {
      const result = saved[index];
      if (!result)
        return {
          success: false,
          id: null,
          created: false,
          errors: [{ errorCode: 'NO_RESULT', message: 'Salesforce returned no result' }]
        };
      return {
        success: result.success,
        id: result.id ?? null,
        created: result.created ?? false,
        errors: result.errors
      };
    });
    const events = batch.flatMap((item, index) => {
      const result = results[index] as InvoiceWriteResult;
      if (!result.success || result.id === null) return [];
      return [
        eventRecord({
          recordId: result.id,
          idempotencyKey: item.idempotencyKey,
          flow: item.flow,
          status: 'Synced',
          message: item.message,
          d365Key: String(item.fields[INVOICE_KEY_FIELD])
        })
      ];
    });
    if (events.length > 0) {
      // The invoices are written; a lost status event only delays the component's refresh.
      await salesforce.collections.create(SYNC_RESULT_EVENT, events).catch(() => undefined);
    }
    return results;
  }

  return {
    write(item) {
      const key = String(item.fields[INVOICE_KEY_FIELD]).toLowerCase();
      // Collections refuses one external id twice in a request: keep the newer state of the two.
      return batcher.add(key, (queued) =>
        queued &&
        String(item.fields.D365_Modified_At__c) < String(queued.fields.D365_Modified_At__c)
          ? queued
          : item
      );
    },
    flush: () => batcher.flush()
  };
}

const shared = new WeakMap<object, InvoiceWriter>();

/** One writer per Salesforce client, so the invoice and payment jobs of a relay share batches. */
export function invoiceWriterFor(salesforce: WriterSalesforce): InvoiceWriter {
  let writer = shared.get(salesforce);
  if (!writer) {
    writer = createInvoiceWriter(salesforce);
    shared.set(salesforce, writer);
  }
  return writer;
}
