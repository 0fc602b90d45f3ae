import { parseArgs } from 'node:util';
import pino from 'pino';
import { loggerOptions } from '../../app.ts';
import type { CliIo } from '../../cli.ts';
import { createRelayClients } from '../../clients.ts';
import { loadConfig } from '../../config/load.ts';
import { openStore } from '../../store/index.ts';
import { accountLookupFor } from './accounts.ts';
import { INVOICE_FLOW } from './handler.ts';
import { invoiceWriterFor } from './writer.ts';
import { reconcileInvoices } from './reconcile.ts';

export const RECONCILE_USAGE =
  'reconcile invoices --since <YYYY-MM-DD>   Compare D365 invoices since the date with Invoice__c and repair';

/**
 * `d365-relay reconcile invoices --since DATE`: runs in this process (not through the queue) so the
 * operator sees the counts. Needs the full configuration (both systems), like `start`.
 * Exit code 0 when every difference was repaired, 1 when some failed, 2 on bad arguments.
 */
export async function reconcileCommand(
  args: string[],
  io: CliIo,
  env: NodeJS.ProcessEnv
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { since: { type: 'string' } }
  });
  const since = values.since ? new Date(`${values.since}T00:00:00Z`) : null;
  if (
    positionals.length !== 1 ||
    positionals[0] !== 'invoices' ||
    !values.since ||
    !/^\d{4}-\d{2}-\d{2}$/.test(values.since) ||
    since === null ||
    Number.isNaN(since.getTime())
  ) {
    io.err(`Usage: d365-relay ${RECONCILE_USAGE}`);
    return 2;
  }
  const config = loadConfig({ env });
  const logger = pino(loggerOptions(config.logLevel));
  const clients = createRelayClients(config.values, logger);
  const store = await openStore(config.store.url);
  try {
    // The repairs write ledger rows; migrating is safe on a migrated store.
    await store.migrate();
    const report = await reconcileInvoices(
      {
        d365: clients.d365,
        salesforce: clients.salesforce,
        writer: invoiceWriterFor(clients.salesforce),
        accounts: accountLookupFor(clients.salesforce),
        store,
        logger,
        correlationId: `reconcile:${INVOICE_FLOW}:${Date.now()}`,
        now: Date.now
      },
      since
    );
    io.out(
      `Invoices since ${values.since}: found ${report.found}, missing ${report.missing}, ` +
        `different ${report.different}, repaired ${report.repaired}, failed ${report.failed}`
    );
    for (const failure of report.failures) io.out(`  failed ${failure}`);
    return report.failed === 0 ? 0 : 1;
  } finally {
    await Promise.allSettled([clients.d365.close(), clients.salesforce.close(), store.close()]);
  }
}
