// Salesforce emulator throughput: REST upserts per second over keep-alive connections, and the
// wall time of a 100,000-row Bulk API 2.0 ingest job; then the Pub/Sub delivery rate
// (scripts/bench/salesforce-pubsub.ts).
// Run: npm run bench:salesforce-emulator [-- --upserts 30000 --concurrency 32 --rows 100000]
// Targets (issue 4), on 2 cores without injected latency: >= 3,000 upserts/s; 100,000 rows <= 10 s.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const TARGET_UPSERTS_PER_SECOND = 3_000;
const TARGET_BULK_SECONDS = 10;
const REPO = fileURLToPath(new URL('../..', import.meta.url));

const { values } = parseArgs({
  options: {
    upserts: { type: 'string', default: '30000' },
    concurrency: { type: 'string', default: '32' },
    rows: { type: 'string', default: '100000' },
    'skip-pubsub': { type: 'boolean', default: false }
  }
});
const UPSERTS = Number(values.upserts);
const CONCURRENCY = Number(values.concurrency);
const ROWS = Number(values.rows);

interface Emulator {
  child: ChildProcess;
  url: string;
  clientId: string;
  clientSecret: string;
}

/** The emulator runs in its own process, as it does for the relay, so the client does not share its thread. */
async function startEmulator(): Promise<Emulator> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'test/emulators/salesforce/cli.ts',
      '--port',
      '0',
      '--pubsub-port',
      '0',
      '--daily-api-limit',
      '100000000'
    ],
    {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'inherit']
    }
  );
  let out = '';
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const url = /instance URL \(also the login URL\): (\S+)/.exec(out)?.[1];
      const clientId = /client id:\s+(\S+)/.exec(out)?.[1];
      const clientSecret = /client secret: (\S+)/.exec(out)?.[1];
      if (url && clientId && clientSecret) resolve({ child, url, clientId, clientSecret });
    });
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() })
      );
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function token(emu: Emulator): Promise<string> {
  const res = await send(
    `${emu.url}/services/oauth2/token`,
    'POST',
    { 'content-type': 'application/x-www-form-urlencoded' },
    new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: emu.clientId,
      client_secret: emu.clientSecret
    }).toString()
  );
  return (JSON.parse(res.text) as { access_token: string }).access_token;
}

async function benchUpserts(emu: Emulator, auth: Record<string, string>): Promise<number> {
  const headers = { ...auth, 'content-type': 'application/json' };
  const upsert = async (i: number) => {
    const key = `BENCH-${i % 5000}`;
    const res = await send(
      `${emu.url}/services/data/v62.0/sobjects/Account/D365_Customer_Number__c/${key}`,
      'PATCH',
      headers,
      JSON.stringify({
        Name: `Customer ${i}`,
        BillingCity: 'Oslo',
        Phone: '+47 22 00 00 00',
        D365_Legal_Entity__c: 'usmf'
      })
    );
    if (res.status !== 200 && res.status !== 201)
      throw new Error(`upsert ${i}: ${res.status} ${res.text}`);
  };
  const run = async (count: number) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < count) await upsert(next++);
      })
    );
  };
  await run(1000); // warm-up: JIT, connections
  const started = process.hrtime.bigint();
  await run(UPSERTS);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return UPSERTS / seconds;
}

async function benchBulk(
  emu: Emulator,
  auth: Record<string, string>
): Promise<{ seconds: number; failed: number }> {
  const base = `${emu.url}/services/data/v62.0/jobs/ingest`;
  const lines = ['Name,D365_Item_Number__c,ProductCode,Description,IsActive'];
  for (let i = 0; i < ROWS; i++)
    lines.push(`Product ${i},ITEM-${i},P${i},"Bench item ${i}, standard",true`);
  const csv = `${lines.join('\n')}\n`;
  const started = process.hrtime.bigint();
  const created = await send(
    base,
    'POST',
    { ...auth, 'content-type': 'application/json' },
    JSON.stringify({
      object: 'Product2',
      operation: 'upsert',
      externalIdFieldName: 'D365_Item_Number__c',
      contentType: 'CSV',
      lineEnding: 'LF'
    })
  );
  const jobId = (JSON.parse(created.text) as { id: string }).id;
  const uploaded = await send(
    `${base}/${jobId}/batches`,
    'PUT',
    { ...auth, 'content-type': 'text/csv' },
    csv
  );
  if (uploaded.status !== 201) throw new Error(`upload: ${uploaded.status} ${uploaded.text}`);
  await send(
    `${base}/${jobId}`,
    'PATCH',
    { ...auth, 'content-type': 'application/json' },
    JSON.stringify({ state: 'UploadComplete' })
  );
  for (;;) {
    const info = JSON.parse((await send(`${base}/${jobId}`, 'GET', auth)).text) as {
      state: string;
      numberRecordsProcessed: number;
      numberRecordsFailed: number;
    };
    if (info.state === 'JobComplete' || info.state === 'Failed') {
      if (info.numberRecordsProcessed !== ROWS)
        throw new Error(`processed ${info.numberRecordsProcessed} of ${ROWS}`);
      return {
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
        failed: info.numberRecordsFailed
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function runPubSubBench(): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'scripts/bench/salesforce-pubsub.ts'],
      { cwd: REPO, stdio: 'inherit' }
    );
    child.on('exit', () => resolve());
  });
}

const emu = await startEmulator();
try {
  const auth = { authorization: `Bearer ${await token(emu)}` };
  console.log('Command: npm run bench:salesforce-emulator');
  console.log(`Emulator in a child process at ${emu.url}; ${CONCURRENCY} keep-alive connections.`);
  const rate = await benchUpserts(emu, auth);
  console.log(
    `REST upserts (PATCH /sobjects/Account/D365_Customer_Number__c/{key}): ${UPSERTS} in ${(UPSERTS / rate).toFixed(2)} s = ${Math.round(rate)} upserts/s (target >= ${TARGET_UPSERTS_PER_SECOND}) ${rate >= TARGET_UPSERTS_PER_SECOND ? 'OK' : 'BELOW TARGET'}`
  );
  const bulk = await benchBulk(emu, auth);
  console.log(
    `Bulk API 2.0 ingest (Product2 upsert, ${ROWS} rows, create → upload → JobComplete): ${bulk.seconds.toFixed(2)} s, ${bulk.failed} failed rows (target <= ${TARGET_BULK_SECONDS} s) ${bulk.seconds <= TARGET_BULK_SECONDS ? 'OK' : 'ABOVE TARGET'}`
  );
} finally {
  agent.destroy();
  emu.child.kill('SIGTERM');
}
if (!values['skip-pubsub']) await runPubSubBench();
