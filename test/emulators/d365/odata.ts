// The /data service: routing of OData paths to entity reads and writes. Transport-free so that
// $batch parts run through exactly the same code as top-level requests.
import {
  ENTITY_INDEX,
  NAMESPACE,
  type EntityDef,
  type EntityIndex,
  type PropertyDef
} from './entities.ts';
import { badRequest, notFound, preconditionFailed, ODataError, type ErrorBody } from './errors.ts';
import type { Domain } from './domain.ts';
import { etagOf, keyPart, type Row } from './store.ts';
import {
  compareBy,
  parseExpand,
  parseFilter,
  parseOrderBy,
  parseSelect,
  type CompiledFilter,
  type ExpandItem
} from './query.ts';
import { coerceBody, toDateTimeValue, type Value, type Values } from './values.ts';
import { renderMetadata } from './metadata.ts';

export interface DataRequest {
  method: string;
  /** Path below /data, starting with '/'. */
  path: string;
  /** Raw query string without '?'. */
  search: string;
  headers: Record<string, string | undefined>;
  body: string | undefined;
}

export interface DataResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Handler for `POST /data/<EntitySet>/Microsoft.Dynamics.DataEntities.<Action>`. */
export type BoundAction = (action: string, body: unknown) => DataResponse | Promise<DataResponse>;

export interface DataServiceOptions {
  baseUrl: string;
  domain: Domain;
  defaultCompany: string;
  pageSize: number;
  boundActions: Map<string, BoundAction>;
  onEntityRequest: (entitySet: string, method: string) => void;
}

export const JSON_TYPE = 'application/json; odata.metadata=minimal; charset=utf-8';
const ODATA_HEADERS = { 'Content-Type': JSON_TYPE, 'OData-Version': '4.0' };

/** The query options F&O implements (§1.2); others ($search, $apply, $compute, …) are refused. */
const KNOWN_OPTIONS = new Set([
  '$filter',
  '$select',
  '$expand',
  '$orderby',
  '$top',
  '$skip',
  '$count',
  '$format'
]);

export function errorResponse(err: unknown): DataResponse {
  if (err instanceof ODataError) {
    return {
      status: err.status,
      headers: { ...ODATA_HEADERS, ...err.headers },
      body: JSON.stringify(err.body)
    };
  }
  const body: ErrorBody = { error: { code: '', message: 'An error has occurred.' } };
  return { status: 500, headers: { ...ODATA_HEADERS }, body: JSON.stringify(body) };
}

interface Query {
  params: URLSearchParams;
  company: string;
  crossCompany: boolean;
}

export class DataService {
  private readonly o: DataServiceOptions;
  private metadataCache: string | undefined;

  constructor(options: DataServiceOptions) {
    this.o = options;
  }

  /** Synchronous for entity operations (so a changeset runs in one store transaction). */
  handle(req: DataRequest): DataResponse | Promise<DataResponse> {
    try {
      const r = this.route(req);
      return r instanceof Promise ? r.catch(errorResponse) : r;
    } catch (err) {
      return errorResponse(err);
    }
  }

  private route(req: DataRequest): DataResponse | Promise<DataResponse> {
    const path = req.path;
    if (path === '' || path === '/') return this.serviceDocument();
    if (path === '/$metadata') {
      this.metadataCache ??= renderMetadata();
      return {
        status: 200,
        headers: { 'Content-Type': 'application/xml', 'OData-Version': '4.0' },
        body: this.metadataCache
      };
    }
    const parsed = splitPath(path);
    if (!parsed) throw noResource(this.o.baseUrl, req);
    const { set, keyText, tail } = parsed;
    if (tail?.startsWith(`${NAMESPACE}.`) && keyText === undefined) {
      const action = this.o.boundActions.get(set);
      if (!action || req.method !== 'POST') throw noResource(this.o.baseUrl, req);
      this.o.onEntityRequest(set, 'ACTION');
      return action(tail.slice(NAMESPACE.length + 1), parseJson(req.body));
    }
    const index = ENTITY_INDEX.get(set);
    if (!index) throw noResource(this.o.baseUrl, req);
    this.o.onEntityRequest(set, req.method);
    const query = this.query(req.search);
    if (keyText === undefined) {
      if (tail === '$count' && req.method === 'GET') return this.count(index, query);
      if (tail !== undefined) throw noResource(this.o.baseUrl, req);
      if (req.method === 'GET') return this.collection(index, query);
      if (req.method === 'POST') return this.create(index, query, req);
      throw new ODataError(405, {
        error: {
          code: '',
          message: `The HTTP method '${req.method}' is not allowed on the collection '${set}'.`
        }
      });
    }
    const row = this.byKey(index, keyText, query);
    const nav = tail === undefined ? undefined : index.def.navigations.find((n) => n.name === tail);
    if (nav && req.method === 'POST')
      return this.createRelated(nav.target, nav.on, row, query, req);
    if (nav && req.method === 'GET') {
      const target = ENTITY_INDEX.get(nav.target)!;
      const rows = this.related(target, nav.on, row);
      return ok({
        '@odata.context': `${this.o.baseUrl}/data/$metadata#${nav.target}`,
        value: rows.map((r) => this.shape(target, r, undefined, [], query))
      });
    }
    if (tail !== undefined) return this.property(index, row, keyText, tail, req);
    switch (req.method) {
      case 'GET':
        return this.single(index, row, query);
      case 'PATCH':
      case 'PUT':
        // PUT is treated as PATCH: F&O writes only the properties sent (§1.7).
        checkEtag(index.def, row, req);
        this.o.domain.update(set, row, coerceBody(index, parseJson(req.body)));
        return { status: 204, headers: { 'OData-Version': '4.0' }, body: '' };
      case 'DELETE':
        checkEtag(index.def, row, req);
        this.o.domain.delete(set, row);
        return { status: 204, headers: { 'OData-Version': '4.0' }, body: '' };
      default:
        throw new ODataError(405, {
          error: { code: '', message: `The HTTP method '${req.method}' is not allowed.` }
        });
    }
  }

  private serviceDocument(): DataResponse {
    const value = [...ENTITY_INDEX.keys()].map((name) => ({ name, kind: 'EntitySet', url: name }));
    return ok({ '@odata.context': `${this.o.baseUrl}/data/$metadata`, value });
  }

  private query(search: string): Query {
    const params = new URLSearchParams(search);
    for (const name of params.keys()) {
      if (!name.startsWith('$')) continue;
      if (!KNOWN_OPTIONS.has(name))
        throw badRequest(`The query parameter '${name}' is not supported.`);
    }
    const format = params.get('$format');
    if (format !== null && format !== 'json' && !format.startsWith('application/json')) {
      throw new ODataError(406, {
        error: { code: '', message: `The format '${format}' is not supported.` }
      });
    }
    const company = keyPart(params.get('company') ?? this.o.defaultCompany);
    return { params, company, crossCompany: params.get('cross-company') === 'true' };
  }

  private visible(def: EntityDef, row: Row, q: Query): boolean {
    return !def.companySpecific || q.crossCompany || row.values.dataAreaId === q.company;
  }

  private byKey(index: EntityIndex, keyText: string, q: Query): Row {
    const def = index.def;
    const values = parseKey(index, keyText);
    const row = this.o.domain.store.table(def.entitySet).get(values);
    // A row of another company is invisible without cross-company=true, key or not (§1.3).
    if (!row || !this.visible(def, row, q))
      throw notFound(`Resource not found for the segment '${def.entitySet}'.`);
    return row;
  }

  private candidates(
    index: EntityIndex,
    filter: CompiledFilter | undefined,
    q: Query
  ): Iterable<Row> {
    const table = this.o.domain.store.table(index.def.entitySet);
    if (filter) {
      const eq = filter.equalities;
      const keyValues: Values = {};
      let complete = true;
      for (const k of index.def.keys) {
        const v = k === 'dataAreaId' && !eq.has(k) && !q.crossCompany ? q.company : eq.get(k);
        if (v === undefined) complete = false;
        else keyValues[k] = v;
      }
      if (complete) {
        const row = table.get(keyValues);
        return row ? [row] : [];
      }
      for (const [field, value] of eq) {
        const hit = table.lookup(field, value);
        if (hit) return hit;
      }
      // `ItemNumber eq 'A' or ItemNumber eq 'B' …` (how clients spell "in"): union of lookups.
      const oneOf = filter.oneOf;
      if (oneOf) {
        const keyFields = index.def.keys.filter((k) => k !== 'dataAreaId');
        if (
          keyFields.length === 1 &&
          keyFields[0] === oneOf.field &&
          index.def.companySpecific &&
          !q.crossCompany
        ) {
          return new Set(
            oneOf.values.flatMap(
              (v) => table.get({ dataAreaId: q.company, [oneOf.field]: v }) ?? []
            )
          );
        }
        if (table.secondary.has(oneOf.field)) {
          const union = new Set<Row>();
          for (const v of oneOf.values)
            for (const r of table.lookup(oneOf.field, v) ?? []) union.add(r);
          return union;
        }
      }
    }
    return table.rows.values();
  }

  private select(
    index: EntityIndex,
    q: Query,
    extraFilter?: (r: Row) => boolean
  ): { rows: Row[]; filter?: CompiledFilter } {
    const f = q.params.get('$filter');
    const filter = f === null ? undefined : parseFilter(f, index);
    const rows: Row[] = [];
    for (const row of this.candidates(index, filter, q)) {
      if (!this.visible(index.def, row, q)) continue;
      if (extraFilter && !extraFilter(row)) continue;
      if (filter && !filter.predicate(row.values)) continue;
      rows.push(row);
    }
    return { rows, filter };
  }

  private count(index: EntityIndex, q: Query): DataResponse {
    const { rows } = this.select(index, q);
    return {
      status: 200,
      headers: { 'Content-Type': 'text/plain', 'OData-Version': '4.0' },
      body: String(rows.length)
    };
  }

  private collection(index: EntityIndex, q: Query): DataResponse {
    const def = index.def;
    const p = q.params;
    const { rows } = this.select(index, q);
    const orderby = p.get('$orderby');
    if (orderby) {
      const order = parseOrderBy(orderby, index);
      const cmp = compareBy(order);
      rows.sort((a, b) => cmp(a.values, b.values));
    }
    const skip = intOption(p, '$skip') ?? 0;
    const top = intOption(p, '$top');
    const wanted = top === undefined ? rows.length - skip : Math.min(top, rows.length - skip);
    const pageCount = Math.max(0, Math.min(wanted, this.o.pageSize));
    const page = rows.slice(skip, skip + pageCount);
    const selected = p.get('$select');
    const fields = selected ? parseSelect(selected, index) : undefined;
    const expand = p.get('$expand');
    const expands = expand ? this.resolveExpand(def, expand) : [];
    const body: Record<string, unknown> = {
      '@odata.context': `${this.o.baseUrl}/data/$metadata#${def.entitySet}${contextSuffix(fields, expands)}`
    };
    if (p.get('$count') === 'true') body['@odata.count'] = rows.length;
    body.value = page.map((r) => this.shape(index, r, fields, expands, q));
    // Server-driven paging: more rows than one page → absolute nextLink with $skip (§1.4).
    if (wanted > pageCount) {
      const next = new URLSearchParams(p);
      next.set('$skip', String(skip + pageCount));
      if (top !== undefined) next.set('$top', String(top - pageCount));
      body['@odata.nextLink'] =
        `${this.o.baseUrl}/data/${def.entitySet}?${next.toString().replace(/%24/g, '$')}`;
    }
    return ok(body);
  }

  private single(index: EntityIndex, row: Row, q: Query): DataResponse {
    const def = index.def;
    const selected = q.params.get('$select');
    const fields = selected ? parseSelect(selected, index) : undefined;
    const expand = q.params.get('$expand');
    const expands = expand ? this.resolveExpand(def, expand) : [];
    const ctx = `${this.o.baseUrl}/data/$metadata#${def.entitySet}${contextSuffix(fields, expands)}/$entity`;
    const etag = etagOf(def, row);
    if (!fields && expands.length === 0) {
      // Fast path for keyed reads: no intermediate object.
      const json = JSON.stringify(row.values);
      return {
        status: 200,
        headers: { ...ODATA_HEADERS, ETag: etag },
        body: `{"@odata.context":${JSON.stringify(ctx)},"@odata.etag":${JSON.stringify(etag)},${json.slice(1)}`
      };
    }
    return ok(
      { '@odata.context': ctx, ...this.shape(index, row, fields, expands, q) },
      { ETag: etag }
    );
  }

  private property(
    index: EntityIndex,
    row: Row,
    keyText: string,
    tail: string,
    req: DataRequest
  ): DataResponse {
    if (req.method !== 'GET') throw badRequest('Only GET is supported on a property path.');
    const [name = '', raw] = tail.split('/');
    const p = index.props.get(name);
    if (!p || (raw !== undefined && raw !== '$value')) throw noResource(this.o.baseUrl, req);
    const value = row.values[name];
    if (raw === '$value')
      return { status: 200, headers: { 'Content-Type': 'text/plain' }, body: String(value) };
    return ok({
      '@odata.context': `${this.o.baseUrl}/data/$metadata#${index.def.entitySet}(${keyText})/${name}`,
      value
    });
  }

  /** POST to a navigation (`$1/SalesOrderLines`): the parent's key fields are filled in. */
  private createRelated(
    targetSet: string,
    on: Array<[string, string]>,
    parent: Row,
    q: Query,
    req: DataRequest
  ): DataResponse {
    const index = ENTITY_INDEX.get(targetSet)!;
    const values = coerceBody(index, parseJson(req.body));
    for (const [local, remote] of on) values[remote] = parent.values[local]!;
    return this.created(index, this.o.domain.create(targetSet, values, q.company));
  }

  private create(index: EntityIndex, q: Query, req: DataRequest): DataResponse {
    const values = coerceBody(index, parseJson(req.body));
    return this.created(index, this.o.domain.create(index.def.entitySet, values, q.company));
  }

  private created(index: EntityIndex, row: Row): DataResponse {
    const def = index.def;
    const etag = etagOf(def, row);
    const json = JSON.stringify(row.values);
    return {
      status: 201,
      headers: {
        ...ODATA_HEADERS,
        ETag: etag,
        Location: `${this.o.baseUrl}/data/${def.entitySet}(${keyLiteral(index, row.values)})`
      },
      body: `{"@odata.context":"${this.o.baseUrl}/data/$metadata#${def.entitySet}/$entity","@odata.etag":${JSON.stringify(etag)},${json.slice(1)}`
    };
  }

  private resolveExpand(
    def: EntityDef,
    src: string
  ): Array<ExpandItem & { target: EntityIndex; on: Array<[string, string]>; many: boolean }> {
    return parseExpand(src).map((item) => {
      const nav = def.navigations.find((n) => n.name === item.nav);
      if (!nav) {
        throw badRequest(
          `Could not find a property named '${item.nav}' on type '${NAMESPACE}.${def.typeName}'.`
        );
      }
      return { ...item, target: ENTITY_INDEX.get(nav.target)!, on: nav.on, many: nav.many };
    });
  }

  private shape(
    index: EntityIndex,
    row: Row,
    fields: string[] | undefined,
    expands: Array<
      ExpandItem & { target: EntityIndex; on: Array<[string, string]>; many: boolean }
    >,
    q: Query
  ): Record<string, unknown> {
    const out: Record<string, unknown> = { '@odata.etag': etagOf(index.def, row) };
    if (fields) for (const f of fields) out[f] = row.values[f];
    else Object.assign(out, row.values);
    for (const x of expands) {
      const related = this.related(x.target, x.on, row, x.filter);
      const sel = x.select ? parseSelect(x.select, x.target) : undefined;
      const shaped = related.map((r) => this.shape(x.target, r, sel, [], q));
      out[x.nav] = x.many ? shaped : (shaped[0] ?? null);
    }
    return out;
  }

  private related(
    target: EntityIndex,
    on: Array<[string, string]>,
    row: Row,
    filterSrc?: string
  ): Row[] {
    const table = this.o.domain.store.table(target.def.entitySet);
    const probe: Values = {};
    for (const [local, remote] of on) probe[remote] = row.values[local]!;
    const filter = filterSrc ? parseFilter(filterSrc, target) : undefined;
    let pool: Iterable<Row> | undefined;
    if (
      on.every(([, remote]) => target.def.keys.includes(remote)) &&
      on.length === target.def.keys.length
    ) {
      const hit = table.get(probe);
      pool = hit ? [hit] : [];
    } else {
      for (const [, remote] of on) pool ??= table.lookup(remote, probe[remote]!);
    }
    const out: Row[] = [];
    for (const r of pool ?? table.rows.values()) {
      if (on.every(([, remote]) => keyPart(r.values[remote]) === keyPart(probe[remote]))) {
        if (!filter || filter.predicate(r.values)) out.push(r);
      }
    }
    return out;
  }
}

function ok(body: unknown, headers: Record<string, string> = {}): DataResponse {
  return { status: 200, headers: { ...ODATA_HEADERS, ...headers }, body: JSON.stringify(body) };
}

function noResource(baseUrl: string, req: DataRequest): ODataError {
  return notFound(
    `No HTTP resource was found that matches the request URI '${baseUrl}/data${req.path}'.`
  );
}

function parseJson(body: string | undefined): unknown {
  if (body === undefined || body === '') return undefined;
  try {
    return JSON.parse(body);
  } catch {
    throw badRequest('The request body is not valid JSON.');
  }
}

function intOption(p: URLSearchParams, name: string): number | undefined {
  const raw = p.get(name);
  if (raw === null) return undefined;
  if (!/^\d+$/.test(raw))
    throw badRequest(
      `Invalid value '${raw}' for ${name} query option found. The ${name} query option requires a non-negative integer value.`
    );
  return Number(raw);
}

function checkEtag(def: EntityDef, row: Row, req: DataRequest): void {
  const ifMatch = req.headers['if-match'];
  // If-Match is optional in F&O (§1.6); when given, a stale value fails as OData prescribes.
  if (ifMatch && ifMatch !== '*' && ifMatch !== etagOf(def, row)) throw preconditionFailed();
}

function contextSuffix(fields: string[] | undefined, expands: Array<ExpandItem>): string {
  if (!fields && expands.length === 0) return '';
  const parts: string[] = fields ? [...fields] : [];
  for (const x of expands) {
    if (fields) parts.push(x.nav);
    parts.push(`${x.nav}(${x.select ?? ''})`);
  }
  return `(${parts.join(',')})`;
}

/** `/Set`, `/Set(key)`, `/Set(key)/Prop`, `/Set/$count`: quote-aware so keys may hold ')' or '/'. */
function splitPath(raw: string): { set: string; keyText?: string; tail?: string } | undefined {
  let path: string;
  try {
    path = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  const m = /^\/([A-Za-z0-9_]+)/.exec(path);
  if (!m) return undefined;
  const set = m[1]!;
  let i = m[0].length;
  let keyText: string | undefined;
  if (path[i] === '(') {
    let quoted = false;
    let j = i + 1;
    for (; j < path.length; j++) {
      if (path[j] === "'") quoted = !quoted;
      else if (path[j] === ')' && !quoted) break;
    }
    if (j >= path.length) return undefined;
    keyText = path.slice(i + 1, j);
    i = j + 1;
  }
  if (i === path.length) return { set, keyText };
  if (path[i] !== '/' || i + 1 === path.length) return undefined;
  return { set, keyText, tail: path.slice(i + 1) };
}

function splitKey(text: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'") {
      if (quoted && text[i + 1] === "'") {
        cur += "''";
        i++;
        continue;
      }
      quoted = !quoted;
    }
    if (c === ',' && !quoted) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

function literal(p: PropertyDef, raw: string, typeName: string): Value {
  const t = raw.trim();
  if (t.startsWith("'") && t.endsWith("'") && t.length >= 2) {
    if (p.type !== 'String' && p.type !== 'Enum')
      throw badRequest(`The key value ${t} for '${p.name}' of '${typeName}' has the wrong type.`);
    return t.slice(1, -1).replace(/''/g, "'");
  }
  if (p.type === 'Date' || p.type === 'DateTime') {
    const v = toDateTimeValue(t);
    if (!v) throw badRequest(`The key value ${t} for '${p.name}' is not a valid DateTimeOffset.`);
    return v;
  }
  const n = Number(t);
  if (t === '' || Number.isNaN(n) || p.type === 'String') {
    throw badRequest(`The key value ${t} for '${p.name}' of '${typeName}' has the wrong type.`);
  }
  return n;
}

/** Named composite keys `(dataAreaId='usmf',CustomerAccount='US-001')`; every key part required (§1.1). */
export function parseKey(index: EntityIndex, text: string): Values {
  const def = index.def;
  const typeName = `${NAMESPACE}.${def.typeName}`;
  const parts = splitKey(text);
  const values: Values = {};
  if (parts.length === 1 && def.keys.length === 1 && !/^\s*[A-Za-z_]\w*\s*=/.test(parts[0]!)) {
    values[def.keys[0]!] = literal(index.props.get(def.keys[0]!)!, parts[0]!, typeName);
    return values;
  }
  for (const part of parts) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).trim();
    const p = index.props.get(name);
    if (eq < 0 || !p || !def.keys.includes(name)) {
      throw badRequest(
        `The key in the request URI is not valid for resource '${typeName}'. Ensure that the names and number of key properties match the declared or alternate key properties for the resource '${typeName}'.`
      );
    }
    values[name] = literal(p, part.slice(eq + 1), typeName);
  }
  if (def.keys.some((k) => values[k] === undefined)) {
    throw badRequest(
      `The number of keys specified in the URI does not match number of key properties for the resource '${typeName}'.`
    );
  }
  return values;
}

export function keyLiteral(index: EntityIndex, values: Values): string {
  return index.def.keys
    .map((k) => {
      const p = index.props.get(k)!;
      const v = values[k];
      if (p.type === 'String' || p.type === 'Enum')
        return `${k}='${String(v).replace(/'/g, "''")}'`;
      return `${k}=${v}`;
    })
    .join(',');
}
