/**
 * The sandbox tour: one pass through a customer's life across both systems, in the order it happens
 * in a real org — the D365 catalogue reaches Salesforce, a rep creates accounts and contacts and wins
 * a deal, the order lands in D365, D365 invoices it and the customer pays, and the rep checks stock.
 * Each step prints what it did and what arrived on the other side; a step whose flow is not in this
 * build is skipped, never fatal. The report it returns is what `sandbox.test.ts` asserts.
 */

import type { SfRecord } from '../../test/e2e/harness.ts';
import type { Sandbox } from './environment.ts';
import type { Output } from './output.ts';

/** Each wait of the tour; the whole tour normally takes a few seconds. */
const STEP_TIMEOUT_MS = 20_000;
const POLL_MS = 50;
/** Salesforce account names go to D365's 100-character organization name (CustTable name EDT). */
const LONG_NAME_LENGTH = 120;
const LEGAL_ENTITY = 'usmf';

export const FLOW = {
  products: 'products',
  accounts: 'accounts',
  contacts: 'contacts',
  order: 'order',
  invoice: 'invoice',
  payment: 'payment'
} as const;

export type StepStatus = 'done' | 'skipped' | 'failed';
export interface StepResult {
  name: string;
  status: StepStatus;
  note: string;
}

export interface TourReport {
  steps: StepResult[];
  products?: { released: number; product2: number; standardEntries: number; bookEntries: number };
  accounts: Array<{
    id: string;
    name: string;
    status: string | null;
    customerNumber: string | null;
    warning: string | null;
  }>;
  contacts: Array<{ id: string; name: string; status: string | null; personId: string | null }>;
  order?: {
    opportunityId: string;
    salesOrderNumber: string;
    orderStatus: string | null;
    lines: Array<{ item: string; quantity: number; price: number }>;
  };
  invoice?: { invoiceNumber: string; recordId: string; amount: number; paymentStatus: string };
  payment?: { amount: number; invoiceStatus: string; accountStatus: string | null };
  inventory?: {
    itemNumber: string;
    onHand: SiteStock | undefined;
    firstMs: number;
    cachedMs: number;
  };
  durationMs: number;
}

class StepFailure extends Error {}
class StepSkipped extends Error {}

const text = (value: unknown): string | null =>
  value === null || value === undefined || value === '' ? null : String(value);
const money = (value: unknown): string => Number(value ?? 0).toFixed(2);

/** A 120-character name (the mapping truncates it to 100 and flags the account). */
export function longAccountName(): string {
  const words =
    'Contoso Pharmaceutical Research and Development Laboratories of the Greater Pacific Northwest Region, Clinical Trials Division';
  return words.slice(0, LONG_NAME_LENGTH);
}

export async function runTour(sandbox: Sandbox, out: Output): Promise<TourReport> {
  const started = Date.now();
  const { harness } = sandbox;
  const sf = harness.salesforce.control;
  const d365 = harness.d365.control;
  const report: TourReport = { steps: [], accounts: [], contacts: [], durationMs: 0 };

  const adminStatus = await admin<{ flows: string[] }>('GET', '/api/v1/admin/status');
  const available = new Set(adminStatus.flows);

  async function admin<T>(method: string, path: string): Promise<T> {
    const response = await fetch(`${sandbox.relayUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${sandbox.secrets.adminToken}` }
    });
    if (!response.ok) throw new StepFailure(`${method} ${path} answered ${response.status}`);
    return (await response.json()) as T;
  }

  /** Polls `check` (showing a progress line) until it returns a value; fails the step on timeout. */
  async function until<T>(
    label: string,
    check: () =>
      | { value?: T; done?: number; total?: number }
      | Promise<{ value?: T; done?: number; total?: number }>
  ): Promise<T> {
    const progress = out.progress(label);
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    try {
      for (;;) {
        const state = await check();
        if (state.value !== undefined) return state.value;
        if (state.done !== undefined) progress.update(state.done, state.total);
        if (Date.now() > deadline)
          throw new StepFailure(
            `timed out after ${STEP_TIMEOUT_MS / 1_000} s waiting for ${label}`
          );
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    } finally {
      progress.stop();
    }
  }

  function need(flow: string): void {
    if (!available.has(flow)) throw new StepSkipped(`${flow} not available in this build`);
  }

  async function step(name: string, title: string, body: () => Promise<string>): Promise<void> {
    out.heading(`${report.steps.length + 1}. ${title}`);
    try {
      const note = await body();
      report.steps.push({ name, status: 'done', note });
    } catch (err) {
      if (err instanceof StepSkipped) {
        out.skipped(err.message);
        report.steps.push({ name, status: 'skipped', note: err.message });
        return;
      }
      const message = (err as Error).message;
      out.fail(message);
      report.steps.push({ name, status: 'failed', note: message });
    }
  }

  const standardBook = String(sf.records('Pricebook2').find((book) => book.IsStandard)!.Id);
  const productId = (item: string) =>
    sf.records('Product2').find((p) => p.D365_Item_Number__c === item)?.Id as string | undefined;
  const standardPrice = (product: string) =>
    sf
      .records('PricebookEntry')
      .find((e) => e.Product2Id === product && e.Pricebook2Id === standardBook)?.UnitPrice as
      number | undefined;

  /** Terminal sync status of a record the relay writes back to (Synced or Error). */
  const settled = (sobject: string, id: string) => {
    const record = harness.record(sobject, id);
    const status = record?.D365_Sync_Status__c;
    return status === 'Synced' || status === 'Error' ? record : undefined;
  };

  /** Waits until every record has settled, showing how many have so far. */
  const allSettled = (label: string, sobject: string, ids: string[]) =>
    until(label, () => {
      const done = ids.map((id) => settled(sobject, id)).filter((r) => r !== undefined);
      return {
        value: done.length === ids.length ? done : undefined,
        done: done.length,
        total: ids.length
      };
    });

  /** The sync result events the relay published for one record (as the status component sees them). */
  async function showSyncResults(ids: string[]): Promise<void> {
    const events = await until('the D365_Sync_Result__e events', () => {
      const found = ids.map((id) => harness.syncResults(id));
      return {
        value: found.every((list) => list.length > 0) ? found.flat() : undefined,
        done: found.filter((list) => list.length > 0).length,
        total: ids.length
      };
    }).catch(() => {
      // The write-back is what the step checks; a late event is worth a warning, not a failure.
      out.warn('not every D365_Sync_Result__e event arrived in time');
      return ids.flatMap((id) => harness.syncResults(id));
    });
    for (const event of events)
      out.item(
        out.paint(
          'dim',
          `event D365_Sync_Result__e: ${String(event.Flow__c)} ${String(event.Status__c)} ${String(event.Record_Id__c)} → ${text(event.D365_Key__c) ?? '–'}`
        )
      );
  }

  // 1. Catalogue: D365 → Salesforce.
  await step('products', 'D365 catalogue → Salesforce: products and prices', async () => {
    const released = d365.read('ReleasedProductsV2', { legalEntity: LEGAL_ENTITY }).length;
    if (!available.has(FLOW.products)) {
      ensureProductsByHand();
      out.item('(D0001 and A0001 added to Salesforce by hand, so the order step has products)');
      throw new StepSkipped(`${FLOW.products} not available in this build`);
    }
    out.item(
      `D365 ${LEGAL_ENTITY} has ${released} released products; asking the relay for a full sync:`
    );
    out.item(out.paint('dim', `POST /api/v1/admin/sync/products?full=true`));
    const { jobId } = await admin<{ jobId: number }>(
      'POST',
      '/api/v1/admin/sync/products?full=true'
    );
    const store = harness.relay().store;
    await until('the products sync', async () => {
      const synced = sf.records('Product2').filter((p) => p.D365_Item_Number__c).length;
      return {
        value: (await store.getJob(jobId)) === null ? true : undefined,
        done: synced,
        total: released
      };
    });
    const dead = (await store.counts()).deadLetters[FLOW.products] ?? 0;
    if (dead > 0)
      throw new StepFailure(`the products sync was dead-lettered (see /api/v1/admin/dead-letters)`);
    const products = sf.records('Product2').filter((p) => p.D365_Item_Number__c);
    const entries = sf.records('PricebookEntry');
    const standardEntries = entries.filter((e) => e.Pricebook2Id === standardBook).length;
    const bookEntries = entries.length - standardEntries;
    const otherBooks = sf
      .records('Pricebook2')
      .filter((book) => !book.IsStandard)
      .map((book) => `"${String(book.Name)}"`)
      .join(', ');
    report.products = { released, product2: products.length, standardEntries, bookEntries };
    out.ok(`Product2: ${products.length} (upserted by D365_Item_Number__c)`);
    out.ok(
      `PricebookEntry: ${standardEntries} in the standard price book, ${bookEntries} in ${otherBooks || 'no other price book'}`
    );
    const sample = productId('D0001');
    if (sample)
      out.item(
        `e.g. D0001 ${String(harness.record('Product2', sample)?.Name)} at ${money(standardPrice(sample))}`
      );
    return `${products.length} products`;
  });

  function ensureProductsByHand(): void {
    for (const [item, name, price] of [
      ['D0001', 'MidRangeSpeaker2', 275],
      ['A0001', 'HDMI cable', 14.5]
    ] as const) {
      if (productId(item)) continue;
      const id = sf.insert('Product2', { Name: name, D365_Item_Number__c: item, IsActive: true });
      sf.insert('PricebookEntry', {
        Pricebook2Id: standardBook,
        Product2Id: id,
        UnitPrice: price,
        IsActive: true
      });
    }
  }

  // 2. Accounts: Salesforce → D365 customers.
  let orderAccount: string | undefined;
  await step('accounts', 'Salesforce accounts → D365 customers', async () => {
    if (!available.has(FLOW.accounts)) {
      orderAccount = sf.insert('Account', {
        Name: 'Contoso Retail',
        D365_Customer_Number__c: 'US-001'
      });
      out.item(
        '(the order step uses "Contoso Retail", linked by hand to the existing customer US-001)'
      );
      throw new StepSkipped(`${FLOW.accounts} not available in this build`);
    }
    const specs: SfRecord[] = [
      {
        Name: 'Northwind Traders',
        BillingStreet: '1 Market Street\nSuite 300',
        BillingCity: 'San Francisco',
        BillingState: 'CA',
        BillingPostalCode: '94105',
        BillingCountry: 'United States',
        Phone: '+1 415 555 0100',
        Website: 'https://northwind.example'
      },
      {
        Name: longAccountName(),
        BillingCity: 'Seattle',
        BillingState: 'WA',
        BillingPostalCode: '98101',
        BillingCountry: 'US'
      }
    ];
    const ids: string[] = [];
    for (const spec of specs) {
      const { id } = await harness.createAccount(spec);
      ids.push(id);
      const name = String(spec.Name);
      const shown =
        name.length > 40 ? `${name.slice(0, 37)}…" (${name.length} characters)` : `${name}"`;
      out.item(`+ Account "${shown} → D365_Account_Sync__e published`);
    }
    const records = await allSettled('the customers in D365', 'Account', ids);
    for (const record of records) {
      const entry = {
        id: String(record.Id),
        name: String(record.Name),
        status: text(record.D365_Sync_Status__c),
        customerNumber: text(record.D365_Customer_Number__c),
        warning: text(record.D365_Sync_Warning__c)
      };
      report.accounts.push(entry);
      const label = entry.name.length > 40 ? `${entry.name.slice(0, 37)}…` : entry.name;
      if (entry.status !== 'Synced') {
        out.fail(
          `"${label}": ${entry.status ?? 'no status'} — ${text(record.D365_Last_Sync_Error__c) ?? ''}`
        );
        continue;
      }
      const customer = d365.read('CustomersV3', {
        legalEntity: '*',
        filter: `CustomerAccount eq '${entry.customerNumber}'`
      })[0];
      out.ok(
        `"${label}" → D365 customer ${entry.customerNumber} (${String(customer?.dataAreaId ?? '?')}); written back with status Synced`
      );
      if (customer)
        out.item(
          out.paint(
            'dim',
            `  in D365: OrganizationName ${String(customer.OrganizationName).length} chars, ${String(customer.AddressCity)} ${String(customer.AddressState)} ${String(customer.AddressCountryRegionId)}, IdentificationNumber ${String(customer.IdentificationNumber)}`
          )
        );
      if (entry.warning) out.warn(`warning on the account: ${entry.warning}`);
    }
    await showSyncResults(ids);
    orderAccount = report.accounts.find((a) => a.status === 'Synced')?.id;
    const failed = report.accounts.filter((a) => a.status !== 'Synced').length;
    if (failed > 0) throw new StepFailure(`${failed} account(s) not synced`);
    return `${records.length} customers`;
  });

  // 3. Contacts: Salesforce → D365 contact persons.
  await step('contacts', 'Salesforce contacts → D365 contact persons', async () => {
    need(FLOW.contacts);
    if (!orderAccount) throw new StepSkipped('no synced account to attach contacts to');
    const ids: string[] = [];
    for (const [first, last, title] of [
      ['Nancy', 'Davolio', 'Purchasing Manager'],
      ['Andrew', 'Fuller', 'VP Sales']
    ] as const) {
      const { id } = await harness.createContact({
        AccountId: orderAccount,
        FirstName: first,
        LastName: last,
        Title: title,
        Email: `${first.toLowerCase()}@northwind.example`
      });
      ids.push(id);
      out.item(`+ Contact ${first} ${last} → D365_Contact_Sync__e published`);
    }
    const records = await allSettled('the contact persons in D365', 'Contact', ids);
    for (const record of records) {
      const entry = {
        id: String(record.Id),
        name: `${String(record.FirstName)} ${String(record.LastName)}`,
        status: text(record.D365_Sync_Status__c),
        personId: text(record.D365_Contact_Person_Id__c)
      };
      report.contacts.push(entry);
      if (entry.status === 'Synced')
        out.ok(`${entry.name} → D365 contact person ${entry.personId}`);
      else
        out.fail(
          `${entry.name}: ${entry.status ?? 'no status'} — ${text(record.D365_Last_Sync_Error__c) ?? ''}`
        );
    }
    await showSyncResults(ids);
    const failed = report.contacts.filter((c) => c.status !== 'Synced').length;
    if (failed > 0) throw new StepFailure(`${failed} contact(s) not synced`);
    return `${records.length} contact persons`;
  });

  // 4. Closed Won → sales order.
  await step('order', 'Closed Won opportunity → D365 sales order', async () => {
    need(FLOW.order);
    if (!orderAccount) throw new StepSkipped('no account that is a D365 customer');
    const opportunityId = sf.insert('Opportunity', {
      Name: 'Northwind — speakers for the new stores',
      StageName: 'Negotiation/Review',
      CloseDate: new Date().toISOString().slice(0, 10),
      AccountId: orderAccount,
      Pricebook2Id: standardBook
    });
    for (const [item, quantity] of [
      ['D0001', 2],
      ['A0001', 3]
    ] as const) {
      const product = productId(item);
      const price = product && standardPrice(product);
      if (!product || price === undefined)
        throw new StepFailure(`product ${item} has no standard price in Salesforce`);
      sf.insert('OpportunityLineItem', {
        OpportunityId: opportunityId,
        Product2Id: product,
        Quantity: quantity,
        UnitPrice: price
      });
    }
    await harness.closeWon(opportunityId);
    out.item(`+ Opportunity with 2 lines set to Closed Won → D365_Order_Request__e published`);
    const record = await until('the sales order in D365', () => ({
      value: settled('Opportunity', opportunityId)
    }));
    if (record.D365_Sync_Status__c !== 'Synced')
      throw new StepFailure(
        `opportunity not synced: ${text(record.D365_Last_Sync_Error__c) ?? ''}`
      );
    const salesOrderNumber = String(record.D365_Sales_Order_Number__c);
    const header = d365.read('SalesOrderHeadersV2', {
      legalEntity: '*',
      filter: `SalesOrderNumber eq '${salesOrderNumber}'`
    })[0];
    const lines = d365
      .read('SalesOrderLines', {
        legalEntity: '*',
        filter: `SalesOrderNumber eq '${salesOrderNumber}'`
      })
      .map((line) => ({
        item: String(line.ItemNumber),
        quantity: Number(line.OrderedSalesQuantity),
        price: Number(line.SalesPrice)
      }));
    report.order = {
      opportunityId,
      salesOrderNumber,
      orderStatus: text(record.D365_Order_Status__c),
      lines
    };
    out.ok(
      `D365 sales order ${salesOrderNumber} for customer ${String(header?.OrderingCustomerAccountNumber)}, CustomersOrderReference = the opportunity id`
    );
    for (const line of lines)
      out.item(
        `    ${line.item.padEnd(8)} ${String(line.quantity).padStart(4)} × ${money(line.price)}`
      );
    out.ok(
      `written back: D365_Sales_Order_Number__c ${salesOrderNumber}, D365_Order_Status__c ${String(record.D365_Order_Status__c)}`
    );
    await showSyncResults([opportunityId]);
    return salesOrderNumber;
  });

  // 5. Invoice: D365 business event → Invoice__c.
  await step('invoice', 'D365 posts the invoice → Invoice__c in Salesforce', async () => {
    need(FLOW.invoice);
    if (!report.order) throw new StepSkipped('needs the sales order of the previous step');
    const posted = d365.postInvoice({
      salesOrderNumber: report.order.salesOrderNumber,
      legalEntity: LEGAL_ENTITY
    });
    const invoiceNumber = String(posted.InvoiceNumber);
    out.item(
      `+ invoice ${invoiceNumber} posted in D365 (control API) → SalesInvoicePostedBusinessEvent to the relay`
    );
    const key = `${LEGAL_ENTITY}|${invoiceNumber}`.toLowerCase();
    const invoice = await until('Invoice__c', () => ({
      value: sf
        .records('Invoice__c')
        .find((r) => String(r.D365_Invoice_Key__c).toLowerCase() === key)
    }));
    const account = harness.record('Account', String(invoice.Account__c));
    report.invoice = {
      invoiceNumber,
      recordId: String(invoice.Id),
      amount: Number(invoice.Amount__c),
      paymentStatus: String(invoice.Payment_Status__c)
    };
    out.ok(
      `Invoice__c ${String(invoice.Name)} under "${String(account?.Name)}": ${money(invoice.Amount__c)} ${String(invoice.Currency_Code__c ?? '')}, due ${String(invoice.Due_Date__c)}, ${String(invoice.Payment_Status__c)}`
    );
    return invoiceNumber;
  });

  // 6. Payment: D365 customer payment → payment status in Salesforce.
  await step('payment', 'The customer pays part of it → payment status in Salesforce', async () => {
    need(FLOW.payment);
    if (!report.invoice || !report.order)
      throw new StepSkipped('needs the invoice of the previous step');
    const customer = harness.record(
      'Account',
      String(harness.record('Opportunity', report.order.opportunityId)?.AccountId)
    );
    const customerAccount = String(customer?.D365_Customer_Number__c);
    const amount = Math.round(report.invoice.amount * 50) / 100;
    d365.registerPayment({
      customerAccount,
      amount,
      invoiceNumber: report.invoice.invoiceNumber,
      legalEntity: LEGAL_ENTITY
    });
    out.item(
      `+ payment of ${money(amount)} registered in D365 for ${customerAccount} (control API)`
    );
    const byEvent = sandbox.flows.find((flow) => flow.name === FLOW.payment)?.businessEvents
      ?.length;
    if (!byEvent) {
      out.item(out.paint('dim', 'POST /api/v1/admin/sync/payment'));
      await admin('POST', '/api/v1/admin/sync/payment');
    }
    const before = report.invoice.paymentStatus;
    const invoice = await until('the payment status', () => {
      const record = harness.record('Invoice__c', report.invoice!.recordId);
      return {
        value:
          record && record.Payment_Status__c !== before && Number(record.Amount_Paid__c) > 0
            ? record
            : undefined
      };
    });
    const account = harness.record('Account', String(invoice.Account__c));
    report.payment = {
      amount,
      invoiceStatus: String(invoice.Payment_Status__c),
      accountStatus: text(account?.D365_Payment_Status__c)
    };
    out.ok(
      `Invoice__c ${String(invoice.Name)}: ${before} → ${String(invoice.Payment_Status__c)} (paid ${money(invoice.Amount_Paid__c)}, balance ${money(invoice.Balance_Due__c)})`
    );
    out.ok(
      `Account: D365_Payment_Status__c ${String(account?.D365_Payment_Status__c)}, open balance ${money(account?.D365_Open_Balance__c)}`
    );
    return String(invoice.Payment_Status__c);
  });

  // 7. Inventory: the component's callout.
  await step(
    'inventory',
    'Stock changes in D365 → the inventory lookup the Account page calls',
    async () => {
      if (!harness.relay().app.hasRoute({ method: 'GET', url: '/api/v1/inventory' }))
        throw new StepSkipped('inventory not available in this build');
      const itemNumber = 'D0001';
      d365.setStock({
        itemNumber,
        siteId: '1',
        warehouseId: '11',
        onHand: 120,
        reserved: 15,
        ordered: 40,
        legalEntity: LEGAL_ENTITY
      });
      out.item(
        `+ stock of ${itemNumber} at site 1 / warehouse 11 set to 120 on hand, 15 reserved, 40 ordered (control API)`
      );
      const path = `/api/v1/inventory?items=${itemNumber},A0001&legalEntity=${LEGAL_ENTITY}`;
      out.item(out.paint('dim', `GET ${path}  (X-Relay-Key, as D365InventoryController calls it)`));
      const call = async () => {
        const t0 = performance.now();
        const response = await fetch(`${sandbox.relayUrl}${path}`, {
          headers: { 'x-relay-key': sandbox.secrets.calloutKey }
        });
        const body = (await response.json()) as InventoryAnswer & { message?: string };
        if (!response.ok)
          throw new StepFailure(`inventory answered ${response.status}: ${body.message ?? ''}`);
        return { body, ms: performance.now() - t0 };
      };
      const first = await call();
      const cached = await call();
      for (const item of first.body.items)
        for (const site of item.sites)
          out.item(
            `    ${item.itemNumber.padEnd(8)} site ${site.siteId} wh ${site.warehouseId.padEnd(4)} available ${String(site.available).padStart(5)}  reserved ${String(site.reserved).padStart(4)}  ordered ${String(site.ordered).padStart(4)}`
          );
      const site = first.body.items
        .find((i) => i.itemNumber === itemNumber)
        ?.sites.find((s) => s.siteId === '1' && s.warehouseId === '11');
      report.inventory = { itemNumber, onHand: site, firstMs: first.ms, cachedMs: cached.ms };
      out.ok(
        `answered in ${first.ms.toFixed(0)} ms from D365, then ${cached.ms.toFixed(0)} ms from the cache (stale: ${String(cached.body.stale)})`
      );
      return `${first.body.items.length} items`;
    }
  );

  report.durationMs = Date.now() - started;
  return report;
}

interface SiteStock {
  siteId: string;
  warehouseId: string;
  available: number;
  reserved: number;
  ordered: number;
}

interface InventoryAnswer {
  stale: boolean;
  items: Array<{ itemNumber: string; sites: SiteStock[] }>;
}
