import { createServer, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PAYMENT_EVENT_ID, start, type D365Emulator } from '../index.ts';
import { dataClient, type DataClient } from './helpers.ts';

let emu: D365Emulator;
let api: DataClient;
let receiver: Server;
let receiverUrl: string;
let received: Array<Record<string, unknown>>;
/** Status codes the receiver answers, in order; 200 once exhausted. */
let script: number[];

beforeAll(async () => {
  emu = await start({ seed: 'demo' });
  api = await dataClient(emu);
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const status = script.shift() ?? 200;
      if (status === 200) received.push(JSON.parse(body) as Record<string, unknown>);
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const addr = receiver.address();
  receiverUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/events?code=secret`;
});
beforeEach(() => {
  emu.control.reset();
  emu.control.setDelivery({ retryDelayMs: 10 });
  received = [];
  script = [];
});
afterEach(() => emu.control.eventsSettled());
afterAll(async () => {
  api.http.agent.destroy();
  await emu.close();
  await new Promise((r) => receiver.close(r));
});

const events = (id: string) => received.filter((e) => e.BusinessEventId === id);

function openOrder(): string {
  const orders = emu.control.read('SalesOrderHeadersV2', {
    filter: "SalesOrderStatus eq 'Backorder'"
  });
  return String(orders[0]!.SalesOrderNumber);
}

describe('business events', () => {
  it('lists the events in the BusinessEventsCatalogs entity', async () => {
    const rows = (await api.get('/data/BusinessEventsCatalogs?$select=BusinessEventId')).json()
      .value as Array<{ BusinessEventId: string }>;
    expect(rows.map((r) => r.BusinessEventId)).toEqual([
      'SalesInvoicePostedBusinessEvent',
      'CustFreeTextInvoicePostedBusinessEvent',
      PAYMENT_EVENT_ID
    ]);
  });

  it('answers the getBusinessEventsCatalog action filtered by category', async () => {
    const r = await api.post(
      '/data/BusinessEventsCatalogs/Microsoft.Dynamics.DataEntities.getBusinessEventsCatalog',
      { _businessEventsCategory: 'Cust' }
    );
    const ids = (r.json().value as Array<{ BusinessEventId: string }>).map(
      (c) => c.BusinessEventId
    );
    expect(ids).toEqual(['CustFreeTextInvoicePostedBusinessEvent', PAYMENT_EVENT_ID]);
  });

  it('sends the BusinessEventsTestEndpointContract test message when an endpoint is activated', async () => {
    emu.control.registerEndpoint({ url: receiverUrl });
    await emu.control.eventsSettled();
    expect(received.map((e) => e.BusinessEventId)).toEqual(['BusinessEventsTestEndpointContract']);
  });

  it('posts SalesInvoicePostedBusinessEvent with the documented envelope and contract, keys in alphabetical order', async () => {
    emu.control.registerEndpoint({
      url: receiverUrl,
      businessEventIds: ['SalesInvoicePostedBusinessEvent']
    });
    const order = openOrder();
    const invoice = emu.control.postInvoice({ salesOrderNumber: order });
    await emu.control.eventsSettled();
    const [event] = events('SalesInvoicePostedBusinessEvent');
    expect(Object.keys(event!)).toEqual([...Object.keys(event!)].sort());
    expect(event).toMatchObject({
      BusinessEventLegalEntity: 'usmf',
      ContextRecordSubject: '',
      InitiatingUserAADObjectId: '{00000000-0000-0000-0000-000000000000}',
      InvoiceId: invoice.InvoiceNumber,
      SalesOrderId: order,
      InvoiceAmountInAccountingCurrency: invoice.TotalInvoiceAmount,
      LegalEntity: 'usmf',
      MajorVersion: 0,
      MinorVersion: 0,
      ParentContextRecordSubjects: []
    });
    expect(event!.EventId).toMatch(/^[0-9A-F-]{36}$/);
    expect(event!.EventTime).toMatch(/^\/Date\(\d+\)\/$/);
    expect(event!.InvoiceDate).toBe(
      `/Date(${Date.parse(String(invoice.InvoiceDate).slice(0, 10))})/`
    );
    expect(event!.EventTimeIso8601).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$/);
  });

  it('creates the invoice, its lines and an open customer transaction when posting', async () => {
    const invoice = emu.control.postInvoice({ salesOrderNumber: openOrder() });
    const lines = (
      await api.get(`/data/SalesInvoiceV2Lines?$filter=InvoiceNumber eq '${invoice.InvoiceNumber}'`)
    ).json().value as unknown[];
    expect(lines.length).toBeGreaterThan(0);
    const trans = emu.control.read('CustTransactions', {
      filter: `Invoice eq '${invoice.InvoiceNumber}'`
    });
    expect(trans).toEqual([
      expect.objectContaining({
        AmountCur: invoice.TotalInvoiceAmount,
        SettleAmountCur: 0,
        Closed: '1900-01-01T12:00:00Z'
      })
    ]);
  });

  it('fires CustFreeTextInvoicePostedBusinessEvent for a free text invoice', async () => {
    emu.control.registerEndpoint({
      url: receiverUrl,
      businessEventIds: ['CustFreeTextInvoicePostedBusinessEvent']
    });
    emu.control.postFreeTextInvoice({
      customerAccount: 'US-004',
      lines: [{ description: 'Service fee', amount: 100 }]
    });
    await emu.control.eventsSettled();
    expect(events('CustFreeTextInvoicePostedBusinessEvent')[0]).toMatchObject({
      InvoiceAccount: 'US-004',
      InvoiceAmountInAccountingCurrency: 108
    });
  });

  it('settles open invoices on a payment and fires the payment event', async () => {
    emu.control.registerEndpoint({ url: receiverUrl, businessEventIds: [PAYMENT_EVENT_ID] });
    const invoice = emu.control.postInvoice({ salesOrderNumber: openOrder() });
    emu.control.registerPayment({
      customerAccount: String(invoice.InvoiceCustomerAccountNumber),
      amount: Number(invoice.TotalInvoiceAmount),
      invoiceNumber: String(invoice.InvoiceNumber)
    });
    await emu.control.eventsSettled();
    const [trans] = emu.control.read('CustTransactions', {
      filter: `Invoice eq '${invoice.InvoiceNumber}'`
    });
    expect(trans!.SettleAmountCur).toBe(invoice.TotalInvoiceAmount);
    expect(trans!.Closed).not.toBe('1900-01-01T12:00:00Z');
    expect(events(PAYMENT_EVENT_ID)[0]).toMatchObject({
      PaymentAmount: invoice.TotalInvoiceAmount,
      SettledInvoices: invoice.InvoiceNumber
    });
  });

  it('raises ControlNumber with every event', async () => {
    emu.control.registerEndpoint({
      url: receiverUrl,
      businessEventIds: ['CustFreeTextInvoicePostedBusinessEvent']
    });
    for (let i = 0; i < 3; i++)
      emu.control.postFreeTextInvoice({
        customerAccount: 'US-004',
        lines: [{ description: `fee ${i}`, amount: 10 }]
      });
    await emu.control.eventsSettled();
    const numbers = events('CustFreeTextInvoicePostedBusinessEvent').map((e) =>
      Number(e.ControlNumber)
    );
    expect(numbers).toHaveLength(3);
    expect([...numbers].sort((a, b) => a - b)).toEqual(numbers);
    expect(new Set(numbers).size).toBe(3);
  });

  it('retries a failing endpoint and delivers at least once', async () => {
    emu.control.registerEndpoint({
      url: receiverUrl,
      businessEventIds: ['CustFreeTextInvoicePostedBusinessEvent']
    });
    await emu.control.eventsSettled();
    script = [500, 503];
    emu.control.postFreeTextInvoice({
      customerAccount: 'US-004',
      lines: [{ description: 'fee', amount: 10 }]
    });
    await emu.control.eventsSettled();
    expect(events('CustFreeTextInvoicePostedBusinessEvent')).toHaveLength(1);
    expect(emu.control.deliveries().log.at(-1)).toMatchObject({ status: 'delivered', attempts: 3 });
  });

  it('puts an event in the error log after the retries are used up, and resends it', async () => {
    emu.control.registerEndpoint({
      url: receiverUrl,
      businessEventIds: ['CustFreeTextInvoicePostedBusinessEvent']
    });
    await emu.control.eventsSettled();
    script = [500, 500, 500, 500];
    emu.control.postFreeTextInvoice({
      customerAccount: 'US-004',
      lines: [{ description: 'fee', amount: 10 }]
    });
    await emu.control.eventsSettled();
    const [failed] = emu.control.deliveries().errors;
    expect(failed).toMatchObject({ attempts: 4, status: 'failed' });
    expect(emu.control.resendEvent(failed!.controlNumber)).toBe(true);
    await emu.control.eventsSettled();
    expect(events('CustFreeTextInvoicePostedBusinessEvent')).toHaveLength(1);
  });

  it('delivers duplicates when switched on', async () => {
    emu.control.setDelivery({ retryDelayMs: 10, duplicateRate: 1 });
    emu.control.registerEndpoint({
      url: receiverUrl,
      businessEventIds: ['CustFreeTextInvoicePostedBusinessEvent']
    });
    emu.control.postFreeTextInvoice({
      customerAccount: 'US-004',
      lines: [{ description: 'fee', amount: 10 }]
    });
    await emu.control.eventsSettled();
    const got = events('CustFreeTextInvoicePostedBusinessEvent');
    expect(got).toHaveLength(2);
    expect(got[0]!.EventId).toBe(got[1]!.EventId);
  });

  it('delivers out of order when switched on', async () => {
    emu.control.setDelivery({ retryDelayMs: 10, reorderWindowMs: 50 });
    emu.control.registerEndpoint({
      url: receiverUrl,
      businessEventIds: ['CustFreeTextInvoicePostedBusinessEvent']
    });
    for (let i = 0; i < 3; i++)
      emu.control.postFreeTextInvoice({
        customerAccount: 'US-004',
        lines: [{ description: `fee ${i}`, amount: 10 }]
      });
    await emu.control.eventsSettled();
    await new Promise((r) => setTimeout(r, 50));
    const numbers = events('CustFreeTextInvoicePostedBusinessEvent').map((e) =>
      Number(e.ControlNumber)
    );
    expect(numbers).toHaveLength(3);
    expect(numbers).not.toEqual([...numbers].sort((a, b) => a - b));
  });

  it('only sends events of the legal entity an endpoint is activated for', async () => {
    emu.control.registerEndpoint({
      url: receiverUrl,
      businessEventIds: ['CustFreeTextInvoicePostedBusinessEvent'],
      legalEntity: 'demf'
    });
    emu.control.postFreeTextInvoice({
      customerAccount: 'US-004',
      lines: [{ description: 'fee', amount: 10 }]
    });
    await emu.control.eventsSettled();
    expect(events('CustFreeTextInvoicePostedBusinessEvent')).toHaveLength(0);
  });
});
