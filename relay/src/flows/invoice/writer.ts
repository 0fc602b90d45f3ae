/**
 * Batched `Invoice__c` upserts by `D365_Invoice_Key__c`, with the `D365_Sync_Result__e` event of
 * each written invoice: concurrent jobs share one sObject Collections upsert (≤ 200 records) and
 * one event publish instead of two calls each. Each caller gets its own record's result.
 */

import { SYNC_RESULT_EVENT } from '../shared/writeback.ts';
import type { SalesforceClient, SaveResult } from '../../salesforce/index.ts';
import { SALESFORCE_COLLECTION_MAX_RECORDS } from '../../salesforce/index.ts';

export const INVOICE_OBJECT = 'Invoice__c';
export const INVOICE_KEY_FIELD = 'D365_Invoice_Key__c';
const DEFAULT_MAX_WAIT_MS = 20;
/** `D365_Sync_Result__e.Message__c` is Text(255); `Idempotency_Key__c` Text(80). */
const MESSAGE_MAX = 255;
const IDEMPOTENCY_KEY_MAX = 80;

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

interface Waiter {
  resolve(result: InvoiceWriteResult): void;
  reject(error: unknown): void;
}

interface Entry {
  item: InvoiceWrite;
  waiters: Waiter[];
}

type WriterSalesforce = Pick<SalesforceClient, 'collections'>;

export function createInvoiceWriter(
  salesforce: WriterSalesforce,
  options: { maxWaitMs?: number } = {}
): InvoiceWriter {
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  let queue = new Map<string, Entry>();
  let timer: NodeJS.Timeout | null = null;
  const inFlight = new Set<Promise<void>>();

  function startFlush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = null;
    if (queue.size === 0) return Promise.resolve();
    const batch = [...queue.values()];
    queue = new Map();
    const run = send(batch).finally(() => inFlight.delete(run));
    inFlight.add(run);
    return run;
  }

  async function send(batch: Entry[]): Promise<void> {
    let saved: SaveResult[];
    try {
      saved = await salesforce.collections.upsert(
        INVOICE_OBJECT,
        INVOICE_KEY_FIELD,
        batch.map((entry) => entry.item.fields)
      );
    } catch (error) {
      for (const entry of batch) for (const waiter of entry.waiters) waiter.reject(error);
      return;
    }
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
    const events = batch.flatMap((entry, index) => {
      const result = results[index] as InvoiceWriteResult;
      if (!result.success || result.id === null) return [];
      return [
        {
          Record_Id__c: result.id,
          Idempotency_Key__c: entry.item.idempotencyKey.slice(0, IDEMPOTENCY_KEY_MAX),
          Flow__c: entry.item.flow,
          Status__c: 'Synced',
          Message__c: entry.item.message?.slice(0, MESSAGE_MAX) ?? null,
          D365_Key__c: String(entry.item.fields[INVOICE_KEY_FIELD])
        }
      ];
    });
    if (events.length > 0) {
      // The invoices are written; a lost status event only delays the component's refresh.
      await salesforce.collections.create(SYNC_RESULT_EVENT, events).catch(() => undefined);
    }
    batch.forEach((entry, index) => {
      for (const waiter of entry.waiters) waiter.resolve(results[index] as InvoiceWriteResult);
    });
  }

  return {
    write(item) {
      const key = String(item.fields[INVOICE_KEY_FIELD]).toLowerCase();
      return new Promise<InvoiceWriteResult>((resolve, reject) => {
        const existing = queue.get(key);
        // Collections refuses one external id twice in a request: keep the newer state of the two.
        const newer =
          !existing ||
          String(item.fields.D365_Modified_At__c) >=
            String(existing.item.fields.D365_Modified_At__c);
        const entry: Entry = existing
          ? { item: newer ? item : existing.item, waiters: existing.waiters }
          : { item, waiters: [] };
        entry.waiters.push({ resolve, reject });
        queue.set(key, entry);
        if (queue.size >= SALESFORCE_COLLECTION_MAX_RECORDS) void startFlush();
        else timer ??= setTimeout(() => void startFlush(), maxWaitMs);
      });
    },
    async flush() {
      await startFlush();
      await Promise.all([...inFlight]);
    }
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
