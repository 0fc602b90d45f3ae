import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { start, type D365Emulator } from '../index.ts';
import { dataClient, httpClient, type DataClient, type HttpClient } from './helpers.ts';

let emu: D365Emulator;
let api: DataClient;
let http: HttpClient;

beforeAll(async () => {
  emu = await start({ seed: 'demo' });
  api = await dataClient(emu);
  http = httpClient(emu);
});
beforeEach(() => emu.control.reset());
afterAll(async () => {
  api.http.agent.destroy();
  http.agent.destroy();
  await emu.close();
});

const post = (path: string, body: unknown) =>
  http.send('POST', `/_emulator${path}`, JSON.stringify(body), {
    'content-type': 'application/json'
  });

describe('control API over HTTP', () => {
  it('posts an invoice for a sales order, which OData then shows as invoiced', async () => {
    const open = emu.control.read('SalesOrderHeadersV2', {
      filter: "SalesOrderStatus eq 'Backorder'"
    })[0]!;
    const r = await post('/invoices', { salesOrderNumber: open.SalesOrderNumber });
    expect(r.status).toBe(200);
    expect(r.json().InvoiceNumber).toMatch(/^CIV-\d{6}$/);
    const order = (
      await api.get(
        `/data/SalesOrderHeadersV2(dataAreaId='usmf',SalesOrderNumber='${open.SalesOrderNumber}')`
      )
    ).json();
    expect(order.SalesOrderStatus).toBe('Invoiced');
  });

  it('refuses to invoice an order twice with a readable 400', async () => {
    const invoiced = emu.control.read('SalesOrderHeadersV2', {
      filter: "SalesOrderStatus eq 'Invoiced'"
    })[0]!;
    const r = await post('/invoices', { salesOrderNumber: invoiced.SalesOrderNumber });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.json())).toMatch(/is Invoiced and cannot be invoiced/);
  });

  it('changes stock, visible in WarehousesOnHandV2', async () => {
    await post('/stock', {
      itemNumber: 'D0001',
      siteId: '1',
      warehouseId: '11',
      onHand: 7,
      reserved: 2
    });
    const row = (
      await api.get(
        "/data/WarehousesOnHandV2(dataAreaId='usmf',ItemNumber='D0001',ProductColorId='',ProductConfigurationId='',ProductSizeId='',ProductStyleId='',ProductVersionId='',InventorySiteId='1',InventoryWarehouseId='11')"
      )
    ).json();
    expect(row).toMatchObject({
      OnHandQuantity: 7,
      ReservedOnHandQuantity: 2,
      AvailableOnHandQuantity: 5
    });
  });

  it('registers a payment that settles the oldest open invoice first', async () => {
    const before = emu.control.read('CustTransactions', {
      filter: "AccountNum eq 'US-001' and TransType eq 'Sales'"
    })[0]!;
    const r = await post('/payments', { customerAccount: 'US-001', amount: 100 });
    expect(r.json()).toMatchObject({
      TransType: 'Payment',
      AmountCur: -100,
      SettleAmountCur: -100
    });
    const after = emu.control.read('CustTransactions', { filter: `RecId eq ${before.RecId}` })[0]!;
    expect(after.SettleAmountCur).toBe(Number(before.SettleAmountCur) + 100);
  });

  it('sets throttling and faults and reports counters', async () => {
    await http.send(
      'PUT',
      '/_emulator/throttling',
      JSON.stringify({ requestsPerSecond: 1, burst: 1 }),
      { 'content-type': 'application/json' }
    );
    await api.get('/data/LegalEntities');
    await api.get('/data/LegalEntities');
    const counters = (await http.send('GET', '/_emulator/counters')).json();
    expect(counters).toMatchObject({ throttled: 1, requests: { LegalEntities: { GET: 1 } } });
  });

  it('zeroes the counters on request', async () => {
    await api.get('/data/LegalEntities');
    expect((await post('/counters/reset', {})).status).toBe(204);
    expect(emu.control.counters().requests).toEqual({});
  });

  it('reads and inserts data directly', async () => {
    const created = await post('/data/CustomerGroups', {
      CustomerGroupId: 'CTL',
      Description: 'Control'
    });
    expect(created.json()).toMatchObject({ dataAreaId: 'usmf', CustomerGroupId: 'CTL' });
    const rows = (
      await http.send('GET', "/_emulator/data/CustomerGroups?filter=CustomerGroupId%20eq%20'CTL'")
    ).json() as unknown as unknown[];
    expect(rows).toHaveLength(1);
  });

  it('resets to the seed data', async () => {
    await post('/data/CustomerGroups', { CustomerGroupId: 'GONE' });
    await post('/reset', {});
    expect(
      emu.control.read('CustomerGroups', { filter: "CustomerGroupId eq 'GONE'" })
    ).toHaveLength(0);
  });
});

describe('control token', () => {
  it('requires X-Emulator-Control-Token when the option is set', async () => {
    const guarded = await start({ seed: 'empty', tls: false, controlToken: 'let-me-in' });
    try {
      const denied = await fetch(`${guarded.url}/_emulator/counters`);
      expect(denied.status).toBe(401);
      const allowed = await fetch(`${guarded.url}/_emulator/counters`, {
        headers: { 'x-emulator-control-token': 'let-me-in' }
      });
      expect(allowed.status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});

describe('seed data', () => {
  it('holds two legal entities with customers, products, stock, orders and open and settled transactions', () => {
    const c = emu.control;
    expect(c.read('LegalEntities').map((l) => l.LegalEntityId)).toEqual(['usmf', 'demf']);
    expect(c.read('CustomersV3', { legalEntity: 'demf' })).toHaveLength(2);
    expect(c.read('ReleasedProductsV2').map((p) => p.ItemNumber)).toContain('D0001');
    expect(c.read('WarehousesOnHandV2').length).toBeGreaterThan(5);
    const sales = c.read('CustTransactions', { filter: "TransType eq 'Sales'" });
    expect(sales.some((t) => t.Closed === '1900-01-01T12:00:00Z')).toBe(true);
    expect(sales.some((t) => t.Closed !== '1900-01-01T12:00:00Z')).toBe(true);
  });

  it('generates benchmark volumes', async () => {
    const big = await start({ seed: { customers: 2000, products: 500 }, tls: false });
    try {
      expect(big.control.read('CustomersV3')).toHaveLength(2000);
      expect(big.control.read('WarehousesOnHandV2')).toHaveLength(500);
    } finally {
      await big.close();
    }
  });
});
