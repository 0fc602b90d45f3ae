/**
 * Invoice pushback end to end: the D365 emulator posts free-text invoices and delivers the
 * `CustFreeTextInvoicePostedBusinessEvent`s to the relay, one at a time in posting order as D365
 * does; the relay reads each invoice (header, customer transaction) and upserts Invoice__c in the
 * Salesforce emulator. Both emulators add latency to every data / API call (default 50 ms).
 *
 *   - relay: business events route → store → invoice flow (32 jobs in flight) → Invoice__c upserts
 *     and sync result events batched across jobs through sObject Collections;
 *   - naive: what a simple event handler does per event, one event at a time: read the header, read
 *     the transaction, query the account, upsert the invoice, publish the sync result event.
 *
 * Throughput is invoices per second from the first posting to the last Invoice__c written.
 *
 *   npm run bench:invoices -- [--invoices 500] [--naive-invoices 50] [--latency-ms 50]
 */

import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createRelayClients } from '../../relay/src/clients.ts';
import { loadConfig } from '../../relay/src/config/load.ts';
import { filter } from '../../relay/src/d365/index.ts';
import { invoiceFlow } from '../../relay/src/flows/invoice/index.ts';
import {
  FREE_TEXT_INVOICE_POSTED,
  INVOICE_HEADER_ENTITY,
  INVOICE_HEADER_FIELDS,
  invoiceTypeOf,
  toInvoiceFields,
  type InvoiceHeader
} from '../../relay/src/flows/invoice/mapping.ts';
import {
  CUST_TRANS_ENTITY,
  CUST_TRANS_FIELDS,
  invoicePayment,
  utcDate,
  type CustTransRow
} from '../../relay/src/flows/payment/mapping.ts';
import { soqlString } from '../../relay/src/salesforce/index.ts';
import { startRelay } from '../../relay/src/server.ts';
import { start as startD365 } from '../../test/emulators/d365/index.ts';
import { start as startSalesforce } from '../../test/emulators/salesforce/index.ts';
import { emulatorEnv } from '../../test/e2e/relay-env.ts';

const { values: args } = parseArgs({
  options: {
    invoices: { type: 'string', default: '500' },
    'naive-invoices': { type: 'string', default: '50' },
    'latency-ms': { type: 'string', default: '50' }
  }
});
const relayInvoices = Number(args.invoices);
const naiveInvoices = Number(args['naive-invoices']);
const latencyMs = Number(args['latency-ms']);
const CUSTOMERS = ['US-001', 'US-002', 'US-003', 'US-004', 'US-005', 'US-006', 'US-007', 'US-008'];
const SECRET = 'bench-business-events-0123456789';

const logger = pino({ level: 'error' });
const [d365, salesforce] = await Promise.all([
  startD365({ seed: 'demo', faults: { latency: { minMs: latencyMs, maxMs: latencyMs } } }),
  startSalesforce({ port: 0, pubsubPort: 0, dailyApiLimit: 10_000_000 })
]);
salesforce.control.setFaults({ latencyMs });
const clientId = `bench-${randomUUID()}`;
const clientSecret = randomUUID();
salesforce.control.registerClientCredentialsApp({ clientId, clientSecret });
for (const customer of CUSTOMERS) {
  salesforce.control.insert('Account', {
    Name: `Customer ${customer}`,
    D365_Customer_Number__c: customer
  });
}
const dir = mkdtempSync(join(tmpdir(), 'bench-invoices-'));
const config = loadConfig({
  env: {
    RELAY_ADMIN_TOKEN: 'bench-admin-token-0123456789',
    RELAY_CALLOUT_KEY: 'bench-callout-key-0123456789',
    RELAY_BUSINESS_EVENTS_SECRET: SECRET,
    RELAY_STORE_URL: `sqlite:${join(dir, 'relay.db')}`,
    RELAY_HOST: '127.0.0.1',
    RELAY_PORT: '0',
    RELAY_LOG_LEVEL: 'error',
    RELAY_WORKER_CONCURRENCY: '32',
    RELAY_WORKER_POLL_MS: '50',
    RELAY_RATE_LIMIT_MAX: '1000000',
    ...emulatorEnv(d365, salesforce, {
      dir,
      salesforceApp: { clientId, clientSecret },
      pubsub: false
    }),
    D365_MAX_CONCURRENCY: '16'
  },
  cwd: dir
});
const relay = await startRelay({ logger, config, flows: [invoiceFlow] });
const address = relay.app.server.address();
const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
const invoiceCount = () => salesforce.control.records('Invoice__c').length;

function post(n: number): string {
  const posted = d365.control.postFreeTextInvoice({
    customerAccount: CUSTOMERS[n % CUSTOMERS.length] as string,
    lines: [{ description: `Service ${n}`, amount: 100 + n }]
  });
  return String(posted.InvoiceNumber);
}

// ---- relay ----
const endpoint = d365.control.registerEndpoint({
  url: `${base}/api/v1/business-events/${SECRET}`,
  businessEventIds: [FREE_TEXT_INVOICE_POSTED]
});
await d365.control.eventsSettled();
const startCount = invoiceCount();
const apiBefore = salesforce.control.counters().apiUsed;
const relayStarted = performance.now();
for (let n = 0; n < relayInvoices; n++) post(n);
while (invoiceCount() - startCount < relayInvoices) {
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const relaySeconds = (performance.now() - relayStarted) / 1000;
const relayApiCalls = salesforce.control.counters().apiUsed - apiBefore;
await d365.control.eventsSettled();
d365.control.unregisterEndpoint(endpoint.id);

// ---- naive ----
const clients = createRelayClients(config.values, logger);
const naiveNumbers = Array.from({ length: naiveInvoices }, (_, n) => post(relayInvoices + n));
const naiveApiBefore = salesforce.control.counters().apiUsed;
const naiveStarted = performance.now();
for (const invoiceNumber of naiveNumbers) {
  const header = (await clients.d365.get<InvoiceHeader>(
    INVOICE_HEADER_ENTITY,
    { dataAreaId: 'usmf', InvoiceNumber: invoiceNumber },
    { select: INVOICE_HEADER_FIELDS }
  )) as InvoiceHeader;
  let transaction: CustTransRow | undefined;
  for await (const row of clients.d365.query<CustTransRow>(CUST_TRANS_ENTITY, {
    filter: filter.and(
      filter.eq('AccountNum', header.InvoiceCustomerAccountNumber),
      filter.eq('Invoice', invoiceNumber)
    ),
    select: CUST_TRANS_FIELDS
  }))
    transaction = row;
  let accountId = '';
  for await (const row of clients.salesforce.query<{ Id: string }>(
    `SELECT Id FROM Account WHERE D365_Customer_Number__c = ${soqlString(header.InvoiceCustomerAccountNumber)}`
  ))
    accountId = row.Id;
  const fields: Record<string, unknown> = {
    ...toInvoiceFields(header, invoiceTypeOf(FREE_TEXT_INVOICE_POSTED, '')),
    ...(transaction ? invoicePayment(transaction, utcDate(Date.now())) : {}),
    Account__c: accountId,
    D365_Modified_At__c: new Date().toISOString()
  };
  const key = String(fields.D365_Invoice_Key__c);
  delete fields.D365_Invoice_Key__c;
  const saved = await clients.salesforce.upsert('Invoice__c', 'D365_Invoice_Key__c', key, fields);
  await clients.salesforce.request('POST', '/sobjects/D365_Sync_Result__e', {
    Record_Id__c: saved.id,
    Idempotency_Key__c: `${key}:naive`,
    Flow__c: 'invoice',
    Status__c: 'Synced'
  });
}
const naiveSeconds = (performance.now() - naiveStarted) / 1000;
const naiveApiCalls = salesforce.control.counters().apiUsed - naiveApiBefore;

const rows = [
  [
    'naive: one event at a time, 5 calls each',
    String(naiveInvoices),
    `${(naiveInvoices / naiveSeconds).toFixed(1)}`,
    (naiveApiCalls / naiveInvoices).toFixed(2)
  ],
  [
    'relay: business events → store → invoice flow',
    String(relayInvoices),
    `${(relayInvoices / relaySeconds).toFixed(1)}`,
    (relayApiCalls / relayInvoices).toFixed(2)
  ]
];
const header = ['Path', 'Invoices', 'Invoices/s end to end', 'Salesforce API calls / invoice'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
const line = (cells: string[]) =>
  `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
console.log(
  `\nInvoice pushback, ${latencyMs} ms emulated latency per D365 data call and per Salesforce API call\n`
);
console.log(line(header));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const row of rows) console.log(line(row));
console.log(
  `\nReproduce: npm run bench:invoices -- --invoices ${relayInvoices} --naive-invoices ${naiveInvoices} --latency-ms ${latencyMs}\n`
);

await Promise.allSettled([clients.d365.close(), clients.salesforce.close()]);
await relay.close();
await Promise.all([d365.close(), salesforce.close()]);
