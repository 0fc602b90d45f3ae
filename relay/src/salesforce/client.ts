/** Salesforce client: REST, sObject Collections, Composite, SOQL with queryMore, Bulk API 2.0 ingest, API budget guard. */

import { parse as parseCsv } from 'csv-parse/sync';
import { stringify as stringifyCsv } from 'csv-stringify/sync';
import type { Logger } from 'pino';
import { backoffDelayMs, sleep } from '../net/backoff.ts';
import type { BackoffPolicy } from '../net/backoff.ts';
import { AdaptiveLimiter } from '../net/concurrency.ts';
import { ClientError } from '../net/errors.ts';
import { createHttpClient, headerValue } from '../net/http.ts';
import type { ClientObserver } from '../net/observer.ts';
import {
  isIdempotent,
  limitedWithRetry,
  networkError,
  outcomeUnknownAfter
} from '../net/request.ts';
import { createSalesforceAuth } from './auth.ts';
import type { SalesforceCredentials, SalesforceSession } from './auth.ts';
import { BudgetGuard, parseLimitInfo } from './budget.ts';
import type { BudgetState } from './budget.ts';
import { parseSalesforceErrors, salesforceError } from './errors.ts';
import type { SalesforceApiError } from './errors.ts';
import {
  SALESFORCE_COLLECTION_MAX_RECORDS,
  SALESFORCE_COMPOSITE_MAX_SUBREQUESTS
} from './limits.ts';

export interface SalesforceClientOptions extends SalesforceCredentials {
  apiVersion?: string;
  requestTimeoutMs?: number;
  /** Share of the daily API allowance kept free for others; non-urgent work slows, then pauses, near it. */
  apiReservePercent?: number;
  /** Trust an emulator's self-signed certificate. */
  caCertPem?: string;
  maxConcurrency?: number;
  maxAttempts?: number;
  backoff?: BackoffPolicy;
  logger: Logger;
  observer?: ClientObserver;
  /** Sent as `Sforce-Call-Options: client=<name>`; shows in logs and CDC `changeOrigin` (echo-loop guard). */
  callOptionsClient?: string;
}

export interface CallOptions {
  /** Urgent calls pass the budget guard even when non-urgent work is paused. */
  urgent?: boolean;
}

export interface SaveResult {
  id?: string;
  success: boolean;
  created?: boolean;
  errors: SalesforceApiError[];
}

export interface CompositeSubrequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: string;
  referenceId: string;
  body?: unknown;
  httpHeaders?: Record<string, string>;
}

export interface CompositeSubresponse {
  body: unknown;
  httpHeaders: Record<string, string>;
  httpStatusCode: number;
  referenceId: string;
}

export type BulkOperation = 'insert' | 'update' | 'upsert' | 'delete' | 'hardDelete';
export type BulkValue = string | number | boolean | null | undefined;

export interface BulkIngestInput {
  object: string;
  operation: BulkOperation;
  externalIdFieldName?: string;
  records: ReadonlyArray<Readonly<Record<string, BulkValue>>>;
  /** Give up waiting after this long (default 30 minutes); the job keeps running in Salesforce. */
  timeoutMs?: number;
  /**
   * `failures`: skip the successful rows, and fetch failed / unprocessed rows only when the job's
   * counters or state say there are some. Each result download is an API call; callers that upsert
   * by External ID rarely need the successful rows.
   */
  results?: 'all' | 'failures';
  /** Wait this long before the first status poll: each poll is an API call and a job rarely finishes at once. */
  firstPollDelayMs?: number;
}

export interface BulkIngestResult {
  jobId: string;
  state: 'JobComplete' | 'Failed' | 'Aborted';
  numberRecordsProcessed: number;
  numberRecordsFailed: number;
  errorMessage?: string;
  successful: Array<{ id: string; created: boolean; record: Record<string, string> }>;
  failed: Array<{
    id?: string;
    errorCode: string;
    message: string;
    record: Record<string, string>;
  }>;
  unprocessed: Array<Record<string, string>>;
}

export interface SalesforceClient {
  checkCredentials(): Promise<void>;
  /** The current session (logging in when needed); used by the Pub/Sub subscriber for its metadata. */
  session(): Promise<SalesforceSession>;
  /** Drops a session Salesforce rejected, e.g. after a Pub/Sub auth error. */
  invalidateSession(accessToken: string): void;
  /** Any REST resource under `/services/data/vXX.X`, e.g. `/sobjects/Account/describe`. */
  request<T = unknown>(
    method: CompositeSubrequest['method'],
    path: string,
    body?: unknown,
    options?: CallOptions
  ): Promise<T>;
  upsert(
    sobject: string,
    externalIdField: string,
    externalId: string,
    fields: Record<string, unknown>,
    options?: CallOptions
  ): Promise<{ id: string; created: boolean }>;
  collections: {
    upsert(
      sobject: string,
      externalIdField: string,
      records: ReadonlyArray<Record<string, unknown>>,
      options?: CollectionOptions
    ): Promise<SaveResult[]>;
    create(
      sobject: string,
      records: ReadonlyArray<Record<string, unknown>>,
      options?: CollectionOptions
    ): Promise<SaveResult[]>;
    update(
      sobject: string,
      records: ReadonlyArray<Record<string, unknown>>,
      options?: CollectionOptions
    ): Promise<SaveResult[]>;
  };
  composite(
    subrequests: readonly CompositeSubrequest[],
    options?: CallOptions & { allOrNone?: boolean }
  ): Promise<CompositeSubresponse[]>;
  /** Every record of a SOQL query, following `nextRecordsUrl` (queryMore) as the caller iterates. */
  query<T = Record<string, unknown>>(soql: string, options?: CallOptions): AsyncGenerator<T>;
  bulkIngest(input: BulkIngestInput, options?: CallOptions): Promise<BulkIngestResult>;
  budget(): BudgetState;
  close(): Promise<void>;
}

export interface CollectionOptions extends CallOptions {
  /** Per chunk of 200: Salesforce applies allOrNone within one request only. */
  allOrNone?: boolean;
}

/** Bulk API 2.0: "upload data that does not exceed 100 MB" per job upload. */
export const SALESFORCE_BULK_MAX_UPLOAD_BYTES = 100 * 1024 * 1024;
export const DEFAULT_SALESFORCE_API_VERSION = '62.0';
export const DEFAULT_SALESFORCE_CALL_OPTIONS_CLIENT = 'sf-d365-relay';
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_CONCURRENCY = 10;
const DEFAULT_MAX_ATTEMPTS = 4;
const DEFAULT_BULK_TIMEOUT_MS = 30 * 60_000;
const BULK_POLL_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 15_000 };
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]*$/;

interface RequestSpec {
  operation: string;
  method: CompositeSubrequest['method'];
  /** Path under the instance URL, starting with `/services/`. */
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  responseType?: 'json' | 'text';
  idempotent?: boolean;
  urgent?: boolean;
}

interface RawResponse {
  status: number;
  headers: Record<string, unknown>;
  data: unknown;
}

export function createSalesforceClient(options: SalesforceClientOptions): SalesforceClient {
  const apiVersion = options.apiVersion ?? DEFAULT_SALESFORCE_API_VERSION;
  if (!/^\d+\.\d$/.test(apiVersion))
    throw new TypeError(`Invalid Salesforce API version ${JSON.stringify(apiVersion)}`);
  const base = `/services/data/v${apiVersion}`;
  const logger = options.logger.child({ client: 'salesforce' });
  const observer = options.observer;
  const callOptionsClient = options.callOptionsClient ?? DEFAULT_SALESFORCE_CALL_OPTIONS_CLIENT;
  if (!/^[A-Za-z0-9_.-]+$/.test(callOptionsClient))
    throw new TypeError('callOptionsClient may only hold letters, digits, _ . -');
  const maxConcurrency = options.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY;
  const http = createHttpClient({
    timeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    maxSockets: maxConcurrency,
    ...(options.caCertPem ? { caCertPem: options.caCertPem } : {})
  });
  const auth = createSalesforceAuth({
    loginUrl: options.loginUrl,
    authFlow: options.authFlow,
    clientId: options.clientId,
    http,
    logger,
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.privateKeyPem !== undefined ? { privateKeyPem: options.privateKeyPem } : {}),
    ...(options.clientSecret !== undefined ? { clientSecret: options.clientSecret } : {})
  });
  const guard = new BudgetGuard({ reservePercent: options.apiReservePercent ?? 10 });
  const limiter = new AdaptiveLimiter({
    system: 'salesforce',
    maxConcurrency,
    ...(observer ? { observer } : {})
  });
  const outcomeUnknown = new WeakSet<ClientError>();

  async function sendOnce(spec: RequestSpec): Promise<RawResponse> {
    const decision = guard.admit(spec.urgent === true);
    if (decision.action === 'refuse') throw decision.error;
    if (decision.delayMs > 0) await sleep(decision.delayMs);
    let retriedSession = false;
    for (;;) {
      const session = await auth.session();
      const started = performance.now();
      let response: RawResponse;
      try {
        response = await http.request({
          method: spec.method,
          url: `${session.instanceUrl}${spec.path}`,
          headers: {
            Accept: spec.responseType === 'text' ? 'text/csv' : 'application/json',
            'Sforce-Call-Options': `client=${callOptionsClient}`,
            ...spec.headers,
            Authorization: `Bearer ${session.accessToken}`
          },
          ...(spec.body !== undefined ? { data: spec.body } : {}),
          responseType: spec.responseType ?? 'json'
        });
      } catch (error) {
        observer?.request?.({
          system: 'salesforce',
          operation: spec.operation,
          status: 'error',
          durationMs: performance.now() - started
        });
        const failure = networkError('salesforce', spec.operation, error);
        if (outcomeUnknownAfter(spec, failure)) outcomeUnknown.add(failure);
        throw failure;
      }
      observer?.request?.({
        system: 'salesforce',
        operation: spec.operation,
        status: response.status,
        durationMs: performance.now() - started
      });
      const usage = parseLimitInfo(headerValue(response.headers, 'sforce-limit-info'));
      if (usage) {
        guard.observe(usage);
        observer?.apiBudget?.(usage);
      }
      if (response.status === 401 && !retriedSession && isInvalidSession(response.data)) {
        // Sessions end without notice (timeout, revocation): log in again once, transparently.
        retriedSession = true;
        auth.invalidate(session.accessToken);
        logger.info({ operation: spec.operation }, 'Salesforce session expired; logging in again');
        continue;
      }
      if (response.status >= 300) {
        const error = salesforceError(
          spec.operation,
          response.status,
          parseMaybeJson(response.data),
          response.headers
        );
        if (error.kind === 'throttled') {
          observer?.throttled?.({
            system: 'salesforce',
            ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {})
          });
        }
        if (error.kind === 'transient' && !isIdempotent(spec)) outcomeUnknown.add(error);
        throw error;
      }
      return response;
    }
  }

  function call(spec: RequestSpec): Promise<RawResponse> {
    return limitedWithRetry(limiter, () => sendOnce(spec), {
      // The relay's own budget reserve is no sign of Salesforce being overloaded.
      slowsDown: (error) => error.code !== 'API_BUDGET_RESERVE',
      maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      ...(options.backoff ? { backoff: options.backoff } : {}),
      retryIf: (error) => !outcomeUnknown.has(error),
      onRetry: ({ attempt, delayMs, error }) =>
        logger.warn(
          {
            operation: spec.operation,
            attempt,
            delayMs,
            kind: error.kind,
            status: error.status,
            code: error.code
          },
          'Salesforce call will be retried'
        )
    });
  }

  async function rest<T>(spec: Omit<RequestSpec, 'path'> & { path: string }): Promise<T> {
    const response = await call({
      ...spec,
      path: spec.path.startsWith('/services/') ? spec.path : `${base}${spec.path}`
    });
    return response.data as T;
  }

  async function collection(
    operation: 'upsert' | 'create' | 'update',
    sobject: string,
    records: ReadonlyArray<Record<string, unknown>>,
    collectionOptions: CollectionOptions,
    externalIdField?: string
  ): Promise<SaveResult[]> {
    assertName(sobject);
    if (externalIdField !== undefined) assertName(externalIdField);
    const results: SaveResult[] = [];
    for (let start = 0; start < records.length; start += SALESFORCE_COLLECTION_MAX_RECORDS) {
      const chunk = records
        .slice(start, start + SALESFORCE_COLLECTION_MAX_RECORDS)
        .map((record) => ({ attributes: { type: sobject }, ...record }));
      const body = { allOrNone: collectionOptions.allOrNone ?? false, records: chunk };
      const path =
        operation === 'upsert'
          ? `/composite/sobjects/${sobject}/${externalIdField}`
          : '/composite/sobjects';
      const raw = await rest<unknown[]>({
        operation: `collections ${operation} ${sobject}`,
        method: operation === 'create' ? 'POST' : 'PATCH',
        path,
        body,
        urgent: collectionOptions.urgent === true
      });
      results.push(...(Array.isArray(raw) ? raw : []).map(toSaveResult));
    }
    return results;
  }

  async function* query<T>(soql: string, queryOptions: CallOptions = {}): AsyncGenerator<T> {
    let path: string | undefined = `${base}/query?q=${encodeURIComponent(soql)}`;
    while (path) {
      const page: { records?: T[]; done?: boolean; nextRecordsUrl?: string } = await rest({
        operation: 'query',
        method: 'GET',
        path,
        urgent: queryOptions.urgent === true
      });
      for (const record of page.records ?? []) yield record;
      path =
        !page.done && page.nextRecordsUrl ? assertServicesPath(page.nextRecordsUrl) : undefined;
    }
  }

  async function bulkIngest(
    input: BulkIngestInput,
    callOptions: CallOptions = {}
  ): Promise<BulkIngestResult> {
    assertName(input.object);
    if (input.operation === 'upsert' && !input.externalIdFieldName)
      throw new TypeError('Bulk upsert needs externalIdFieldName');
    if (input.records.length === 0)
      throw new TypeError('A Bulk ingest job needs at least one record');
    const urgent = callOptions.urgent === true;
    const csv = toCsv(input.records);
    if (Buffer.byteLength(csv) > SALESFORCE_BULK_MAX_UPLOAD_BYTES) {
      throw new TypeError(
        `Bulk upload exceeds Salesforce's ${SALESFORCE_BULK_MAX_UPLOAD_BYTES} bytes; split the records`
      );
    }
    const job = await rest<{ id: string }>({
      operation: 'bulk create job',
      method: 'POST',
      path: '/jobs/ingest/',
      body: {
        object: input.object,
        operation: input.operation,
        contentType: 'CSV',
        lineEnding: 'LF',
        columnDelimiter: 'COMMA',
        ...(input.externalIdFieldName ? { externalIdFieldName: input.externalIdFieldName } : {})
      },
      urgent
    });
    const jobPath = `/jobs/ingest/${encodeURIComponent(job.id)}`;
    try {
      await rest({
        operation: 'bulk upload',
        method: 'PUT',
        path: `${jobPath}/batches`,
        body: csv,
        headers: { 'Content-Type': 'text/csv' },
        urgent
      });
    } catch (error) {
      // Leave no open job behind: an unclosed job holds Salesforce resources until it times out.
      await rest({
        operation: 'bulk abort',
        method: 'PATCH',
        path: `${jobPath}/`,
        body: { state: 'Aborted' },
        urgent
      }).catch(() => undefined);
      throw error;
    }
    await rest({
      operation: 'bulk close job',
      method: 'PATCH',
      path: `${jobPath}/`,
      body: { state: 'UploadComplete' },
      urgent
    });
    logger.info(
      {
        jobId: job.id,
        object: input.object,
        operation: input.operation,
        records: input.records.length
      },
      'Bulk ingest job uploaded'
    );
    const deadline = Date.now() + (input.timeoutMs ?? DEFAULT_BULK_TIMEOUT_MS);
    if (input.firstPollDelayMs) await sleep(input.firstPollDelayMs);
    let info: Record<string, unknown>;
    for (let attempt = 1; ; attempt += 1) {
      info = await rest<Record<string, unknown>>({
        operation: 'bulk job status',
        method: 'GET',
        path: `${jobPath}/`,
        urgent
      });
      if (info.state === 'JobComplete' || info.state === 'Failed' || info.state === 'Aborted')
        break;
      if (Date.now() >= deadline) {
        throw new ClientError(`Bulk job ${job.id} still ${String(info.state)} after the timeout`, {
          system: 'salesforce',
          kind: 'transient',
          code: 'BULK_TIMEOUT'
        });
      }
      await sleep(Math.max(100, backoffDelayMs(Math.min(attempt, 20), BULK_POLL_BACKOFF)));
    }
    const state = info.state as BulkIngestResult['state'];
    const csvOf = async (resource: string): Promise<Record<string, string>[]> => {
      const text = await rest<string>({
        operation: `bulk ${resource}`,
        method: 'GET',
        path: `${jobPath}/${resource}/`,
        responseType: 'text',
        urgent
      });
      return parseCsv(String(text ?? ''), {
        columns: true,
        skip_empty_lines: true,
        bom: true,
        relax_column_count: true
      }) as Record<string, string>[];
    };
    const lean = input.results === 'failures';
    const none = async (): Promise<Record<string, string>[]> => [];
    const [successRows, failedRows, unprocessed] =
      state === 'Aborted'
        ? [[], [], await csvOf('unprocessedrecords')]
        : await Promise.all([
            lean ? none() : csvOf('successfulResults'),
            lean && Number(info.numberRecordsFailed ?? 0) === 0 ? none() : csvOf('failedResults'),
            lean && state === 'JobComplete' ? none() : csvOf('unprocessedrecords')
          ]);
    const result: BulkIngestResult = {
      jobId: job.id,
      state,
      numberRecordsProcessed: Number(info.numberRecordsProcessed ?? 0),
      numberRecordsFailed: Number(info.numberRecordsFailed ?? 0),
      successful: successRows.map((row) => {
        const { sf__Id: id, sf__Created: created, ...record } = row;
        return { id: id ?? '', created: created === 'true', record };
      }),
      failed: failedRows.map((row) => {
        const { sf__Id: id, sf__Error: error, ...record } = row;
        const { errorCode, message } = splitBulkError(error ?? '');
        return { ...(id ? { id } : {}), errorCode, message, record };
      }),
      unprocessed
    };
    if (typeof info.errorMessage === 'string' && info.errorMessage)
      result.errorMessage = info.errorMessage;
    return result;
  }

  return {
    async checkCredentials() {
      const session = await auth.session();
      // userinfo proves the token works and, unlike REST resources, does not count against the API allowance.
      const response = await http.request({
        method: 'GET',
        url: `${session.instanceUrl}/services/oauth2/userinfo`,
        headers: { Authorization: `Bearer ${session.accessToken}`, Accept: 'application/json' }
      });
      if (response.status === 401 || response.status === 403) {
        auth.invalidate(session.accessToken);
        throw new ClientError('Salesforce rejected the access token at userinfo', {
          system: 'salesforce',
          kind: 'auth',
          status: response.status
        });
      }
      if (response.status >= 400)
        throw salesforceError('userinfo', response.status, response.data, response.headers);
    },
    session: () => auth.session(),
    invalidateSession: (accessToken) => auth.invalidate(accessToken),
    request: (method, path, body, callOptions = {}) =>
      rest({
        operation: `${method} ${path.split('?')[0]}`,
        method,
        path,
        body,
        urgent: callOptions.urgent === true
      }),
    async upsert(sobject, externalIdField, externalId, fields, callOptions = {}) {
      assertName(sobject);
      assertName(externalIdField);
      const data = await rest<{ id?: string; created?: boolean } | undefined>({
        operation: `upsert ${sobject}`,
        method: 'PATCH',
        path: `/sobjects/${sobject}/${externalIdField}/${encodeURIComponent(externalId)}`,
        body: fields,
        urgent: callOptions.urgent === true
      });
      return { id: data?.id ?? '', created: data?.created === true };
    },
    collections: {
      upsert: (sobject, externalIdField, records, collectionOptions = {}) =>
        collection('upsert', sobject, records, collectionOptions, externalIdField),
      create: (sobject, records, collectionOptions = {}) =>
        collection('create', sobject, records, collectionOptions),
      update: (sobject, records, collectionOptions = {}) =>
        collection('update', sobject, records, collectionOptions)
    },
    async composite(subrequests, compositeOptions = {}) {
      if (subrequests.length === 0) throw new TypeError('Composite needs at least one subrequest');
      if (subrequests.length > SALESFORCE_COMPOSITE_MAX_SUBREQUESTS) {
        throw new TypeError(
          `Salesforce Composite takes at most ${SALESFORCE_COMPOSITE_MAX_SUBREQUESTS} subrequests, got ${subrequests.length}`
        );
      }
      const data = await rest<{ compositeResponse?: CompositeSubresponse[] }>({
        operation: 'composite',
        method: 'POST',
        path: '/composite',
        body: { allOrNone: compositeOptions.allOrNone ?? false, compositeRequest: subrequests },
        urgent: compositeOptions.urgent === true
      });
      return data.compositeResponse ?? [];
    },
    query,
    bulkIngest,
    budget: () => guard.state(),
    async close() {
      limiter.close();
      http.close();
    }
  };
}

function isInvalidSession(body: unknown): boolean {
  return parseSalesforceErrors(parseMaybeJson(body)).some(
    (error) => error.errorCode === 'INVALID_SESSION_ID'
  );
}

function parseMaybeJson(data: unknown): unknown {
  if (typeof data !== 'string') return data;
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

function toSaveResult(raw: unknown): SaveResult {
  const item = (raw ?? {}) as Record<string, unknown>;
  const result: SaveResult = {
    success: item.success === true,
    errors: parseSalesforceErrors(item.errors ?? [])
  };
  if (typeof item.id === 'string') result.id = item.id;
  if (typeof item.created === 'boolean') result.created = item.created;
  return result;
}

function assertName(name: string): void {
  if (!IDENTIFIER.test(name))
    throw new TypeError(`Invalid Salesforce API name: ${JSON.stringify(name)}`);
}

/** nextRecordsUrl is a path on the same instance; anything else is refused so the token stays home. */
function assertServicesPath(path: string): string {
  if (!path.startsWith('/services/data/')) {
    throw new ClientError(`Unexpected nextRecordsUrl ${JSON.stringify(path)}`, {
      system: 'salesforce',
      kind: 'permanent'
    });
  }
  return path;
}

/** Bulk 2.0 sets a field to null with `#N/A`; an empty cell leaves it unchanged. */
function toCsv(records: ReadonlyArray<Readonly<Record<string, BulkValue>>>): string {
  const columns = [...new Set(records.flatMap((record) => Object.keys(record)))];
  columns.forEach((column) => {
    if (!/^[A-Za-z][A-Za-z0-9_.:]*$/.test(column))
      throw new TypeError(`Invalid Bulk column ${JSON.stringify(column)}`);
  });
  const rows = records.map((record) =>
    columns.map((column) => {
      const value = record[column];
      if (value === null) return '#N/A';
      if (value === undefined) return '';
      return String(value);
    })
  );
  return stringifyCsv(rows, { header: true, columns, record_delimiter: 'unix' });
}

/** `sf__Error` is `<STATUS_CODE>:<message>`. */
export function splitBulkError(text: string): { errorCode: string; message: string } {
  const match = /^([A-Z_]+):(.*)$/s.exec(text);
  return match
    ? { errorCode: match[1] as string, message: (match[2] as string).trim() }
    : { errorCode: 'UNKNOWN_ERROR', message: text };
}
