import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { start, type D365Emulator } from '../index.ts';
import { dataClient, innerMessage, type DataClient } from './helpers.ts';

let emu: D365Emulator;
let api: DataClient;

beforeAll(async () => {
  emu = await start({ seed: 'demo' });
  api = await dataClient(emu);
});
beforeEach(() => emu.control.reset());
afterAll(async () => {
  api.http.agent.destroy();
  await emu.close();
});

const DMF_STATUS =
  '/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities.GetExecutionSummaryStatus';

describe('service protection', () => {
  it('answers 429 with an integer Retry-After once the resource capacity is used up', async () => {
    emu.control.setThrottling({ requestsPerSecond: 1, burst: 2 });
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await api.get('/data/LegalEntities')).status);
    expect(codes).toEqual([200, 200, 429]);
    const r = await api.get('/data/LegalEntities');
    expect(r.headers['retry-after']).toMatch(/^\d+$/);
    expect(innerMessage(r)).toMatch(/high resource utilization/);
  });

  it('exempts the DMF package API from throttling', async () => {
    emu.control.setThrottling({ requestsPerSecond: 1, burst: 1 });
    await api.get('/data/LegalEntities');
    expect((await api.get('/data/LegalEntities')).status).toBe(429);
    expect((await api.post(DMF_STATUS, { executionId: 'x' })).status).toBe(200);
  });

  it('enforces the legacy per-user request limit with its documented message', async () => {
    emu.control.setThrottling({ userLimits: { requests: 3 } });
    for (let i = 0; i < 3; i++) expect((await api.get('/data/LegalEntities')).status).toBe(200);
    const r = await api.get('/data/LegalEntities');
    expect(r.status).toBe(429);
    expect(innerMessage(r)).toBe(
      'Number of requests exceeded the limit of 3 over the time window of 300 seconds.'
    );
  });

  it('enforces the legacy execution-time limit over the sliding window', async () => {
    emu.control.setThrottling({ userLimits: { executionSeconds: 0.1 } });
    emu.control.setFaults({ latency: { minMs: 150, maxMs: 150 } });
    expect((await api.get('/data/LegalEntities')).status).toBe(200);
    const r = await api.get('/data/LegalEntities');
    expect(r.status).toBe(429);
    expect(innerMessage(r)).toMatch(
      /^Combined execution time of incoming requests exceeded the limit of 0.1 seconds over the time window of 300 seconds/
    );
    expect(Number(r.headers['retry-after'])).toBeGreaterThan(250);
  });

  it('enforces the legacy concurrency limit', async () => {
    emu.control.setThrottling({ userLimits: { concurrent: 1 } });
    emu.control.setFaults({ latency: { minMs: 150, maxMs: 150 } });
    const [a, b] = await Promise.all([
      api.get('/data/LegalEntities'),
      api.get('/data/LegalEntities')
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 429]);
  });

  it('answers every request 429 during a storm', async () => {
    emu.control.throttleStorm({ seconds: 5, retryAfterSeconds: 30 });
    const r = await api.get('/data/LegalEntities');
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBe('30');
  });

  it('counts 429s and requests per entity and method', async () => {
    emu.control.setThrottling({ requestsPerSecond: 1, burst: 1 });
    await api.get('/data/LegalEntities');
    await api.get('/data/LegalEntities');
    const c = emu.control.counters();
    expect(c.throttled).toBe(1);
    expect(c.requests.LegalEntities).toEqual({ GET: 1 });
  });
});

describe('fault injection', () => {
  it('adds latency', async () => {
    emu.control.setFaults({ latency: { minMs: 120, maxMs: 120 } });
    const t = Date.now();
    await api.get('/data/LegalEntities');
    expect(Date.now() - t).toBeGreaterThanOrEqual(110);
  });

  it('answers the configured 5xx at the configured rate', async () => {
    emu.control.setFaults({ errorRate: 1, errorStatus: 502 });
    expect((await api.get('/data/LegalEntities')).status).toBe(502);
  });

  it('drops the connection without a response', async () => {
    emu.control.queueFaults([{ kind: 'drop' }]);
    await expect(api.get('/data/LegalEntities')).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(emu.control.counters().droppedConnections).toBe(1);
  });

  it('applies scripted faults in order, then serves normally', async () => {
    emu.control.queueFaults([
      { kind: 'status', status: 429, retryAfter: 2 },
      { kind: 'status', status: 503 }
    ]);
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await api.get('/data/LegalEntities')).status);
    expect(codes).toEqual([429, 503, 200]);
  });
});
