/**
 * Batched write-back to Salesforce: record updates (sync status, D365 keys, errors) and the matching
 * `D365_Sync_Result__e` events, sent through sObject Collections instead of one request per record.
 * Every caller waits for its own item's result; a whole-call failure (throttling, outage, expired
 * session past the client's own retry) rejects every caller of that flush so their jobs retry.
 */

import type { Logger } from 'pino';
import { ClientError } from '../../net/errors.ts';
import { createBatcher } from './batcher.ts';
import type { BulkValue, SalesforceClient, SaveResult } from '../../salesforce/index.ts';
import { SALESFORCE_COLLECTION_MAX_RECORDS } from '../../salesforce/limits.ts';

/** The platform event the status component listens to (docs/contracts.md). */
export const SYNC_RESULT_EVENT = 'D365_Sync_Result__e';
/** Field sizes of `D365_Sync_Result__e` in force-app: Flow__c 40, Status__c 20, Message__c 255, D365_Key__c 60. */
const EVENT_FIELD_LIMITS = { Flow__c: 40, Message__c: 255, D365_Key__c: 60 } as const;
/** `Idempotency_Key__c` is Text(80) on every event. */
const IDEMPOTENCY_KEY_MAX = 80;
const DEFAULT_MAX_WAIT_MS = 50;

export type SyncStatus = 'Synced' | 'Error' | 'Pending';

export interface SyncResultEvent {
  recordId: string;
  idempotencyKey: string;
  flow: string;
  status: SyncStatus;
  message?: string;
  d365Key?: string;
}

export interface WriteBackItem {
  sobject: string;
  id: string;
  /** Only integration-owned fields: anything else would publish a new sync event (echo). */
  fields: Record<string, unknown>;
  /** Published after the record update succeeded. */
  event?: SyncResultEvent;
}

export interface WriteBackResult {
  success: boolean;
  /** Salesforce's per-record errors (`statusCode` codes), empty on success. */
  errors: SaveResult['errors'];
  /** False when the update failed (no event then) or the event itself was refused. */
  eventPublished: boolean;
}

export interface WriteBackOptions {
  /** Longest time an item waits for others to share its Collections call. */
  maxWaitMs?: number;
  /** Items per Collections call; Salesforce takes at most 200. */
  maxBatch?: number;
  logger?: Logger;
}

export interface WriteBack {
  write(item: WriteBackItem): Promise<WriteBackResult>;
  /** Sends whatever is queued now and waits for it. */
  flush(): Promise<void>;
  /** Pending items at the moment (tests, metrics). */
  pending(): number;
}

type WriteBackSalesforce = Pick<SalesforceClient, 'collections'>;

interface Entry {
  sobject: string;
  id: string;
  fields: Record<string, unknown>;
  events: SyncResultEvent[];
}

export function createWriteBack(
  salesforce: WriteBackSalesforce,
  options: WriteBackOptions = {}
): WriteBack {
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  const maxBatch = Math.min(
    options.maxBatch ?? SALESFORCE_COLLECTION_MAX_RECORDS,
    SALESFORCE_COLLECTION_MAX_RECORDS
  );
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new TypeError('maxBatch must be ≥ 1');
  const batcher = createBatcher<Entry, WriteBackResult>({ maxWaitMs, maxBatch, send });

  async function send(batch: Entry[]): Promise<WriteBackResult[]> {
    const updates = await updateRecords(batch);
    const withEvents = batch.filter(
      (entry) => updates.get(entry)?.success === true && entry.events.length > 0
    );
    const published = new Map<Entry, boolean>();
    if (withEvents.length > 0) {
      try {
        const events = withEvents.flatMap((entry) => entry.events.map(eventRecord));
        const results = await salesforce.collections.create(SYNC_RESULT_EVENT, events);
        let index = 0;
        for (const entry of withEvents) {
          const own = results.slice(index, index + entry.events.length);
          index += entry.events.length;
          published.set(
            entry,
            own.length === entry.events.length && own.every((result) => result.success)
          );
        }
      } catch (error) {
        // The records are written; a lost status event only delays the component's refresh.
        options.logger?.warn({ err: error }, 'Sync result events could not be published');
      }
    }
    return batch.map((entry) => {
      const update = updates.get(entry) as SaveResult;
      return {
        success: update.success,
        errors: update.errors,
        eventPublished: published.get(entry) ?? false
      };
    });
  }

  async function updateRecords(batch: Entry[]): Promise<Map<Entry, SaveResult>> {
    const results = new Map<Entry, SaveResult>();
    const bySobject = new Map<string, Entry[]>();
    for (const entry of batch) {
      const list = bySobject.get(entry.sobject) ?? [];
      list.push(entry);
      bySobject.set(entry.sobject, list);
    }
    for (const [sobject, entries] of bySobject) {
      const saved = await salesforce.collections.update(
        sobject,
        entries.map((entry) => ({ ...entry.fields, Id: entry.id }))
      );
      entries.forEach((entry, index) => {
        results.set(
          entry,
          saved[index] ?? {
            success: false,
            errors: [{ errorCode: 'NO_RESULT', message: 'Salesforce returned no result' }]
          }
        );
      });
    }
    return results;
  }

  return {
    write(item) {
      if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(item.sobject))
        throw new TypeError(`Invalid sObject name ${JSON.stringify(item.sobject)}`);
      if (!/^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$/.test(item.id))
        throw new TypeError(`Invalid record id ${JSON.stringify(item.id)}`);
      // Two writes to one record in one batch merge (later fields win): Collections refuses a
      // request that names the same id twice.
      return batcher.add(`${item.sobject}:${item.id}`, (queued) => {
        const entry: Entry = queued ?? {
          sobject: item.sobject,
          id: item.id,
          fields: {},
          events: []
        };
        Object.assign(entry.fields, item.fields);
        if (item.event) entry.events.push(item.event);
        return entry;
      });
    },
    flush: () => batcher.flush(),
    pending: () => batcher.pending()
  };
}

function clip(value: string | undefined, max: number): string | undefined {
  if (value === undefined) return undefined;
  return value.length > max ? `${value.slice(0, max - 1)}…` : value;
}

/** The `D365_Sync_Result__e` record of an event, each field clipped to its size in force-app. */
export function eventRecord(event: SyncResultEvent): Record<string, BulkValue> {
  return {
    Record_Id__c: event.recordId,
    Idempotency_Key__c: event.idempotencyKey.slice(0, IDEMPOTENCY_KEY_MAX),
    Flow__c: clip(event.flow, EVENT_FIELD_LIMITS.Flow__c),
    Status__c: event.status,
    Message__c: clip(event.message, EVENT_FIELD_LIMITS.Message__c) ?? null,
    D365_Key__c: clip(event.d365Key, EVENT_FIELD_LIMITS.D365_Key__c) ?? null
  };
}

/** Above this many events one Bulk API 2.0 insert job publishes them (a few calls) instead of Collections (a call per 200). */
const BULK_EVENTS_ABOVE = 2 * SALESFORCE_COLLECTION_MAX_RECORDS;
/** Longest wait before the first status poll of a write-back or event job. */
const BULK_FIRST_POLL_MAX_MS = 10_000;

/** When to poll a Bulk job of this many rows first: each poll is an API call, and a job rarely finishes at once. */
export function bulkFirstPollDelayMs(rows: number): number {
  return Math.min(BULK_FIRST_POLL_MAX_MS, 250 + rows / 10);
}

/**
 * Publishes the sync result events of a bulk run (records already written through Bulk or
 * Collections), so open record pages refresh. Salesforce publishes platform events inserted through
 * Bulk API 2.0 like any other. The records' status fields are the truth and are written already: a
 * failed publish is logged, not retried, as it only delays a page's refresh.
 */
export async function publishSyncResults(
  salesforce: Pick<SalesforceClient, 'collections' | 'bulkIngest'>,
  events: readonly SyncResultEvent[],
  logger?: Logger
): Promise<void> {
  if (events.length === 0) return;
  const records = events.map(eventRecord);
  try {
    if (records.length <= BULK_EVENTS_ABOVE) {
      const results = await salesforce.collections.create(SYNC_RESULT_EVENT, records);
      const failed = results.filter((r) => !r.success).length;
      if (failed > 0) logger?.warn({ failed }, 'Some sync result events were not published');
      return;
    }
    const job = await salesforce.bulkIngest({
      object: SYNC_RESULT_EVENT,
      operation: 'insert',
      records,
      results: 'failures',
      firstPollDelayMs: bulkFirstPollDelayMs(records.length)
    });
    if (job.state !== 'JobComplete' || job.numberRecordsFailed > 0)
      logger?.warn(
        { jobId: job.jobId, state: job.state, failed: job.numberRecordsFailed },
        'Some sync result events were not published'
      );
  } catch (error) {
    logger?.warn({ err: error }, 'Sync result events could not be published');
  }
}

const shared = new WeakMap<object, WriteBack>();

/** One write-back per Salesforce client, so every flow's jobs share its batches. */
export function writeBackFor(
  salesforce: WriteBackSalesforce,
  options?: WriteBackOptions
): WriteBack {
  let writeBack = shared.get(salesforce);
  if (!writeBack) {
    writeBack = createWriteBack(salesforce, options);
    shared.set(salesforce, writeBack);
  }
  return writeBack;
}

/** Turns a failed item into the error a handler throws: a record error is not worth retrying. */
export function writeBackError(result: WriteBackResult, what: string): ClientError {
  const detail = result.errors.map((e) => `${e.errorCode}: ${e.message}`).join('; ');
  const retryable = result.errors.some((e) =>
    ['UNABLE_TO_LOCK_ROW', 'SERVER_UNAVAILABLE', 'UNKNOWN_EXCEPTION'].includes(e.errorCode)
  );
  return new ClientError(`Salesforce refused the write-back of ${what}: ${detail}`, {
    system: 'salesforce',
    kind: retryable ? 'transient' : 'validation',
    code: result.errors[0]?.errorCode ?? 'WRITE_BACK_FAILED'
  });
}
