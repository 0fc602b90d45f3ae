// Dynamics 365 Finance & Operations emulator: one HTTPS origin serving Entra ID (token, OpenID
// metadata, JWKS), OData under /data with $batch, the DMF package API with its blob store,
// business-event delivery and an emulator-only control API under /_emulator.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { generate } from 'selfsigned';
import { Authority, type ClientRegistration } from './auth.ts';
import { executeBatch } from './batch.ts';
import { BusinessEvents, catalogAction } from './business-events.ts';
import { Control, Counters } from './control.ts';
import { DataManagement } from './dmf.ts';
import { Domain } from './domain.ts';
import { ODataError } from './errors.ts';
import { Faults, type FaultConfig } from './faults.ts';
import { DataService, errorResponse, type BoundAction, type DataResponse } from './odata.ts';
import { seed, type SeedOption } from './seed.ts';
import { Store } from './store.ts';
import { Throttle, type ThrottlingConfig } from './throttling.ts';

export type { Control, CounterSnapshot } from './control.ts';
export type { FaultConfig, FaultTarget, ScriptedFault } from './faults.ts';
export type { ThrottlingConfig } from './throttling.ts';
export type { SeedOption } from './seed.ts';
export { packageFor } from './dmf.ts';
export { ENTITIES, ENTITY_BY_SET } from './entities.ts';
export { PAYMENT_EVENT_ID } from './domain.ts';

/** Server-driven page size of F&O OData [MS odata]. */
export const DEFAULT_PAGE_SIZE = 10_000;
/** Upload limit for DMF packages and $batch bodies. */
const BODY_LIMIT_BYTES = 512 * 1024 * 1024;

export interface StartOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: '127.0.0.1';
  /** HTTPS with a self-signed certificate generated at start (default); msal-node requires https. */
  tls?: boolean;
  seed?: SeedOption;
  pageSize?: number;
  faults?: FaultConfig;
  tenantId?: string;
  /** Registered apps; the first is the default. One is generated when omitted. */
  clients?: ClientRegistration[];
  tokenLifetimeSeconds?: number;
  throttling?: ThrottlingConfig;
  /** Default company of the app's mapped user (reads without cross-company see only it). */
  defaultCompany?: string;
  /** When set, /_emulator requires header `X-Emulator-Control-Token`; otherwise open on loopback. */
  controlToken?: string;
  /** Sales lines must name items with their exact case (default true; see domain.ts). */
  itemNumberCaseSensitive?: boolean;
}

export interface D365Emulator {
  /** Environment URL = base URL, no trailing slash, e.g. https://127.0.0.1:PORT. */
  url: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** `${url}/${tenantId}`: the Entra authority for msal-node (knownAuthorities: [host:port]). */
  authority: string;
  /** PEM of the self-signed certificate, to trust in clients (empty without TLS). */
  caCertPem: string;
  control: Control;
  close(): Promise<void>;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('No port'))
      );
    });
  });
}

async function certificate(): Promise<{ key: string; cert: string }> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' }
        ]
      }
    ]
  });
  return { key: pems.private, cert: pems.cert };
}

function send(reply: FastifyReply, r: DataResponse): FastifyReply {
  reply.code(r.status).headers(r.headers);
  return r.body === '' ? reply.send() : reply.send(r.body);
}

export async function start(options: StartOptions = {}): Promise<D365Emulator> {
  const host = options.host ?? '127.0.0.1';
  const tls = options.tls ?? true;
  const port = options.port || (await freePort(host));
  const baseUrl = `${tls ? 'https' : 'http'}://${host}:${port}`;
  const tenantId = options.tenantId ?? randomUUID();
  const clients = options.clients?.length
    ? options.clients
    : [{ clientId: randomUUID(), clientSecret: randomUUID() + randomUUID() }];
  const defaultCompany = (options.defaultCompany ?? 'usmf').toLowerCase();
  const pem = tls ? await certificate() : undefined;

  const store = new Store();
  const domain = new Domain(store, {
    itemNumberCaseSensitive: options.itemNumberCaseSensitive ?? true
  });
  const events = new BusinessEvents();
  const counters = new Counters();
  const faults = new Faults(options.faults);
  const throttle = new Throttle(options.throttling);
  const authority = new Authority({
    baseUrl,
    tenantId,
    clients,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds
  });
  await authority.init();
  authority.onTokenIssued = () => counters.tokensIssued++;
  authority.tokenFault = () => faults.decide('token');
  const dmf = new DataManagement(baseUrl, domain, faults);
  const seedOption = options.seed ?? 'demo';
  const reseed = (): void => {
    domain.onBusinessEvent = () => {};
    store.clear();
    seed(domain, seedOption);
    domain.onBusinessEvent = (id, le, contract) => events.emit(id, le, contract);
  };
  reseed();

  const boundActions = new Map<string, BoundAction>([
    ['DataManagementDefinitionGroups', dmf.action],
    ['BusinessEventsCatalogs', catalogAction(baseUrl)]
  ]);
  const service = new DataService({
    baseUrl,
    domain,
    defaultCompany,
    pageSize: options.pageSize ?? DEFAULT_PAGE_SIZE,
    boundActions,
    onEntityRequest: (set, method) => counters.request(set, method)
  });
  const control = new Control({
    baseUrl,
    domain,
    defaultCompany,
    throttle,
    faults,
    events,
    dmf,
    authority,
    counters,
    reseed
  });

  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    // Idle keep-alive longer than clients' pools keep sockets, so clients never reuse a closed one.
    keepAliveTimeout: 72_000,
    ...(pem ? { https: { key: pem.key, cert: pem.cert } } : {})
  }) as unknown as FastifyInstance;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  authority.routes(app);
  dmf.blobRoutes(app);

  const dataHandler = async (
    req: FastifyRequest,
    reply: FastifyReply
  ): Promise<FastifyReply | undefined> => {
    const claims =
      authority.cached(req.headers.authorization) ??
      (await authority.verify(req.headers.authorization));
    if (!claims) {
      counters.unauthorized++;
      // F&O's 401 body is UNCONFIRMED (§4): an empty body with the RFC 6750 challenge.
      return reply
        .code(401)
        .header(
          'WWW-Authenticate',
          `Bearer authorization_uri="${baseUrl}/${tenantId}/oauth2/authorize"`
        )
        .send();
    }
    const raw = req.url;
    const q = raw.indexOf('?');
    const path = (q < 0 ? raw : raw.slice(0, q)).slice('/data'.length);
    const search = q < 0 ? '' : raw.slice(q + 1);
    // DIXF (the package API) and recurring integrations are exempt from service protection (§3.4).
    const exempt = path.startsWith('/DataManagementDefinitionGroups/');
    const isBatch = path === '/$batch';
    let end: (() => void) | undefined;
    if (!exempt) {
      const began = throttle.begin(`${claims.oid}|${claims.appid}`);
      const rejection =
        typeof began === 'function' ? (isBatch ? undefined : throttle.take()) : began;
      if (typeof began === 'function') end = began;
      if (rejection) {
        end?.();
        counters.throttled++;
        return send(
          reply,
          errorResponse(
            new ODataError(
              429,
              { error: { code: '', message: rejection.message } },
              { 'Retry-After': String(rejection.retryAfter) }
            )
          )
        );
      }
    }
    try {
      // Injected latency counts as execution time (and concurrency) of the request.
      const fault = faults.decide();
      const latency = faults.latencyMs();
      if (latency > 0) await new Promise((r) => setTimeout(r, latency));
      if (fault.kind === 'drop') {
        counters.droppedConnections++;
        reply.hijack();
        req.raw.socket.destroy();
        return undefined;
      }
      if (fault.kind === 'status') {
        if (fault.status === 429) counters.throttled++;
        else counters.injectedErrors++;
        const r = errorResponse(
          new ODataError(
            fault.status,
            {
              error: {
                code: '',
                message: fault.status === 429 ? 'Too many requests.' : 'An error has occurred.'
              }
            },
            fault.retryAfter ? { 'Retry-After': String(fault.retryAfter) } : {}
          )
        );
        return send(reply, r);
      }
      const body = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : undefined;
      const headers = req.headers as Record<string, string | undefined>;
      if (isBatch) {
        if (req.method !== 'POST')
          return send(
            reply,
            errorResponse(
              new ODataError(405, {
                error: { code: '', message: 'Only POST is allowed on $batch.' }
              })
            )
          );
        counters.batches++;
        const r = await executeBatch(body ?? '', headers['content-type'], {
          service,
          store,
          baseUrl,
          inheritedHeaders: { authorization: headers.authorization },
          take: () => {
            const rej = throttle.take();
            if (rej) counters.throttled++;
            return rej;
          }
        }).catch(errorResponse);
        return send(reply, r);
      }
      return send(reply, await service.handle({ method: req.method, path, search, headers, body }));
    } finally {
      end?.();
    }
  };
  // Recurring integrations enqueue: bearer-checked, exempt from service protection (§3.4, §5.3).
  app.post('/api/connector/enqueue/:activityId', async (req, reply) => {
    if (!(await authority.verify(req.headers.authorization))) {
      counters.unauthorized++;
      return reply.code(401).send();
    }
    const { activityId } = req.params as { activityId: string };
    const q = req.query as { entity?: string; company?: string };
    counters.request('api/connector/enqueue', 'POST');
    try {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const messageId = dmf.enqueue(activityId, q.entity ?? '', body, q.company ?? defaultCompany);
      return reply.code(200).header('Content-Type', 'text/plain; charset=utf-8').send(messageId);
    } catch (err) {
      return send(reply, errorResponse(err));
    }
  });
  app.all('/data', dataHandler);
  app.all('/data/*', dataHandler);

  registerControlRoutes(app, control, options.controlToken);

  await app.listen({ port, host });
  return {
    url: baseUrl,
    tenantId,
    clientId: clients[0]!.clientId,
    clientSecret: clients[0]!.clientSecret,
    authority: `${baseUrl}/${tenantId}`,
    caCertPem: pem?.cert ?? '',
    control,
    close: async () => {
      await events.settled();
      await dmf.idle();
      await app.close();
    }
  };
}

function registerControlRoutes(
  app: FastifyInstance,
  control: Control,
  token: string | undefined
): void {
  const json = (req: FastifyRequest): Record<string, unknown> => {
    if (!Buffer.isBuffer(req.body) || req.body.length === 0) return {};
    try {
      return JSON.parse(req.body.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new ControlError('The request body is not valid JSON.');
    }
  };
  const route = (
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    fn: (req: FastifyRequest) => unknown
  ): void => {
    app.route({
      method,
      url: `/_emulator${url}`,
      handler: async (req, reply) => {
        if (token !== undefined && req.headers['x-emulator-control-token'] !== token) {
          return reply.code(401).send({
            code: 'Unauthorized',
            message: 'The X-Emulator-Control-Token header is missing or wrong.'
          });
        }
        try {
          const result = await fn(req);
          return result === undefined ? reply.code(204).send() : reply.send(result);
        } catch (err) {
          if (err instanceof ODataError) return reply.code(err.status).send(err.body);
          return reply.code(400).send({
            code: 'BadRequest',
            message: err instanceof Error ? err.message : String(err)
          });
        }
      }
    });
  };
  type Body<T extends (arg: never) => unknown> = Parameters<T>[0];
  route('GET', '/counters', () => control.counters());
  route('POST', '/reset', () => control.reset());
  route('POST', '/counters/reset', () => control.resetCounters());
  route('POST', '/invoices', (req) =>
    control.postInvoice(json(req) as Body<Control['postInvoice']>)
  );
  route('POST', '/free-text-invoices', (req) =>
    control.postFreeTextInvoice(json(req) as Body<Control['postFreeTextInvoice']>)
  );
  route('POST', '/payments', (req) =>
    control.registerPayment(json(req) as Body<Control['registerPayment']>)
  );
  route('POST', '/stock', (req) => control.setStock(json(req) as Body<Control['setStock']>));
  route('PUT', '/throttling', (req) => control.setThrottling(json(req) as ThrottlingConfig));
  route('POST', '/throttling/storm', (req) =>
    control.throttleStorm(json(req) as Body<Control['throttleStorm']>)
  );
  route('PUT', '/faults', (req) => control.setFaults(json(req) as FaultConfig));
  route('POST', '/faults/queue', (req) =>
    control.queueFaults((json(req).faults ?? []) as Body<Control['queueFaults']>)
  );
  route('DELETE', '/faults', () => control.clearFaults());
  route('GET', '/data/:entitySet', (req) => {
    const q = req.query as { filter?: string; legalEntity?: string };
    return control.read((req.params as { entitySet: string }).entitySet, q);
  });
  route('POST', '/data/:entitySet', (req) => {
    const q = req.query as { legalEntity?: string };
    return control.insert(
      (req.params as { entitySet: string }).entitySet,
      json(req),
      q.legalEntity
    );
  });
  route('POST', '/business-events/endpoints', (req) =>
    control.registerEndpoint(json(req) as unknown as Body<Control['registerEndpoint']>)
  );
  route('DELETE', '/business-events/endpoints/:id', (req) => {
    if (!control.unregisterEndpoint((req.params as { id: string }).id))
      throw new ControlError('Unknown endpoint.');
  });
  route('PUT', '/business-events/delivery', (req) => control.setDelivery(json(req)));
  route('GET', '/business-events/deliveries', () => control.deliveries());
  route('POST', '/business-events/resend', (req) => ({
    resent: control.resendEvent(Number(json(req).controlNumber))
  }));
  route('POST', '/tokens', async (req) => ({
    access_token: await control.issueToken(json(req) as Body<Control['issueToken']>)
  }));
  route('POST', '/data-projects', (req) =>
    control.defineDataProject(json(req) as Body<Control['defineDataProject']>)
  );
  route('GET', '/dmf/jobs', () => control.dmfJobs());
}

class ControlError extends Error {}
