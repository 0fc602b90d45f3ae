import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowContext } from '../../relay/src/flows/types.ts';
import { startHarness, TOPICS, type Harness } from './harness.ts';

/** The harness itself: the events it publishes are the Apex's, and they reach a flow through the relay. */
let harness: Harness;
const runs: Array<{ payload: Record<string, unknown>; context: FlowContext }> = [];

beforeAll(async () => {
  harness = await startHarness({
    flows: [
      {
        name: 'account',
        topics: [TOPICS.accountSync],
        handle: async (payload, context) =>
          void runs.push({ payload: payload as Record<string, unknown>, context })
      }
    ]
  });
});

afterAll(async () => harness?.close());

describe('e2e harness', () => {
  it('publishes the create event the account trigger would, and the relay runs the flow with it', async () => {
    const { id, idempotencyKey } = await harness.createAccount({
      Name: 'Harness Ltd',
      BillingCountry: 'US'
    });
    const run = await harness.waitFor(() => runs.find((r) => r.payload.Record_Id__c === id), {
      what: 'the flow run'
    });
    expect(run.context.idempotencyKey).toBe(`sf:${idempotencyKey}`);
    expect(run.context.config?.D365_DEFAULT_LEGAL_ENTITY).toBe('usmf');
    expect(run.payload).toMatchObject({
      Operation__c: 'create',
      Legal_Entity__c: 'usmf',
      D365_Customer_Number__c: null
    });
    expect(String(run.payload.Changed_Fields__c).split(',')).toContain('BillingCountry');
    expect(JSON.parse(String(run.payload.Payload__c))).toMatchObject({
      Id: id,
      Name: 'Harness Ltd',
      BillingCountry: 'US',
      CurrencyIsoCode: null
    });
  });

  it('publishes an update event with only the changed mapped fields, and none for unmapped changes', async () => {
    const { id } = await harness.createAccount({ Name: 'Changes Inc' });
    expect(await harness.updateAccount(id, { D365_Sync_Status__c: 'Pending' })).toBeNull();
    const published = await harness.updateAccount(id, { Phone: '+1 555 0100' });
    const run = await harness.waitFor(
      () => runs.find((r) => `sf:${published?.idempotencyKey}` === r.context.idempotencyKey),
      { what: 'the update run' }
    );
    expect(run.payload.Changed_Fields__c).toBe('Phone');
  });

  it("observes the topics on the test's own subscription", async () => {
    const { id } = await harness.createAccount({ Name: 'Observed' });
    await harness.waitFor(
      () => harness.events(TOPICS.accountSync).some((e) => e.payload.Record_Id__c === id),
      { what: 'the observed event' }
    );
  });
});
