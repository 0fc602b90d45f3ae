import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { Logger } from 'pino';
import { Type } from 'typebox';
import type { RelayClients } from './clients.ts';
import type { RelayConfig } from './config/load.ts';
import { RelayError } from './errors.ts';
import type { FlowRegistry } from './flows/registry.ts';
import { redactUrl, requireBearer } from './http/auth.ts';
import { handleError } from './http/error-handler.ts';
import { adminRoutes } from './http/routes/admin.ts';
import { businessEventRoutes } from './http/routes/business-events.ts';
import { calloutRoutes } from './http/routes/callouts.ts';
import { docsRoutes } from './http/routes/docs.ts';
import { healthRoutes } from './http/routes/health.ts';
import { inventoryRoutes, readsD365 } from './http/routes/inventory.ts';
import { ErrorResponse } from './http/schemas.ts';
import { validatorCompiler } from './http/validator.ts';
import { currentCorrelationId } from './observability/correlation.ts';
import type { RelayMetrics } from './observability/metrics.ts';
import type { Store } from './store/types.ts';

export interface AppDependencies {
  config: RelayConfig;
  store: Store;
  registry: FlowRegistry;
  clients: RelayClients;
  metrics: RelayMetrics;
  /** Called after intake enqueued work, so the local worker starts without waiting for its poll. */
  onEnqueued?: () => void;
}

/** Header carrying the correlation id in and out; a caller may set it, else the relay makes one. */
export const CORRELATION_HEADER = 'x-correlation-id';
const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const PROBE_URLS = new Set(['/healthz', '/readyz', '/metrics']);

/** Server-level options: everything Fastify needs at construction time. */
export function serverOptions(config: RelayConfig, logger: Logger): FastifyServerOptions {
  return {
    loggerInstance: logger,
    bodyLimit: config.http.bodyLimitBytes,
    // Behind a load balancer the client address (rate limits, logs) comes from X-Forwarded-For.
    trustProxy: trustProxyOption(config.http.trustProxy),
    // Behind a load balancer: a request that trickles in must not hold a socket forever.
    connectionTimeout: 30_000,
    requestTimeout: 60_000,
    keepAliveTimeout: 5_000,
    requestIdHeader: false,
    logController: new LogController({
      requestIdLogLabel: 'correlationId',
      // Probes and scrapes arrive every few seconds; logging each would drown the real traffic.
      disableRequestLogging: (req) => PROBE_URLS.has(req.url)
    }),
    genReqId(req) {
      const incoming = req.headers[CORRELATION_HEADER];
      return typeof incoming === 'string' && CORRELATION_ID.test(incoming)
        ? incoming
        : randomUUID();
    },
    // Room for a long business-events path secret (up to 200 characters).
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 256 }
  };
}

function trustProxyOption(
  value: boolean | number | string
): boolean | string | ((address: string, hop: number) => boolean) {
  // A hop count trusts that many proxies in front of the relay (as Fastify documents for numbers).
  return typeof value === 'number' ? (_address, hop) => hop < value : value;
}

/** Pino options shared by the server and the CLI: secrets and credentials never reach a log line. */
export function loggerOptions(level: string) {
  return {
    level,
    // Every line written during a job (the clients' included) names the job's correlation id.
    mixin: () => {
      const correlationId = currentCorrelationId();
      return correlationId === undefined ? {} : { correlationId };
    },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-relay-key"]',
        'req.headers.cookie',
        'headers.authorization',
        '*.clientSecret',
        '*.privateKeyPem',
        '*.accessToken',
        '*.password'
      ],
      censor: '[redacted]'
    },
    serializers: {
      req(req: { method: string; url: string; socket?: { remoteAddress?: string } }) {
        return {
          method: req.method,
          url: redactUrl(req.url),
          remoteAddress: req.socket?.remoteAddress
        };
      }
    }
  };
}

const relayApp: FastifyPluginAsyncTypebox<AppDependencies> = async (fastify, deps) => {
  const { config, store, registry, clients, metrics } = deps;
  const onEnqueued = deps.onEnqueued ?? (() => {});

  fastify.setValidatorCompiler(validatorCompiler);
  // JSON only: a text/plain body on a JSON route is a 415, not a confusing validation error.
  fastify.removeContentTypeParser('text/plain');
  fastify.addSchema(ErrorResponse);
  fastify.setErrorHandler(handleError);
  fastify.addHook('onRequest', async (request, reply) => {
    reply.header(CORRELATION_HEADER, request.id);
  });
  fastify.addHook('onResponse', async (request, reply) => {
    metrics.httpRequest({
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      statusCode: reply.statusCode,
      durationMs: reply.elapsedTime
    });
  });

  await fastify.register(rateLimit, {
    global: true,
    max: config.http.rateLimitMax,
    timeWindow: config.http.rateLimitWindowMs,
    errorResponseBuilder: () => new RelayError('RELAY_ERR_RATE_LIMITED')
  });
  // Rate-limited too, so nobody can probe for URLs (secrets in paths) without limit.
  fastify.setNotFoundHandler({ preHandler: fastify.rateLimit() }, (request, reply) => {
    reply.code(404).send({
      code: 'RELAY_ERR_NOT_FOUND',
      message: `Route ${request.method} ${redactUrl(request.url)} does not exist.`,
      correlationId: request.id
    });
  });

  await fastify.register(swagger, {
    openapi: {
      info: {
        title: 'Salesforce ↔ D365 F&O relay',
        version: '1',
        description: 'Intake from both systems, operator API and probes.'
      },
      components: {
        securitySchemes: {
          adminToken: { type: 'http', scheme: 'bearer' },
          relayKey: { type: 'apiKey', in: 'header', name: 'X-Relay-Key' }
        }
      }
    }
  });
  await fastify.register(docsRoutes);

  await fastify.register(healthRoutes, { store, clients });
  await fastify.register(calloutRoutes, {
    prefix: '/api/v1',
    calloutKey: config.security.calloutKey
  });
  if (readsD365(clients.d365)) {
    await fastify.register(inventoryRoutes, {
      prefix: '/api/v1',
      calloutKey: config.security.calloutKey,
      d365: clients.d365,
      defaultLegalEntity: config.values.D365_DEFAULT_LEGAL_ENTITY,
      cacheTtlMs: config.values.RELAY_INVENTORY_CACHE_MS,
      deadlineMs: config.values.RELAY_INVENTORY_DEADLINE_MS
    });
  }
  await fastify.register(businessEventRoutes, {
    prefix: '/api/v1',
    secret: config.security.businessEventsSecret,
    store,
    registry,
    metrics,
    onEnqueued
  });
  await fastify.register(adminRoutes, {
    prefix: '/api/v1/admin',
    adminToken: config.security.adminToken,
    store,
    registry,
    onEnqueued
  });

  fastify.get(
    '/metrics',
    {
      onRequest: requireBearer(config.security.adminToken),
      config: { rateLimit: false },
      schema: {
        summary: 'Prometheus metrics (bearer RELAY_ADMIN_TOKEN)',
        security: [{ adminToken: [] }],
        produces: ['text/plain'],
        response: { 200: Type.String(), 401: ErrorResponse }
      }
    },
    async (_request, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    }
  );
};

/** The relay as a plugin (fastify/demo layout): `server.ts` and the tests register it. */
export const app = fp(relayApp, { name: 'relay-app', fastify: '5.x' });

/** Builds a ready app instance; tests drive it with `inject`, the server calls `listen`. */
export async function buildApp(deps: AppDependencies, logger: Logger): Promise<FastifyInstance> {
  const fastify = Fastify(serverOptions(deps.config, logger));
  await fastify.register(app, deps);
  await fastify.ready();
  return fastify;
}
