/**
 * sObject Collections (`/composite/sobjects`), Composite (`/composite`) and Composite Batch
 * (`/composite/batch`) — salesforce.md §2.3–2.4.
 */
import { normalizeId } from './ids.ts';
import type { ApiContext, ApiRequest, ApiResponse } from './api.ts';
import {
  dispatch,
  dmlContext,
  errorBody,
  isPlainObject,
  notFound,
  publishEvent,
  recordBody,
  SINCE
} from './api.ts';
import type { ChildRelationship, ObjectModel } from './model.ts';
import type { Org } from './org.ts';
import type { DmlResult, SfRecord, UpsertOutcome } from './store.ts';
import type { DmlError } from './values.ts';

/** "up to 200 records" per sObject Collections request (REST API, sObject Collections). */
export const MAX_COLLECTION_RECORDS = 200;
/** "You can have up to 25 subrequests in a single call" (REST API, Composite). */
export const MAX_COMPOSITE_SUBREQUESTS = 25;
/** "Up to 5 of these subrequests can be sObject Collections or query operations" (Composite). */
export const MAX_COMPOSITE_COLLECTIONS_OR_QUERIES = 5;
/** Composite Batch: "up to 25 subrequests" (REST API, Batch). */
export const MAX_BATCH_SUBREQUESTS = 25;

const ROLLED_BACK: DmlError = {
  statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
  message:
    'Record rolled back because not all records were valid and the request was using AllOrNone header',
  fields: []
};
const PROCESSING_HALTED =
  'The transaction was rolled back since another operation in the same transaction failed.';

type ItemResult = { id?: string; success: boolean; errors: DmlError[]; created?: boolean };

const badRequest = (errorCode: string, message: string): ApiResponse => ({
  status: 400,
  body: errorBody(errorCode, message)
});

export function compositeHandler(ctx: () => ApiContext) {
  return async (org: Org, req: ApiRequest, segments: string[]): Promise<ApiResponse> => {
    const [, second] = segments;
    if (second === undefined) {
      if (req.method !== 'POST')
        return {
          status: 405,
          body: errorBody(
            'METHOD_NOT_ALLOWED',
            `HTTP Method '${req.method}' not allowed. Allowed are POST`
          )
        };
      return { ...(await composite(ctx(), req)), kind: 'composite' };
    }
    if (second === 'sobjects') {
      const version = Number(req.version);
      const upsert = segments.length === 4;
      if (version < SINCE.collections || (upsert && version < SINCE.collectionsUpsert))
        return notFound();
      return { ...collections(ctx(), req, segments), kind: 'collections' };
    }
    if (second === 'batch' && segments.length === 2 && req.method === 'POST') {
      return { ...(await batch(ctx(), req)), kind: 'composite' };
    }
    if (second === 'graph' && segments.length === 2 && req.method === 'POST') {
      if (Number(req.version) < SINCE.compositeGraph) return notFound();
      return { ...(await graph(ctx(), req)), kind: 'composite' };
    }
    if (second === 'tree' && segments.length === 3 && req.method === 'POST') {
      return { ...tree(ctx(), req, segments[2] as string), kind: 'composite' };
    }
    return notFound();
  };
}

// ---- sObject Collections ----------------------------------------------------------------------

function collections(ctx: ApiContext, req: ApiRequest, segments: string[]): ApiResponse {
  const { org } = ctx;
  const [, , objectName, extFieldName, ...rest] = segments;
  if (rest.length > 0) return notFound();
  const dmlCtx = dmlContext(req);

  if (req.method === 'GET') {
    const object = objectName ? org.model.objects.get(objectName.toLowerCase()) : undefined;
    if (!object || extFieldName) return notFound();
    const ids = (req.query.get('ids') ?? '').split(',').filter(Boolean);
    if (ids.length > MAX_COLLECTION_RECORDS) return tooManyRecords();
    const names = (req.query.get('fields') ?? '').split(',').filter(Boolean);
    if (names.length === 0)
      return badRequest('MALFORMED_QUERY', 'The fields parameter is required');
    const fields = names.map((n) => object.fieldsByLower.get(n.trim().toLowerCase()));
    const unknownAt = fields.findIndex((f) => !f);
    if (unknownAt >= 0) {
      return badRequest(
        'INVALID_FIELD',
        `No such column '${names[unknownAt]}' on entity '${object.name}'`
      );
    }
    return {
      status: 200,
      body: ids.map((raw) => {
        const id = normalizeId(raw);
        const found = id ? org.db.getById(id) : null;
        if (!found || found.table.object !== object || found.record.IsDeleted === true) return null;
        return recordBody(
          object,
          found.record,
          req.version,
          fields as NonNullable<(typeof fields)[number]>[]
        );
      })
    };
  }

  if (req.method === 'DELETE') {
    if (objectName) return notFound();
    const ids = (req.query.get('ids') ?? '').split(',').filter(Boolean);
    if (ids.length > MAX_COLLECTION_RECORDS) return tooManyRecords();
    const allOrNone = req.query.get('allOrNone') === 'true';
    return {
      status: 200,
      body: runAll(org, allOrNone, ids, (id) => org.db.delete(null, id, dmlCtx.origin), false)
    };
  }

  if (!isPlainObject(req.body) || !Array.isArray(req.body.records)) {
    return badRequest('JSON_PARSER_ERROR', 'The request body must contain a records array');
  }
  const records = req.body.records as unknown[];
  if (records.length > MAX_COLLECTION_RECORDS) return tooManyRecords();
  const allOrNone = req.body.allOrNone === true;

  if (req.method === 'POST' && !objectName) {
    return {
      status: 200,
      body: runAll(
        org,
        allOrNone,
        records,
        (r) => {
          const type = typeOf(org, r);
          if (!type.ok) return type.result;
          if ((r as SfRecord).id !== undefined || (r as SfRecord).Id !== undefined) {
            return itemError(
              'INVALID_FIELD',
              'The Id field should not be specified in the sobject data.'
            );
          }
          if (type.object.kind === 'event') {
            const published = publishEvent(ctx, type.object, r as SfRecord, req.userId);
            if (published.status === 201)
              return { ok: true, id: (published.body as { id: string }).id, created: true };
            const [err] = published.body as {
              errorCode: string;
              message: string;
              fields?: string[];
            }[];
            return itemError(
              err?.errorCode ?? 'UNKNOWN_EXCEPTION',
              err?.message ?? 'publish failed',
              err?.fields
            );
          }
          return org.db.insert(type.object.name, r as SfRecord, dmlCtx);
        },
        false
      )
    };
  }
  if (req.method === 'PATCH' && !objectName) {
    return {
      status: 200,
      body: runAll(
        org,
        allOrNone,
        records,
        (r) => {
          const type = typeOf(org, r);
          if (!type.ok) return type.result;
          const { id, Id, ...values } = r as SfRecord;
          const recordId = (id ?? Id) as string | undefined;
          if (!recordId)
            return itemError('MISSING_ARGUMENT', 'Id not specified in an update call', ['Id']);
          return org.db.update(type.object.name, recordId, values, dmlCtx);
        },
        false
      )
    };
  }
  if (req.method === 'PATCH' && objectName && extFieldName) {
    const object = org.model.objects.get(objectName.toLowerCase());
    if (!object) return notFound();
    const extField = object.fieldsByLower.get(extFieldName.toLowerCase());
    if (!extField || !(extField.externalId || extField.idLookup)) {
      return {
        status: 404,
        body: errorBody(
          'NOT_FOUND',
          `Provided external ID field does not exist or is not accessible: ${extFieldName}`
        )
      };
    }
    return {
      status: 200,
      body: runAll(
        org,
        allOrNone,
        records,
        (r) => {
          const type = typeOf(org, r);
          if (!type.ok) return type.result;
          if (type.object !== object) {
            return itemError(
              'INVALID_TYPE',
              `The list can only contain objects of type ${object.name}`
            );
          }
          const rec = r as SfRecord;
          const key = Object.keys(rec).find((k) => k.toLowerCase() === extField.name.toLowerCase());
          const value = key ? rec[key] : undefined;
          if (value === undefined || value === null || value === '') {
            return itemError('MISSING_ARGUMENT', `${extField.name} not specified`, [extField.name]);
          }
          return org.db.upsert(object.name, extField.name, value, rec, dmlCtx);
        },
        true
      )
    };
  }
  return notFound();
}

function tooManyRecords(): ApiResponse {
  return badRequest(
    'EXCEEDED_ID_LIMIT',
    `record limit reached. cannot submit more than ${MAX_COLLECTION_RECORDS} records into this call`
  );
}

function itemError(statusCode: string, message: string, fields: string[] = []): DmlResult {
  return { ok: false, errors: [{ statusCode, message, fields }], httpStatus: 400 };
}

/** "Each object in the request body must contain an attributes map … a value for type." */
function typeOf(
  org: Org,
  r: unknown
): { ok: true; object: ObjectModel } | { ok: false; result: DmlResult } {
  const type = isPlainObject(r)
    ? (r.attributes as { type?: unknown } | undefined)?.type
    : undefined;
  const object = typeof type === 'string' ? org.model.objects.get(type.toLowerCase()) : undefined;
  if (!object)
    return { ok: false, result: itemError('INVALID_TYPE', 'Must send a concrete entity type.') };
  return { ok: true, object };
}

/**
 * Runs each item; with allOrNone, any failure rolls every change back and the successful items
 * report ALL_OR_NONE_OPERATION_ROLLED_BACK.
 */
function runAll<T>(
  org: Org,
  allOrNone: boolean,
  items: T[],
  run: (item: T) => DmlResult | UpsertOutcome,
  withCreated: boolean
): ItemResult[] {
  const savepoint = org.db.begin();
  try {
    const results = items.map((item): ItemResult => {
      const outcome = run(item);
      if (outcome.ok) {
        return withCreated
          ? { id: outcome.id, success: true, errors: [], created: outcome.created }
          : { id: outcome.id, success: true, errors: [] };
      }
      const errors: DmlError[] =
        'multiple' in outcome
          ? [
              {
                statusCode: 'DUPLICATE_EXTERNAL_ID',
                message: `more than one record found for external id field: ${outcome.multiple.join(', ')}`,
                fields: []
              }
            ]
          : outcome.errors;
      // Whether failed upsert items carry created:false is not documented; emit it, omit the id.
      return withCreated ? { success: false, errors, created: false } : { success: false, errors };
    });
    if (allOrNone && results.some((r) => !r.success)) {
      org.db.rollbackTo(savepoint);
      return results.map((r) =>
        r.success
          ? { success: false, errors: [ROLLED_BACK], ...(withCreated ? { created: false } : {}) }
          : r
      );
    }
    return results;
  } finally {
    org.db.end();
  }
}

// ---- Composite --------------------------------------------------------------------------------

interface SubRequest {
  method: string;
  url: string;
  referenceId: string;
  body?: unknown;
  httpHeaders?: Record<string, string>;
}

interface SubResponse {
  body: unknown;
  httpHeaders: Record<string, string>;
  httpStatusCode: number;
  referenceId: string;
}

const REFERENCE = /@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}/g;

async function composite(ctx: ApiContext, req: ApiRequest): Promise<ApiResponse> {
  if (!isPlainObject(req.body) || !Array.isArray(req.body.compositeRequest)) {
    return badRequest(
      'JSON_PARSER_ERROR',
      'The request body must contain a compositeRequest array'
    );
  }
  const subrequests = req.body.compositeRequest as SubRequest[];
  const allOrNone = req.body.allOrNone === true;
  if (subrequests.length === 0 || subrequests.length > MAX_COMPOSITE_SUBREQUESTS) {
    return badRequest(
      'INVALID_BATCH_REQUEST',
      `Composite request must have between 1 and ${MAX_COMPOSITE_SUBREQUESTS} subrequests`
    );
  }
  const heavy = subrequests.filter((s) =>
    /\/(query|queryAll|composite\/sobjects)(\/|\?|$)/.test(s.url ?? '')
  );
  if (heavy.length > MAX_COMPOSITE_COLLECTIONS_OR_QUERIES) {
    return badRequest(
      'INVALID_BATCH_REQUEST',
      `Composite request can have at most ${MAX_COMPOSITE_COLLECTIONS_OR_QUERIES} sObject Collections or query subrequests`
    );
  }
  const invalid = checkReferenceIds(subrequests);
  if (invalid) return invalid;
  const { responses } = await runComposite(ctx, req, subrequests, allOrNone);
  return { status: 200, body: { compositeResponse: responses } };
}

/**
 * Runs subrequests in one transaction. Handlers never cross a macrotask boundary (no I/O inside
 * dispatch), so no other request's writes can land in this transaction's undo log.
 */
async function runComposite(
  ctx: ApiContext,
  req: ApiRequest,
  subrequests: SubRequest[],
  allOrNone: boolean
): Promise<{ responses: SubResponse[]; failed: boolean }> {
  const db = ctx.org.db;
  const savepoint = db.begin();
  const results = new Map<string, { status: number; body: unknown }>();
  const responses: SubResponse[] = [];
  let failedAt = -1;
  try {
    for (const [i, sub] of subrequests.entries()) {
      if (failedAt >= 0 && allOrNone) {
        responses.push(halted(sub.referenceId, PROCESSING_HALTED));
        continue;
      }
      const resolved = resolveReferences(sub, results);
      if ('missing' in resolved) {
        responses.push(halted(sub.referenceId, resolved.missing));
        if (failedAt < 0) failedAt = i;
        continue;
      }
      const response = await runSubrequest(ctx, req, resolved.sub, allOrNone);
      results.set(sub.referenceId, { status: response.httpStatusCode, body: response.body });
      responses.push(response);
      if (response.httpStatusCode >= 400 && failedAt < 0) failedAt = i;
    }
    if (allOrNone && failedAt >= 0) {
      db.rollbackTo(savepoint);
      for (let i = 0; i < responses.length; i++) {
        if (i !== failedAt)
          responses[i] = halted(subrequests[i]?.referenceId as string, PROCESSING_HALTED);
      }
    }
  } finally {
    db.end();
  }
  return { responses, failed: failedAt >= 0 };
}

function checkReferenceIds(subrequests: SubRequest[]): ApiResponse | null {
  const seen = new Set<string>();
  for (const s of subrequests) {
    if (
      !isPlainObject(s) ||
      typeof s.referenceId !== 'string' ||
      !/^[A-Za-z0-9_]+$/.test(s.referenceId) ||
      seen.has(s.referenceId)
    ) {
      return badRequest(
        'INVALID_BATCH_REQUEST',
        'Each subrequest needs a unique referenceId of letters, digits and underscores'
      );
    }
    seen.add(s.referenceId);
  }
  return null;
}

// ---- Composite graph --------------------------------------------------------------------------

/** "75 graphs per payload … 500 nodes per graph" (REST API, Composite Graph Limits). */
export const MAX_GRAPHS = 75;
export const MAX_GRAPH_NODES = 500;

/** Each graph is all-or-nothing: a composite request with allOrNone, reported per graph. */
async function graph(ctx: ApiContext, req: ApiRequest): Promise<ApiResponse> {
  const graphs = isPlainObject(req.body) ? req.body.graphs : undefined;
  if (!Array.isArray(graphs) || graphs.length === 0 || graphs.length > MAX_GRAPHS) {
    return badRequest(
      'INVALID_BATCH_REQUEST',
      `A graph request needs between 1 and ${MAX_GRAPHS} graphs`
    );
  }
  const out = [];
  for (const g of graphs as { graphId?: unknown; compositeRequest?: unknown }[]) {
    const nodes =
      isPlainObject(g) && Array.isArray(g.compositeRequest)
        ? (g.compositeRequest as SubRequest[])
        : null;
    if (
      !nodes ||
      typeof g.graphId !== 'string' ||
      nodes.length === 0 ||
      nodes.length > MAX_GRAPH_NODES
    ) {
      return badRequest(
        'INVALID_BATCH_REQUEST',
        `Each graph needs a graphId and between 1 and ${MAX_GRAPH_NODES} nodes`
      );
    }
    const invalid = checkReferenceIds(nodes);
    if (invalid) return invalid;
    const { responses, failed } = await runComposite(ctx, req, nodes, true);
    out.push({
      graphId: g.graphId,
      graphResponse: { compositeResponse: responses },
      isSuccessful: !failed
    });
  }
  return { status: 200, body: { graphs: out } };
}

// ---- sObject Tree -----------------------------------------------------------------------------

/** "up to a total of 200 records across all trees", "up to five records levels" (REST API, sObject Tree). */
export const MAX_TREE_RECORDS = 200;
export const MAX_TREE_DEPTH = 5;

interface TreeResult {
  referenceId: string;
  id?: string;
  errors?: DmlError[];
}

/** `POST /composite/tree/{Object}`: nested records created all-or-nothing (what `sf data import tree` calls). */
function tree(ctx: ApiContext, req: ApiRequest, objectName: string): ApiResponse {
  const db = ctx.org.db;
  const object = db.model.objects.get(objectName.toLowerCase());
  if (!object) return notFound();
  const records = isPlainObject(req.body) ? req.body.records : undefined;
  if (!Array.isArray(records))
    return badRequest('JSON_PARSER_ERROR', 'The request body must contain a records array');
  let count = 0;
  const countRecords = (list: unknown[], depth: number): string | null => {
    if (depth > MAX_TREE_DEPTH)
      return `Records can be nested at most ${MAX_TREE_DEPTH} levels deep`;
    for (const r of list) {
      count++;
      if (!isPlainObject(r)) return 'Each record must be a JSON object';
      for (const value of Object.values(r)) {
        if (isPlainObject(value) && Array.isArray(value.records)) {
          const error = countRecords(value.records as unknown[], depth + 1);
          if (error) return error;
        }
      }
    }
    return null;
  };
  const shapeError = countRecords(records, 1);
  if (shapeError) return badRequest('INVALID_INPUT', shapeError);
  if (count > MAX_TREE_RECORDS) {
    return badRequest(
      'EXCEEDED_ID_LIMIT',
      `record limit reached. cannot submit more than ${MAX_TREE_RECORDS} records into this call`
    );
  }
  const dmlCtx = dmlContext(req);
  const created: TreeResult[] = [];
  const failed: TreeResult[] = [];
  const insertAll = (
    list: SfRecord[],
    type: ObjectModel,
    parent: { field: string; id: string } | null
  ) => {
    for (const r of list) {
      const attributes = (r.attributes ?? {}) as { type?: string; referenceId?: string };
      const referenceId = String(attributes.referenceId ?? '');
      const values: SfRecord = {};
      const children: [ChildRelationship, SfRecord[]][] = [];
      for (const [key, value] of Object.entries(r)) {
        if (key === 'attributes') continue;
        const rel = type.childRelationshipsByLower.get(key.toLowerCase());
        if (rel && isPlainObject(value) && Array.isArray(value.records)) {
          children.push([rel, value.records as SfRecord[]]);
        } else values[key] = value;
      }
      if (parent) values[parent.field] = parent.id;
      const result = db.insert(attributes.type ?? type.name, values, dmlCtx);
      if (!result.ok) {
        failed.push({ referenceId, errors: result.errors });
        continue;
      }
      created.push({ referenceId, id: result.id });
      for (const [rel, childRecords] of children) {
        const childType = db.model.objects.get(rel.childSObject.toLowerCase()) as ObjectModel;
        insertAll(childRecords, childType, { field: rel.field, id: result.id });
      }
    }
  };
  const savepoint = db.begin();
  try {
    insertAll(records as SfRecord[], object, null);
    if (failed.length > 0) {
      db.rollbackTo(savepoint);
      return { status: 400, body: { hasErrors: true, results: failed } };
    }
  } finally {
    db.end();
  }
  return { status: 201, body: { hasErrors: false, results: created } };
}

function halted(referenceId: string, message: string): SubResponse {
  return {
    body: [{ errorCode: 'PROCESSING_HALTED', message }],
    httpHeaders: {},
    httpStatusCode: 400,
    referenceId
  };
}

function resolveReferences(
  sub: SubRequest,
  results: Map<string, { status: number; body: unknown }>
): { sub: SubRequest } | { missing: string } {
  let missing: string | null = null;
  const replace = (text: string): string =>
    text.replace(REFERENCE, (whole, ref: string, path: string) => {
      const value = lookupReference(results.get(ref), path);
      if (value === undefined) {
        missing ??= `Invalid reference specified. No value for ${ref}${path} found in ${ref}. Provided referenceId ('${ref}') might not exist or might have not been executed yet.`;
        return whole;
      }
      return String(value);
    });
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return replace(v);
    if (Array.isArray(v)) return v.map(walk);
    if (isPlainObject(v))
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  const resolved = { ...sub, url: replace(sub.url ?? ''), body: walk(sub.body) };
  return missing ? { missing } : { sub: resolved };
}

function lookupReference(
  result: { status: number; body: unknown } | undefined,
  path: string
): unknown {
  if (!result || result.status >= 400) return undefined;
  let current: unknown = result.body;
  for (const m of path.matchAll(/\.([A-Za-z0-9_]+)|\[(\d+)\]/g)) {
    if (current === null || typeof current !== 'object') return undefined;
    current =
      m[1] !== undefined
        ? (current as Record<string, unknown>)[m[1]]
        : (current as unknown[])[Number(m[2])];
  }
  return current === null || typeof current === 'object' ? undefined : current;
}

async function runSubrequest(
  ctx: ApiContext,
  parent: ApiRequest,
  sub: SubRequest,
  allOrNone: boolean
): Promise<SubResponse> {
  const m = /^\/services\/data\/v(\d+\.\d)(\/[^?]*)?(?:\?(.*))?$/.exec(sub.url);
  if (!m || !sub.method) {
    return {
      body: errorBody('NOT_FOUND', 'The requested resource does not exist'),
      httpHeaders: {},
      httpStatusCode: 404,
      referenceId: sub.referenceId
    };
  }
  let body = sub.body;
  // Composite allOrNone "also applies to each of the sObject Collections subrequests".
  if (allOrNone && isPlainObject(body) && Array.isArray(body.records))
    body = { ...body, allOrNone: true };
  const response = await dispatch(ctx, {
    method: sub.method.toUpperCase(),
    path: m[2] ?? '',
    version: m[1] as string,
    query: new URLSearchParams(m[3] ?? ''),
    body,
    headers: { ...parent.headers, ...lower(sub.httpHeaders ?? {}) },
    userId: parent.userId
  });
  const headers: Record<string, string> = {};
  const created = response.body as { id?: string } | undefined;
  if (response.status === 201 && created?.id && /\/sobjects\/[^/]+$/.test(m[2] ?? '')) {
    headers.Location = `/services/data/v${m[1]}${m[2]}/${created.id}`;
  }
  return {
    body: response.body ?? null,
    httpHeaders: headers,
    httpStatusCode: response.status,
    referenceId: sub.referenceId
  };
}

function lower(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

// ---- Composite Batch --------------------------------------------------------------------------

async function batch(ctx: ApiContext, req: ApiRequest): Promise<ApiResponse> {
  if (!isPlainObject(req.body) || !Array.isArray(req.body.batchRequests)) {
    return badRequest('JSON_PARSER_ERROR', 'The request body must contain a batchRequests array');
  }
  const requests = req.body.batchRequests as { method: string; url: string; richInput?: unknown }[];
  if (requests.length === 0 || requests.length > MAX_BATCH_SUBREQUESTS) {
    return badRequest(
      'INVALID_BATCH_REQUEST',
      `Batch request must have between 1 and ${MAX_BATCH_SUBREQUESTS} subrequests`
    );
  }
  const results = [];
  for (const r of requests) {
    const m = /^\/?(?:services\/data\/)?v(\d+\.\d)(\/[^?]*)?(?:\?(.*))?$/.exec(r.url ?? '');
    if (!m) {
      results.push({
        statusCode: 404,
        result: errorBody('NOT_FOUND', 'The requested resource does not exist')
      });
      continue;
    }
    const response = await dispatch(ctx, {
      method: (r.method ?? 'GET').toUpperCase(),
      path: m[2] ?? '',
      version: m[1] as string,
      query: new URLSearchParams(m[3] ?? ''),
      body: r.richInput,
      headers: req.headers,
      userId: req.userId
    });
    results.push({ statusCode: response.status, result: response.body ?? null });
  }
  return { status: 200, body: { hasErrors: results.some((r) => r.statusCode >= 400), results } };
}
