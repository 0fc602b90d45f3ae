import { describe, expect, it } from 'vitest';
import { buildBatchRequest, parseBatchResponse } from '../../src/d365/batch.ts';

const ids = (): (() => string) => {
  let n = 0;
  return () => `id${++n}`;
};

describe('buildBatchRequest', () => {
  it('wraps a changeset in its own boundary with numbered Content-IDs and absolute URLs', () => {
    const built = buildBatchRequest(
      [
        [
          {
            method: 'POST',
            path: 'CustomerGroups',
            body: { CustomerGroupId: 'B1', dataAreaId: 'usmf' }
          },
          {
            method: 'POST',
            path: 'CustomerGroups',
            body: { CustomerGroupId: 'B2', dataAreaId: 'usmf' }
          }
        ],
        { method: 'GET', path: "CustomerGroups(dataAreaId='usmf',CustomerGroupId='10')" }
      ],
      'https://env.example/data',
      ids()
    );
    expect(built.contentType).toBe('multipart/mixed; boundary=batch_id1');
    const lines = built.body.split('\r\n');
    expect(lines[0]).toBe('--batch_id1');
    expect(lines[1]).toBe('Content-Type: multipart/mixed; boundary=changeset_id2');
    expect(lines).toContain('POST https://env.example/data/CustomerGroups HTTP/1.1');
    expect(lines).toContain('{"CustomerGroupId":"B2","dataAreaId":"usmf"}');
    expect(lines.filter((l) => l.startsWith('Content-ID:'))).toEqual([
      'Content-ID: 1',
      'Content-ID: 2',
      'Content-ID: 3'
    ]);
    expect(lines).toContain('--changeset_id2--');
    expect(built.body.endsWith('--batch_id1--\r\n')).toBe(true);
  });

  it('leaves a $<Content-ID> reference unprefixed so it resolves to the entity created earlier', () => {
    const built = buildBatchRequest(
      [
        [
          { method: 'POST', path: 'SalesOrderHeadersV2', body: { dataAreaId: 'usmf' } },
          { method: 'POST', path: '$1/SalesOrderLines', body: { ItemNumber: 'D0001' } }
        ]
      ],
      'https://env.example/data',
      ids()
    );
    const lines = built.body.split('\r\n');
    expect(lines).toContain('POST https://env.example/data/SalesOrderHeadersV2 HTTP/1.1');
    expect(lines).toContain('POST $1/SalesOrderLines HTTP/1.1');
  });

  it('refuses GET inside a changeset', () => {
    expect(() =>
      buildBatchRequest([[{ method: 'GET', path: 'CustomerGroups' }]], 'https://e/data')
    ).toThrow(/changeset/);
  });

  it('refuses a path that would inject a header line', () => {
    expect(() =>
      buildBatchRequest([{ method: 'GET', path: 'A HTTP/1.1\r\nX: y' }], 'https://e/data')
    ).toThrow(TypeError);
  });
});

describe('parseBatchResponse', () => {
  // Shape of the failed-changeset response captured from a real D365 box (d365-fo.md §2).
  const failed = [
    '--batchresponse_5a29',
    'Content-Type: multipart/mixed; boundary=changesetresponse_1209',
    '',
    '--changesetresponse_1209',
    'Content-Type: application/http',
    'Content-Transfer-Encoding: binary',
    'Content-ID: 1',
    '',
    'HTTP/1.1 500 Internal Server Error',
    'Content-Type: application/json; odata.metadata=minimal; charset=utf-8',
    'OData-Version: 4.0',
    '',
    JSON.stringify({
      error: {
        code: '',
        message: 'An error has occurred.',
        innererror: {
          message:
            "Write failed for table row of type 'CustCustomerGroupEntity'. Infolog: Info: Cannot create a record in Customer groups (CustGroup). Customer group: Batch2, Batch 2 Test group T1.\nThe record already exists..",
          type: 'Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException'
        }
      }
    }),
    '--changesetresponse_1209--',
    '--batchresponse_5a29',
    'Content-Type: application/http',
    'Content-Transfer-Encoding: binary',
    '',
    'HTTP/1.1 200 OK',
    'Content-Type: application/json; odata.metadata=minimal',
    '',
    '{"CustomerGroupId":"10"}',
    '--batchresponse_5a29--',
    ''
  ].join('\r\n');

  it('reports a failed changeset as one error part with the Infolog text', () => {
    const [changeset, get] = parseBatchResponse(
      failed,
      'multipart/mixed; boundary=batchresponse_5a29'
    );
    expect(changeset).toMatchObject({ kind: 'changeset', ok: false });
    if (changeset?.kind !== 'changeset') throw new Error('expected a changeset');
    expect(changeset.responses).toHaveLength(1);
    expect(changeset.responses[0]?.error).toMatchObject({ kind: 'conflict', retryable: false });
    expect(changeset.responses[0]?.error?.message).toContain('The record already exists.');
    expect(get).toMatchObject({
      kind: 'operation',
      response: { status: 200, body: { CustomerGroupId: '10' } }
    });
  });

  it('accepts LF-only line endings', () => {
    const lf = failed.replaceAll('\r\n', '\n');
    expect(parseBatchResponse(lf, 'multipart/mixed; boundary=batchresponse_5a29')).toHaveLength(2);
  });

  it('surfaces a 429 inside a part as a throttled error with its Retry-After', () => {
    const body = [
      '--b',
      'Content-Type: application/http',
      '',
      'HTTP/1.1 429 Too Many Requests',
      'Retry-After: 3',
      '',
      '',
      '--b--'
    ].join('\r\n');
    const [part] = parseBatchResponse(body, 'multipart/mixed; boundary=b');
    expect(part).toMatchObject({
      kind: 'operation',
      response: { status: 429, error: { kind: 'throttled', retryAfterMs: 3000 } }
    });
  });
});
