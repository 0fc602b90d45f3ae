import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { noopFlow } from '../../relay/src/flows/noop.ts';
import { startSandbox, type Sandbox } from './environment.ts';
import { printGuide } from './main.ts';
import { Output } from './output.ts';
import { FLOW, longAccountName, runTour, type TourReport } from './tour.ts';

/**
 * The `npm start` tour over both emulators and the relay: each step's effect is checked in the
 * emulators themselves, not only in what the tour printed.
 */
const ROOT = join(import.meta.dirname, '../..');
/** The brief for the sandbox: the tour stays well under half a minute. */
const TOUR_BUDGET_MS = 30_000;

function captured(isTTY = false) {
  let text = '';
  const out = new Output({ write: (chunk: string) => (text += chunk), isTTY });
  return { out, text: () => text };
}

describe('the full tour', () => {
  let dir: string;
  let sandbox: Sandbox;
  let report: TourReport;
  let printed: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sandbox-test-'));
    sandbox = await startSandbox({ port: 0, dataDir: dir });
    const { out, text } = captured();
    report = await runTour(sandbox, out);
    printGuide(out, sandbox);
    printed = text();
  });

  afterAll(async () => {
    await sandbox?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const record = (sobject: string, id: string) => sandbox.harness.record(sobject, id)!;
  const d365 = () => sandbox.harness.d365.control;

  it('runs every step of this build to done, within the time budget', () => {
    expect(report.steps.map((s) => [s.name, s.status])).toEqual([
      ['products', 'done'],
      ['accounts', 'done'],
      ['contacts', 'done'],
      ['order', 'done'],
      ['invoice', 'done'],
      ['payment', 'done'],
      ['inventory', 'done']
    ]);
    expect(report.durationMs).toBeLessThan(TOUR_BUDGET_MS);
  });

  it('syncs every released product of the legal entity to Product2 with standard prices', () => {
    const released = d365().read('ReleasedProductsV2', { legalEntity: 'usmf' });
    const products = sandbox.harness.salesforce.control
      .records('Product2')
      .filter((p) => p.D365_Item_Number__c);
    expect(products.map((p) => p.D365_Item_Number__c).sort()).toEqual(
      released.map((p) => p.ItemNumber).sort()
    );
    expect(report.products).toMatchObject({
      released: released.length,
      product2: released.length,
      standardEntries: released.length
    });
  });

  it('creates a D365 customer per account, holding the Salesforce id, and flags the truncated name', () => {
    expect(report.accounts).toHaveLength(2);
    for (const account of report.accounts) {
      const [customer] = d365().read('CustomersV3', {
        legalEntity: '*',
        filter: `IdentificationNumber eq '${account.id}'`
      });
      expect(customer?.CustomerAccount).toBe(account.customerNumber);
      expect(record('Account', account.id).D365_Sync_Status__c).toBe('Synced');
    }
    const long = report.accounts.find((a) => a.name === longAccountName())!;
    expect(long.name).toHaveLength(120);
    const [customer] = d365().read('CustomersV3', {
      legalEntity: '*',
      filter: `CustomerAccount eq '${long.customerNumber}'`
    });
    expect(customer?.OrganizationName).toBe(long.name.slice(0, 100));
    expect(long.warning).toMatch(/100/);
    expect(report.accounts.find((a) => a !== long)!.warning).toBeNull();
  });

  it('creates the contacts as D365 contact persons and writes their ids back', () => {
    expect(report.contacts).toHaveLength(2);
    for (const contact of report.contacts) {
      expect(contact.status).toBe('Synced');
      const rows = d365().read('ContactPersons', {
        legalEntity: '*',
        filter: `ContactPersonId eq '${contact.personId}'`
      });
      expect(rows).toHaveLength(1);
    }
  });

  it('creates one sales order with both lines for the won opportunity and writes its number back', () => {
    const order = report.order!;
    const orders = d365().read('SalesOrderHeadersV2', {
      legalEntity: '*',
      filter: `CustomersOrderReference eq '${order.opportunityId}'`
    });
    expect(orders.map((o) => o.SalesOrderNumber)).toEqual([order.salesOrderNumber]);
    expect(order.lines.map((l) => [l.item, l.quantity])).toEqual([
      ['D0001', 2],
      ['A0001', 3]
    ]);
    expect(record('Opportunity', order.opportunityId)).toMatchObject({
      D365_Sales_Order_Number__c: order.salesOrderNumber,
      D365_Sync_Status__c: 'Synced'
    });
    expect(sandbox.harness.syncResults(order.opportunityId).map((e) => e.Status__c)).toContain(
      'Synced'
    );
  });

  it('brings the posted invoice to Invoice__c under the ordering account', () => {
    const invoice = record('Invoice__c', report.invoice!.recordId);
    const opportunity = record('Opportunity', report.order!.opportunityId);
    expect(invoice).toMatchObject({
      D365_Invoice_Key__c: `usmf|${report.invoice!.invoiceNumber}`,
      Sales_Order_Number__c: report.order!.salesOrderNumber,
      Account__c: opportunity.AccountId
    });
    expect(report.invoice!.paymentStatus).toBe('Open');
  });

  it('shows the half payment as Partially Paid on the invoice and an open balance on the account', () => {
    const invoice = record('Invoice__c', report.invoice!.recordId);
    expect(invoice.Payment_Status__c).toBe('Partially Paid');
    expect(invoice.Amount_Paid__c).toBeCloseTo(report.payment!.amount, 2);
    expect(report.payment!.accountStatus).toBe('Open');
  });

  it('answers the inventory callout with the changed stock (available = on hand − reserved)', () => {
    expect(report.inventory!.onHand).toEqual({
      siteId: '1',
      warehouseId: '11',
      available: 105,
      reserved: 15,
      ordered: 40
    });
  });

  it('prints plain text (no colour codes) when stdout is not a terminal, and where to look', () => {
    expect(printed).not.toContain('\u001b[');
    expect(printed).toContain(`${sandbox.relayUrl}/docs`);
    expect(printed).toContain(`Bearer ${sandbox.secrets.adminToken}' ${sandbox.relayUrl}/metrics`);
    expect(printed).toContain(`X-Relay-Key: ${sandbox.secrets.calloutKey}`);
    expect(printed).toContain('Ctrl+C');
    expect(printed).toContain('warning on the account');
  });

  it('keeps the relay store under the data directory it was given', () => {
    expect(sandbox.storeFile).toBe(join(dir, 'relay.db'));
  });
});

describe('a build without the flows', () => {
  let dir: string;
  let sandbox: Sandbox;
  let report: TourReport;
  let printed: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sandbox-test-'));
    sandbox = await startSandbox({ port: 0, dataDir: dir, flows: [noopFlow] });
    const { out, text } = captured();
    report = await runTour(sandbox, out);
    printed = text();
  });

  afterAll(async () => {
    await sandbox?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('skips each missing flow with its name instead of failing', () => {
    const skipped = report.steps.filter((s) => s.status === 'skipped').map((s) => s.note);
    expect(skipped).toEqual(
      [FLOW.products, FLOW.accounts, FLOW.contacts, FLOW.order, FLOW.invoice, FLOW.payment].map(
        (flow) => `${flow} not available in this build`
      )
    );
    expect(report.steps.some((s) => s.status === 'failed')).toBe(false);
    expect(printed).toContain('skipped: order not available in this build');
  });
});

describe('npm start -- --once', () => {
  it('plays the tour and exits 0 when it is done', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-test-'));
    try {
      const child = spawn(
        'npx',
        ['tsx', 'scripts/sandbox/main.ts', '--once', '--port', '0', '--data-dir', dir],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }
      );
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code).toBe(0);
      expect(stdout).toMatch(/Tour finished in [0-9.]+ s: 7 done/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('terminal output', () => {
  it('colours and redraws the progress line in place only on a terminal', () => {
    vi.stubEnv('NO_COLOR', '');
    const terminal = captured(true);
    vi.unstubAllEnvs();
    const progress = terminal.out.progress('waiting');
    progress.update(1, 4);
    progress.stop();
    terminal.out.ok('done');
    expect(terminal.text()).toContain('[#####...............] 1/4');
    expect(terminal.text()).toContain('\r\u001b[2K');
    expect(terminal.text()).toContain('\u001b[32m✓\u001b[39m done');

    const piped = captured(false);
    const quiet = piped.out.progress('waiting');
    quiet.update(1, 4);
    quiet.stop();
    piped.out.ok('done');
    expect(piped.text()).toBe('  ✓ done\n');
  });
});
