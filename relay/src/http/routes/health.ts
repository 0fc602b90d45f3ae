import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { RelayClients } from '../../clients.ts';
import { coerceError } from '../../errors.ts';
import type { Store } from '../../store/types.ts';

/** Long enough for a token fetch, short enough that a hung dependency reads as "not ready". */
const CHECK_TIMEOUT_MS = 5_000;

const CheckResult = Type.Union([Type.Literal('ok'), Type.Literal('failed')]);
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  checks: Type.Object({ store: CheckResult, d365: CheckResult, salesforce: CheckResult })
});

export const healthRoutes: FastifyPluginAsyncTypebox<{
  store: Store;
  clients: RelayClients;
}> = async (fastify, { store, clients }) => {
  fastify.get(
    '/healthz',
    {
      config: { rateLimit: false },
      schema: {
        summary: 'Liveness: the process answers',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) }
      }
    },
    async () => ({ status: 'ok' as const })
  );

  fastify.get(
    '/readyz',
    {
      config: { rateLimit: false },
      schema: {
        summary: 'Readiness: the store answers and both systems accept the credentials',
        response: { 200: Readiness, 503: Readiness }
      }
    },
    async (request, reply) => {
      const run = async (name: string, check: () => Promise<void>) => {
        try {
          await withTimeout(check(), CHECK_TIMEOUT_MS, `${name} check timed out`);
          return 'ok' as const;
        } catch (err) {
          request.log.warn({ err: coerceError(err), check: name }, 'Readiness check failed');
          return 'failed' as const;
        }
      };
      const [storeCheck, d365, salesforce] = await Promise.all([
        run('store', () => store.ping()),
        run('d365', () => clients.d365.checkCredentials()),
        run('salesforce', () => clients.salesforce.checkCredentials())
      ]);
      const checks = { store: storeCheck, d365, salesforce };
      const ready = Object.values(checks).every((c) => c === 'ok');
      reply.code(ready ? 200 : 503);
      return { status: ready ? ('ready' as const) : ('not_ready' as const), checks };
    }
  );
};

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
