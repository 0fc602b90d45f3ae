import type { StaticDocumentSpec } from '@fastify/swagger';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';

/** The caller's headers the UI's answers depend on (content negotiation, caching). */
const FORWARDED_REQUEST_HEADERS = ['accept', 'if-none-match', 'if-modified-since'];
/** Set by this server for its own connection and body, not copied from the UI's answer. */
const OWN_RESPONSE_HEADERS = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'date',
  'content-length'
]);

/**
 * The OpenAPI document (`/docs/json`, `/docs/yaml`) and its UI (`/docs`). @fastify/swagger-ui with
 * @fastify/static costs ~60 ms of cold start and a few MB of memory for a page operators rarely
 * open, so the UI is built on the first request to /docs: a separate Fastify instance serving this
 * instance's document, which answers through inject(). @fastify/swagger itself stays registered on
 * the relay's instance: it collects the routes' schemas as they are added.
 */
export const docsRoutes: FastifyPluginAsync = async (fastify) => {
  let ui: Promise<FastifyInstance> | undefined;

  async function forward(request: FastifyRequest, reply: FastifyReply) {
    // The relay's document is OpenAPI 3.0 (the plugin's default); its return type also admits 3.1.
    ui ??= buildUi(fastify.swagger() as StaticDocumentSpec['document']).catch((err: unknown) => {
      ui = undefined;
      throw err;
    });
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const answer = await (await ui).inject({ method: 'GET', url: request.url, headers });
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !OWN_RESPONSE_HEADERS.has(name)) reply.header(name, value);
    }
    return reply.code(answer.statusCode).send(answer.rawPayload);
  }

  const options = { schema: { hide: true } };
  fastify.get('/docs', options, forward);
  fastify.get('/docs/*', options, forward);
};

async function buildUi(document: StaticDocumentSpec['document']): Promise<FastifyInstance> {
  const [{ default: Fastify }, { default: swagger }, { default: swaggerUi }] = await Promise.all([
    import('fastify'),
    import('@fastify/swagger'),
    import('@fastify/swagger-ui')
  ]);
  const ui = Fastify({ logger: false });
  await ui.register(swagger, { mode: 'static', specification: { document } });
  await ui.register(swaggerUi, { routePrefix: '/docs' });
  await ui.ready();
  return ui;
}
