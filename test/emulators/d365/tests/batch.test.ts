import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { start, type D365Emulator } from '../index.ts';
import { httpClient, tokenFor, type HttpClient } from './helpers.ts';

let emu: D365Emulator;
let http: HttpClient;
let token: string;

beforeAll(async () => {
  emu = await start({ seed: 'demo' });
  http = httpClient(emu);
  token = await tokenFor(emu, http);
});
beforeEach(() => emu.control.reset());
afterAll(async () => {
  http.agent.destroy();
  await emu.close();
});

interface Op {
  method: string;
  url: string;
  body?: unknown;
  contentId?: string;
}

function part(op: Op): string {
  const lines = ['Content-Type: application/http', 'Content-Transfer-Encoding: binary'];
  if (op.contentId) lines.push(`Content-ID: ${op.contentId}`);
  lines.push(
    '',
    `${op.method} ${op.url} HTTP/1.1`,
    'Content-Type: application/json;odata.metadata=minimal',
    'Accept: application/json',
    ''
  );
  lines.push(op.body === undefined ? '' : JSON.stringify(op.body));
  return lines.join('\r\n');
}

function batch(items: Array<Op | Op[]>): string {
  const out: string[] = [];
  items.forEach((item, i) => {
    if (Array.isArray(item)) {
      const cs = `changeset_${i}`;
      out.push(
        `--batch_b\r\nContent-Type: multipart/mixed; boundary=${cs}\r\n\r\n${item.map((op) => `--${cs}\r\n${part(op)}\r\n`).join('')}--${cs}--`
      );
    } else out.push(`--batch_b\r\n${part(item)}`);
  });
  return `${out.join('\r\n')}\r\n--batch_b--\r\n`;
}

function post(body: string) {
  return http.send('POST', '/data/$batch', body, {
    authorization: `Bearer ${token}`,
    'content-type': 'multipart/mixed; boundary=batch_b'
  });
}

function statuses(body: string): number[] {
  return [...body.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
}

describe('$batch', () => {
  it('answers multipart/mixed with one response part per request', async () => {
    const r = await post(
      batch([
        { method: 'GET', url: 'CustomerGroups?$top=1' },
        { method: 'GET', url: `${emu.url}/data/LegalEntities` }
      ])
    );
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^multipart\/mixed; boundary=batchresponse_/);
    expect(statuses(r.body)).toEqual([200, 200]);
  });

  it('commits a changeset and resolves $1 Content-ID references for header and lines', async () => {
    const r = await post(
      batch([
        [
          {
            method: 'POST',
            url: 'SalesOrderHeadersV2',
            contentId: '1',
            body: { OrderingCustomerAccountNumber: 'US-004' }
          },
          {
            method: 'POST',
            url: '$1/SalesOrderLines',
            contentId: '2',
            body: { ItemNumber: 'D0002', OrderedSalesQuantity: 2 }
          }
        ]
      ])
    );
    expect(statuses(r.body)).toEqual([201, 201]);
    expect(r.body).toMatch(/Content-ID: 2/);
    const line = JSON.parse(
      r.body.split('\r\n').find((l) => l.includes('"InventoryLotId"'))!
    ) as Record<string, unknown>;
    const lines = emu.control.read('SalesOrderLines', {
      filter: `SalesOrderNumber eq '${line.SalesOrderNumber}'`
    });
    expect(lines).toHaveLength(1);
  });

  it('rolls back a failed changeset as a whole and answers one error part with status 500', async () => {
    const before = emu.control.read('CustomerGroups').length;
    const r = await post(
      batch([
        [
          {
            method: 'POST',
            url: 'CustomerGroups',
            contentId: '1',
            body: { CustomerGroupId: 'B1', Description: 'Batch 1' }
          },
          {
            method: 'POST',
            url: 'CustomerGroups',
            contentId: '2',
            body: { CustomerGroupId: '10', Description: 'duplicate' }
          }
        ]
      ])
    );
    expect(r.status).toBe(200);
    expect(statuses(r.body)).toEqual([500]);
    expect(r.body).toMatch(/Content-ID: 1\r\n/);
    expect(r.body).toMatch(/AxODataWriteException/);
    expect(emu.control.read('CustomerGroups')).toHaveLength(before);
  });

  it('runs operations outside changesets independently', async () => {
    const r = await post(
      batch([
        { method: 'POST', url: 'CustomerGroups', body: { CustomerGroupId: '10' } },
        {
          method: 'POST',
          url: 'CustomerGroups',
          body: { CustomerGroupId: 'B2', Description: 'ok' }
        }
      ])
    );
    expect(statuses(r.body)).toEqual([500, 201]);
  });

  it('throttles individual parts with 429 and Retry-After', async () => {
    emu.control.setThrottling({ requestsPerSecond: 2, burst: 2, retryAfterSeconds: 7 });
    const r = await post(batch([1, 2, 3, 4].map(() => ({ method: 'GET', url: 'LegalEntities' }))));
    expect(statuses(r.body)).toEqual([200, 200, 429, 429]);
    expect(r.body).toMatch(/Retry-After: 7/);
    expect(emu.control.counters().batches).toBe(1);
  });
});
