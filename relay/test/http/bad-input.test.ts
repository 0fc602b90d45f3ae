import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS_URL, admin, businessEvent, buildTestApp, type TestApp } from './build.ts';

/**
 * The bad-input corpus: every case gets a clear 4xx with a coded reason, nothing is stored, and the
 * app keeps serving.
 */
let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => {
  await t.close();
});

interface Case {
  name: string;
  method?: 'GET' | 'POST' | 'DELETE';
  url?: string;
  headers?: Record<string, string>;
  body?: string;
  status: number;
  code: string;
  message?: RegExp;
}

const json = { 'content-type': 'application/json' };
const event = (overrides: Record<string, unknown>) => JSON.stringify(businessEvent(overrides));

const cases: Case[] = [
  {
    name: 'malformed JSON',
    headers: json,
    body: '{"BusinessEventId": "X",',
    status: 400,
    code: 'RELAY_ERR_INVALID_JSON'
  },
  {
    name: 'an empty JSON body',
    headers: json,
    body: '',
    status: 400,
    code: 'RELAY_ERR_INVALID_JSON'
  },
  {
    name: 'text/plain',
    headers: { 'content-type': 'text/plain' },
    body: event({}),
    status: 415,
    code: 'RELAY_ERR_UNSUPPORTED_MEDIA_TYPE'
  },
  {
    name: 'XML',
    headers: { 'content-type': 'application/xml' },
    body: '<event/>',
    status: 415,
    code: 'RELAY_ERR_UNSUPPORTED_MEDIA_TYPE'
  },
  {
    name: 'a form post',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'a=b',
    status: 415,
    code: 'RELAY_ERR_UNSUPPORTED_MEDIA_TYPE'
  },
  {
    name: 'a body over RELAY_BODY_LIMIT_BYTES',
    headers: json,
    body: event({ Padding: 'x'.repeat(70_000) }),
    status: 413,
    code: 'RELAY_ERR_BODY_TOO_LARGE'
  },
  {
    name: 'a JSON string',
    headers: json,
    body: '"event"',
    status: 400,
    code: 'RELAY_ERR_VALIDATION'
  },
  { name: 'JSON null', headers: json, body: 'null', status: 400, code: 'RELAY_ERR_VALIDATION' },
  { name: 'an empty array', headers: json, body: '[]', status: 400, code: 'RELAY_ERR_VALIDATION' },
  {
    name: 'an event without EventId',
    headers: json,
    body: JSON.stringify({ ...businessEvent(), EventId: undefined }),
    status: 400,
    code: 'RELAY_ERR_VALIDATION',
    message: /EventId/
  },
  {
    name: 'an EventId that is not a GUID',
    headers: json,
    body: event({ EventId: 'not-a-guid' }),
    status: 400,
    code: 'RELAY_ERR_VALIDATION',
    message: /body\/EventId must match pattern/
  },
  {
    name: 'an EventId carrying quotes (SQL injection attempt)',
    headers: json,
    body: event({ EventId: "0F7C2A4B-1D3E-4F60-9A8B-2C1D0E9F8A7B'; DROP TABLE inbox; --" }),
    status: 400,
    code: 'RELAY_ERR_VALIDATION',
    message: /EventId/
  },
  {
    name: 'a BusinessEventId carrying quotes',
    headers: json,
    body: event({ BusinessEventId: 'Sales"Invoice\'PostedBusinessEvent' }),
    status: 400,
    code: 'RELAY_ERR_VALIDATION',
    message: /BusinessEventId/
  },
  {
    name: 'a legal entity carrying quotes',
    headers: json,
    body: event({ BusinessEventLegalEntity: "us'mf" }),
    status: 400,
    code: 'RELAY_ERR_VALIDATION',
    message: /BusinessEventLegalEntity/
  },
  {
    name: 'a ControlNumber that is a string',
    headers: json,
    body: event({ ControlNumber: 'abc' }),
    status: 400,
    code: 'RELAY_ERR_VALIDATION',
    message: /ControlNumber/
  },
  {
    name: 'an EventTime that is not a WCF date',
    headers: json,
    body: event({ EventTime: '2024-05-01T10:00:00Z' }),
    status: 400,
    code: 'RELAY_ERR_VALIDATION',
    message: /EventTime/
  },
  {
    name: 'one bad event in an array of good ones',
    headers: json,
    body: JSON.stringify([businessEvent(), businessEvent({ EventId: 'x' }), businessEvent()]),
    status: 400,
    code: 'RELAY_ERR_VALIDATION',
    message: /body\/1\/EventId/
  },
  {
    name: 'more events than one request may carry',
    headers: json,
    body: JSON.stringify(
      Array.from({ length: 501 }, () => ({
        BusinessEventId: 'A',
        ControlNumber: 1,
        EventId: '0F7C2A4B-1D3E-4F60-9A8B-2C1D0E9F8A7B'
      }))
    ),
    status: 400,
    code: 'RELAY_ERR_VALIDATION'
  },
  {
    name: 'a __proto__ key (prototype poisoning)',
    headers: json,
    body: `{"__proto__": {"polluted": true}, ${event({}).slice(1)}`,
    status: 400,
    code: 'RELAY_ERR_INVALID_JSON'
  },
  {
    name: 'an unknown query parameter on the admin API',
    method: 'GET',
    url: '/api/v1/admin/dead-letters?limit=5&fleet=noop',
    headers: admin,
    status: 400,
    code: 'RELAY_ERR_VALIDATION',
    message: /fleet/
  },
  {
    name: 'a misspelt sync option',
    method: 'POST',
    url: '/api/v1/admin/sync/noop?fulll=true',
    headers: admin,
    status: 400,
    code: 'RELAY_ERR_VALIDATION',
    message: /fulll/
  },
  {
    name: 'a dead-letter id that is not a number',
    method: 'GET',
    url: '/api/v1/admin/dead-letters/abc',
    headers: admin,
    status: 400,
    code: 'RELAY_ERR_VALIDATION'
  },
  {
    name: 'a page size over the maximum',
    method: 'GET',
    url: '/api/v1/admin/dead-letters?limit=100000',
    headers: admin,
    status: 400,
    code: 'RELAY_ERR_VALIDATION',
    message: /limit/
  },
  {
    name: 'a ledger filter with quotes',
    method: 'GET',
    url: `/api/v1/admin/ledger?salesforceId=${encodeURIComponent("001' OR '1'='1")}`,
    headers: admin,
    status: 400,
    code: 'RELAY_ERR_VALIDATION',
    message: /salesforceId/
  }
];

describe('bad input', () => {
  it.each(cases)('answers $status ($code) to $name and stores nothing', async (c) => {
    const res = await t.app.inject({
      method: c.method ?? 'POST',
      url: c.url ?? EVENTS_URL,
      headers: c.headers ?? {},
      ...(c.body !== undefined ? { payload: c.body } : {})
    });
    expect(res.statusCode).toBe(c.status);
    const body = res.json();
    expect(body.code).toBe(c.code);
    expect(body.message).toEqual(expect.any(String));
    if (c.message) expect(body.message).toMatch(c.message);
    expect(await t.store.counts()).toEqual({ pending: {}, running: 0, deadLetters: {} });
    expect((await t.app.inject('/healthz')).statusCode).toBe(200);
  });

  it('stores quotes inside contract field names and values verbatim', async () => {
    const sent = businessEvent({
      'Invoice"Id': "CIV-'000123'",
      Name: 'Bloomingdale\'s "Flagship"'
    });
    const res = await t.app.inject({ method: 'POST', url: EVENTS_URL, payload: sent });
    expect(res.statusCode).toBe(200);
    const [job] = await t.store.claimJobs('w', 1, 1_000);
    expect(job!.payload).toEqual(sent);
    await t.store.completeJob(job!.id, 'w');
  });
});
