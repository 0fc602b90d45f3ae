import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EVENTS_URL, businessEvent, buildTestApp, type TestApp } from './build.ts';

let t: TestApp;
beforeEach(async () => {
  t = await buildTestApp();
});
afterEach(async () => {
  await t.close();
});

const post = (payload: unknown, url = EVENTS_URL) =>
  t.app.inject({ method: 'POST', url, payload: payload as object });

describe('POST /api/v1/business-events/:secret', () => {
  it('stores a single event and queues it for its flow', async () => {
    const event = businessEvent();
    const res = await post(event);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      accepted: 1,
      duplicates: 0,
      ignored: 0,
      results: [{ eventId: event.EventId, status: 'accepted' }]
    });
    expect((await t.store.counts()).pending).toEqual({ noop: 1 });
    expect(t.enqueued()).toBe(1);
  });

  it('accepts a JSON array of events', async () => {
    const res = await post([businessEvent(), businessEvent(), businessEvent()]);
    expect(res.json()).toMatchObject({ accepted: 3 });
    expect((await t.store.counts()).pending).toEqual({ noop: 3 });
  });

  it('acknowledges a redelivered event (same EventId) without queuing it again', async () => {
    const event = businessEvent();
    await post(event);
    const res = await post({ ...event, ControlNumber: (event.ControlNumber as number) + 1 });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ accepted: 0, duplicates: 1 });
    expect((await t.store.counts()).pending).toEqual({ noop: 1 });
  });

  it('treats the EventId case-insensitively and without braces as one key', async () => {
    const event = businessEvent();
    await post(event);
    const res = await post({ ...event, EventId: `{${String(event.EventId).toLowerCase()}}` });
    expect(res.json()).toMatchObject({ duplicates: 1 });
  });

  it('carries the EventId as correlation id into the job', async () => {
    const event = businessEvent();
    await post(event);
    const [job] = await t.store.claimJobs('w', 1, 1_000);
    expect(job!.correlationId).toBe(String(event.EventId).toLowerCase());
    expect(job!.payload).toEqual(event);
  });

  it('accepts a path secret of 200 characters', async () => {
    const secret = 'a'.repeat(200);
    const long = await buildTestApp({ env: { RELAY_BUSINESS_EVENTS_SECRET: secret } });
    try {
      const res = await long.app.inject({
        method: 'POST',
        url: `/api/v1/business-events/${secret}`,
        payload: businessEvent()
      });
      expect(res.statusCode).toBe(200);
    } finally {
      await long.close();
    }
  });

  it('acknowledges the endpoint test message and stores nothing', async () => {
    const res = await post(
      businessEvent({ BusinessEventId: 'BusinessEventsTestEndpointContract' })
    );
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ accepted: 0, results: [{ status: 'test' }] });
    expect((await t.store.counts()).pending).toEqual({});
  });

  it('acknowledges an event no flow processes and stores nothing', async () => {
    const res = await post(
      businessEvent({ BusinessEventId: 'PurchaseOrderConfirmedBusinessEvent' })
    );
    expect(res.json()).toMatchObject({ ignored: 1, accepted: 0 });
    expect((await t.store.counts()).pending).toEqual({});
  });

  it('answers 401 to a wrong path secret and stores nothing', async () => {
    const res = await post(businessEvent(), '/api/v1/business-events/not-the-secret');
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('RELAY_ERR_UNAUTHORIZED');
    expect((await t.store.counts()).pending).toEqual({});
  });

  it('checks the secret before validating, so strangers learn nothing about the envelope', async () => {
    const res = await post({ nonsense: true }, '/api/v1/business-events/not-the-secret');
    expect(res.statusCode).toBe(401);
  });

  it('never writes the path secret to the log', async () => {
    await post(businessEvent());
    await post(businessEvent(), '/api/v1/business-events/wrong-secret-value');
    const logs = t.logs.join('');
    expect(logs).toContain('/api/v1/business-events/[redacted]');
    expect(logs).not.toContain(t.config.security.businessEventsSecret);
    expect(logs).not.toContain('wrong-secret-value');
  });
});
