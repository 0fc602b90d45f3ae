// `npm run emulator:d365 -- --port N [--seed demo|empty|<customers>x<products>] [--no-tls]
// [--page-size N] [--tenant ID] [--client-id ID --client-secret S] [--ca-file PATH]`
// Prints the environment URL and credentials, runs until SIGINT/SIGTERM.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { start, type SeedOption } from './index.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    seed: { type: 'string', default: 'demo' },
    'no-tls': { type: 'boolean', default: false },
    'page-size': { type: 'string' },
    tenant: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'ca-file': { type: 'string' },
    'control-token': { type: 'string' }
  }
});

function seedOption(raw: string): SeedOption {
  if (raw === 'demo' || raw === 'empty') return raw;
  const m = /^(\d+)x(\d+)$/.exec(raw);
  if (!m) throw new Error(`--seed must be demo, empty or <customers>x<products>, not '${raw}'`);
  return { customers: Number(m[1]), products: Number(m[2]) };
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be an integer between 0 and 65535, not '${values.port}'`);
  process.exit(2);
}
if (Boolean(values['client-id']) !== Boolean(values['client-secret'])) {
  console.error('--client-id and --client-secret go together');
  process.exit(2);
}

const emulator = await start({
  port,
  tls: !values['no-tls'],
  seed: seedOption(values.seed),
  ...(values['page-size'] ? { pageSize: Number(values['page-size']) } : {}),
  ...(values.tenant ? { tenantId: values.tenant } : {}),
  ...(values['client-id']
    ? { clients: [{ clientId: values['client-id'], clientSecret: values['client-secret']! }] }
    : {}),
  ...(values['control-token'] ? { controlToken: values['control-token'] } : {})
});
if (values['ca-file']) writeFileSync(values['ca-file'], emulator.caCertPem);

console.log(
  JSON.stringify(
    {
      url: emulator.url,
      tenantId: emulator.tenantId,
      authority: emulator.authority,
      tokenEndpoint: `${emulator.authority}/oauth2/v2.0/token`,
      scope: `${emulator.url}/.default`,
      clientId: emulator.clientId,
      clientSecret: emulator.clientSecret,
      control: `${emulator.url}/_emulator`,
      ...(values['ca-file'] ? { caFile: values['ca-file'] } : {})
    },
    null,
    2
  )
);

const stop = (): void => {
  void emulator.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
