import { readFileSync } from 'node:fs';
import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { buildApp, loggerOptions } from './app.ts';
// Types only: the clients' code (MSAL, axios) loads while the server already listens.
import type { RelayClients, SystemClient } from './clients.ts';
import { loadConfig, type RelayConfig } from './config/load.ts';
import type { D365Client, QueryOptions } from './d365/index.ts';
import { ConfigError } from './errors.ts';
import { FLOWS, createFlowRegistry, type FlowRegistry } from './flows/registry.ts';
import { createPubSubIntake } from './intake/pubsub.ts';
import { packageSwitches, type FlowGate } from './flows/shared/package-switches.ts';
import type { Flow } from './flows/types.ts';
import { RelayMetrics } from './observability/metrics.ts';
import { SingletonLease } from './queue/singleton-lease.ts';
import { configuredSchedules, createScheduler, type Scheduler } from './schedule/index.ts';
import { Worker } from './queue/worker.ts';
import type { SalesforceClient } from './salesforce/index.ts';
import type { PubSubSubscriber } from './salesforce/pubsub.ts';
import { checkpointStore } from './store/checkpoints.ts';
import { openStore } from './store/index.ts';
import type { Store } from './store/types.ts';

export interface StartOptions {
  config: RelayConfig;
  logger?: Logger;
  /** Defaults to the registry in `flows/registry.ts`. */
  flows?: readonly Flow[];
  /** Defaults to clients built from the D365_* and SF_* keys. */
  clients?: RelayClients;
}

export interface RunningRelay {
  app: FastifyInstance;
  store: Store;
  worker: Worker;
  /** Graceful stop: intake first, then running jobs (within RELAY_SHUTDOWN_GRACE_MS), then the rest. */
  close(): Promise<void>;
}

/** Starts the relay: migrates the store, listens, and starts the worker. */
export async function startRelay(options: StartOptions): Promise<RunningRelay> {
  const { config } = options;
  const logger = options.logger ?? pino(loggerOptions(config.logLevel));
  const store = await openStore(config.store.url);
  try {
    // Safe on every start and on several replicas at once (the PostgreSQL migration takes a lock).
    await store.migrate();
    const metrics = new RelayMetrics(store);
    const flows = options.flows ?? FLOWS;
    const registry = createFlowRegistry(flows, {
      defaultMaxAttempts: config.worker.maxAttempts
    });
    // The system clients pull in MSAL and axios. Loading them while the server already listens
    // lets intake (which needs only the store) start sooner; /readyz waits for them.
    const clientsReady: Promise<RelayClients> = options.clients
      ? Promise.resolve(options.clients)
      : import('./clients.ts').then((m) => m.createRelayClients(config.values, logger, metrics));
    clientsReady.catch(() => {});
    const pendingD365: RelayClients['d365'] & Pick<D365Client, 'query'> = {
      checkCredentials: async () => (await clientsReady).d365.checkCredentials(),
      // The inventory route reads D365 through the real client once it is built.
      async *query<T>(entitySet: string, queryOptions?: QueryOptions): AsyncGenerator<T> {
        const d365 = (await clientsReady).d365 as Partial<D365Client>;
        if (typeof d365.query !== 'function')
          throw new TypeError('The D365 client cannot read entities');
        yield* d365.query<T>(entitySet, queryOptions);
      }
    };
    const pendingClients: RelayClients = {
      d365: pendingD365,
      salesforce: {
        checkCredentials: async () => (await clientsReady).salesforce.checkCredentials()
      }
    };
    let worker: Worker | null = null;
    const app = await buildApp(
      {
        config,
        store,
        registry,
        clients: pendingClients,
        metrics,
        onEnqueued: () => worker?.wake()
      },
      logger
    );
    await app.listen({ host: config.http.host, port: config.http.port });
    let clients: RelayClients;
    let running: Worker;
    let subscriptions: SingletonLease[];
    let scheduler: Scheduler;
    try {
      clients = await clientsReady;
      running = new Worker({
        store,
        registry,
        clients,
        logger,
        concurrency: config.worker.concurrency,
        leaseMs: config.worker.leaseMs,
        pollMs: config.worker.pollMs,
        retention: {
          deadLetterDays: config.store.dlqRetentionDays,
          inboxDays: config.store.inboxRetentionDays
        },
        observer: metrics,
        config: config.values,
        ...packageSwitchGate(clients, flows, config.values.RELAY_PACKAGE_SWITCHES_CACHE_MS)
      });
      const wake = running.wake.bind(running);
      // Built before anything starts: an invalid cron pattern fails the start.
      scheduler = createScheduler({
        store,
        registry,
        schedules: configuredSchedules(config.values),
        holder: running.id,
        logger,
        onEnqueued: wake
      });
      subscriptions = await subscribeTopics({
        config,
        store,
        registry,
        clients,
        metrics,
        logger,
        holder: running.id,
        onEnqueued: wake
      });
    } catch (err) {
      await app.close();
      const built = await clientsReady.catch(() => null);
      await Promise.allSettled([built?.d365.close?.(), built?.salesforce.close?.()]);
      throw err;
    }
    worker = running;
    running.start();
    scheduler.start();
    logger.info(
      { workerId: running.id, store: store.backend, flows: registry.names() },
      'Relay started'
    );

    let closing: Promise<void> | null = null;
    const close = () => {
      closing ??= (async () => {
        // 1. Stop intake: no new connections, in-flight requests finish.
        await app.close();
        // 2. Close the Pub/Sub streams (the batch being stored finishes) and free their leases.
        await Promise.all(subscriptions.map((lease) => lease.stop()));
        // 2b. No more scheduled ticks from this replica; another one takes the schedules over.
        await scheduler.stop();
        // 3. Finish running jobs within the grace period, hand back the rest.
        await running.stop(config.shutdownGraceMs);
        await Promise.allSettled([clients.d365.close?.(), clients.salesforce.close?.()]);
        await store.close();
        logger.info('Relay stopped');
      })();
      return closing;
    };
    return { app, store, worker: running, close };
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
}

/** The package's per-flow switches, read through the Salesforce client when it can query. */
function packageSwitchGate(
  clients: RelayClients,
  flows: readonly Flow[],
  cacheMs: number
): { gate?: FlowGate } {
  const salesforce = clients.salesforce as Partial<Pick<SalesforceClient, 'query'>>;
  if (typeof salesforce.query !== 'function') return {};
  return {
    gate: packageSwitches({
      salesforce: { query: salesforce.query.bind(salesforce) },
      flows,
      cacheMs
    })
  };
}

/** What the Pub/Sub subscriber needs from the Salesforce client: its session. */
type SessionProvider = Pick<SalesforceClient, 'session' | 'invalidateSession'>;

function providesSession(client: SystemClient): client is SystemClient & SessionProvider {
  const candidate = client as Partial<SessionProvider>;
  return (
    typeof candidate.session === 'function' && typeof candidate.invalidateSession === 'function'
  );
}

/**
 * One Pub/Sub subscription per topic a flow consumes, each held by one replica at a time through a
 * named lease: the holder subscribes; if it dies, another replica takes over when the lease expires.
 */
async function subscribeTopics(deps: {
  config: RelayConfig;
  store: Store;
  registry: FlowRegistry;
  clients: RelayClients;
  metrics: RelayMetrics;
  logger: Logger;
  holder: string;
  onEnqueued: () => void;
}): Promise<SingletonLease[]> {
  const { config, store, registry, clients, metrics, logger } = deps;
  const topics = registry.topics();
  if (topics.length === 0) return [];
  const salesforce = clients.salesforce;
  if (!providesSession(salesforce)) {
    throw new Error('The Salesforce client given cannot open Pub/Sub sessions');
  }
  const caFile = config.values.SF_PUBSUB_CA_FILE;
  let caCertPem: string | undefined;
  try {
    caCertPem = caFile === undefined ? undefined : readFileSync(caFile, 'utf8');
  } catch (err) {
    throw new ConfigError('SF_PUBSUB_CA_FILE', `cannot read ${caFile}`, { cause: err });
  }
  // gRPC and Avro are loaded only when some flow consumes a topic.
  const { createPubSubSubscriber } = await import('./salesforce/pubsub.ts');
  const onEvents = createPubSubIntake({
    store,
    registry,
    logger,
    metrics,
    onEnqueued: deps.onEnqueued
  });
  return topics.map((topic) => {
    let subscriber: PubSubSubscriber | null = null;
    const lease = new SingletonLease({
      store,
      name: `pubsub:${topic}`,
      holder: deps.holder,
      ttlMs: config.worker.subscriptionLeaseMs,
      logger,
      onAcquired: async () => {
        subscriber = createPubSubSubscriber({
          salesforce,
          endpoint: config.values.SF_PUBSUB_ENDPOINT,
          topic,
          checkpoints: checkpointStore(store),
          onEvents,
          silenceTimeoutMs: config.values.SF_PUBSUB_SILENCE_TIMEOUT_MS,
          logger,
          observer: metrics,
          ...(caCertPem !== undefined ? { caCertPem } : {})
        });
        await subscriber.start();
      },
      onLost: async () => {
        await subscriber?.stop();
        subscriber = null;
      }
    });
    lease.start();
    return lease;
  });
}

/**
 * The process entry: loads config, starts, and stops gracefully on SIGTERM/SIGINT (or an uncaught
 * error). A second signal, or the grace period plus a margin running out, exits at once.
 */
export async function runServer(options: Partial<StartOptions> = {}): Promise<RunningRelay> {
  let config: RelayConfig;
  let logger: Logger;
  let relay: RunningRelay;
  try {
    config = options.config ?? loadConfig();
    logger = options.logger ?? pino(loggerOptions(config.logLevel));
    relay = await startRelay({ ...options, config, logger });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  closeWithGrace({ delay: config.shutdownGraceMs + 5_000 }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'Stopping after an uncaught error');
    else logger.info({ signal }, 'Stopping');
    await relay.close();
  });
  return relay;
}
