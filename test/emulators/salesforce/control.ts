/**
 * The emulator-only control surface: `control` in process, and the same operations over HTTP under
 * `/_emulator/…` (loopback callers only, or a control token when one is configured).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { importVerificationKey } from './auth.ts';
import { isPlainObject, recordBody } from './api.ts';
import { resetBulk } from './bulk.ts';
import type { ApiKind, Faults, Org } from './org.ts';
import { NO_FAULTS } from './org.ts';
import type { EventBus } from './pubsub/event-bus.ts';
import type { PubSubFaults } from './pubsub/server.ts';
import type { SfRecord } from './store.ts';

export interface JwtAppRegistration {
  consumerKey: string;
  /** X.509 certificate (as uploaded to a connected app) or SPKI public key, PEM. */
  certificatePem: string;
  /** Usernames pre-authorized for the app; omitted = every user. */
  allowedUsernames?: string[];
}

export interface ClientCredentialsRegistration {
  clientId: string;
  clientSecret: string;
  /** The "Run As" user; omitted = the integration user; null = none (token requests fail). */
  runAsUsername?: string | null;
}

export interface ApiBudget {
  dailyApiLimit?: number;
  used?: number;
  /** A request counts as long once it has run this long (Salesforce: 20 s). */
  longRequestThresholdMs?: number;
  /** Concurrent long requests allowed (Salesforce: 25 in production orgs). */
  maxConcurrentLongRequests?: number;
}

export interface Counters extends Record<ApiKind, number> {
  apiUsed: number;
  dailyApiLimit: number;
}

export interface EmulatorControl {
  registerJwtApp(app: JwtAppRegistration): Promise<void>;
  registerClientCredentialsApp(app: ClientCredentialsRegistration): void;
  setApiBudget(budget: ApiBudget): void;
  /** Merges the given faults into the current ones (latency, 5xx rate/count, REQUEST_LIMIT_EXCEEDED). */
  setFaults(faults: Partial<Faults>): Faults;
  clearFaults(): void;
  faults(): Faults;
  /** Token expiry: every issued access token becomes invalid (401 INVALID_SESSION_ID). */
  expireSessions(): number;
  setTokenLifetime(seconds: number): void;
  counters(): Counters;
  resetCounters(): void;
  /** Drops all records and Bulk jobs; keeps apps, budget and faults. */
  resetData(): void;
  /** Live and deleted records of one object, in REST wire form. */
  records(objectName: string): SfRecord[];
  /** Inserts with the same validation as the API, without counting against the API budget. */
  insert(objectName: string, values: SfRecord): string;
  /**
   * Changes fields of a custom metadata record (`<Type>__mdt`, found by DeveloperName), as an
   * admin's edit in Setup does; the REST API cannot write these records.
   */
  setMetadataValues(typeName: string, developerName: string, values: SfRecord): void;
  /**
   * Publishes a platform event as the package's Apex would (as the integration user unless
   * `createdById` is given), without spending API budget; returns the replay id (decimal) and UUID.
   */
  publishEvent(
    eventName: string,
    fields: SfRecord,
    createdById?: string
  ): { replayId: string; eventUuid: string };
  pubsub: PubSubFaults | null;
}

export function createControl(
  org: Org,
  bus: EventBus | null,
  pubsub: PubSubFaults | null
): EmulatorControl {
  return {
    async registerJwtApp(app) {
      org.jwtApps.set(app.consumerKey, {
        consumerKey: app.consumerKey,
        key: await importVerificationKey(app.certificatePem),
        allowedUsernames: app.allowedUsernames ?? []
      });
    },
    registerClientCredentialsApp(app) {
      let runAsUserId: string | null = org.integrationUserId;
      if (app.runAsUsername === null) runAsUserId = null;
      else if (app.runAsUsername !== undefined) {
        const user = org.userByUsername(app.runAsUsername);
        if (!user) throw new Error(`no user with username ${app.runAsUsername}`);
        runAsUserId = user.Id as string;
      }
      org.clientCredentialsApps.set(app.clientId, {
        clientId: app.clientId,
        clientSecret: app.clientSecret,
        runAsUserId
      });
    },
    setApiBudget(budget) {
      if (budget.dailyApiLimit !== undefined) org.dailyApiLimit = budget.dailyApiLimit;
      if (budget.used !== undefined) org.apiUsed = budget.used;
      if (budget.longRequestThresholdMs !== undefined) {
        org.options.longRequestThresholdMs = budget.longRequestThresholdMs;
      }
      if (budget.maxConcurrentLongRequests !== undefined) {
        org.options.maxConcurrentLongRequests = budget.maxConcurrentLongRequests;
      }
    },
    setFaults(faults) {
      org.faults = { ...org.faults, ...faults };
      return { ...org.faults };
    },
    clearFaults() {
      org.faults = { ...NO_FAULTS };
    },
    faults() {
      return { ...org.faults };
    },
    expireSessions() {
      return org.revokeAllSessions();
    },
    setTokenLifetime(seconds) {
      org.tokenLifetimeMs = seconds * 1000;
    },
    counters() {
      return { ...org.counters, apiUsed: org.apiUsed, dailyApiLimit: org.dailyApiLimit };
    },
    resetCounters() {
      org.resetCounters();
    },
    resetData() {
      org.resetData();
      resetBulk(org);
    },
    records(objectName) {
      const table = org.db.table(objectName);
      if (!table) throw new Error(`unknown object ${objectName}`);
      return [...table.byId.values()].map((r) => recordBody(table.object, r, '62.0'));
    },
    insert(objectName, values) {
      const result = org.db.insert(objectName, values, {
        userId: org.integrationUserId,
        mode: 'json'
      });
      if (!result.ok) {
        throw new Error(result.errors.map((e) => `${e.statusCode}: ${e.message}`).join('; '));
      }
      return result.id;
    },
    setMetadataValues(typeName, developerName, values) {
      const table = org.db.table(typeName);
      if (!table || !/__mdt$/i.test(typeName)) {
        throw new Error(`${typeName} is not a custom metadata type of this org`);
      }
      const record = [...table.byId.values()].find((r) => r.DeveloperName === developerName);
      if (!record) throw new Error(`${typeName} has no record ${developerName}`);
      for (const [name, value] of Object.entries(values)) {
        const field = table.object.fieldsByLower.get(name.toLowerCase());
        if (!field) throw new Error(`${typeName} has no field ${name}`);
        record[field.name] = value;
      }
    },
    publishEvent(eventName, fields, createdById) {
      if (!bus) throw new Error('the Pub/Sub API is not running');
      const object = org.model.objects.get(eventName.toLowerCase());
      if (object?.kind !== 'event') throw new Error(`${eventName} is not a platform event`);
      const published = bus.publish(
        `/event/${object.name}`,
        fields,
        createdById ?? org.integrationUserId
      );
      return {
        replayId: published.replayId.readBigUInt64BE().toString(),
        eventUuid: published.eventUuid
      };
    },
    pubsub
  };
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export function registerControlRoutes(
  app: FastifyInstance,
  control: EmulatorControl,
  info: () => Record<string, unknown>,
  controlToken: string | undefined
): void {
  const allowed = (request: FastifyRequest) =>
    controlToken
      ? request.headers['x-emulator-control-token'] === controlToken
      : LOOPBACK.has(request.socket.remoteAddress ?? '');

  app.register(
    async (scope) => {
      scope.addHook('onRequest', async (request, reply) => {
        if (!allowed(request)) {
          return reply
            .code(403)
            .send({ error: 'forbidden', message: 'The control API is emulator-only' });
        }
      });
      const body = (request: FastifyRequest): Record<string, unknown> => {
        const raw = request.body;
        const parsed: unknown =
          typeof raw === 'string' && raw !== '' ? JSON.parse(raw) : (raw ?? {});
        return isPlainObject(parsed) ? parsed : {};
      };
      const wrap =
        (fn: (request: FastifyRequest) => unknown) => async (request: FastifyRequest) => {
          try {
            return (await fn(request)) ?? { ok: true };
          } catch (error) {
            const e = new Error((error as Error).message) as Error & { statusCode: number };
            e.statusCode = 400;
            throw e;
          }
        };
      scope.get('/info', async () => info());
      scope.post(
        '/jwt-apps',
        wrap((r) => control.registerJwtApp(body(r) as unknown as JwtAppRegistration))
      );
      scope.post(
        '/client-credentials-apps',
        wrap((r) =>
          control.registerClientCredentialsApp(body(r) as unknown as ClientCredentialsRegistration)
        )
      );
      scope.put(
        '/limits',
        wrap((r) => control.setApiBudget(body(r) as ApiBudget))
      );
      scope.get('/faults', async () => control.faults());
      scope.put(
        '/faults',
        wrap((r) => control.setFaults(body(r) as Partial<Faults>))
      );
      scope.delete(
        '/faults',
        wrap(() => control.clearFaults())
      );
      scope.post(
        '/sessions/expire',
        wrap(() => ({ revoked: control.expireSessions() }))
      );
      scope.put(
        '/token-lifetime',
        wrap((r) => control.setTokenLifetime(Number(body(r).seconds)))
      );
      scope.get('/counters', async () => control.counters());
      scope.delete(
        '/counters',
        wrap(() => control.resetCounters())
      );
      scope.post(
        '/reset',
        wrap(() => control.resetData())
      );
      scope.get<{ Params: { object: string } }>(
        '/records/:object',
        wrap((r) => control.records((r.params as { object: string }).object))
      );
      scope.post<{ Params: { object: string } }>(
        '/records/:object',
        wrap((r) => ({ id: control.insert((r.params as { object: string }).object, body(r)) }))
      );
      scope.patch<{ Params: { type: string; name: string } }>(
        '/metadata/:type/:name',
        wrap((r) => {
          const { type, name } = r.params as { type: string; name: string };
          const values = body(r);
          if (Object.keys(values).length === 0) throw new Error('the body names no field to set');
          control.setMetadataValues(type, name, values);
        })
      );
      scope.post<{ Params: { event: string } }>(
        '/events/:event',
        wrap((r) => control.publishEvent((r.params as { event: string }).event, body(r)))
      );
      const pubsub = () => {
        if (!control.pubsub) throw new Error('the Pub/Sub API is not running');
        return control.pubsub;
      };
      scope.post(
        '/pubsub/close-streams',
        wrap((r) => ({ closed: pubsub().closeSubscribeStreams(body(r)) }))
      );
      scope.put(
        '/pubsub/silent',
        wrap((r) => pubsub().setSilent(body(r).silent === true))
      );
      scope.put(
        '/pubsub/keepalive',
        wrap((r) => pubsub().setKeepaliveIntervalMs(Number(body(r).intervalMs)))
      );
      scope.get(
        '/pubsub/counters',
        wrap(() => pubsub().counters())
      );
    },
    { prefix: '/_emulator' }
  );
}
