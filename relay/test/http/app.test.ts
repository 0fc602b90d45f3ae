import { afterEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/types.ts';
import { fakeClients } from '../helpers.ts';
import { CALLOUT_KEY, admin, buildTestApp, type TestApp } from './build.ts';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('probes', () => {
  it('GET /healthz answers ok', async () => {
    t = await buildTestApp();
    const res = await t.app.inject('/healthz');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz is 200 when the store and both credential checks pass', async () => {
    t = await buildTestApp();
    const res = await t.app.inject('/readyz');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      status: 'ready',
      checks: { store: 'ok', d365: 'ok', salesforce: 'ok' }
    });
  });

  it('GET /readyz is 503 and names the failing dependency without its error', async () => {
    t = await buildTestApp({ clients: fakeClients({ salesforceOk: false }) });
    const res = await t.app.inject('/readyz');
    expect(res.statusCode).toBe(503);
    expect(res.json().checks).toEqual({ store: 'ok', d365: 'ok', salesforce: 'failed' });
    expect(res.body).not.toContain('rejected');
  });

  it('GET /readyz is 503 when the store is closed', async () => {
    t = await buildTestApp();
    await t.store.close();
    const res = await t.app.inject('/readyz');
    expect(res.statusCode).toBe(503);
    expect(res.json().checks.store).toBe('failed');
  });
});

describe('OpenAPI', () => {
  it('serves the document with every route at /docs/json', async () => {
    t = await buildTestApp();
    const res = await t.app.inject('/docs/json');
    expect(res.statusCode).toBe(200);
    const paths = Object.keys(res.json().paths);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/healthz',
        '/readyz',
        '/metrics',
        '/api/v1/ping',
        '/api/v1/business-events/{secret}',
        '/api/v1/admin/dead-letters',
        '/api/v1/admin/dead-letters/{id}',
        '/api/v1/admin/dead-letters/{id}/replay',
        '/api/v1/admin/sync/{flow}',
        '/api/v1/admin/ledger',
        '/api/v1/admin/status'
      ])
    );
  });

  it('serves the UI at /docs, with its assets, built on the first request', async () => {
    t = await buildTestApp();
    const page = await t.app.inject('/docs/');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['x-correlation-id']).toBeDefined();
    const script = await t.app.inject('/docs/static/swagger-ui-bundle.js');
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toContain('javascript');
    expect(Number(script.headers['content-length'])).toBe(script.rawPayload.length);
    // The UI reads the relay's own document.
    const initializer = await t.app.inject('/docs/static/swagger-initializer.js');
    expect(initializer.body).toContain('./json');
    const yaml = await t.app.inject('/docs/yaml');
    expect(yaml.body).toContain('/api/v1/admin/dead-letters:');
  });

  it('answers 304 to a cached UI asset and 404 outside the UI’s files', async () => {
    t = await buildTestApp();
    const first = await t.app.inject('/docs/static/swagger-ui.css');
    expect(first.headers.etag).toBeDefined();
    const again = await t.app.inject({
      url: '/docs/static/swagger-ui.css',
      headers: { 'if-none-match': String(first.headers.etag) }
    });
    expect(again.statusCode).toBe(304);
    for (const url of ['/docs/static/nothing.js', '/docs/static/..%2f..%2fpackage.json']) {
      expect((await t.app.inject(url)).statusCode).toBe(404);
    }
  });
});

describe('GET /metrics', () => {
  it('requires the admin token', async () => {
    t = await buildTestApp();
    expect((await t.app.inject('/metrics')).statusCode).toBe(401);
  });

  it('exposes queue depth, dead letters, job, HTTP and client metrics', async () => {
    t = await buildTestApp();
    await t.store.intake([
      {
        event: {
          idempotencyKey: 'k',
          source: 'admin',
          topic: 't',
          payload: {},
          correlationId: 'c'
        },
        job: { flow: 'noop', maxAttempts: 1 }
      }
    ]);
    await t.app.inject('/healthz');
    const res = await t.app.inject({ url: '/metrics', headers: admin });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toContain('relay_queue_depth{flow="noop"} 1');
    expect(res.body).toContain('# TYPE relay_dead_letters gauge');
    expect(res.body).toContain(
      'relay_http_request_duration_seconds_count{method="GET",route="/healthz",status_code="200"} 1'
    );
    expect(res.body).toContain('# TYPE relay_client_throttled_total counter');
    expect(res.body).toContain('# TYPE relay_salesforce_api_requests_remaining gauge');
    expect(res.body).toContain('relay_process_resident_memory_bytes');
  });
});

describe('GET /api/v1/ping (Named Credential callout)', () => {
  it('answers 200 with the X-Relay-Key the External Credential sends', async () => {
    t = await buildTestApp();
    const res = await t.app.inject({
      url: '/api/v1/ping',
      headers: { 'x-relay-key': CALLOUT_KEY }
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().status).toBe('ok');
  });

  it.each([
    ['no header', {}],
    ['a wrong key', { 'x-relay-key': 'wrong' }],
    ['the key with a different case', { 'x-relay-key': CALLOUT_KEY.toUpperCase() }],
    ['the key with trailing space', { 'x-relay-key': `${CALLOUT_KEY} ` }],
    ['the key as a bearer token', { authorization: `Bearer ${CALLOUT_KEY}` }],
    ['the admin token', { authorization: admin.authorization }]
  ])('answers 401 to %s', async (_name, headers) => {
    t = await buildTestApp();
    const res = await t.app.inject({ url: '/api/v1/ping', headers });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'RELAY_ERR_UNAUTHORIZED' });
  });

  it('keeps the callout key out of the log', async () => {
    t = await buildTestApp();
    await t.app.inject({ url: '/api/v1/ping', headers: { 'x-relay-key': CALLOUT_KEY } });
    expect(t.logs.join('')).not.toContain(CALLOUT_KEY);
  });
});

describe('errors and correlation', () => {
  it('hides the internals of a 5xx and logs them with the correlation id', async () => {
    t = await buildTestApp({
      store: (real) =>
        new Proxy(real, {
          get(target, prop, receiver) {
            if (prop === 'counts') {
              return async () => {
                throw new Error('password authentication failed for postgres://relay:hunter2@db');
              };
            }
            const value = Reflect.get(target, prop, receiver) as unknown;
            return typeof value === 'function' ? value.bind(target) : value;
          }
        }) as Store
    });
    const res = await t.app.inject({
      url: '/api/v1/admin/status',
      headers: { ...admin, 'x-correlation-id': 'trace-123' }
    });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({
      code: 'RELAY_ERR_INTERNAL',
      message: 'Internal Server Error',
      correlationId: 'trace-123'
    });
    expect(res.body).not.toContain('hunter2');
    const logged = t.logs.find((l) => l.includes('Unhandled error'));
    expect(logged).toContain('trace-123');
  });

  it('echoes a caller-supplied correlation id', async () => {
    t = await buildTestApp();
    const res = await t.app.inject({
      url: '/healthz',
      headers: { 'x-correlation-id': 'sf-abc.1' }
    });
    expect(res.headers['x-correlation-id']).toBe('sf-abc.1');
  });

  it('replaces a correlation id that is not a safe token with a fresh one', async () => {
    t = await buildTestApp();
    const res = await t.app.inject({
      url: '/healthz',
      headers: { 'x-correlation-id': 'a b<script>' }
    });
    expect(res.headers['x-correlation-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers an unknown route with a coded 404', async () => {
    t = await buildTestApp();
    const res = await t.app.inject('/nope');
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('RELAY_ERR_NOT_FOUND');
  });

  it('redacts the Authorization header from request logs', async () => {
    t = await buildTestApp({ env: { RELAY_LOG_LEVEL: 'trace' } });
    await t.app.inject({ url: '/api/v1/admin/status', headers: admin });
    expect(t.logs.join('')).not.toContain(admin.authorization.slice(7));
  });
});

describe('rate limit', () => {
  it('answers 429 once a client exceeds RELAY_RATE_LIMIT_MAX in the window', async () => {
    t = await buildTestApp({ env: { RELAY_RATE_LIMIT_MAX: '3' } });
    const codes: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      codes.push((await t.app.inject({ url: '/api/v1/admin/status', headers: admin })).statusCode);
    }
    expect(codes).toEqual([200, 200, 200, 429]);
  });

  it('limits requests for unknown routes too', async () => {
    t = await buildTestApp({ env: { RELAY_RATE_LIMIT_MAX: '2' } });
    const codes: number[] = [];
    for (let i = 0; i < 3; i += 1) codes.push((await t.app.inject(`/guess-${i}`)).statusCode);
    expect(codes).toEqual([404, 404, 429]);
  });

  it('never limits the probes', async () => {
    t = await buildTestApp({ env: { RELAY_RATE_LIMIT_MAX: '1' } });
    for (let i = 0; i < 3; i += 1) expect((await t.app.inject('/healthz')).statusCode).toBe(200);
  });
});

describe('behind a proxy', () => {
  it('rate-limits per forwarded client address when RELAY_TRUST_PROXY is set', async () => {
    t = await buildTestApp({ env: { RELAY_RATE_LIMIT_MAX: '1', RELAY_TRUST_PROXY: '1' } });
    const from = (ip: string) =>
      t!.app.inject({ url: '/api/v1/admin/status', headers: { ...admin, 'x-forwarded-for': ip } });
    expect((await from('203.0.113.1')).statusCode).toBe(200);
    expect((await from('203.0.113.2')).statusCode).toBe(200);
    expect((await from('203.0.113.1')).statusCode).toBe(429);
  });
});
