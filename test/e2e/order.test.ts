import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filter } from '../../relay/src/d365/index.ts';
import { startHarness, TOPICS, type Harness, type SfRecord } from './harness.ts';
import { SCHEDULES_OFF } from './relay-env.ts';

/**
 * Closed Won opportunity → D365 sales order over both emulators: the event the Apex publishes goes
 * through the relay's Pub/Sub subscription, the order lands in D365 once, and the result is written
 * back to the opportunity.
 */
let harness: Harness;
let standardPricebook: string;
/** An account that is already the D365 customer US-001. */
let customerAccount: string;
const products = new Map<string, string>();

/** Opportunity fields the relay may write: integration-owned, so the Apex echo guard ignores them. */
const INTEGRATION_OWNED = new Set([
  'D365_Sales_Order_Number__c',
  'D365_Order_Status__c',
  'D365_Sync_Status__c',
  'D365_Last_Sync_Error__c',
  'D365_Sync_Warning__c'
]);
const SYSTEM_FIELDS = new Set(['LastModifiedDate', 'SystemModstamp', 'LastModifiedById']);

beforeAll(async () => {
  // No scheduled syncs: their D365 calls would take the faults this file scripts for its orders.
  harness = await startHarness({ env: SCHEDULES_OFF });
  standardPricebook = String(
    harness.salesforce.control.records('Pricebook2').find((book) => book.IsStandard)!.Id
  );
  customerAccount = harness.insert('Account', {
    Name: 'Contoso Retail',
    D365_Customer_Number__c: 'US-001'
  });
});

afterAll(async () => harness?.close());

function product(itemNumber: string, name: string, price: number): string {
  const known = products.get(itemNumber);
  if (known) return known;
  const id = harness.insert('Product2', {
    Name: name,
    D365_Item_Number__c: itemNumber,
    IsActive: true
  });
  harness.insert('PricebookEntry', {
    Pricebook2Id: standardPricebook,
    Product2Id: id,
    UnitPrice: price,
    IsActive: true
  });
  products.set(itemNumber, id);
  return id;
}

interface LineSpec {
  item: string;
  quantity: number;
  price: number;
  description?: string;
}

/** An open opportunity with products, by default on an account that is already a D365 customer. */
function opportunity(lines: LineSpec[], accountId = customerAccount): string {
  const id = harness.insert('Opportunity', {
    Name: `Deal ${Math.random().toString(36).slice(2, 8)}`,
    StageName: 'Prospecting',
    CloseDate: '2026-11-30',
    AccountId: accountId,
    Pricebook2Id: standardPricebook
  });
  for (const line of lines) {
    harness.insert('OpportunityLineItem', {
      OpportunityId: id,
      Product2Id: product(line.item, line.description ?? `Product ${line.item}`, line.price),
      Quantity: line.quantity,
      UnitPrice: line.price,
      ...(line.description ? { Description: line.description } : {})
    });
  }
  return id;
}

async function ordersFor(opportunityId: string): Promise<SfRecord[]> {
  const rows: SfRecord[] = [];
  for await (const row of harness.clients.d365.query<SfRecord>('SalesOrderHeadersV2', {
    filter: filter.eq('CustomersOrderReference', opportunityId),
    crossCompany: true,
    expand: 'SalesOrderLines'
  }))
    rows.push(row);
  return rows;
}

function synced(opportunityId: string): Promise<SfRecord> {
  return harness.waitFor(
    () => {
      const record = harness.record('Opportunity', opportunityId);
      return record?.D365_Sync_Status__c === 'Synced' ? record : undefined;
    },
    { what: `opportunity ${opportunityId} to be Synced`, timeoutMs: 30_000 }
  );
}

describe('Closed Won opportunity → D365 sales order', () => {
  it('creates the order with its lines and writes number, status and sync result back', async () => {
    const id = opportunity([
      { item: 'D0001', quantity: 2, price: 275, description: 'MidRangeSpeaker2' },
      { item: 'A0001', quantity: 3, price: 14.5 }
    ]);
    const before = { ...harness.record('Opportunity', id) };
    const { idempotencyKey } = await harness.closeWon(id);
    const after = await synced(id);

    const [order, ...others] = await ordersFor(id);
    expect(others).toEqual([]);
    expect(order).toMatchObject({
      dataAreaId: 'usmf',
      OrderingCustomerAccountNumber: 'US-001',
      CustomersOrderReference: harness.record('Opportunity', id)!.Id,
      SalesOrderStatus: 'Backorder'
    });
    const lines = (order!.SalesOrderLines as SfRecord[]).map((line) => ({
      item: line.ItemNumber,
      quantity: line.OrderedSalesQuantity,
      price: line.SalesPrice
    }));
    expect(lines).toEqual([
      { item: 'D0001', quantity: 2, price: 275 },
      { item: 'A0001', quantity: 3, price: 14.5 }
    ]);
    expect(after).toMatchObject({
      D365_Sales_Order_Number__c: order!.SalesOrderNumber,
      D365_Order_Status__c: 'Backorder',
      D365_Last_Sync_Error__c: null
    });
    // Only integration-owned fields changed (besides the stage the rep set): no echo into a new sync event.
    const changed = Object.keys(after).filter(
      (field) =>
        JSON.stringify(after[field]) !== JSON.stringify(before[field]) &&
        !SYSTEM_FIELDS.has(field) &&
        !['StageName', 'IsClosed', 'IsWon', 'Probability'].includes(field)
    );
    expect(changed.every((field) => INTEGRATION_OWNED.has(field))).toBe(true);
    const result = await harness.waitFor(() => harness.syncResults(String(after.Id))[0], {
      what: 'the sync result event'
    });
    expect(result).toMatchObject({
      Idempotency_Key__c: idempotencyKey,
      Flow__c: 'order',
      Status__c: 'Synced',
      D365_Key__c: `usmf|${String(order!.SalesOrderNumber)}`
    });
  });

  it('creates one order when the event is delivered twice and when the opportunity is closed again', async () => {
    const id = opportunity([{ item: 'D0002', quantity: 1, price: 110 }]);
    const opportunityRecord = harness.record('Opportunity', id)!;
    await harness.closeWon(id);
    const first = await synced(id);
    // Redelivery of the same event (same key), and a second close (new key) after the order exists.
    const event = await harness.waitFor(
      () =>
        harness
          .events(TOPICS.orderRequest)
          .map((e) => e.payload)
          .find((payload) => payload.Record_Id__c === opportunityRecord.Id),
      { what: 'the order request on the observer' }
    );
    // The observer sees the delivered event with its system fields; a publish sends only the event's own.
    const fields = Object.fromEntries(
      Object.entries(event).filter(([name]) => name.endsWith('__c'))
    );
    await harness.publish('D365_Order_Request__e', fields);
    await harness.publish('D365_Order_Request__e', {
      ...fields,
      Idempotency_Key__c: `${String(opportunityRecord.Id)}:9999999999999`
    });
    await harness.waitFor(() => harness.syncResults(String(opportunityRecord.Id)).length >= 2, {
      what: 'the second close to be processed'
    });
    expect(await ordersFor(id)).toHaveLength(1);
    expect(harness.record('Opportunity', id)!.D365_Sales_Order_Number__c).toBe(
      first.D365_Sales_Order_Number__c
    );
  });

  it('creates one order when three requests for one opportunity are processed together (different keys)', async () => {
    const id = opportunity([{ item: 'A0002', quantity: 1, price: 22.99 }]);
    // With the relay stopped, all three requests wait in Salesforce and its jobs are claimed together.
    await harness.stopRelay();
    const { idempotencyKey } = await harness.closeWon(id);
    const event = await harness.waitFor(
      () =>
        harness
          .events(TOPICS.orderRequest)
          .map((e) => e.payload)
          .find((payload) => payload.Idempotency_Key__c === idempotencyKey),
      { what: 'the order request on the observer' }
    );
    const fields = Object.fromEntries(
      Object.entries(event).filter(([name]) => name.endsWith('__c'))
    );
    for (const n of ['1', '2'])
      await harness.publish('D365_Order_Request__e', {
        ...fields,
        Idempotency_Key__c: `${String(fields.Record_Id__c)}:888888888888${n}`
      });
    await harness.startRelay();
    await harness.waitFor(() => harness.syncResults(String(fields.Record_Id__c)).length >= 3, {
      what: 'all three requests to be processed'
    });
    expect(await ordersFor(id)).toHaveLength(1);
  });

  it('refuses a wrong-case item number: Error on the opportunity in words a rep understands, no order, no retry', async () => {
    const id = opportunity([{ item: 'd0003', quantity: 1, price: 210, description: 'Speaker' }]);
    await harness.closeWon(id);
    const record = await harness.waitFor(
      () => {
        const r = harness.record('Opportunity', id);
        return r?.D365_Sync_Status__c === 'Error' ? r : undefined;
      },
      { what: 'the error on the opportunity' }
    );
    expect(record.D365_Last_Sync_Error__c).toBe(
      "No D365 sales order was created. Product 'Speaker' (item d0003) is not a released product in D365 legal entity usmf (D365 has D0003). Check the item number's spelling and case. Fix it, then move the opportunity out of Closed Won and back."
    );
    expect(await ordersFor(id)).toEqual([]);
    const store = harness.relay().store;
    // The ledger and the job's completion follow the write-back by a moment.
    const ledger = await harness.waitFor(
      async () => {
        const entries = await store.queryLedger({
          flow: 'order',
          salesforceId: String(record.Id),
          limit: 5
        });
        return entries.length > 0 ? entries : undefined;
      },
      { what: 'the ledger entry' }
    );
    expect(ledger.map((entry) => entry.lastStatus)).toEqual(['Error']);
    await harness.waitFor(async () => ((await store.counts()).pending.order ?? 0) === 0, {
      what: 'the job to complete'
    });
    const counts = await store.counts();
    expect(counts.deadLetters.order ?? 0).toBe(0);
    expect(harness.syncResults(String(record.Id))[0]).toMatchObject({ Status__c: 'Error' });
  });

  it('shows a D365 validation error (item stopped for sales) on the opportunity without retrying', async () => {
    const id = opportunity([{ item: 'L0001', quantity: 1, price: 150 }]);
    const batchesBefore = harness.d365.control.counters().batches;
    await harness.closeWon(id);
    const record = await harness.waitFor(
      () => {
        const r = harness.record('Opportunity', id);
        return r?.D365_Sync_Status__c === 'Error' ? r : undefined;
      },
      { what: 'the error on the opportunity' }
    );
    expect(record.D365_Last_Sync_Error__c).toMatch(
      /D365 refused the order: .*L0001.*stopped for sales/
    );
    // One changeset, refused; not sent again.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(harness.d365.control.counters().batches - batchesBefore).toBe(1);
    expect(await ordersFor(id)).toEqual([]);
  });

  it('creates the order once through a 429 storm', async () => {
    const id = opportunity([{ item: 'D0004', quantity: 1, price: 1800 }]);
    harness.d365.control.throttleStorm({ seconds: 3, retryAfterSeconds: 1 });
    await harness.closeWon(id);
    await synced(id);
    expect(harness.d365.control.counters().throttled).toBeGreaterThan(0);
    expect(await ordersFor(id)).toHaveLength(1);
  });

  it('recovers from a rejected token on both sides and creates the order once', async () => {
    const id = opportunity([{ item: 'M0001', quantity: 1, price: 599 }]);
    const d365Before = harness.d365.control.counters();
    const sfBefore = harness.salesforce.control.counters();
    // D365 answers the next data call 401 (token revoked); every Salesforce session expires.
    harness.d365.control.queueFaults([{ kind: 'status', status: 401 }]);
    harness.salesforce.control.expireSessions();
    await harness.closeWon(id);
    await synced(id);
    expect(harness.d365.control.counters().tokensIssued).toBeGreaterThan(d365Before.tokensIssued);
    expect(harness.salesforce.control.counters().auth).toBeGreaterThan(sfBefore.auth);
    expect(await ordersFor(id)).toHaveLength(1);
  });

  it('creates the customer first when the account is not yet in D365, then the order', async () => {
    const accountId = harness.insert('Account', {
      Name: 'Newco Audio',
      BillingStreet: '1 Main St',
      BillingCity: 'Seattle',
      BillingState: 'WA',
      BillingPostalCode: '98101',
      BillingCountry: 'United States'
    });
    const id = opportunity([{ item: 'D0001', quantity: 1, price: 280 }], accountId);
    await harness.closeWon(id);
    await synced(id);
    const account = harness.record('Account', accountId)!;
    const customers = harness.d365.control.read('CustomersV3', {
      filter: `IdentificationNumber eq '${String(account.Id)}'`,
      legalEntity: '*'
    });
    expect(customers).toHaveLength(1);
    expect(customers[0]).toMatchObject({ dataAreaId: 'usmf', OrganizationName: 'Newco Audio' });
    expect(account.D365_Customer_Number__c).toBe(customers[0]!.CustomerAccount);
    const [order] = await ordersFor(id);
    expect(order!.OrderingCustomerAccountNumber).toBe(customers[0]!.CustomerAccount);
  });

  it('cuts an opportunity name longer than D365 keeps and records the warning on the opportunity', async () => {
    const id = opportunity([{ item: 'A0002', quantity: 4, price: 22.99 }]);
    const name = `Framework agreement ${'x'.repeat(100)}`;
    await harness.update('Opportunity', id, { Name: name });
    await harness.closeWon(id);
    const record = await synced(id);
    expect(record.D365_Sync_Warning__c).toBe('Order name cut to 100 characters.');
    const [order] = await ordersFor(id);
    expect(order!.SalesOrderName).toBe(name.slice(0, 100));
  });

  it('records on the opportunity why it gives up when D365 keeps refusing the credentials, and dead-letters the job', async () => {
    const id = opportunity([{ item: 'D0002', quantity: 2, price: 110 }]);
    // The relay fetches a fresh token after the first 401; a second 401 means the app is not allowed.
    harness.d365.control.queueFaults([
      { kind: 'status', status: 401 },
      { kind: 'status', status: 401 }
    ]);
    await harness.closeWon(id);
    const record = await harness.waitFor(
      () => {
        const r = harness.record('Opportunity', id);
        return r?.D365_Sync_Status__c === 'Error' ? r : undefined;
      },
      { what: 'the error on the opportunity' }
    );
    expect(record.D365_Last_Sync_Error__c).toMatch(
      /^No D365 sales order was created yet: the relay gave up after 1 attempt\(s\) \(D365 .*401.*\)\. Your admin can send it again from the relay's dead-letter queue\./
    );
    const store = harness.relay().store;
    await harness.waitFor(async () => (await store.counts()).deadLetters.order === 1, {
      what: 'the dead letter'
    });
    expect(await ordersFor(id)).toEqual([]);
  });
});

describe('order status refresh (sync order, ORDER_STATUS_CRON)', () => {
  async function syncOrders(): Promise<void> {
    const response = await fetch(`${harness.baseUrl()}/api/v1/admin/sync/order`, {
      method: 'POST',
      headers: { authorization: `Bearer ${harness.config.security.adminToken}` }
    });
    expect(response.status).toBe(202);
    const { jobId } = (await response.json()) as { jobId: number };
    await harness.waitFor(async () => (await harness.relay().store.getJob(jobId)) === null, {
      what: 'the status refresh job'
    });
  }

  it('writes the status D365 reached since the order was created, and nothing when none changed', async () => {
    const id = opportunity([{ item: 'D0001', quantity: 1, price: 280 }]);
    await harness.closeWon(id);
    const created = await synced(id);
    expect(created.D365_Order_Status__c).toBe('Backorder');
    harness.d365.control.postInvoice({
      salesOrderNumber: String(created.D365_Sales_Order_Number__c)
    });

    await syncOrders();
    expect(harness.record('Opportunity', id)!.D365_Order_Status__c).toBe('Invoiced');

    // Invoiced is final: the next run neither reads nor writes that opportunity's order again.
    const invoiced = harness.record('Opportunity', id)!.SystemModstamp;
    await syncOrders();
    expect(harness.record('Opportunity', id)!.SystemModstamp).toBe(invoiced);
  });
});
