/** The emulator's HTTP server: OAuth, REST and Bulk under /services, and the control API. */
import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearer, registerOAuthRoutes } from './auth.ts';
import type { ApiContext, ApiResponse } from './api.ts';
import { dispatch, errorBody, SUPPORTED_VERSIONS, versionList } from './api.ts';
import { bulkHandler } from './bulk.ts';
import { compositeHandler } from './composite.ts';
import type { EmulatorControl } from './control.ts';
import { registerControlRoutes } from './control.ts';
import type { ApiKind, Org } from './org.ts';
import type { EventBus } from './pubsub/event-bus.ts';

/** Bulk uploads may be up to 100 MB of CSV; JSON bodies share the same ceiling here. */
const BODY_LIMIT = 150 * 1024 * 1024;
const JSON_CONTENT_TYPE = 'application/json;charset=UTF-8';
const UNKNOWN_EXCEPTION_MESSAGE =
  'An unexpected error occurred. Please include this ErrorId if you contact support: 0000000000-00000 (0)';

export interface HttpOptions {
  org: Org;
  bus: EventBus | null;
  control: EmulatorControl;
  info: () => Record<string, unknown>;
  controlToken?: string;
  logger?: boolean;
}

export function buildHttpServer(opts: HttpOptions): FastifyInstance {
  const { org } = opts;
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: BODY_LIMIT,
    keepAliveTimeout: 65_000,
    // Clients that keep the instance URL with a trailing slash (the Salesforce CLI) send `//services/…`.
    routerOptions: { ignoreDuplicateSlashes: true }
  });
  // Bodies stay strings: OAuth is form-encoded, Bulk is CSV, and JSON errors need Salesforce's shape.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  const ctx: ApiContext = {
    org,
    bus: opts.bus,
    composite: compositeHandler(() => ctx),
    bulk: bulkHandler(() => ctx)
  };

  // Unexpected failures inside the API answer like Salesforce's 500 (an array body), never a stack.
  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status < 500)
      return reply.code(status).send({ statusCode: status, message: error.message });
    request.log.error({ err: error }, 'emulator error');
    const body = request.url.startsWith('/services/')
      ? errorBody('UNKNOWN_EXCEPTION', UNKNOWN_EXCEPTION_MESSAGE)
      : { statusCode: 500, message: 'Internal Server Error' };
    return reply.code(500).type(JSON_CONTENT_TYPE).send(JSON.stringify(body));
  });

  registerOAuthRoutes(app, org);
  registerControlRoutes(app, opts.control, opts.info, opts.controlToken);

  const versions = async (request: FastifyRequest) => {
    void request;
    return versionList();
  };
  app.get('/services/data', versions);
  app.get('/services/data/', versions);
  app.route({
    method: ['GET', 'POST', 'PATCH', 'PUT', 'DELETE', 'HEAD'],
    url: '/services/data/*',
    handler: (request, reply) => handleApi(ctx, request, reply)
  });
  return app;
}

function send(
  org: Org,
  reply: FastifyReply,
  response: ApiResponse,
  withLimitInfo: boolean
): FastifyReply {
  if (withLimitInfo) reply.header('Sforce-Limit-Info', org.limitInfo());
  if (response.headers) reply.headers(response.headers);
  reply.code(response.status);
  if (response.text !== undefined) {
    return reply.type(response.contentType ?? 'text/plain').send(response.text);
  }
  if (response.body === undefined) return reply.send();
  return reply.type(JSON_CONTENT_TYPE).send(JSON.stringify(response.body));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function handleApi(
  ctx: ApiContext,
  request: FastifyRequest,
  reply: FastifyReply
): Promise<FastifyReply> {
  const { org } = ctx;
  const url = request.url;
  const q = url.indexOf('?');
  const pathname = (q === -1 ? url : url.slice(0, q)).replace(/\/{2,}/g, '/');
  const m = /^\/services\/data\/v(\d+\.\d)(\/.*)?$/.exec(pathname);
  if (!m || !SUPPORTED_VERSIONS.includes(m[1] as string)) {
    return send(
      org,
      reply,
      { status: 404, body: errorBody('NOT_FOUND', 'The requested resource does not exist') },
      false
    );
  }
  const session = org.session(bearer(request.headers.authorization));
  if (!session) {
    return send(
      org,
      reply,
      { status: 401, body: errorBody('INVALID_SESSION_ID', 'Session expired or invalid') },
      false
    );
  }
  const now = Date.now();
  if (org.faults.requestLimitExceeded || org.apiUsed >= org.dailyApiLimit) {
    return send(
      org,
      reply,
      { status: 403, body: errorBody('REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.') },
      true
    );
  }
  let longRunning = 0;
  for (const r of org.inFlight)
    if (now - r.started >= org.options.longRequestThresholdMs) longRunning++;
  if (longRunning >= org.options.maxConcurrentLongRequests) {
    return send(
      org,
      reply,
      {
        status: 403,
        body: errorBody(
          'REQUEST_LIMIT_EXCEEDED',
          `ConcurrentPerOrgLongTxn Limit exceeded. Only ${org.options.maxConcurrentLongRequests} concurrent long-running requests are allowed.`
        )
      },
      true
    );
  }
  org.apiUsed++;
  const marker = { started: now };
  org.inFlight.add(marker);
  try {
    const faults = org.faults;
    if (faults.latencyMs > 0) await sleep(faults.latencyMs);
    if (faults.failNext > 0 || (faults.errorRate > 0 && Math.random() < faults.errorRate)) {
      if (faults.failNext > 0) faults.failNext--;
      const status = faults.errorStatus;
      // Salesforce answers server-side failures with an UNKNOWN_EXCEPTION (500) or a 503 maintenance page.
      const body =
        status === 503
          ? errorBody('SERVER_UNAVAILABLE', 'Server temporarily unavailable. Try again later.')
          : errorBody('UNKNOWN_EXCEPTION', UNKNOWN_EXCEPTION_MESSAGE);
      return send(org, reply, { status, body }, true);
    }
    const path = m[2] ?? '';
    let body: unknown = request.body;
    const contentType = request.headers['content-type'] ?? '';
    if (typeof body === 'string' && body !== '' && !/text\/csv/i.test(contentType)) {
      try {
        body = JSON.parse(body);
      } catch (error) {
        return send(
          org,
          reply,
          {
            status: 400,
            body: errorBody(
              'JSON_PARSER_ERROR',
              `Unexpected character in JSON body: ${(error as Error).message}`
            )
          },
          true
        );
      }
    }
    const response = await dispatch(ctx, {
      method: request.method === 'HEAD' ? 'GET' : request.method,
      path,
      version: m[1] as string,
      query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
      body: body === '' ? undefined : body,
      headers: request.headers as Record<string, string | undefined>,
      userId: session.userId
    });
    const kind: ApiKind = response.kind ?? (/^\/query(All)?(\/|$)/.test(path) ? 'query' : 'rest');
    org.count(kind);
    return send(org, reply, response, true);
  } finally {
    org.inFlight.delete(marker);
  }
}
