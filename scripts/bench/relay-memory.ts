/**
 * The relay process's memory under sustained D365-throttled load (issue 5: ≤ 150 MB). Starts the D365
 * emulator throttled to a fixed capacity and the real `d365-relay start` process (the container's bundle
 * and NODE_OPTIONS) pointing at it, then keeps the relay's D365 client busy for a while
 * through a production path: the inventory callout (`GET /api/v1/inventory`, one OData query per
 * request with the cache off), from many concurrent callers. Prints the relay's peak RSS (sampled and
 * the kernel's high-water mark), the achieved D365 rate against the allowed one, the share of 429s
 * and the cold start.
 *
 *   npm run bench:relay-memory -- [--rate 200] [--seconds 30] [--callers 64]
 *        [--max-concurrency 16] [--node-options='--max-semi-space-size=2 --max-old-space-size=384'] [--port 18788]
 */

import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startD365Child } from './d365-child.ts';
import {
  CONTAINER_NODE_OPTIONS,
  processMemory,
  startRelayChild,
  type RelayChild
} from './relay-child.ts';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '30' },
    callers: { type: 'string', default: '64' },
    'max-concurrency': { type: 'string', default: '16' },
    // As the Dockerfile runs the relay (ENV NODE_OPTIONS); '' for Node's defaults.
    'node-options': { type: 'string', default: CONTAINER_NODE_OPTIONS },
    port: { type: 'string', default: '18788' }
  }
});
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const CALLERS = Number(args.callers);
const MAX_CONCURRENCY = Number(args['max-concurrency']);
const PORT = Number(args.port);
const BASE = `http://127.0.0.1:${PORT}`;
const CALLOUT_KEY = 'bench-callout-key-0123456789abcdef';
const ON_HAND = 'WarehousesOnHandV2';

const workdir = mkdtempSync(path.join(tmpdir(), 'relay-memory-'));
const emulator = await startD365Child(workdir);
const { info, caFile } = emulator;
const control = emulator.control;

let relay: RelayChild | undefined;
try {
  await control('PUT', '/throttling', { requestsPerSecond: RATE });

  // Salesforce is not part of this load: its client points nowhere (the Pub/Sub subscriptions retry
  // quietly at log level error), as in bench:relay.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  relay = await startRelayChild({
    cwd: workdir,
    port: PORT,
    env: {
      PATH: process.env.PATH,
      NODE_OPTIONS: args['node-options'],
      RELAY_STORE_URL: `sqlite:${path.join(workdir, 'relay.db')}`,
      RELAY_HOST: '127.0.0.1',
      RELAY_PORT: String(PORT),
      RELAY_LOG_LEVEL: 'error',
      RELAY_ADMIN_TOKEN: 'bench-admin-token-0123456789abcdef',
      RELAY_CALLOUT_KEY: CALLOUT_KEY,
      RELAY_BUSINESS_EVENTS_SECRET: 'bench-business-events-secret-0123456789',
      // One client IP sends everything here; the production default would throttle the benchmark.
      RELAY_RATE_LIMIT_MAX: '100000000',
      // Every lookup reaches D365: the load is the D365 client's, not the cache's.
      RELAY_INVENTORY_CACHE_MS: '0',
      D365_ENVIRONMENT_URL: info.url,
      D365_AUTHORITY_HOST: info.url,
      D365_TENANT_ID: info.tenantId,
      D365_CLIENT_ID: info.clientId,
      D365_CLIENT_SECRET: info.clientSecret,
      D365_CA_CERT_FILE: caFile,
      D365_MAX_CONCURRENCY: String(MAX_CONCURRENCY),
      SF_LOGIN_URL: 'https://127.0.0.1:9',
      SF_CLIENT_ID: 'bench',
      SF_USERNAME: 'bench@example.com',
      SF_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    }
  });
  const running = relay;
  const coldStartMs = relay.coldStartMs;
  const lookup = (item: string) =>
    fetch(`${BASE}/api/v1/inventory?items=${item}`, { headers: { 'x-relay-key': CALLOUT_KEY } });
  // One lookup first: the token and the D365 client are ready before the clock starts.
  const first = await lookup('BENCH-0');
  if (first.status !== 200) throw new Error(`Inventory lookup answered ${first.status}`);
  await first.arrayBuffer();
  const idle = processMemory(running.pid);
  await control('POST', '/counters/reset');

  let peakRss = idle.rss;
  const started = performance.now();
  // RSS at each whole 5 s of the load: a plateau is footprint, a steady climb would be a leak.
  const timeline: number[] = [];
  const sampler = setInterval(() => {
    const { rss } = processMemory(running.pid);
    peakRss = Math.max(peakRss, rss);
    if (performance.now() - started >= (timeline.length + 1) * 5_000) timeline.push(rss);
  }, 100);
  const statuses = new Map<number, number>();
  const deadline = started + SECONDS * 1000;
  await Promise.all(
    // One item per caller: concurrent lookups of the same item would be coalesced into one query.
    Array.from({ length: CALLERS }, async (_, caller) => {
      while (performance.now() < deadline) {
        const response = await lookup(`BENCH-${caller}`);
        await response.arrayBuffer();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      }
    })
  );
  const elapsed = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const end = processMemory(running.pid);
  // The relay's own view (prom-client's default metrics) splits the RSS into V8 heap and the rest.
  const metrics = await (
    await fetch(`${BASE}/metrics`, {
      headers: { authorization: 'Bearer bench-admin-token-0123456789abcdef' }
    })
  ).text();
  const metric = (name: string) =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN) / 1048576;
  const spaces = [
    ...metrics.matchAll(/^relay_nodejs_heap_space_size_total_bytes\{space="(\w+)"\} (\S+)$/gm)
  ]
    .map(([, space, bytes]) => `${space} ${(Number(bytes) / 1048576).toFixed(1)}`)
    .join(', ');
  peakRss = Math.max(peakRss, end.rss);
  const counters = (await control('GET', '/counters')) as {
    requests: Record<string, Record<string, number>>;
    throttled: number;
  };
  const accepted = counters.requests[ON_HAND]?.GET ?? 0;
  const sent = accepted + counters.throttled;
  // The emulator's bucket starts full (one second of capacity), so that much more is allowed.
  const allowed = RATE + RATE / elapsed;
  const achieved = accepted / elapsed;

  const line = (label: string, value: string) => console.log(`${label.padEnd(34)} ${value}`);
  console.log(
    '\nRelay memory under sustained D365-throttled load (the relay process, inventory callouts)'
  );
  line(
    'command',
    `npm run bench:relay-memory -- --rate ${RATE} --seconds ${SECONDS} --callers ${CALLERS} ` +
      `--max-concurrency ${MAX_CONCURRENCY} --node-options='${args['node-options']}'`
  );
  line(
    'relay peak RSS under load',
    `${peakRss.toFixed(1)} MB sampled every 100 ms; ${end.hwm.toFixed(1)} MB kernel high-water mark since start (target ≤ 150 MB)`
  );
  line('relay RSS ready / after the load', `${idle.rss.toFixed(1)} MB / ${end.rss.toFixed(1)} MB`);
  line(
    'relay V8 heap at the end',
    `${metric('relay_nodejs_heap_size_used_bytes').toFixed(1)} MB used of ${metric('relay_nodejs_heap_size_total_bytes').toFixed(1)} MB; external ${metric('relay_nodejs_external_memory_bytes').toFixed(1)} MB; spaces (MB): ${spaces}`
  );
  line('relay RSS every 5 s of the load', timeline.map((mb) => mb.toFixed(0)).join(' → ') + ' MB');
  line(
    'D365 rate achieved',
    `${achieved.toFixed(1)} req/s = ${((achieved / allowed) * 100).toFixed(1)}% of the allowed ${allowed.toFixed(1)} req/s (capacity ${RATE} req/s plus the initial bucket)`
  );
  line(
    'D365 answered 429',
    `${counters.throttled} of ${sent} = ${((counters.throttled / Math.max(1, sent)) * 100).toFixed(2)}%`
  );
  line('relay answers', [...statuses].map(([status, count]) => `${count} × ${status}`).join(', '));
  line('cold start (spawn → /healthz 200)', `${coldStartMs.toFixed(0)} ms (target ≤ 1000)`);
  line('Node', process.version);
  line('machine', `${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)} at the end`);
} finally {
  await relay?.stop();
  emulator.close();
  rmSync(workdir, { recursive: true, force: true });
}
