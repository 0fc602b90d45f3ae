/**
 * REST API resources under /services/data/vNN.N/, as one dispatcher that the HTTP layer and the
 * Composite resource both call (composite subrequests are ordinary requests without the HTTP).
 */
import { identityUrl } from './auth.ts';
import { changeOrigin } from './cdc.ts';
import { normalizeId } from './ids.ts';
import { basicInfo, describeObject, globalDescribe } from './describe.ts';
import type { ObjectModel } from './model.ts';
import type { ApiKind, Org } from './org.ts';
import { EventValidationError } from './pubsub/event-bus.ts';
import type { EventBus } from './pubsub/event-bus.ts';
import { columnMetadata, executeSoql, parseSoql, SoqlError } from './soql.ts';
import { CSV_NULL } from './store.ts';
import type { DmlContext, DmlResult, SfRecord, UpsertOutcome } from './store.ts';
import { coerceCsv, coerceJson, formatDateTime, parseDateTime, toWire } from './values.ts';

/**
 * API versions served: 31.0 (Summer '14, the oldest a live org still lists) to 64.0 (Summer '25).
 * The relay pins v62.0; the Salesforce CLI asks for v51.0 when it resolves a username.
 */
const OLDEST_VERSION = 31;
const NEWEST_VERSION = 64;
export const SUPPORTED_VERSIONS = Array.from(
  { length: NEWEST_VERSION - OLDEST_VERSION + 1 },
  (_, i) => `${OLDEST_VERSION + i}.0`
);
/** Features by the version that introduced them (REST API Developer Guide, resource pages). */
export const SINCE = {
  composite: 38,
  compositeGraph: 50,
  collections: 42,
  collectionsUpsert: 46,
  /** Upsert answers 200 with a body (and `created`) on updates; 204 before. */
  upsertBody: 46,
  bulkV2: 41
};

/** v62.0 is Winter '25; three releases a year: Winter, Spring, Summer. */
function releaseLabel(version: number): string {
  const k = version - 62;
  const season = ['Winter', 'Spring', 'Summer'][((k % 3) + 3) % 3];
  return `${season} '${25 + Math.floor(k / 3)}`;
}

/** "The default batch size for a query is 2,000 records" (REST API, Query). */
export const QUERY_BATCH_SIZE = 2000;
const MIN_QUERY_BATCH_SIZE = 200;
const MAX_OPEN_CURSORS = 100;

export interface ApiRequest {
  method: string;
  /** Path after `/services/data/vNN.N`, e.g. `/sobjects/Account`. */
  path: string;
  version: string;
  query: URLSearchParams;
  body: unknown;
  headers: Record<string, string | undefined>;
  userId: string;
}

export interface ApiResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Non-JSON payload (Bulk CSV). */
  text?: string;
  contentType?: string;
  /** Which counter this call increments. */
  kind?: ApiKind;
}

export type SubHandler = (
  org: Org,
  req: ApiRequest,
  segments: string[]
) => Promise<ApiResponse> | ApiResponse;

export interface ApiContext {
  org: Org;
  bus: EventBus | null;
  composite: SubHandler;
  bulk: SubHandler;
}

export const errorBody = (errorCode: string, message: string, fields?: string[]) => [
  fields ? { message, errorCode, fields } : { message, errorCode }
];

export const notFound = (): ApiResponse => ({
  status: 404,
  body: errorBody('NOT_FOUND', 'The requested resource does not exist')
});

const methodNotAllowed = (method: string, allowed: string[]): ApiResponse => ({
  status: 405,
  headers: { allow: allowed.join(',') },
  body: errorBody(
    'METHOD_NOT_ALLOWED',
    `HTTP Method '${method}' not allowed. Allowed are ${allowed.join(',')}`
  )
});

/** DML context of a REST call; `Sforce-Call-Options: client=…` becomes the CDC changeOrigin. */
export function dmlContext(req: ApiRequest): DmlContext {
  return {
    userId: req.userId,
    mode: 'json',
    origin: changeOrigin(req.version, req.headers['sforce-call-options'])
  };
}

export function versionList(): unknown[] {
  return SUPPORTED_VERSIONS.map((v) => ({
    label: releaseLabel(Number(v)),
    url: `/services/data/v${v}`,
    version: v
  }));
}

export function resourceList(org: Org, version: string, userId: string): Record<string, string> {
  const base = `/services/data/v${version}`;
  const names = ['sobjects', 'query', 'queryAll', 'composite', 'limits', 'jobs'];
  return {
    ...Object.fromEntries(names.map((n) => [n, `${base}/${n}`])),
    identity: identityUrl(org, userId)
  };
}

export async function dispatch(ctx: ApiContext, req: ApiRequest): Promise<ApiResponse> {
  let segments: string[];
  try {
    segments = req.path
      .split('/')
      .filter((s) => s !== '')
      .map(decodeURIComponent);
  } catch {
    return notFound(); // malformed percent-encoding names no resource
  }
  const [head] = segments;
  if (!head)
    return req.method === 'GET'
      ? { status: 200, body: resourceList(ctx.org, req.version, req.userId) }
      : notFound();
  switch (head) {
    case 'sobjects':
      return sobjects(ctx, req, segments);
    case 'query':
    case 'queryAll':
      return query(ctx.org, req, segments, head === 'queryAll');
    case 'limits':
      return req.method === 'GET'
        ? { status: 200, body: limits(ctx.org) }
        : methodNotAllowed(req.method, ['GET']);
    case 'composite':
      return Number(req.version) < SINCE.composite
        ? notFound()
        : ctx.composite(ctx.org, req, segments);
    case 'jobs':
      return Number(req.version) < SINCE.bulkV2 ? notFound() : ctx.bulk(ctx.org, req, segments);
    default:
      return notFound();
  }
}

function objectFor(org: Org, name: string | undefined): ObjectModel | undefined {
  return name ? org.model.objects.get(name.toLowerCase()) : undefined;
}

export function dmlResponse(
  result: DmlResult | UpsertOutcome,
  req: ApiRequest,
  object: ObjectModel
): ApiResponse {
  if (result.ok) return { status: 201, body: { id: result.id, success: true, errors: [] } };
  if ('multiple' in result) {
    return {
      status: 300,
      body: result.multiple.map(
        (id) => `/services/data/v${req.version}/sobjects/${object.name}/${id}`
      )
    };
  }
  return {
    status: result.httpStatus,
    body: result.errors.map((e) => ({
      message: e.message,
      errorCode: e.statusCode,
      fields: e.fields
    }))
  };
}

async function sobjects(
  ctx: ApiContext,
  req: ApiRequest,
  segments: string[]
): Promise<ApiResponse> {
  const { org } = ctx;
  const [, objectName, second, third, ...rest] = segments;
  if (rest.length > 0) return notFound();
  if (!objectName) {
    return req.method === 'GET'
      ? { status: 200, body: globalDescribe(org.model, req.version) }
      : methodNotAllowed(req.method, ['GET']);
  }
  const object = objectFor(org, objectName);
  if (!object) return notFound();
  const ctxDml = dmlContext(req);

  if (second === undefined) {
    if (req.method === 'GET') return { status: 200, body: basicInfo(object, req.version) };
    if (req.method !== 'POST') return methodNotAllowed(req.method, ['GET', 'POST']);
    if (!isPlainObject(req.body)) return jsonBodyError();
    if (object.kind === 'event') return publishEvent(ctx, object, req.body, req.userId);
    return dmlResponse(org.db.insert(object.name, req.body, ctxDml), req, object);
  }
  if (second === 'describe' && third === undefined) {
    return req.method === 'GET'
      ? { status: 200, body: describeObject(object, req.version) }
      : methodNotAllowed(req.method, ['GET']);
  }
  if (object.kind === 'event') return notFound();

  if (third === undefined) {
    // /sobjects/X/{id}, or POST /sobjects/X/Id (create, "Id" as a null external ID, v37+).
    if (req.method === 'POST' && second.toLowerCase() === 'id') {
      if (!isPlainObject(req.body)) return jsonBodyError();
      const created = org.db.insert(object.name, req.body, ctxDml);
      return created.ok
        ? { status: 201, body: { ...okBody(created.id), created: true } }
        : dmlResponse(created, req, object);
    }
    if (req.method === 'GET' && (second === 'updated' || second === 'deleted')) {
      return changedRecords(org, req, object, second);
    }
    return byId(org, req, object, second);
  }

  // /sobjects/X/{ExternalIdField}/{value}
  const extField = object.fieldsByLower.get(second.toLowerCase());
  if (!extField || !(extField.externalId || extField.idLookup || extField.type === 'id')) {
    return {
      status: 404,
      body: errorBody(
        'NOT_FOUND',
        `Provided external ID field does not exist or is not accessible: ${second}`
      )
    };
  }
  if (req.method === 'PATCH' || req.method === 'POST') {
    if (!isPlainObject(req.body)) return jsonBodyError();
    const outcome = org.db.upsert(object.name, extField.name, third, req.body, ctxDml);
    if (!outcome.ok) return dmlResponse(outcome, req, object);
    if (Number(req.version) < SINCE.upsertBody) {
      // "In API version 45.0 and earlier, the HTTP status code is 204 (No Content)"; no `created`.
      return outcome.created ? { status: 201, body: okBody(outcome.id) } : { status: 204 };
    }
    return {
      status: outcome.created ? 201 : 200,
      body: { ...okBody(outcome.id), created: outcome.created }
    };
  }
  const table = org.db.table(object.name);
  const ids =
    extField.type === 'id'
      ? [normalizeId(third)].filter((x): x is string => !!x)
      : table
        ? org.db.findBy(table, extField.name, third)
        : [];
  if (ids.length > 1) {
    return {
      status: 300,
      body: ids.map((id) => `/services/data/v${req.version}/sobjects/${object.name}/${id}`)
    };
  }
  if (ids.length === 0) return notFound();
  return byId(org, req, object, ids[0] as string);
}

const okBody = (id: string) => ({ id, success: true, errors: [] as unknown[] });

function jsonBodyError(): ApiResponse {
  return {
    status: 400,
    body: errorBody('JSON_PARSER_ERROR', 'The request body must be a JSON object')
  };
}

export function isPlainObject(v: unknown): v is SfRecord {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function byId(org: Org, req: ApiRequest, object: ObjectModel, rawId: string): ApiResponse {
  const ctxDml = dmlContext(req);
  const id = normalizeId(rawId);
  if (!id) {
    return {
      status: 404,
      body: errorBody(
        'NOT_FOUND',
        `Provided external ID field does not exist or is not accessible: ${rawId}`
      )
    };
  }
  switch (req.method) {
    case 'GET': {
      const found = org.db.getById(id);
      if (!found || found.table.object !== object) {
        if (found || id.slice(0, 3) !== object.keyPrefix) {
          return {
            status: 400,
            body: errorBody(
              'MALFORMED_ID',
              `${object.label} ID: id value of incorrect type: ${rawId}`,
              ['Id']
            )
          };
        }
        return notFound();
      }
      if (found.record.IsDeleted === true) {
        return { status: 404, body: errorBody('ENTITY_IS_DELETED', 'entity is deleted', []) };
      }
      const wanted = req.query.get('fields');
      const fields = wanted
        ? wanted.split(',').map((n) => object.fieldsByLower.get(n.trim().toLowerCase()) ?? n.trim())
        : object.fields;
      const unknown = fields.find((f) => typeof f === 'string');
      if (unknown) {
        return {
          status: 400,
          body: errorBody(
            'INVALID_FIELD',
            `No such column '${String(unknown)}' on entity '${object.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`
          )
        };
      }
      return {
        status: 200,
        body: recordBody(object, found.record, req.version, fields as typeof object.fields)
      };
    }
    case 'PATCH': {
      if (!isPlainObject(req.body)) return jsonBodyError();
      const result = org.db.update(object.name, id, req.body, ctxDml);
      return result.ok ? { status: 204 } : dmlResponse(result, req, object);
    }
    case 'DELETE': {
      const result = org.db.delete(object.name, id, ctxDml.origin);
      return result.ok ? { status: 204 } : dmlResponse(result, req, object);
    }
    default:
      return methodNotAllowed(req.method, ['GET', 'PATCH', 'DELETE']);
  }
}

export function recordBody(
  object: ObjectModel,
  record: SfRecord,
  version: string,
  fields = object.fields
): SfRecord {
  const out: SfRecord = {
    attributes: {
      type: object.name,
      url: `/services/data/v${version}/sobjects/${object.name}/${String(record.Id)}`
    }
  };
  for (const f of fields) out[f.name] = toWire(f, record[f.name]);
  return out;
}

/**
 * REST publish of a platform event: 201 with OPERATION_ENQUEUED and the event UUID in `errors`
 * (Platform Events Developer Guide, "Publish Event Messages with Salesforce APIs").
 */
export function publishEvent(
  ctx: ApiContext,
  object: ObjectModel,
  body: SfRecord,
  userId: string,
  mode: 'json' | 'csv' = 'json'
): ApiResponse {
  if (!ctx.bus) return notFound();
  const fields: SfRecord = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'attributes') continue;
    const f = object.fieldsByLower.get(key.toLowerCase());
    if (!f || !f.custom) {
      return {
        status: 400,
        body: errorBody(
          'INVALID_FIELD',
          `No such column '${key}' on sobject of type ${object.name}`
        )
      };
    }
    // Event fields take the same input conversions as record fields (numbers as strings, dates…).
    if (mode === 'csv' && value === '') continue;
    const coerced =
      mode === 'csv' && value !== CSV_NULL
        ? coerceCsv(f, String(value))
        : coerceJson(f, value === CSV_NULL ? null : value);
    if (!coerced.ok) {
      const e = coerced.error;
      return { status: 400, body: errorBody(e.statusCode, e.message, e.fields) };
    }
    fields[f.name] = coerced.value;
  }
  try {
    const published = ctx.bus.publish(`/event/${object.name}`, fields, userId);
    return {
      status: 201,
      body: {
        id: ctx.org.db.newId(object.keyPrefix),
        success: true,
        errors: [{ statusCode: 'OPERATION_ENQUEUED', message: published.eventUuid, fields: [] }]
      }
    };
  } catch (error) {
    if (error instanceof EventValidationError) {
      return { status: 400, body: errorBody(error.errorCode, error.message, error.fields) };
    }
    throw error;
  }
}

/**
 * `/sobjects/X/updated/?start=&end=` and `/deleted/`: IDs changed in a window (data replication).
 * "latestDateCovered" is the end rounded down to the minute, as the resource documents.
 */
function changedRecords(
  org: Org,
  req: ApiRequest,
  object: ObjectModel,
  which: 'updated' | 'deleted'
): ApiResponse {
  const start = parseDateTime(req.query.get('start') ?? '');
  const end = parseDateTime(req.query.get('end') ?? '');
  if (start === null || end === null || end < start) {
    return {
      status: 400,
      body: errorBody(
        'INVALID_REPLICATION_DATE',
        'start and end must be date-times with start before end'
      )
    };
  }
  const latestDateCovered = formatDateTime(Math.floor(end / 60_000) * 60_000);
  const rows = [...(org.db.table(object.name)?.byId.values() ?? [])].filter((r) => {
    const stamp = r.SystemModstamp as number;
    return stamp >= start && stamp <= end && (r.IsDeleted === true) === (which === 'deleted');
  });
  if (which === 'updated') {
    return { status: 200, body: { ids: rows.map((r) => r.Id), latestDateCovered } };
  }
  return {
    status: 200,
    body: {
      deletedRecords: rows.map((r) => ({
        id: r.Id,
        deletedDate: formatDateTime(r.SystemModstamp as number)
      })),
      earliestDateAvailable: formatDateTime(start),
      latestDateCovered
    }
  };
}

// ---- query ------------------------------------------------------------------------------------

interface Cursor {
  records: SfRecord[];
  totalSize: number;
  batchSize: number;
}
const cursors = new WeakMap<Org, Map<string, Cursor>>();

function cursorsOf(org: Org): Map<string, Cursor> {
  let map = cursors.get(org);
  if (!map) {
    map = new Map();
    cursors.set(org, map);
  }
  return map;
}

function batchSizeFrom(req: ApiRequest): number {
  const header = req.headers['sforce-query-options'];
  const m = header ? /batchSize=(\d+)/i.exec(header) : null;
  if (!m) return QUERY_BATCH_SIZE;
  // "The minimum is 200, the maximum 2,000" (Sforce-Query-Options header); not a guarantee of size.
  return Math.min(QUERY_BATCH_SIZE, Math.max(MIN_QUERY_BATCH_SIZE, Number(m[1])));
}

function query(org: Org, req: ApiRequest, segments: string[], all: boolean): ApiResponse {
  if (req.method !== 'GET') return methodNotAllowed(req.method, ['GET']);
  const locator = segments[1];
  const resource = all ? 'queryAll' : 'query';
  if (locator) {
    const m = /^(01g[0-9A-Za-z]{15})-(\d+)$/.exec(locator);
    const cursor = m ? cursorsOf(org).get(m[1] as string) : undefined;
    if (!m || !cursor) {
      return { status: 400, body: errorBody('INVALID_QUERY_LOCATOR', 'invalid query locator') };
    }
    return page(req, resource, m[1] as string, cursor, Number(m[2]));
  }
  const soql = req.query.get('q');
  if (!soql) {
    return {
      status: 400,
      body: errorBody('MALFORMED_QUERY', 'A query string has to be specified')
    };
  }
  try {
    const now = Date.now();
    const parsed = parseSoql(org.db, soql, now);
    if (req.query.get('columns') === 'true') return { status: 200, body: columnMetadata(parsed) };
    const result = executeSoql(org.db, parsed, { includeDeleted: all, version: req.version });
    const batchSize = batchSizeFrom(req);
    if (result.records.length <= batchSize) {
      return {
        status: 200,
        body: { totalSize: result.totalSize, done: true, records: result.records }
      };
    }
    const id = org.db.newId('01g');
    const open = cursorsOf(org);
    if (open.size >= MAX_OPEN_CURSORS) open.delete(open.keys().next().value as string);
    const cursor = { records: result.records, totalSize: result.totalSize, batchSize };
    open.set(id, cursor);
    return page(req, resource, id, cursor, 0);
  } catch (error) {
    if (error instanceof SoqlError) {
      return { status: 400, body: errorBody(error.errorCode, error.message) };
    }
    throw error;
  }
}

function page(
  req: ApiRequest,
  resource: string,
  id: string,
  cursor: Cursor,
  offset: number
): ApiResponse {
  const end = offset + cursor.batchSize;
  const records = cursor.records.slice(offset, end);
  const done = end >= cursor.records.length;
  const body: Record<string, unknown> = { totalSize: cursor.totalSize, done };
  if (!done) body.nextRecordsUrl = `/services/data/v${req.version}/${resource}/${id}-${end}`;
  body.records = records;
  return { status: 200, body };
}

// ---- limits -----------------------------------------------------------------------------------

function limits(org: Org): Record<string, unknown> {
  const pair = (max: number, remaining: number) => ({ Max: max, Remaining: remaining });
  return {
    ConcurrentAsyncGetReportInstances: pair(200, 200),
    ConcurrentSyncReportRuns: pair(20, 20),
    DailyApiRequests: pair(org.dailyApiLimit, Math.max(0, org.dailyApiLimit - org.apiUsed)),
    DailyAsyncApexExecutions: pair(250000, 250000),
    DailyBulkApiBatches: pair(15000, 15000),
    DailyBulkV2QueryFileStorageMB: pair(976562, 976562),
    DailyBulkV2QueryJobs: pair(10000, 10000),
    HourlyPublishedPlatformEvents: pair(250000, 250000),
    DailyDeliveredPlatformEvents: pair(50000, 50000),
    DataStorageMB: pair(5, 5),
    FileStorageMB: pair(20, 20)
  };
}
