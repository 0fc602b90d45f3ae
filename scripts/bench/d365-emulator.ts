// Benchmark of the D365 emulator: keyed GETs/s, POSTs/s, time to import a 100,000-row DMF package
// and the emulator's RSS with the 100,000-customer data set. The emulator runs in its own process
// (the CLI), the client here over HTTPS with keep-alive, so each gets one of the two cores.
//   npm run bench:d365-emulator [-- --customers 100000 --products 50000 --gets 30000 --posts 10000 --rows 100000 --concurrency 32]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ENTITY_BY_SET, packageFor } from '../../test/emulators/d365/index.ts';

const { values: args } = parseArgs({
  options: {
    customers: { type: 'string', default: '100000' },
    products: { type: 'string', default: '50000' },
    gets: { type: 'string', default: '30000' },
    posts: { type: 'string', default: '10000' },
    rows: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '32' }
  }
});
const customers = Number(args.customers);
const concurrency = Number(args.concurrency);

interface Started {
  url: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

const dir = mkdtempSync(join(tmpdir(), 'd365-bench-'));
const caFile = join(dir, 'ca.pem');
const cli = new URL('../../test/emulators/d365/cli.ts', import.meta.url).pathname;
const seedStarted = Date.now();
const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    cli,
    '--port',
    '0',
    '--seed',
    `${customers}x${args.products}`,
    '--ca-file',
    caFile
  ],
  {
    stdio: ['ignore', 'pipe', 'inherit']
  }
);

const info = await new Promise<Started>((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString('utf8');
    try {
      resolve(JSON.parse(out) as Started);
    } catch {
      // The JSON block arrives in pieces; wait for the rest.
    }
  });
  child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
});
const seedSeconds = (Date.now() - seedStarted) / 1000;

const agent = new Agent({
  ca: readFileSync(caFile, 'utf8'),
  keepAlive: true,
  maxSockets: concurrency
});

const origin = new URL(info.url);

function send(
  method: string,
  url: string,
  body?: string | Buffer,
  headers: Record<string, string> = {}
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // Options instead of a URL string: the client skips URL parsing on every call.
    const target = url.startsWith('http') ? new URL(url) : undefined;
    const req = request(
      {
        host: origin.hostname,
        port: origin.port,
        path: target ? target.pathname + target.search : url,
        method,
        agent,
        headers
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') })
        );
      }
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** CPU seconds (user + system) the process has used, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function clientMicros(since: NodeJS.CpuUsage, calls: number): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / calls;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

/** Runs `total` calls with `concurrency` in flight; returns calls per second. */
async function throughput(
  total: number,
  call: (i: number) => Promise<{ status: number }>,
  expected: number
): Promise<number> {
  let next = 0;
  let failures = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        if ((await call(i)).status !== expected) failures++;
      }
    })
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (failures > 0) throw new Error(`${failures} of ${total} calls did not answer ${expected}`);
  return total / seconds;
}

try {
  const rssAfterSeed = rssMb(child.pid!);
  const token = JSON.parse(
    (
      await send(
        'POST',
        `/${info.tenantId}/oauth2/v2.0/token`,
        new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: info.clientId,
          client_secret: info.clientSecret,
          scope: `${info.url}/.default`
        }).toString(),
        { 'content-type': 'application/x-www-form-urlencoded' }
      )
    ).body
  ).access_token as string;
  const auth = { authorization: `Bearer ${token}` };

  // Warm-up so JIT and TLS sessions are in place before measuring.
  await throughput(
    2000,
    (i) =>
      send(
        'GET',
        `/data/CustomersV3(dataAreaId='usmf',CustomerAccount='US-${String((i % customers) + 1).padStart(3, '0')}')`,
        undefined,
        auth
      ),
    200
  );
  let cpu = cpuSeconds(child.pid!);
  let clientCpu = process.cpuUsage();
  const getsPerSecond = await throughput(
    Number(args.gets),
    (i) =>
      send(
        'GET',
        `/data/CustomersV3(dataAreaId='usmf',CustomerAccount='US-${String(((i * 7919) % customers) + 1).padStart(3, '0')}')`,
        undefined,
        auth
      ),
    200
  );
  const getCpuMicros = ((cpuSeconds(child.pid!) - cpu) / Number(args.gets)) * 1e6;
  const getClientMicros = clientMicros(clientCpu, Number(args.gets));
  cpu = cpuSeconds(child.pid!);
  clientCpu = process.cpuUsage();
  const postsPerSecond = await throughput(
    Number(args.posts),
    (i) =>
      send(
        'POST',
        '/data/CustomersV3',
        JSON.stringify({
          OrganizationName: `Bench customer ${i}`,
          CustomerGroupId: '10',
          AddressCity: 'Seattle'
        }),
        { ...auth, 'content-type': 'application/json' }
      ),
    201
  );

  const postCpuMicros = ((cpuSeconds(child.pid!) - cpu) / Number(args.posts)) * 1e6;
  const postClientMicros = clientMicros(clientCpu, Number(args.posts));
  const rows = Number(args.rows);
  const pkg = packageFor(
    ENTITY_BY_SET.get('CustomersV3')!,
    Array.from({ length: rows }, (_, i) => ({
      CUSTOMERACCOUNT: `BM-${String(i + 1).padStart(6, '0')}`,
      ORGANIZATIONNAME: `Imported customer ${i + 1}`,
      CUSTOMERGROUPID: '20',
      ADDRESSCITY: 'Redmond',
      CREDITLIMIT: String(1000 + (i % 100))
    }))
  );
  const action = async (name: string, body: unknown): Promise<unknown> =>
    (
      JSON.parse(
        (
          await send(
            'POST',
            `/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities.${name}`,
            JSON.stringify(body),
            { ...auth, 'content-type': 'application/json' }
          )
        ).body
      ) as { value: unknown }
    ).value;
  const importStarted = Date.now();
  const { BlobUrl } = JSON.parse(
    String(await action('GetAzureWriteUrl', { uniqueFileName: 'bench-package' }))
  ) as { BlobUrl: string };
  await send('PUT', BlobUrl, Buffer.from(pkg), {
    'x-ms-blob-type': 'BlockBlob',
    'content-type': 'application/zip'
  });
  const executionId = String(
    await action('ImportFromPackage', {
      packageUrl: BlobUrl,
      definitionGroupId: 'Bench import',
      executionId: '',
      execute: true,
      overwrite: true,
      legalEntityId: 'usmf'
    })
  );
  let status = 'Executing';
  while (status === 'Executing' || status === 'NotRun') {
    await new Promise((r) => setTimeout(r, 100));
    status = String(await action('GetExecutionSummaryStatus', { executionId }));
  }
  const importSeconds = (Date.now() - importStarted) / 1000;
  const rssAfterAll = rssMb(child.pid!);

  console.log(
    `D365 emulator benchmark (emulator in a child process, client in this process, HTTPS keep-alive, ${concurrency} in flight)`
  );
  console.log(
    `  seed ${customers} customers / ${args.products} products: ${seedSeconds.toFixed(1)} s to ready`
  );
  // Server CPU per request gives the capacity of one emulator core, independent of the client and of other load on the machine.
  console.log(
    `  keyed GET CustomersV3:            ${Math.round(getsPerSecond)} req/s (${args.gets} requests; target >= 5000); emulator CPU ${Math.round(getCpuMicros)} us/req = ${Math.round(1e6 / getCpuMicros)} req/s per core; client CPU ${Math.round(getClientMicros)} us/req`
  );
  console.log(
    `  POST CustomersV3:                 ${Math.round(postsPerSecond)} req/s (${args.posts} requests; target >= 2000); emulator CPU ${Math.round(postCpuMicros)} us/req = ${Math.round(1e6 / postCpuMicros)} req/s per core; client CPU ${Math.round(postClientMicros)} us/req`
  );
  console.log(
    `  machine load average (1 min):     ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`
  );
  console.log(
    `  DMF import of ${rows} rows:       ${importSeconds.toFixed(2)} s upload to ${status} (package ${(pkg.length / 1e6).toFixed(1)} MB; target <= 10 s)`
  );
  console.log(`  emulator RSS after seed:          ${rssAfterSeed} MB`);
  console.log(`  emulator RSS at the end:          ${rssAfterAll} MB`);
} finally {
  agent.destroy();
  child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
