// Initial load of accounts into D365 (`d365-relay sync accounts --full`) against both emulators, next
// to the naive per-record way (one OData POST per customer + one REST PATCH per write-back), measured
// in the same run on the same number of accounts. Counts every D365 request (the emulator's /data
// counters plus DMF blob uploads) and every Salesforce API call (the org's API usage counter).
//   npm run bench:initial-load [-- --accounts 10000 --naive 10000 --concurrency 8]
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createD365Client, type D365Client } from '../../relay/src/d365/index.ts';
import { runBulkSync } from '../../relay/src/flows/account/bulk.ts';
import { CUSTOMERS } from '../../relay/src/flows/account/handler.ts';
import {
  customerCreateBody,
  mapAccountToCustomer,
  type AccountPayload
} from '../../relay/src/flows/account/mapping.ts';
import { accountSettings } from '../../relay/src/flows/account/settings.ts';
import { createSalesforceClient, type SalesforceClient } from '../../relay/src/salesforce/index.ts';
import { start as startD365 } from '../../test/emulators/d365/index.ts';
import { start as startSalesforce } from '../../test/emulators/salesforce/index.ts';

const { values: args } = parseArgs({
  options: {
    accounts: { type: 'string', default: '10000' },
    naive: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '8' }
  }
});
const accounts = Number(args.accounts);
const naiveAccounts = Number(args.naive);
const concurrency = Number(args.concurrency);
const API_VERSION = '62.0';
const logger = pino({ level: 'silent' });
const settings = accountSettings(undefined);

const [d365, salesforce] = await Promise.all([
  startD365({ seed: 'demo' }),
  startSalesforce({ port: 0, pubsubPort: 0, dailyApiLimit: 10_000_000 })
]);
salesforce.control.registerClientCredentialsApp({
  clientId: 'bench',
  clientSecret: 'bench-secret'
});

function clients(): { d365: D365Client; sf: SalesforceClient } {
  return {
    d365: createD365Client({
      environmentUrl: d365.url,
      tenantId: d365.tenantId,
      clientId: d365.clientId,
      clientSecret: d365.clientSecret,
      authorityHost: d365.url,
      caCertPem: d365.caCertPem,
      maxConcurrency: concurrency,
      logger
    }),
    sf: createSalesforceClient({
      loginUrl: salesforce.instanceUrl,
      authFlow: 'client_credentials',
      clientId: 'bench',
      clientSecret: 'bench-secret',
      apiVersion: API_VERSION,
      logger
    })
  };
}

function seedAccounts(count: number, prefix: string): string[] {
  const countries = ['United States', 'US', 'USA', 'Germany', 'DE', 'France'];
  return Array.from({ length: count }, (_, i) =>
    salesforce.control.insert('Account', {
      Name: `${prefix} ${i}`,
      BillingStreet: `${i} Main St`,
      BillingCity: 'Springfield',
      BillingState: 'Illinois',
      BillingPostalCode: '62701',
      BillingCountry: countries[i % countries.length],
      Phone: '+1 217 555 0100',
      Website: 'https://example.com'
    })
  );
}

function d365Requests(): number {
  const c = d365.control.counters();
  const data = Object.values(c.requests).reduce(
    (sum, byMethod) => sum + Object.values(byMethod).reduce((a, b) => a + b, 0),
    0
  );
  // Package uploads go to the blob store, outside /data: one per import since the last reset.
  return data + c.dmfJobs.imports - importsAtReset;
}

let importsAtReset = 0;

function resetCounters(): void {
  d365.control.resetCounters();
  // The emulator keeps its DMF executions across a counter reset.
  importsAtReset = d365.control.counters().dmfJobs.imports;
  salesforce.control.resetCounters();
  salesforce.control.setApiBudget({ used: 0 });
}

interface Row {
  way: string;
  accounts: number;
  d365: number;
  salesforce: number;
  seconds: number;
  synced: number;
}

function syncedCount(ids: string[]): number {
  const wanted = new Set(ids);
  return salesforce.control
    .records('Account')
    .filter((r) => wanted.has(String(r.Id)) && r.D365_Customer_Number__c).length;
}

async function naive(): Promise<Row> {
  const ids = seedAccounts(naiveAccounts, 'Naive');
  const { d365: client, sf } = clients();
  await client.checkCredentials();
  await sf.checkCredentials();
  resetCounters();
  const records = salesforce.control.records('Account');
  const byId = new Map(records.map((r) => [String(r.Id), r]));
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < ids.length) {
        const account = byId.get(ids[next++]!)!;
        const payload = { ...account, CurrencyIsoCode: null } as unknown as AccountPayload;
        const mapped = mapAccountToCustomer({ legalEntity: null, account: payload }, settings);
        const created = await client.create<{ CustomerAccount: string }>(
          CUSTOMERS,
          customerCreateBody(mapped, settings)
        );
        await sf.request('PATCH', `/sobjects/Account/${String(account.Id)}`, {
          D365_Customer_Number__c: created.CustomerAccount,
          D365_Sync_Status__c: 'Synced'
        });
      }
    })
  );
  const seconds = (performance.now() - started) / 1000;
  const row: Row = {
    way: 'naive: POST + PATCH per record',
    accounts: ids.length,
    d365: d365Requests(),
    salesforce: salesforce.control.counters().apiUsed,
    seconds,
    synced: syncedCount(ids)
  };
  await Promise.all([client.close(), sf.close()]);
  return row;
}

async function relay(): Promise<Row> {
  const ids = seedAccounts(accounts, 'Relay');
  const { d365: client, sf } = clients();
  await client.checkCredentials();
  await sf.checkCredentials();
  resetCounters();
  const started = performance.now();
  const report = await runBulkSync('full', {
    d365: client,
    salesforce: sf,
    settings,
    apiVersion: API_VERSION
  });
  const seconds = (performance.now() - started) / 1000;
  if (report.failed.length > 0)
    console.error(`${report.failed.length} accounts failed, e.g. ${report.failed[0]?.message}`);
  const row: Row = {
    way: 'relay: Composite read + DMF + Bulk write-back',
    accounts: ids.length,
    d365: d365Requests(),
    salesforce: salesforce.control.counters().apiUsed,
    seconds,
    synced: syncedCount(ids)
  };
  await Promise.all([client.close(), sf.close()]);
  return row;
}

try {
  // The relay's run reads every account: run it first, before the naive run's accounts exist.
  const relayRow = await relay();
  const naiveRow = await naive();
  const rows = [naiveRow, relayRow];
  console.log(
    `\nInitial load of accounts (${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)})\n`
  );
  console.log(
    '| way | accounts | D365 requests | Salesforce API calls | wall time (s) | numbers written back |'
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows)
    console.log(
      `| ${r.way} | ${r.accounts} | ${r.d365} | ${r.salesforce} | ${r.seconds.toFixed(1)} | ${r.synced} |`
    );
  console.log(
    `\nTarget for the relay: D365 requests ≤ 10 and Salesforce API calls ≤ 10 for 10,000 accounts.`
  );
  console.log(
    `Reproduce: npm run bench:initial-load -- --accounts ${accounts} --naive ${naiveAccounts} --concurrency ${concurrency}`
  );
} finally {
  await Promise.all([d365.close(), salesforce.close()]);
}
