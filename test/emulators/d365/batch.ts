// OData $batch (multipart/mixed) as F&O answers it (shared/reference/d365-fo.md §2): outer 200,
// atomic changesets that collapse to one error part on failure, Content-ID references, and
// service-protection 429s per part.
import { randomUUID } from 'node:crypto';
import { badRequest, ODataError } from './errors.ts';
import { errorResponse, type DataRequest, type DataResponse, type DataService } from './odata.ts';
import type { Store } from './store.ts';
import type { Rejection } from './throttling.ts';

/** "In finance and operations apps, batch size is limited to 5,000 operations." [MS throughput] */
export const MAX_BATCH_OPERATIONS = 5000;

interface Operation {
  contentId: string | undefined;
  request: DataRequest;
}

type Item = { kind: 'op'; op: Operation } | { kind: 'changeset'; ops: Operation[] };

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  412: 'Precondition Failed',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable'
};

export function boundaryOf(contentType: string | undefined): string | undefined {
  const m = /boundary=("?)([^";]+)\1/i.exec(contentType ?? '');
  return m?.[2]?.trim();
}

/** Splits a multipart body into its parts; tolerant of LF-only lines and trailing spaces. */
function splitParts(body: string, boundary: string): string[] {
  const lines = body.split(/\r?\n/);
  const parts: string[] = [];
  let current: string[] | undefined;
  for (const line of lines) {
    const trimmed = line.trimEnd();
    if (trimmed === `--${boundary}` || trimmed === `--${boundary}--`) {
      if (current) parts.push(current.join('\n'));
      current = trimmed.endsWith('--') && trimmed !== `--${boundary}` ? undefined : [];
      if (trimmed === `--${boundary}--`) break;
      continue;
    }
    current?.push(line);
  }
  // A changeset left unclosed (as in the published sample) still yields its last part.
  if (current && current.length > 0) parts.push(current.join('\n'));
  return parts;
}

function splitHeaders(block: string): { headers: Record<string, string>; rest: string } {
  const idx = block.indexOf('\n\n');
  const head = idx < 0 ? block : block.slice(0, idx);
  const rest = idx < 0 ? '' : block.slice(idx + 2);
  const headers: Record<string, string> = {};
  for (const line of head.split('\n')) {
    const c = line.indexOf(':');
    if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
  }
  return { headers, rest };
}

function parseOperation(part: string): Operation {
  const { headers: mime, rest } = splitHeaders(part.replace(/^\n+/, ''));
  const lines = rest.replace(/^\n+/, '').split('\n');
  const requestLine = lines.shift() ?? '';
  const m = /^(GET|POST|PATCH|PUT|DELETE)\s+(\S+)(\s+HTTP\/1\.1)?$/i.exec(requestLine.trim());
  if (!m) throw badRequest(`The request line '${requestLine.trim()}' in the batch is not valid.`);
  const { headers, rest: body } = splitHeaders(lines.join('\n'));
  return {
    contentId: mime['content-id'] ?? headers['content-id'],
    request: {
      method: m[1]!.toUpperCase(),
      path: m[2]!,
      search: '',
      headers,
      body: body.trim() === '' ? undefined : body.trim()
    }
  };
}

export function parseBatch(body: string, boundary: string): Item[] {
  const items: Item[] = [];
  for (const part of splitParts(body, boundary)) {
    const { headers, rest } = splitHeaders(part.replace(/^\n+/, ''));
    const type = headers['content-type'] ?? '';
    if (type.toLowerCase().startsWith('multipart/mixed')) {
      const inner = boundaryOf(type);
      if (!inner) throw badRequest('A changeset in the batch has no boundary.');
      items.push({ kind: 'changeset', ops: splitParts(rest, inner).map(parseOperation) });
    } else {
      items.push({ kind: 'op', op: parseOperation(part) });
    }
  }
  return items;
}

/** Absolute, `/data/…` or relative URLs, with `$<Content-ID>` references resolved. */
function resolveUrl(raw: string, ids: Map<string, string>): { path: string; search: string } {
  let url = raw;
  const ref = /^\$(\w+)(.*)$/.exec(url);
  if (ref) {
    const target = ids.get(ref[1]!);
    if (!target)
      throw badRequest(`The Content-ID '${ref[1]}' referenced in the batch was not found.`);
    url = target + ref[2];
  }
  url = url.replace(/^https?:\/\/[^/]+/i, '');
  if (url.startsWith('/data/')) url = url.slice(5);
  else if (!url.startsWith('/')) url = `/${url}`;
  const q = url.indexOf('?');
  return q < 0 ? { path: url, search: '' } : { path: url.slice(0, q), search: url.slice(q + 1) };
}

function renderResponse(r: DataResponse, contentId: string | undefined): string {
  const out = ['Content-Type: application/http', 'Content-Transfer-Encoding: binary'];
  if (contentId !== undefined) out.push(`Content-ID: ${contentId}`);
  out.push('', `HTTP/1.1 ${r.status} ${STATUS_TEXT[r.status] ?? ''}`.trimEnd());
  for (const [k, v] of Object.entries(r.headers)) out.push(`${k}: ${v}`);
  out.push('', r.body);
  return out.join('\r\n');
}

function throttled(rej: Rejection): DataResponse {
  return errorResponse(
    new ODataError(
      429,
      { error: { code: '', message: rej.message } },
      { 'Retry-After': String(rej.retryAfter) }
    )
  );
}

class ChangesetFailed extends Error {
  readonly response: DataResponse;
  constructor(response: DataResponse) {
    super('changeset failed');
    this.response = response;
  }
}

export interface BatchContext {
  service: DataService;
  store: Store;
  baseUrl: string;
  /** Resource-based throttling per operation. */
  take: () => Rejection | undefined;
  inheritedHeaders: Record<string, string | undefined>;
}

export async function executeBatch(
  body: string,
  contentType: string | undefined,
  ctx: BatchContext
): Promise<DataResponse> {
  const boundary = boundaryOf(contentType);
  if (!boundary)
    throw badRequest('The batch request must have a multipart/mixed Content-Type with a boundary.');
  const items = parseBatch(body, boundary);
  const count = items.reduce((n, i) => n + (i.kind === 'op' ? 1 : i.ops.length), 0);
  if (count > MAX_BATCH_OPERATIONS) {
    throw badRequest(
      `The batch contains ${count} operations; the maximum is ${MAX_BATCH_OPERATIONS}.`
    );
  }
  const outer = `batchresponse_${randomUUID()}`;
  const chunks: string[] = [];
  for (const item of items) {
    if (item.kind === 'op') {
      const rej = ctx.take();
      let r: DataResponse;
      if (rej) r = throttled(rej);
      else {
        const { path, search } = resolveUrl(item.op.request.path, new Map());
        r = await ctx.service.handle({
          ...item.op.request,
          path,
          search,
          headers: { ...ctx.inheritedHeaders, ...item.op.request.headers }
        });
      }
      chunks.push(`--${outer}\r\n${renderResponse(r, item.op.contentId)}\r\n`);
      continue;
    }
    const inner = `changesetresponse_${randomUUID()}`;
    const firstId = item.ops[0]?.contentId;
    let responses: Array<{ r: DataResponse; id: string | undefined }>;
    try {
      responses = ctx.store.transaction(() => {
        const ids = new Map<string, string>();
        const out: Array<{ r: DataResponse; id: string | undefined }> = [];
        for (const op of item.ops) {
          const rej = ctx.take();
          if (rej) throw new ChangesetFailed(throttled(rej));
          const { path, search } = resolveUrl(op.request.path, ids);
          const r = ctx.service.handle({
            ...op.request,
            path,
            search,
            headers: { ...ctx.inheritedHeaders, ...op.request.headers }
          });
          if (r instanceof Promise) {
            throw new ChangesetFailed(
              errorResponse(badRequest('Actions cannot run inside a changeset.'))
            );
          }
          if (r.status >= 400) throw new ChangesetFailed(r);
          if (op.contentId !== undefined && r.headers.Location)
            ids.set(op.contentId, r.headers.Location);
          out.push({ r, id: op.contentId });
        }
        return out;
      });
    } catch (err) {
      if (!(err instanceof ChangesetFailed)) throw err;
      // All-or-nothing: one error part, carrying the first operation's Content-ID (§2 capture).
      responses = [{ r: err.response, id: firstId }];
    }
    const parts = responses
      .map(({ r, id }) => `--${inner}\r\n${renderResponse(r, id)}\r\n`)
      .join('');
    chunks.push(
      `--${outer}\r\nContent-Type: multipart/mixed; boundary=${inner}\r\n\r\n${parts}--${inner}--\r\n`
    );
  }
  chunks.push(`--${outer}--\r\n`);
  return {
    status: 200,
    headers: { 'Content-Type': `multipart/mixed; boundary=${outer}`, 'OData-Version': '4.0' },
    body: chunks.join('')
  };
}
