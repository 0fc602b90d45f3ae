/**
 * Relay core benchmark: D365 business events through HTTP intake → embedded SQLite store → worker →
 * no-op flow → completed, measured end to end against the real `d365-relay start` process.
 * Prints events/s, the relay's resident memory and its cold start time (spawn → /healthz 200).
 *
 * Run: npm run bench:relay [-- --events 20000 --concurrency 64 --port 18787 --cpu-prof <dir>
 *        --node-options='--max-semi-space-size=2 --max-old-space-size=384']
 * The relay runs with the Dockerfile's NODE_OPTIONS unless --node-options says otherwise ('' = Node's defaults).
 * Targets (issue 5): ≥ 1,000 events/s, cold start ≤ 1 s.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CONTAINER_NODE_OPTIONS, processMemory, startRelayChild } from './relay-child.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '64' },
    port: { type: 'string', default: '18787' },
    // As the Dockerfile runs the relay (ENV NODE_OPTIONS), so the numbers are the deployed ones.
    'node-options': { type: 'string', default: CONTAINER_NODE_OPTIONS },
    // Writes a V8 CPU profile of the relay process into this directory.
    'cpu-prof': { type: 'string' }
  }
});
const EVENTS = Number(args.events);
const CONCURRENCY = Number(args.concurrency);
const PORT = Number(args.port);
const SECRET = 'bench-business-events-secret-0123456789';
const ADMIN = 'bench-admin-token-0123456789abcdef';
const BASE = `http://127.0.0.1:${PORT}`;

const dir = mkdtempSync(join(tmpdir(), 'relay-bench-'));
// The real start path builds both clients; they are never called here, so they point nowhere.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const env = {
  PATH: process.env.PATH,
  NODE_OPTIONS: args['node-options'],
  RELAY_STORE_URL: `sqlite:${join(dir, 'relay.db')}`,
  RELAY_HOST: '127.0.0.1',
  RELAY_PORT: String(PORT),
  RELAY_LOG_LEVEL: 'warn',
  RELAY_ADMIN_TOKEN: ADMIN,
  RELAY_CALLOUT_KEY: 'bench-callout-key-0123456789abcdef',
  RELAY_BUSINESS_EVENTS_SECRET: SECRET,
  // One client IP sends everything here; the production default would throttle the benchmark itself.
  RELAY_RATE_LIMIT_MAX: '100000000',
  D365_ENVIRONMENT_URL: 'https://127.0.0.1:9',
  D365_TENANT_ID: 'bench',
  D365_CLIENT_ID: 'bench',
  D365_CLIENT_SECRET: 'bench',
  SF_CLIENT_ID: 'bench',
  SF_USERNAME: 'bench@example.com',
  SF_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function event(i: number) {
  return JSON.stringify({
    BusinessEventId: 'RelayNoopBusinessEvent',
    BusinessEventLegalEntity: 'usmf',
    ContextRecordSubject: '',
    ControlNumber: 5637144576 + i,
    EventId: `0F7C2A4B-1D3E-4F60-9A8B-${String(i).padStart(12, '0')}`,
    EventTime: '/Date(1714557600000)/',
    EventTimeIso8601: '2024-05-01T10:00:00.0000000Z',
    InitiatingUserAADObjectId: '{00000000-0000-0000-0000-000000000000}',
    MajorVersion: 0,
    MinorVersion: 0,
    ParentContextRecordSubjects: []
  });
}

async function pending(): Promise<number> {
  const res = await fetch(`${BASE}/api/v1/admin/status`, {
    headers: { authorization: `Bearer ${ADMIN}` }
  });
  const body = (await res.json()) as { queue: { pending: Record<string, number> } };
  return Object.values(body.queue.pending).reduce((a, b) => a + b, 0);
}

const profile = args['cpu-prof']
  ? ['--cpu-prof', `--cpu-prof-dir=${resolve(args['cpu-prof'])}`]
  : [];
const relay = await startRelayChild({ cwd: dir, port: PORT, env, nodeFlags: profile });
try {
  const { coldStartMs } = relay;
  const idleRss = processMemory(relay.pid).rss;

  let peakRss = idleRss;
  const sampler = setInterval(
    () => (peakRss = Math.max(peakRss, processMemory(relay.pid).rss)),
    100
  );
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < EVENTS) {
        const i = next++;
        const res = await fetch(`${BASE}/api/v1/business-events/${SECRET}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: event(i)
        });
        if (res.status !== 200) failed += 1;
        await res.arrayBuffer();
      }
    })
  );
  const ackedMs = performance.now() - started;
  while ((await pending()) > 0) await sleep(20);
  const doneMs = performance.now() - started;
  clearInterval(sampler);

  const line = (label: string, value: string) => console.log(`${label.padEnd(42)} ${value}`);
  console.log('\nRelay core benchmark (embedded SQLite store, no-op flow, one event per POST)');
  line(
    'command',
    `npm run bench:relay -- --events ${EVENTS} --concurrency ${CONCURRENCY} --node-options='${args['node-options']}'`
  );
  line('events', `${EVENTS} (${failed} not acknowledged with 200)`);
  line('intake rate (acknowledged)', `${Math.round(EVENTS / (ackedMs / 1_000))} events/s`);
  line(
    'end to end (intake → store → flow → done)',
    `${Math.round(EVENTS / (doneMs / 1_000))} events/s  (target ≥ 1000)`
  );
  line('relay RSS idle / peak under load', `${idleRss.toFixed(0)} MB / ${peakRss.toFixed(0)} MB`);
  line('cold start (spawn → /healthz 200)', `${coldStartMs.toFixed(0)} ms  (target ≤ 1000)`);
  line('Node', process.version);
  // Other work on the machine slows every number above; report it with them.
  line('machine', `${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)} at the end`);
} finally {
  await relay.stop();
  rmSync(dir, { recursive: true, force: true });
}
