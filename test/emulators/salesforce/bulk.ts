/**
 * Bulk API 2.0: ingest jobs (insert, update, upsert, delete) processed asynchronously in slices so
 * a 100,000-row job never blocks the event loop, with result CSVs in the documented layout, and
 * query jobs (salesforce.md §3).
 */
import type { ApiContext, ApiRequest, ApiResponse, SubHandler } from './api.ts';
import { dmlContext, errorBody, isPlainObject, notFound, publishEvent } from './api.ts';
import { CsvReader, DELIMITERS, quoteAlways, quoteIfNeeded } from './csv.ts';
import type { ObjectModel } from './model.ts';
import type { Org } from './org.ts';
import { executeSoql, parseSoql, selectColumns, SoqlError } from './soql.ts';
import type { DmlResult, SfRecord, UpsertOutcome } from './store.ts';
import { formatDateTime } from './values.ts';

/** Time budget of one processing slice before yielding to the event loop. */
const SLICE_MS = 8;
const OPERATIONS = ['insert', 'update', 'upsert', 'delete', 'hardDelete'] as const;
type Operation = (typeof OPERATIONS)[number];
type JobState = 'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';
/** "A request can provide CSV data that does not in total exceed 150 MB of base64 encoded content" — 100 MB raw. */
export const MAX_UPLOAD_BYTES = 100 * 1024 * 1024;
/** Bulk query results page size when `maxRecords` is not given (most likely default; docs leave it open). */
const DEFAULT_QUERY_PAGE = 50_000;

interface IngestJob {
  id: string;
  operation: Operation;
  object: ObjectModel;
  externalIdFieldName: string | null;
  lineEnding: 'LF' | 'CRLF';
  columnDelimiter: string;
  state: JobState;
  createdById: string;
  createdDate: number;
  systemModstamp: number;
  apiVersion: number;
  /** CDC changeOrigin of the job's writes (Bulk 2.0 honours Sforce-Call-Options too). */
  origin: string | undefined;
  uploads: string[];
  numberRecordsProcessed: number;
  numberRecordsFailed: number;
  totalProcessingTime: number;
  errorMessage: string | null;
  header: string[];
  successful: string[];
  failed: string[];
  unprocessed: string[];
}

interface QueryJob {
  id: string;
  operation: 'query' | 'queryAll';
  object: string;
  state: JobState;
  createdById: string;
  createdDate: number;
  systemModstamp: number;
  apiVersion: number;
  columnDelimiter: string;
  lineEnding: 'LF' | 'CRLF';
  numberRecordsProcessed: number;
  totalProcessingTime: number;
  rows: string[];
  header: string;
}

const ingestJobs = new WeakMap<Org, Map<string, IngestJob>>();
const queryJobs = new WeakMap<Org, Map<string, QueryJob>>();

function jobsOf<T>(store: WeakMap<Org, Map<string, T>>, org: Org): Map<string, T> {
  let map = store.get(org);
  if (!map) {
    map = new Map();
    store.set(org, map);
  }
  return map;
}

/** Drops every job (control API reset). */
export function resetBulk(org: Org): void {
  ingestJobs.delete(org);
  queryJobs.delete(org);
}

const bad = (errorCode: string, message: string, status = 400): ApiResponse => ({
  status,
  body: errorBody(errorCode, message)
});

export function bulkHandler(ctx: () => ApiContext): SubHandler {
  return (org, req, segments) => {
    const [, kind, jobId, sub, ...rest] = segments;
    if (rest.length > 0) return { ...notFound(), kind: 'bulk' };
    let response: ApiResponse;
    if (kind === 'ingest') response = ingest(ctx(), req, jobId, sub);
    else if (kind === 'query') response = queryJob(org, req, jobId, sub);
    else response = notFound();
    return { ...response, kind: 'bulk' };
  };
}

// ---- ingest -----------------------------------------------------------------------------------

function ingest(
  ctx: ApiContext,
  req: ApiRequest,
  jobId: string | undefined,
  sub: string | undefined
): ApiResponse {
  const org = ctx.org;
  const jobs = jobsOf(ingestJobs, org);
  if (!jobId) {
    if (req.method === 'POST') return createIngestJob(org, req, jobs);
    if (req.method === 'GET') {
      return {
        status: 200,
        body: { done: true, records: [...jobs.values()].map(ingestInfo), nextRecordsUrl: null }
      };
    }
    return bad(
      'METHOD_NOT_ALLOWED',
      `HTTP Method '${req.method}' not allowed. Allowed are GET,POST`,
      405
    );
  }
  const job = jobs.get(jobId);
  if (!job) return notFound();
  if (sub === undefined) {
    if (req.method === 'GET') return { status: 200, body: ingestInfo(job) };
    if (req.method === 'DELETE') {
      if (job.state === 'Open' || job.state === 'InProgress') {
        return bad('INVALIDJOBSTATE', `Deleting a job in state ${job.state} is not allowed`);
      }
      jobs.delete(job.id);
      return { status: 204 };
    }
    if (req.method === 'PATCH') return changeState(ctx, req, job);
    return bad(
      'METHOD_NOT_ALLOWED',
      `HTTP Method '${req.method}' not allowed. Allowed are GET,PATCH,DELETE`,
      405
    );
  }
  if (sub === 'batches') {
    if (req.method !== 'PUT')
      return bad(
        'METHOD_NOT_ALLOWED',
        `HTTP Method '${req.method}' not allowed. Allowed are PUT`,
        405
      );
    if (job.state !== 'Open') {
      return bad(
        'INVALIDJOBSTATE',
        `Uploading data to a job in state ${job.state} is not allowed`,
        409
      );
    }
    if (typeof req.body !== 'string' || req.body.length === 0) {
      return bad('INVALIDBATCH', 'The CSV data must not be empty');
    }
    if (Buffer.byteLength(req.body) > MAX_UPLOAD_BYTES) {
      return bad('INVALIDBATCH', 'The CSV data exceeds the maximum upload size of 100 MB');
    }
    job.uploads.push(req.body);
    job.systemModstamp = Date.now();
    return { status: 201 };
  }
  if (req.method !== 'GET')
    return bad(
      'METHOD_NOT_ALLOWED',
      `HTTP Method '${req.method}' not allowed. Allowed are GET`,
      405
    );
  const results: Record<string, () => string> = {
    successfulResults: () => resultCsv(job, ['sf__Id', 'sf__Created'], job.successful),
    failedResults: () => resultCsv(job, ['sf__Id', 'sf__Error'], job.failed),
    unprocessedrecords: () => resultCsv(job, [], job.unprocessed)
  };
  const make = results[sub];
  if (!make) return notFound();
  if (sub !== 'unprocessedrecords' && !['JobComplete', 'Failed', 'Aborted'].includes(job.state)) {
    return bad(
      'INVALIDJOBSTATE',
      `Results are available once the job is complete; the job is ${job.state}`
    );
  }
  return { status: 200, text: make(), contentType: 'text/csv' };
}

function createIngestJob(org: Org, req: ApiRequest, jobs: Map<string, IngestJob>): ApiResponse {
  const body = isPlainObject(req.body) ? req.body : {};
  const operation = body.operation as Operation;
  if (!OPERATIONS.includes(operation)) {
    return bad('INVALIDJOB', `InvalidJob : Invalid operation: ${String(body.operation)}`);
  }
  const object =
    typeof body.object === 'string' ? org.model.objects.get(body.object.toLowerCase()) : undefined;
  if (!object) return bad('INVALIDJOB', `Unable to find object: ${String(body.object)}`);
  if (object.kind === 'event' && operation !== 'insert') {
    return bad(
      'INVALIDJOB',
      `InvalidJob : Platform events support only the insert operation, not ${operation}`
    );
  }
  let externalIdFieldName: string | null = null;
  if (operation === 'upsert') {
    const name = body.externalIdFieldName;
    if (typeof name !== 'string' || name === '') {
      return bad(
        'INVALIDJOB',
        `External ID was blank for ${object.name}. An External ID must be specified for upsert.`
      );
    }
    const f = object.fieldsByLower.get(name.toLowerCase());
    if (!f || !(f.externalId || f.idLookup)) {
      return bad(
        'INVALIDJOB',
        `Field name provided, ${name} is not an External ID or indexed field for ${object.name}`
      );
    }
    externalIdFieldName = f.name;
  }
  const delimiterName = (body.columnDelimiter as string | undefined) ?? 'COMMA';
  const delimiter = DELIMITERS[delimiterName];
  if (!delimiter) return bad('INVALIDJOB', `Invalid column delimiter: ${delimiterName}`);
  const lineEnding = (body.lineEnding as string | undefined) ?? 'LF';
  if (lineEnding !== 'LF' && lineEnding !== 'CRLF')
    return bad('INVALIDJOB', `Invalid line ending: ${lineEnding}`);
  if (body.contentType !== undefined && body.contentType !== 'CSV') {
    return bad('INVALIDJOB', `Invalid content type: ${String(body.contentType)}`);
  }
  const now = Date.now();
  const job: IngestJob = {
    id: org.db.newId('750'),
    operation,
    object,
    externalIdFieldName,
    lineEnding,
    columnDelimiter: delimiter,
    state: 'Open',
    createdById: req.userId,
    createdDate: now,
    systemModstamp: now,
    apiVersion: Number(req.version),
    origin: dmlContext(req).origin,
    uploads: [],
    numberRecordsProcessed: 0,
    numberRecordsFailed: 0,
    totalProcessingTime: 0,
    errorMessage: null,
    header: [],
    successful: [],
    failed: [],
    unprocessed: []
  };
  jobs.set(job.id, job);
  // The create-job status is not stated in the guide; its walkthrough shows 200.
  return { status: 200, body: ingestInfo(job) };
}

function delimiterName(d: string): string {
  return Object.entries(DELIMITERS).find(([, v]) => v === d)?.[0] ?? 'COMMA';
}

function ingestInfo(job: IngestJob): Record<string, unknown> {
  const info: Record<string, unknown> = {
    id: job.id,
    operation: job.operation,
    object: job.object.name,
    createdById: job.createdById,
    createdDate: formatDateTime(job.createdDate),
    systemModstamp: formatDateTime(job.systemModstamp),
    state: job.state
  };
  if (job.externalIdFieldName) info.externalIdFieldName = job.externalIdFieldName;
  Object.assign(info, {
    concurrencyMode: 'Parallel',
    contentType: 'CSV',
    apiVersion: job.apiVersion,
    contentUrl: `services/data/v${job.apiVersion.toFixed(1)}/jobs/ingest/${job.id}/batches`,
    jobType: 'V2Ingest',
    lineEnding: job.lineEnding,
    columnDelimiter: delimiterName(job.columnDelimiter),
    numberRecordsProcessed: job.numberRecordsProcessed,
    numberRecordsFailed: job.numberRecordsFailed,
    retries: 0,
    totalProcessingTime: job.totalProcessingTime,
    apiActiveProcessingTime: job.totalProcessingTime,
    apexProcessingTime: 0
  });
  if (job.errorMessage) info.errorMessage = job.errorMessage;
  return info;
}

function changeState(ctx: ApiContext, req: ApiRequest, job: IngestJob): ApiResponse {
  const state = isPlainObject(req.body) ? req.body.state : undefined;
  if (state === 'UploadComplete') {
    if (job.state !== 'Open')
      return bad('INVALIDJOBSTATE', `Closing a job in state ${job.state} is not allowed`, 409);
    if (job.uploads.length === 0) {
      // Most likely behaviour: a job closed without data fails rather than completing empty.
      job.state = 'Failed';
      job.errorMessage = 'InvalidBatch : No data was uploaded for the job';
    } else {
      job.state = 'UploadComplete';
      setImmediate(() => startProcessing(ctx, job));
    }
  } else if (state === 'Aborted') {
    if (!['Open', 'UploadComplete', 'InProgress'].includes(job.state)) {
      return bad('INVALIDJOBSTATE', `Aborting a job in state ${job.state} is not allowed`, 409);
    }
    job.state = 'Aborted';
  } else {
    return bad('INVALIDJOBSTATE', `Invalid state: ${String(state)}`);
  }
  job.systemModstamp = Date.now();
  return { status: 200, body: ingestInfo(job) };
}

function resultCsv(job: IngestJob, prefix: string[], rows: string[]): string {
  const eol = job.lineEnding === 'CRLF' ? '\r\n' : '\n';
  const d = job.columnDelimiter;
  const header = [...prefix.map(quoteAlways), ...job.header.map(quoteIfNeeded)].join(d);
  return rows.length === 0 ? header + eol : header + eol + rows.join(eol) + eol;
}

function startProcessing(ctx: ApiContext, job: IngestJob): void {
  const org = ctx.org;
  if (job.state !== 'UploadComplete') return;
  job.state = 'InProgress';
  const readers = job.uploads.map((text) => new CsvReader(text, job.columnDelimiter));
  job.uploads = [];
  let headerError: string | null = null;
  for (const reader of readers) {
    const header = reader.next() ?? [];
    if (job.header.length === 0) job.header = header;
    else if (header.join('\u0000') !== job.header.join('\u0000')) {
      headerError = 'InvalidBatch : All uploads of a job must have the same column header';
    }
  }
  headerError ??= checkHeader(job);
  if (headerError) {
    job.state = 'Failed';
    job.errorMessage = headerError;
    for (const reader of readers) drainUnprocessed(job, reader);
    job.systemModstamp = Date.now();
    return;
  }
  const started = Date.now();
  const d = job.columnDelimiter;
  const columns = job.header;
  const idColumn = columns.findIndex((c) => c.toLowerCase() === 'id');
  const extColumn = job.externalIdFieldName
    ? columns.findIndex(
        (c) => c.toLowerCase() === (job.externalIdFieldName as string).toLowerCase()
      )
    : -1;
  const dmlCtx = { userId: job.createdById, mode: 'csv' as const, origin: job.origin };
  // "You can use any Salesforce API to create platform events, such as … Bulk API 2.0."
  const publishRow = (input: SfRecord): DmlResult => {
    const response = publishEvent(ctx, job.object, input, job.createdById, 'csv');
    if (response.status === 201)
      return { ok: true, id: (response.body as { id: string }).id, created: true };
    const errors = (
      response.body as { errorCode: string; message: string; fields?: string[] }[]
    ).map((e) => ({
      statusCode: e.errorCode,
      message: e.message,
      fields: e.fields ?? []
    }));
    return { ok: false, errors, httpStatus: response.status };
  };
  let readerIndex = 0;

  const runRow = (row: string[]): { result: DmlResult | UpsertOutcome; id: string } => {
    const input: SfRecord = {};
    for (let c = 0; c < columns.length; c++) input[columns[c] as string] = row[c] ?? '';
    const rowId = idColumn >= 0 ? (row[idColumn] ?? '') : '';
    switch (job.operation) {
      case 'insert':
        if (job.object.kind === 'event') return { result: publishRow(input), id: '' };
        return { result: org.db.insert(job.object.name, input, dmlCtx), id: '' };
      case 'update': {
        if (!rowId) return { result: missing('Id'), id: '' };
        delete input[columns[idColumn] as string];
        return { result: org.db.update(job.object.name, rowId, input, dmlCtx), id: rowId };
      }
      case 'upsert': {
        const key = extColumn >= 0 ? (row[extColumn] ?? '') : '';
        if (!key && job.externalIdFieldName !== 'Id') {
          return { result: missing(job.externalIdFieldName as string), id: '' };
        }
        delete input[columns[extColumn] as string];
        return {
          result: org.db.upsert(
            job.object.name,
            job.externalIdFieldName as string,
            key,
            input,
            dmlCtx
          ),
          id: ''
        };
      }
      default:
        if (!rowId) return { result: missing('Id'), id: '' };
        return { result: org.db.delete(job.object.name, rowId, job.origin), id: rowId };
    }
  };

  const slice = (): void => {
    const deadline = Date.now() + SLICE_MS;
    while (readerIndex < readers.length) {
      if (job.state === 'Aborted') {
        for (const reader of readers.slice(readerIndex)) drainUnprocessed(job, reader);
        finish();
        return;
      }
      const reader = readers[readerIndex] as CsvReader;
      let row: string[] | null;
      try {
        row = reader.next();
      } catch (error) {
        job.state = 'Failed';
        job.errorMessage = `ClientInputError : ${(error as Error).message}`;
        finish();
        return;
      }
      if (row === null) {
        readerIndex++;
        continue;
      }
      if (row.length === 1 && row[0] === '') continue;
      const cells = row.map(quoteAlways).join(d);
      const { result, id } = runRow(row);
      job.numberRecordsProcessed++;
      if (result.ok) {
        job.successful.push(
          `${quoteAlways(result.id)}${d}${quoteAlways(String(result.created))}${d}${cells}`
        );
      } else {
        job.numberRecordsFailed++;
        const message =
          'multiple' in result
            ? `DUPLICATE_EXTERNAL_ID:more than one record found for external id field: ${result.multiple.join(', ')}`
            : result.errors.map((e) => `${e.statusCode}:${e.message}`).join(';');
        // sf__Id is filled when the row named an existing record (update, delete), empty for inserts.
        job.failed.push(`${quoteAlways(id)}${d}${quoteAlways(message)}${d}${cells}`);
      }
      if (Date.now() >= deadline) {
        setImmediate(guardedSlice);
        return;
      }
    }
    if (job.state === 'InProgress') job.state = 'JobComplete';
    finish();
  };
  const finish = () => {
    job.totalProcessingTime = Date.now() - started;
    job.systemModstamp = Date.now();
  };
  // A bug in row processing fails the job instead of crashing the emulator from a timer callback.
  const guardedSlice = (): void => {
    try {
      slice();
    } catch (error) {
      job.state = 'Failed';
      job.errorMessage = `InternalServerError : ${(error as Error).message}`;
      finish();
    }
  };
  guardedSlice();
}

function missing(field: string): DmlResult {
  return {
    ok: false,
    errors: [
      {
        statusCode: 'REQUIRED_FIELD_MISSING',
        message: `Required fields are missing: [${field}]`,
        fields: [field]
      }
    ],
    httpStatus: 400
  };
}

function checkHeader(job: IngestJob): string | null {
  for (const column of job.header) {
    const [rel, ext] = column.split('.');
    const ok = ext
      ? job.object.relationshipsByLower.has((rel as string).toLowerCase())
      : job.object.fieldsByLower.has(column.toLowerCase());
    if (!ok) return `InvalidBatch : Field name not found : ${column}`;
  }
  if (
    ['update', 'delete', 'hardDelete'].includes(job.operation) &&
    !job.header.some((c) => c.toLowerCase() === 'id')
  ) {
    return 'InvalidBatch : Field name not found : Id';
  }
  return null;
}

function drainUnprocessed(job: IngestJob, reader: CsvReader): void {
  for (;;) {
    let row: string[] | null;
    try {
      row = reader.next();
    } catch {
      return;
    }
    if (row === null) return;
    if (row.length === 1 && row[0] === '') continue;
    job.unprocessed.push(row.map(quoteAlways).join(job.columnDelimiter));
  }
}

// ---- query jobs -------------------------------------------------------------------------------

function queryJob(
  org: Org,
  req: ApiRequest,
  jobId: string | undefined,
  sub: string | undefined
): ApiResponse {
  const jobs = jobsOf(queryJobs, org);
  if (!jobId) {
    if (req.method === 'GET') {
      return {
        status: 200,
        body: { done: true, records: [...jobs.values()].map(queryInfo), nextRecordsUrl: null }
      };
    }
    if (req.method !== 'POST')
      return bad(
        'METHOD_NOT_ALLOWED',
        `HTTP Method '${req.method}' not allowed. Allowed are GET,POST`,
        405
      );
    const body = isPlainObject(req.body) ? req.body : {};
    const operation = body.operation;
    if (operation !== 'query' && operation !== 'queryAll') {
      return bad('INVALIDJOB', `InvalidJob : Invalid operation: ${String(operation)}`);
    }
    if (typeof body.query !== 'string') return bad('INVALIDJOB', 'InvalidJob : query is required');
    const delimiter = DELIMITERS[(body.columnDelimiter as string | undefined) ?? 'COMMA'];
    if (!delimiter)
      return bad('INVALIDJOB', `Invalid column delimiter: ${String(body.columnDelimiter)}`);
    let parsed;
    try {
      parsed = parseSoql(org.db, body.query, Date.now());
    } catch (error) {
      if (error instanceof SoqlError) return bad(error.errorCode, error.message);
      throw error;
    }
    const columns = selectColumns(parsed);
    if (!columns)
      return bad(
        'INVALIDJOB',
        'InvalidJob : Bulk API queries support neither COUNT() nor child subqueries'
      );
    const now = Date.now();
    const job: QueryJob = {
      id: org.db.newId('750'),
      operation,
      object: parsed.object.name,
      state: 'UploadComplete',
      createdById: req.userId,
      createdDate: now,
      systemModstamp: now,
      apiVersion: Number(req.version),
      columnDelimiter: delimiter,
      lineEnding: body.lineEnding === 'CRLF' ? 'CRLF' : 'LF',
      numberRecordsProcessed: 0,
      totalProcessingTime: 0,
      rows: [],
      header: columns.map((c) => quoteAlways(c.name)).join(delimiter)
    };
    jobs.set(job.id, job);
    setImmediate(() => {
      if (job.state !== 'UploadComplete') return;
      const result = executeSoql(org.db, parsed, {
        includeDeleted: operation === 'queryAll',
        version: req.version
      });
      job.rows = result.records.map((r) =>
        columns.map((c) => quoteAlways(c.read(r))).join(delimiter)
      );
      job.numberRecordsProcessed = job.rows.length;
      job.state = 'JobComplete';
      job.totalProcessingTime = Date.now() - now;
      job.systemModstamp = Date.now();
    });
    return { status: 200, body: queryInfo(job) };
  }
  const job = jobs.get(jobId);
  if (!job) return notFound();
  if (sub === undefined) {
    if (req.method === 'GET') return { status: 200, body: queryInfo(job) };
    if (req.method === 'DELETE') {
      jobs.delete(job.id);
      return { status: 204 };
    }
    if (req.method === 'PATCH') {
      if (!isPlainObject(req.body) || req.body.state !== 'Aborted')
        return bad('INVALIDJOBSTATE', 'Only Aborted can be set on a query job');
      if (job.state === 'JobComplete')
        return bad('INVALIDJOBSTATE', 'Aborting a completed job is not allowed', 409);
      job.state = 'Aborted';
      return { status: 200, body: queryInfo(job) };
    }
    return bad('METHOD_NOT_ALLOWED', `HTTP Method '${req.method}' not allowed`, 405);
  }
  if (sub !== 'results' || req.method !== 'GET') return notFound();
  if (job.state !== 'JobComplete')
    return bad(
      'INVALIDJOBSTATE',
      `The job is ${job.state}; results are available once it is JobComplete`
    );
  const offset =
    Number(
      req.query.get('locator')
        ? Buffer.from(req.query.get('locator') as string, 'base64url').toString()
        : 0
    ) || 0;
  const max = Number(req.query.get('maxRecords')) || DEFAULT_QUERY_PAGE;
  const rows = job.rows.slice(offset, offset + max);
  const nextOffset = offset + rows.length;
  const eol = job.lineEnding === 'CRLF' ? '\r\n' : '\n';
  return {
    status: 200,
    text: job.header + eol + (rows.length ? rows.join(eol) + eol : ''),
    contentType: 'text/csv',
    headers: {
      'Sforce-NumberOfRecords': String(rows.length),
      'Sforce-Locator':
        nextOffset < job.rows.length
          ? Buffer.from(String(nextOffset)).toString('base64url')
          : 'null'
    }
  };
}

function queryInfo(job: QueryJob): Record<string, unknown> {
  const info: Record<string, unknown> = {
    id: job.id,
    operation: job.operation,
    object: job.object,
    createdById: job.createdById,
    createdDate: formatDateTime(job.createdDate),
    systemModstamp: formatDateTime(job.systemModstamp),
    state: job.state,
    concurrencyMode: 'Parallel',
    contentType: 'CSV',
    apiVersion: job.apiVersion,
    jobType: 'V2Query',
    lineEnding: job.lineEnding,
    columnDelimiter: delimiterName(job.columnDelimiter),
    numberRecordsProcessed: job.numberRecordsProcessed,
    retries: 0,
    totalProcessingTime: job.totalProcessingTime
  };
  return info;
}
