import { describe, expect, it } from 'vitest';
import { FLOWS, createFlowRegistry } from '../../src/flows/registry.ts';
import { NOOP_BUSINESS_EVENT, noopFlow } from '../../src/flows/noop.ts';
import type { Flow } from '../../src/flows/types.ts';

const flow = (name: string, extra: Partial<Flow> = {}): Flow => ({
  name,
  handle: async () => {},
  ...extra
});

describe('createFlowRegistry', () => {
  it('finds a flow by name and by the business event it consumes', () => {
    const registry = createFlowRegistry(
      [flow('invoice', { businessEvents: ['SalesInvoicePostedBusinessEvent'] })],
      { defaultMaxAttempts: 5 }
    );
    expect(registry.get('invoice')?.name).toBe('invoice');
    expect(registry.forBusinessEvent('SalesInvoicePostedBusinessEvent')?.name).toBe('invoice');
    expect(registry.forBusinessEvent('PaymentPostedBusinessEvent')).toBeUndefined();
  });

  it('uses the flow’s max attempts, else the configured default', () => {
    const registry = createFlowRegistry([], { defaultMaxAttempts: 5 });
    expect(registry.maxAttempts(flow('a', { maxAttempts: 2 }))).toBe(2);
    expect(registry.maxAttempts(flow('b'))).toBe(5);
  });

  it('refuses two flows with one name', () => {
    expect(() => createFlowRegistry([flow('a'), flow('a')], { defaultMaxAttempts: 1 })).toThrow(
      'Flow a is registered twice'
    );
  });

  it('refuses two flows for one business event', () => {
    const flows = [flow('a', { businessEvents: ['E'] }), flow('b', { businessEvents: ['E'] })];
    expect(() => createFlowRegistry(flows, { defaultMaxAttempts: 1 })).toThrow(
      'Business event E is claimed by a and b'
    );
  });

  it('finds the flow of a Pub/Sub topic and lists every topic to subscribe to', () => {
    const registry = createFlowRegistry(
      [flow('account', { topics: ['/event/D365_Account_Sync__e'] }), flow('noop')],
      { defaultMaxAttempts: 1 }
    );
    expect(registry.forTopic('/event/D365_Account_Sync__e')?.name).toBe('account');
    expect(registry.topics()).toEqual(['/event/D365_Account_Sync__e']);
  });

  it('refuses two flows for one topic', () => {
    const flows = [flow('a', { topics: ['/event/X__e'] }), flow('b', { topics: ['/event/X__e'] })];
    expect(() => createFlowRegistry(flows, { defaultMaxAttempts: 1 })).toThrow(
      'Topic /event/X__e is claimed by a and b'
    );
  });

  it('refuses a name that cannot be a metric label or URL segment', () => {
    expect(() => createFlowRegistry([flow('Bad Name')], { defaultMaxAttempts: 1 })).toThrow(
      'Invalid flow name'
    );
  });

  it('registers the no-op flow for the relay’s own test event', () => {
    const registry = createFlowRegistry(FLOWS, { defaultMaxAttempts: 1 });
    expect(registry.forBusinessEvent(NOOP_BUSINESS_EVENT)).toBe(noopFlow);
  });
});
