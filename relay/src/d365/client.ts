/** D365 F&O client: OData CRUD and paging, $batch, DMF packages; throttle-aware and typed-error throughout. */

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { backoffDelayMs, sleep } from '../net/backoff.ts';
import type { BackoffPolicy } from '../net/backoff.ts';
import { AdaptiveLimiter } from '../net/concurrency.ts';
import type { LimiterState } from '../net/concurrency.ts';
import { ClientError, isClientError } from '../net/errors.ts';
import { createHttpClient, headerValue } from '../net/http.ts';
import type { ClientObserver } from '../net/observer.ts';
import {
  isIdempotent,
  limitedWithRetry,
  networkError,
  outcomeUnknownAfter
} from '../net/request.ts';
import { withRetry } from '../net/retry.ts';
import { createD365TokenProvider } from './auth.ts';
import { buildBatchRequest, parseBatchResponse } from './batch.ts';
import type { BatchItem, BatchItemResult } from './batch.ts';
import type { DmfPackageEntity, DmfPackageInput } from './dmf-package.ts';
import { d365Error } from './errors.ts';
import { assertIdentifier, entityPath, queryString } from './odata.ts';
import type { ODataValue, QueryOptions } from './odata.ts';

// Zip, XML and CSV code (~4 MB resident) is needed only while a DMF job runs: loaded then, not at start.
const dmfPackage = () => import('./dmf-package.ts');

export interface D365ClientOptions {
  environmentUrl: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  authorityHost: string;
  /** Defaults to `${environmentUrl}/.default` (lower case, no trailing slash, as D365 requires for `aud`). */
  scope?: string;
  caCertPem?: string;
  requestTimeoutMs?: number;
  maxConcurrency?: number;
  /** Attempts per call for retryable failures, the first included. */
  maxAttempts?: number;
  backoff?: BackoffPolicy;
  tokenRenewBeforeMs?: number;
  logger: Logger;
  observer?: ClientObserver;
}

export type EntityKey = Readonly<Record<string, ODataValue>>;

export interface ReadOptions {
  select?: readonly string[];
  crossCompany?: boolean;
}

export interface WriteOptions {
  crossCompany?: boolean;
}

export interface DmfImportInput extends DmfPackageInput {
  legalEntityId: string;
  /** Reusing an id makes a retried import land on the same execution instead of starting a second one. */
  executionId?: string;
  /** Give up waiting after this long (default 10 minutes); the execution keeps running in D365. */
  timeoutMs?: number;
}

export type DmfExecutionStatus =
  'Unknown' | 'NotRun' | 'Executing' | 'Succeeded' | 'PartiallySucceeded' | 'Failed' | 'Canceled';

export interface DmfImportResult {
  executionId: string;
  status: DmfExecutionStatus;
  /** Messages from GetExecutionErrors, one per failed record where D365 says which. */
  errors: string[];
  /** Keys of the records that failed, from the target error keys file (empty when none). */
  errorKeys: string[];
}

export interface DmfExportInput {
  definitionGroupId: string;
  packageName: string;
  legalEntityId: string;
  executionId?: string;
  reExecute?: boolean;
  timeoutMs?: number;
}

export interface DmfExportResult {
  executionId: string;
  status: DmfExecutionStatus;
  entities: DmfPackageEntity[];
}

export interface D365Client {
  /** Acquires a token and makes one cheap authenticated call; throws a ClientError when either fails. */
  checkCredentials(): Promise<void>;
  /** One entity by its full key; null when D365 answers 404. */
  get<T = Record<string, unknown>>(
    entitySet: string,
    key: EntityKey,
    options?: ReadOptions
  ): Promise<T | null>;
  /** Every matching entity, following `@odata.nextLink` page by page as the caller iterates. */
  query<T = Record<string, unknown>>(entitySet: string, options?: QueryOptions): AsyncGenerator<T>;
  create<T = Record<string, unknown>>(
    entitySet: string,
    body: Record<string, unknown>,
    options?: WriteOptions
  ): Promise<T>;
  update(
    entitySet: string,
    key: EntityKey,
    body: Record<string, unknown>,
    options?: WriteOptions & { etag?: string }
  ): Promise<void>;
  delete(entitySet: string, key: EntityKey, options?: WriteOptions): Promise<void>;
  /** Sends operations and atomic changesets in one $batch; results come back in request order. */
  batch(items: readonly BatchItem[]): Promise<BatchItemResult[]>;
  importPackage(input: DmfImportInput): Promise<DmfImportResult>;
  exportPackage(input: DmfExportInput): Promise<DmfExportResult>;
  limiter(): LimiterState;
  close(): Promise<void>;
}

export const DEFAULT_D365_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_D365_MAX_CONCURRENCY = 16;
const DEFAULT_MAX_ATTEMPTS = 5;
const DEFAULT_DMF_TIMEOUT_MS = 10 * 60_000;
const DMF_POLL_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 10_000 };
const DMF_ACTIONS = 'DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities';
const TERMINAL_STATUSES: ReadonlySet<string> = new Set([
  'Succeeded',
  'PartiallySucceeded',
  'Failed',
  'Canceled'
]);
const JSON_HEADERS = {
  Accept: 'application/json;odata.metadata=minimal',
  'OData-Version': '4.0',
  'OData-MaxVersion': '4.0'
};

interface RequestSpec {
  operation: string;
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** $batch and DMF actions are reads or carry their own idempotency; they may be retried like GET. */
  idempotent?: boolean;
  responseType?: 'json' | 'text' | 'arraybuffer';
}

interface RawResponse {
  status: number;
  headers: Record<string, unknown>;
  data: unknown;
}

export function createD365Client(options: D365ClientOptions): D365Client {
  const environmentUrl = options.environmentUrl.replace(/\/+$/, '');
  const origin = new URL(environmentUrl).origin;
  const dataUrl = `${environmentUrl}/data`;
  const logger = options.logger.child({ client: 'd365' });
  const maxConcurrency = options.maxConcurrency ?? DEFAULT_D365_MAX_CONCURRENCY;
  const http = createHttpClient({
    timeoutMs: options.requestTimeoutMs ?? DEFAULT_D365_REQUEST_TIMEOUT_MS,
    maxSockets: maxConcurrency,
    ...(options.caCertPem ? { caCertPem: options.caCertPem } : {})
  });
  const tokens = createD365TokenProvider({
    tenantId: options.tenantId,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    authorityHost: options.authorityHost,
    scope: options.scope ?? `${environmentUrl.toLowerCase()}/.default`,
    http,
    logger,
    ...(options.tokenRenewBeforeMs !== undefined
      ? { renewBeforeMs: options.tokenRenewBeforeMs }
      : {})
  });
  const limiter = new AdaptiveLimiter({
    system: 'd365',
    maxConcurrency,
    ...(options.observer ? { observer: options.observer } : {})
  });
  const observer = options.observer;
  let dmfImportQueue: Promise<unknown> = Promise.resolve();
  /**
   * Failures after which a non-idempotent write may or may not have happened: retryable for the queue
   * (whose flow looks the record up by its own key first) but never retried blindly in-process.
   */
  const outcomeUnknown = new WeakSet<ClientError>();

  async function sendOnce(spec: RequestSpec): Promise<RawResponse> {
    const started = performance.now();
    let refreshed = false;
    for (;;) {
      const token = await tokens.getToken();
      let response: RawResponse;
      try {
        response = await http.request({
          method: spec.method,
          url: spec.url,
          headers: { ...JSON_HEADERS, ...spec.headers, Authorization: `Bearer ${token}` },
          ...(spec.body !== undefined ? { data: spec.body } : {}),
          responseType: spec.responseType ?? 'json'
        });
      } catch (error) {
        observer?.request?.({
          system: 'd365',
          operation: spec.operation,
          status: 'error',
          durationMs: performance.now() - started
        });
        const failure = networkError('d365', spec.operation, error);
        if (outcomeUnknownAfter(spec, failure)) outcomeUnknown.add(failure);
        throw failure;
      }
      if (response.status === 401 && !refreshed) {
        // A token can be revoked or rotated before its expiry; fetch a fresh one once before giving up.
        refreshed = true;
        tokens.invalidate();
        continue;
      }
      observer?.request?.({
        system: 'd365',
        operation: spec.operation,
        status: response.status,
        durationMs: performance.now() - started
      });
      if (response.status === 429) {
        const error = d365Error(spec.operation, 429, response.data, response.headers);
        observer?.throttled?.({
          system: 'd365',
          ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {})
        });
        throw error;
      }
      if (response.status >= 400) {
        const error = d365Error(
          spec.operation,
          response.status,
          decodeBody(response.data),
          response.headers
        );
        // A 5xx after a create may or may not have written the record.
        if (error.kind === 'transient' && !isIdempotent(spec)) outcomeUnknown.add(error);
        throw error;
      }
      return response;
    }
  }

  function request(spec: RequestSpec): Promise<RawResponse> {
    return limitedWithRetry(limiter, () => sendOnce(spec), {
      maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      ...(options.backoff ? { backoff: options.backoff } : {}),
      retryIf: (error) => !outcomeUnknown.has(error),
      onRetry: ({ attempt, delayMs, error }) => {
        logger.warn(
          { operation: spec.operation, attempt, delayMs, kind: error.kind, status: error.status },
          'D365 call will be retried'
        );
      }
    });
  }

  function entityUrl(entitySet: string, key: EntityKey, crossCompany?: boolean): string {
    return `${dataUrl}/${entityPath(entitySet, key)}${crossCompany ? '?cross-company=true' : ''}`;
  }

  async function dmfAction<T>(action: string, body: Record<string, unknown>): Promise<T> {
    const response = await request({
      operation: `DMF ${action}`,
      method: 'POST',
      url: `${dataUrl}/${DMF_ACTIONS}.${action}`,
      body,
      headers: { 'Content-Type': 'application/json' },
      idempotent: action !== 'ImportFromPackage' && action !== 'ExportToPackage'
    });
    return unwrapValue(response.data) as T;
  }

  async function waitForExecution(
    executionId: string,
    timeoutMs: number
  ): Promise<DmfExecutionStatus> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 1; ; attempt += 1) {
      const status = String(await dmfAction<string>('GetExecutionSummaryStatus', { executionId }));
      if (TERMINAL_STATUSES.has(status)) return status as DmfExecutionStatus;
      if (Date.now() >= deadline) {
        throw new ClientError(
          `D365 DMF execution ${executionId} still ${status} after ${timeoutMs} ms`,
          {
            system: 'd365',
            kind: 'transient',
            code: 'DMF_TIMEOUT'
          }
        );
      }
      // Polls start quick (most small packages finish within a second) and back off toward 10 s.
      await sleep(Math.max(100, backoffDelayMs(Math.min(attempt, 20), DMF_POLL_BACKOFF)));
    }
  }

  async function download(url: string, operation: string): Promise<Uint8Array> {
    // Blob URLs carry their own SAS signature; the bearer token is never sent to them.
    const response = await withRetry(
      async () => {
        let result: RawResponse;
        try {
          result = await http.request({ method: 'GET', url, responseType: 'arraybuffer' });
        } catch (error) {
          throw networkError('d365', operation, error);
        }
        if (result.status >= 400)
          throw d365Error(operation, result.status, decodeBody(result.data), result.headers);
        return result;
      },
      { maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS }
    );
    return new Uint8Array(response.data as ArrayBuffer);
  }

  const client: D365Client = {
    async checkCredentials() {
      await tokens.getToken();
      // The service document is the cheapest authenticated call that every environment answers.
      await request({ operation: 'service document', method: 'GET', url: `${dataUrl}/` });
    },

    async get<T>(entitySet: string, key: EntityKey, readOptions: ReadOptions = {}) {
      const select = readOptions.select?.length ? queryString({ select: readOptions.select }) : '';
      const url = entityUrl(entitySet, key, readOptions.crossCompany);
      const full = select ? `${url}${url.includes('?') ? '&' : '?'}${select}` : url;
      try {
        const response = await request({ operation: `get ${entitySet}`, method: 'GET', url: full });
        return response.data as T;
      } catch (error) {
        if (isClientError(error) && error.kind === 'not_found') return null;
        throw error;
      }
    },

    async *query<T>(entitySet: string, queryOptions: QueryOptions = {}) {
      assertIdentifier(entitySet, 'entity set');
      const qs = queryString(queryOptions);
      let url: string | undefined = `${dataUrl}/${entitySet}${qs ? `?${qs}` : ''}`;
      while (url) {
        const response = await request({ operation: `query ${entitySet}`, method: 'GET', url });
        const body = response.data as { value?: T[]; '@odata.nextLink'?: string };
        for (const row of body.value ?? []) yield row;
        url = nextLink(body['@odata.nextLink'], origin);
      }
    },

    async create<T>(
      entitySet: string,
      body: Record<string, unknown>,
      writeOptions: WriteOptions = {}
    ) {
      assertIdentifier(entitySet, 'entity set');
      const response = await request({
        operation: `create ${entitySet}`,
        method: 'POST',
        url: `${dataUrl}/${entitySet}${writeOptions.crossCompany ? '?cross-company=true' : ''}`,
        body,
        headers: { 'Content-Type': 'application/json;odata.metadata=minimal' }
      });
      return response.data as T;
    },

    async update(entitySet, key, body, writeOptions = {}) {
      await request({
        operation: `update ${entitySet}`,
        method: 'PATCH',
        url: entityUrl(entitySet, key, writeOptions.crossCompany),
        body,
        headers: {
          'Content-Type': 'application/json;odata.metadata=minimal',
          'If-Match': writeOptions.etag ?? '*'
        }
      });
    },

    async delete(entitySet, key, writeOptions = {}) {
      await request({
        operation: `delete ${entitySet}`,
        method: 'DELETE',
        url: entityUrl(entitySet, key, writeOptions.crossCompany),
        headers: { 'If-Match': '*' }
      });
    },

    async batch(items) {
      const built = buildBatchRequest(items, dataUrl);
      const hasWrites = items.some(
        (item) => Array.isArray(item) || (item as { method: string }).method !== 'GET'
      );
      const response = await request({
        operation: '$batch',
        method: 'POST',
        url: `${dataUrl}/$batch`,
        body: built.body,
        headers: { 'Content-Type': built.contentType, Accept: 'multipart/mixed' },
        // Changesets are atomic, yet a lost answer still leaves unknown whether they committed.
        idempotent: !hasWrites,
        responseType: 'text'
      });
      return parseBatchResponse(
        String(response.data),
        headerValue(response.headers, 'content-type')
      );
    },

    async importPackage(input) {
      const zip = (await dmfPackage()).buildDmfPackage(input);
      const writeUrl = parseJsonValue<{ BlobId?: string; BlobUrl?: string }>(
        await dmfAction<string>('GetAzureWriteUrl', {
          uniqueFileName: `${input.definitionGroupId}-${randomUUID()}`
        })
      );
      if (!writeUrl.BlobUrl)
        throw new ClientError('D365 GetAzureWriteUrl returned no BlobUrl', {
          system: 'd365',
          kind: 'permanent'
        });
      const blobUrl = writeUrl.BlobUrl;
      await withRetry(
        async () => {
          let response: RawResponse;
          try {
            response = await http.request({
              method: 'PUT',
              url: blobUrl,
              data: Buffer.from(zip),
              headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Type': 'application/zip' }
            });
          } catch (error) {
            throw networkError('d365', 'DMF upload', error);
          }
          if (response.status >= 400)
            throw d365Error(
              'DMF upload',
              response.status,
              decodeBody(response.data),
              response.headers
            );
        },
        { maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS }
      );
      // D365: "ImportFromPackage() must not be called in parallel threads. Otherwise, it will fail."
      const started = dmfImportQueue.then(() =>
        dmfAction<string>('ImportFromPackage', {
          packageUrl: blobUrl,
          definitionGroupId: input.definitionGroupId,
          executionId: input.executionId ?? '',
          execute: true,
          overwrite: true,
          legalEntityId: input.legalEntityId
        })
      );
      dmfImportQueue = started.catch(() => undefined);
      const executionId = String(await started);
      logger.info(
        { executionId, records: input.records.length, definitionGroupId: input.definitionGroupId },
        'DMF import started'
      );
      const status = await waitForExecution(executionId, input.timeoutMs ?? DEFAULT_DMF_TIMEOUT_MS);
      if (status === 'Succeeded') return { executionId, status, errors: [], errorKeys: [] };
      const [errors, errorKeys] = await Promise.all([
        executionErrors(executionId),
        targetErrorKeys(executionId, input.entityName)
      ]);
      return { executionId, status, errors, errorKeys };
    },

    async exportPackage(input) {
      const executionId = String(
        await dmfAction<string>('ExportToPackage', {
          definitionGroupId: input.definitionGroupId,
          packageName: input.packageName,
          executionId: input.executionId ?? '',
          reExecute: input.reExecute ?? false,
          legalEntityId: input.legalEntityId
        })
      );
      const timeoutMs = input.timeoutMs ?? DEFAULT_DMF_TIMEOUT_MS;
      const status = await waitForExecution(executionId, timeoutMs);
      if (status !== 'Succeeded' && status !== 'PartiallySucceeded')
        return { executionId, status, entities: [] };
      const deadline = Date.now() + timeoutMs;
      let packageUrl = '';
      // "GetExportedPackageUrl" is empty until the package is written.
      for (let attempt = 1; !packageUrl; attempt += 1) {
        packageUrl = String(await dmfAction<string>('GetExportedPackageUrl', { executionId }));
        if (packageUrl) break;
        if (Date.now() >= deadline) {
          throw new ClientError(`D365 export ${executionId} has no package URL yet`, {
            system: 'd365',
            kind: 'transient',
            code: 'DMF_TIMEOUT'
          });
        }
        await sleep(Math.max(100, backoffDelayMs(Math.min(attempt, 20), DMF_POLL_BACKOFF)));
      }
      const zip = await download(packageUrl, 'DMF export download');
      return { executionId, status, entities: (await dmfPackage()).readDmfPackage(zip) };
    },

    limiter: () => limiter.state(),

    async close() {
      limiter.close();
      http.close();
    }
  };

  async function executionErrors(executionId: string): Promise<string[]> {
    const value = await dmfAction<unknown>('GetExecutionErrors', { executionId });
    return flattenMessages(typeof value === 'string' ? safeJson(value) : value);
  }

  /** GenerateImportTargetErrorKeysFile, then poll GetImportTargetErrorKeysFileUrl ("" while generating). */
  async function targetErrorKeys(executionId: string, entityName: string): Promise<string[]> {
    const generated = await dmfAction<boolean>('GenerateImportTargetErrorKeysFile', {
      executionId,
      entityName
    });
    if (generated !== true) return [];
    for (let attempt = 1; attempt <= 20; attempt += 1) {
      const url = String(
        await dmfAction<string>('GetImportTargetErrorKeysFileUrl', { executionId, entityName })
      );
      if (url) {
        const text = new TextDecoder().decode(await download(url, 'DMF error keys download'));
        return text
          .split(/\r?\n/)
          .slice(1)
          .filter((line) => line.trim() !== '');
      }
      await sleep(Math.max(100, backoffDelayMs(attempt, DMF_POLL_BACKOFF)));
    }
    return [];
  }

  return client;
}

/** Follows nextLink only on the environment's own origin, so the bearer token never leaves it. */
function nextLink(link: string | undefined, origin: string): string | undefined {
  if (!link) return undefined;
  const url = new URL(link, origin);
  if (url.origin !== origin) {
    throw new ClientError(`D365 returned a nextLink to another origin (${url.origin})`, {
      system: 'd365',
      kind: 'permanent'
    });
  }
  return url.toString();
}

/** DMF actions wrap their result in `value`; D365's docs also show it nested once more (`value.value`). */
function unwrapValue(data: unknown): unknown {
  let value = data;
  for (let depth = 0; depth < 2; depth += 1) {
    if (value && typeof value === 'object' && 'value' in value)
      value = (value as { value: unknown }).value;
  }
  return value;
}

function parseJsonValue<T>(value: unknown): T {
  if (typeof value !== 'string') return (value ?? {}) as T;
  const parsed = safeJson(value);
  if (parsed === undefined)
    throw new ClientError('D365 returned an unreadable JSON string', {
      system: 'd365',
      kind: 'permanent'
    });
  return parsed as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function flattenMessages(value: unknown): string[] {
  if (value === undefined || value === null || value === '') return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(flattenMessages);
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    for (const key of ['message', 'Message', 'ErrorMessage', 'errorMessage', 'error']) {
      if (typeof record[key] === 'string') return [record[key] as string];
    }
    return [JSON.stringify(value)];
  }
  return [String(value)];
}

function decodeBody(data: unknown): unknown {
  if (data instanceof ArrayBuffer) return new TextDecoder().decode(data);
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return data;
}
