import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RelayMetrics } from '../../src/observability/metrics.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';

let store: SqliteStore;
let metrics: RelayMetrics;
beforeEach(async () => {
  store = new SqliteStore(':memory:');
  await store.migrate();
  metrics = new RelayMetrics(store);
});
afterEach(async () => {
  await store.close();
});

describe('RelayMetrics as the clients’ ClientObserver', () => {
  it('records request latency per system, operation and status', async () => {
    metrics.request({
      system: 'd365',
      operation: 'CustomersV3.upsert',
      status: 200,
      durationMs: 120
    });
    metrics.request({
      system: 'd365',
      operation: 'CustomersV3.upsert',
      status: 'error',
      durationMs: 5
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'relay_client_request_duration_seconds_count{system="d365",operation="CustomersV3.upsert",status="200"} 1'
    );
    expect(text).toContain('status="error"} 1');
  });

  it('counts throttled answers per system', async () => {
    metrics.throttled({ system: 'd365', retryAfterMs: 2_000 });
    metrics.throttled({ system: 'd365' });
    expect(await metrics.registry.metrics()).toContain(
      'relay_client_throttled_total{system="d365"} 2'
    );
  });

  it('reports the Salesforce API budget left', async () => {
    metrics.apiBudget({ used: 14_250, max: 15_000 });
    const text = await metrics.registry.metrics();
    expect(text).toContain('relay_salesforce_api_requests_remaining 750');
    expect(text).toContain('relay_salesforce_api_requests_max 15000');
  });

  it('reports the adaptive concurrency limit', async () => {
    metrics.concurrency({ system: 'd365', limit: 3 });
    expect(await metrics.registry.metrics()).toContain(
      'relay_client_concurrency_limit{system="d365"} 3'
    );
  });

  it('reports job outcomes per flow', async () => {
    metrics.job({ flow: 'noop', outcome: 'dead_lettered', durationMs: 3 });
    expect(await metrics.registry.metrics()).toContain(
      'relay_jobs_total{flow="noop",outcome="dead_lettered"} 1'
    );
  });
});
