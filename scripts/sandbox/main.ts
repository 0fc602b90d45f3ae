/**
 * `npm start`: both emulators and the relay on this machine, a tour of the flows, then everything
 * keeps running until Ctrl+C. See README.md beside this file.
 */

import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startSandbox, type Sandbox } from './environment.ts';
import { Output } from './output.ts';
import { runTour, type TourReport } from './tour.ts';

// node:sqlite is experimental on Node 22 and the emulator's TLS name is an IP: both known, not news.
const QUIET_WARNINGS = ['SQLite is an experimental feature', 'Setting the TLS ServerName'];
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const message = typeof warning === 'string' ? warning : warning.message;
  if (QUIET_WARNINGS.some((quiet) => message.startsWith(quiet))) return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

const USAGE = `Usage: npm start [-- options]

Starts the Salesforce and D365 emulators and the relay, plays a short tour of the flows,
then keeps running until Ctrl+C.

Options:
  --port <n>          Relay HTTP port (default 8080; 0 picks a free one)
  --data-dir <dir>    Directory of the relay's SQLite store (default .data/sandbox; recreated)
  --relay-log <level> Relay log level, JSON lines on stdout (default silent)
  --no-tour           Start everything, skip the tour
  --once, --ci        Exit when the tour is done (exit code 1 if a step failed)
  -h, --help          This text`;

const DEFAULT_PORT = 8080;
const REPEAT_SIGNAL_MS = 500;

interface Args {
  port: number;
  dataDir: string;
  relayLog: string;
  tour: boolean;
  once: boolean;
}

function parse(argv: string[]): Args | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: String(DEFAULT_PORT) },
      'data-dir': { type: 'string', default: '.data/sandbox' },
      'relay-log': { type: 'string', default: 'silent' },
      'no-tour': { type: 'boolean', default: false },
      once: { type: 'boolean', default: false },
      ci: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false }
    },
    strict: true
  });
  if (values.help) return null;
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`--port must be 0 to 65535, got ${values.port}`);
  return {
    port,
    dataDir: values['data-dir'],
    relayLog: values['relay-log'],
    tour: !values['no-tour'],
    once: values.once || values.ci
  };
}

/** Where to look while the sandbox runs: URLs, ready-made curl lines, the sandbox's secrets. */
export function printGuide(out: Output, sandbox: Sandbox): void {
  const { harness, secrets, relayUrl } = sandbox;
  const bearer = `-H 'Authorization: Bearer ${secrets.adminToken}'`;
  const sf = harness.salesforce.instanceUrl;
  const d365 = harness.d365.url;
  const label = (name: string) => out.paint('bold', name.padEnd(18));
  out.heading('Where to look (everything keeps running)');
  out.item(`${label('Relay')}${relayUrl}   (health: /healthz, /readyz)`);
  out.item(`${label('OpenAPI docs')}${relayUrl}/docs   (JSON: /docs/json)`);
  out.item(`${label('Metrics')}curl ${bearer} ${relayUrl}/metrics`);
  out.item(`${label('Admin API')}curl ${bearer} ${relayUrl}/api/v1/admin/status`);
  out.item(`${''.padEnd(18)}curl ${bearer} '${relayUrl}/api/v1/admin/ledger?flow=accounts'`);
  out.item(`${''.padEnd(18)}curl ${bearer} ${relayUrl}/api/v1/admin/dead-letters`);
  out.item(
    `${''.padEnd(18)}curl -X POST ${bearer} '${relayUrl}/api/v1/admin/sync/products?full=true'`
  );
  out.item(
    `${label('Inventory')}curl -H 'X-Relay-Key: ${secrets.calloutKey}' '${relayUrl}/api/v1/inventory?items=D0001,A0001'`
  );
  out.item(
    `${label('Relay CLI')}RELAY_STORE_URL=sqlite:${sandbox.storeFile} npx d365-relay status   (also: dlq list)`
  );
  out.item(
    `${label('Salesforce')}${sf}   REST ${sf}/services/data/v62.0, Pub/Sub ${harness.salesforce.pubsubEndpoint}`
  );
  out.item(
    `${''.padEnd(18)}records: curl ${sf}/_emulator/records/Account   (control API: /_emulator/…)`
  );
  out.item(`${label('D365')}${d365}   OData ${d365}/data (self-signed TLS: curl -k)`);
  out.item(
    `${''.padEnd(18)}customers: curl -k '${d365}/_emulator/data/CustomersV3?legalEntity=usmf'`
  );
  out.item(
    `${''.padEnd(18)}post an invoice: curl -k -X POST -H 'content-type: application/json' -d '{"salesOrderNumber":"<number>"}' ${d365}/_emulator/invoices`
  );
  out.item(
    `${''.padEnd(18)}pay: curl -k -X POST -H 'content-type: application/json' -d '{"customerAccount":"<account>","amount":100}' ${d365}/_emulator/payments`
  );
  out.item(
    `${label('Business events')}D365 posts to ${relayUrl}/api/v1/business-events/${secrets.businessEventsSecret}`
  );
  out.item(
    out.paint(
      'dim',
      `Secrets above were made at start for this sandbox only (Salesforce JWT app ${secrets.consumerKey}, key pair generated in memory).`
    )
  );
  out.line();
  out.line(`Stop with Ctrl+C: the relay stops gracefully, then both emulators.`);
}

function printSummary(out: Output, report: TourReport): void {
  const count = (status: string) => report.steps.filter((s) => s.status === status).length;
  const parts = [`${count('done')} done`];
  if (count('skipped') > 0) parts.push(`${count('skipped')} skipped`);
  if (count('failed') > 0) parts.push(out.paint('red', `${count('failed')} failed`));
  out.heading(`Tour finished in ${(report.durationMs / 1_000).toFixed(1)} s: ${parts.join(', ')}`);
}

export async function main(argv: string[]): Promise<number> {
  const out = new Output(process.stdout);
  let args: Args | null;
  try {
    args = parse(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (!args) {
    out.line(USAGE);
    return 0;
  }

  out.line(out.paint('bold', 'Salesforce ↔ D365 F&O connector — sandbox'));
  const starting = out.progress('starting the Salesforce and D365 emulators and the relay');
  const t0 = Date.now();
  let sandbox: Sandbox;
  try {
    sandbox = await startSandbox({
      port: args.port,
      dataDir: args.dataDir,
      relayLogLevel: args.relayLog
    });
  } catch (err) {
    starting.stop();
    if ((err as { code?: string }).code === 'EADDRINUSE') {
      out.fail(
        `port ${args.port} is in use: run npm start -- --port 0 (a free port) or --port <n>`
      );
      return 1;
    }
    throw err;
  }
  starting.stop();
  out.ok(
    `started in ${((Date.now() - t0) / 1_000).toFixed(1)} s: relay ${sandbox.relayUrl} (store ${sandbox.storeFile}),`
  );
  out.item(
    `  Salesforce emulator ${sandbox.harness.salesforce.instanceUrl}, D365 emulator ${sandbox.harness.d365.url}`
  );

  let failed = false;
  if (args.tour) {
    const report = await runTour(sandbox, out);
    printSummary(out, report);
    failed = report.steps.some((s) => s.status === 'failed');
  }
  if (args.once) {
    await sandbox.close();
    return failed ? 1 : 0;
  }
  printGuide(out, sandbox);
  await new Promise<void>((resolve) => {
    let stoppingSince: number | null = null;
    const stop = () => {
      if (stoppingSince !== null) {
        // Ctrl+C reaches this process twice (the terminal's signal and tsx relaying it): only a
        // later, deliberate second Ctrl+C skips the graceful stop.
        if (Date.now() - stoppingSince > REPEAT_SIGNAL_MS) process.exit(130);
        return;
      }
      stoppingSince = Date.now();
      out.line();
      out.line('Stopping… (Ctrl+C again to exit at once)');
      void sandbox.close().finally(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  out.line('Stopped.');
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Exit explicitly: gRPC and HTTP agents may keep idle handles after everything is closed.
  process.exit(await main(process.argv.slice(2)));
}
