/**
 * OData $batch for D365: builds the multipart/mixed request and parses the multipart response.
 * Changesets are atomic in D365 ("either all the requests are run successfully or … none"); a failed
 * changeset comes back as a single error part, and the outer response is 200 even then.
 */

import { randomUUID } from 'node:crypto';
import type { ClientError } from '../net/errors.ts';
import { d365Error } from './errors.ts';

/** D365: "In finance and operations apps, batch size is limited to 5,000 operations." */
export const D365_MAX_BATCH_OPERATIONS = 5_000;

export interface BatchOperation {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** Path under /data, e.g. `CustomersV3` or `CustomersV3(dataAreaId='usmf',CustomerAccount='US-001')`. */
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A top-level item: one operation, or an array of operations forming an atomic changeset. */
export type BatchItem = BatchOperation | readonly BatchOperation[];

export interface BatchResponse {
  contentId?: string;
  status: number;
  headers: Record<string, string>;
  body: unknown;
  error?: ClientError;
}

export type BatchItemResult =
  | { kind: 'operation'; response: BatchResponse }
  | { kind: 'changeset'; ok: boolean; responses: BatchResponse[] };

const CRLF = '\r\n';
/** OData: a request URL starting with `$<Content-ID>` refers to an entity created earlier in the changeset. */
const CONTENT_ID_REFERENCE = /^\$\d+(?:\/|$)/;

export interface BuiltBatch {
  contentType: string;
  body: string;
}

export function buildBatchRequest(
  items: readonly BatchItem[],
  dataUrl: string,
  boundaryId: () => string = randomUUID
): BuiltBatch {
  const operations = items.reduce((sum, item) => sum + (isChangeset(item) ? item.length : 1), 0);
  if (operations === 0) throw new TypeError('A $batch needs at least one operation');
  if (operations > D365_MAX_BATCH_OPERATIONS) {
    throw new TypeError(
      `A D365 $batch holds at most ${D365_MAX_BATCH_OPERATIONS} operations, got ${operations}`
    );
  }
  const batchBoundary = `batch_${boundaryId()}`;
  const lines: string[] = [];
  let contentId = 0;
  for (const item of items) {
    lines.push(`--${batchBoundary}`);
    if (isChangeset(item)) {
      if (item.length === 0) throw new TypeError('A changeset needs at least one operation');
      if (item.some((op) => op.method === 'GET'))
        throw new TypeError('GET is not allowed inside a changeset');
      const changesetBoundary = `changeset_${boundaryId()}`;
      lines.push(`Content-Type: multipart/mixed; boundary=${changesetBoundary}`, '');
      for (const op of item) {
        contentId += 1;
        lines.push(`--${changesetBoundary}`, ...operationPart(op, dataUrl, String(contentId)));
      }
      lines.push(`--${changesetBoundary}--`);
    } else {
      contentId += 1;
      lines.push(...operationPart(item, dataUrl, String(contentId)));
    }
  }
  lines.push(`--${batchBoundary}--`, '');
  return { contentType: `multipart/mixed; boundary=${batchBoundary}`, body: lines.join(CRLF) };
}

function isChangeset(item: BatchItem): item is readonly BatchOperation[] {
  return Array.isArray(item);
}

function operationPart(op: BatchOperation, dataUrl: string, contentId: string): string[] {
  if (/[\r\n\s]/.test(op.path))
    throw new TypeError(`Invalid path in $batch: ${JSON.stringify(op.path)}`);
  const lines = [
    'Content-Type: application/http',
    'Content-Transfer-Encoding: binary',
    `Content-ID: ${contentId}`,
    '',
    `${op.method} ${CONTENT_ID_REFERENCE.test(op.path) ? op.path : `${dataUrl}/${op.path}`} HTTP/1.1`,
    'OData-Version: 4.0',
    'OData-MaxVersion: 4.0',
    'Accept: application/json;odata.metadata=minimal'
  ];
  for (const [name, value] of Object.entries(op.headers ?? {})) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value))
      throw new TypeError('Header values cannot contain line breaks');
    lines.push(`${name}: ${value}`);
  }
  if (op.body !== undefined) {
    lines.push(
      'Content-Type: application/json;odata.metadata=minimal',
      '',
      JSON.stringify(op.body)
    );
  } else {
    lines.push('');
  }
  lines.push('');
  return lines;
}

interface MimePart {
  headers: Record<string, string>;
  body: string;
}

export function boundaryOf(contentType: string | undefined): string | undefined {
  const match = /boundary=("?)([^";]+)\1/i.exec(contentType ?? '');
  return match?.[2]?.trim();
}

/** Splits a multipart body into its parts; tolerates LF-only line endings and transport padding. */
export function parseMultipart(body: string, boundary: string): MimePart[] {
  const delimiter = `--${boundary}`;
  const parts: MimePart[] = [];
  const segments = body.split(delimiter);
  // segments[0] is the preamble; a segment starting with "--" is the closing delimiter's epilogue.
  for (const segment of segments.slice(1)) {
    if (segment.startsWith('--')) break;
    const content = segment.replace(/^[ \t]*\r?\n/, '').replace(/\r?\n$/, '');
    const { headers, rest } = splitHeaders(content);
    parts.push({ headers, body: rest });
  }
  return parts;
}

function splitHeaders(text: string): { headers: Record<string, string>; rest: string } {
  const match = /\r?\n\r?\n/.exec(text);
  const head = match ? text.slice(0, match.index) : text;
  const rest = match ? text.slice(match.index + match[0].length) : '';
  const headers: Record<string, string> = {};
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, rest };
}

function parseHttpPart(part: MimePart): BatchResponse {
  const statusLineEnd = part.body.search(/\r?\n/);
  const statusLine = statusLineEnd >= 0 ? part.body.slice(0, statusLineEnd) : part.body;
  const statusMatch = /^HTTP\/1\.[01]\s+(\d{3})/.exec(statusLine.trim());
  if (!statusMatch)
    throw new TypeError(
      `Unreadable $batch part status line: ${JSON.stringify(statusLine.slice(0, 80))}`
    );
  const status = Number(statusMatch[1]);
  const afterStatus =
    statusLineEnd >= 0 ? part.body.slice(statusLineEnd).replace(/^\r?\n/, '') : '';
  const { headers, rest } = splitHeaders(afterStatus);
  const text = rest.trim();
  let body: unknown = text === '' ? undefined : text;
  if (text !== '' && (headers['content-type'] ?? '').includes('json')) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  const contentId = part.headers['content-id'] ?? headers['content-id'];
  const response: BatchResponse = { status, headers, body };
  if (contentId !== undefined) response.contentId = contentId;
  if (status >= 400) response.error = d365Error('$batch operation', status, body, headers);
  return response;
}

/** Parses the $batch response into one result per request item, in request order. */
export function parseBatchResponse(
  body: string,
  contentType: string | undefined
): BatchItemResult[] {
  const boundary = boundaryOf(contentType);
  if (!boundary) throw new TypeError('The $batch response has no multipart boundary');
  return parseMultipart(body, boundary).map((part): BatchItemResult => {
    const partType = part.headers['content-type'] ?? '';
    if (partType.toLowerCase().startsWith('multipart/mixed')) {
      const inner = boundaryOf(partType);
      if (!inner) throw new TypeError('A changeset response part has no boundary');
      const responses = parseMultipart(part.body, inner).map(parseHttpPart);
      return { kind: 'changeset', ok: responses.every((r) => r.status < 400), responses };
    }
    return { kind: 'operation', response: parseHttpPart(part) };
  });
}
