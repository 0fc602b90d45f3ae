import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { RelayError } from '../../errors.ts';
import type { FlowRegistry } from '../../flows/registry.ts';
import type { DeadLetter, Store } from '../../store/types.ts';
import { requireBearer } from '../auth.ts';
import {
  DeadLetterDetail,
  DeadLetterList,
  DeadLetterListQuery,
  IdParams,
  LedgerItem,
  LedgerQueryString,
  StatusResponse,
  SyncAck,
  SyncQuery,
  SyncParams,
  withErrors
} from '../schemas.ts';
import { Type } from 'typebox';

export interface AdminRouteOptions {
  adminToken: string;
  store: Store;
  registry: FlowRegistry;
  onEnqueued: () => void;
}

const iso = (ms: number) => new Date(ms).toISOString();

function summary(letter: DeadLetter) {
  return {
    id: letter.id,
    jobId: letter.jobId,
    flow: letter.flow,
    idempotencyKey: letter.idempotencyKey,
    attempts: letter.attempts,
    maxAttempts: letter.maxAttempts,
    lastError: letter.lastError,
    reason: letter.reason,
    correlationId: letter.correlationId,
    createdAt: iso(letter.createdAt),
    deadLetteredAt: iso(letter.deadLetteredAt)
  };
}

const notFound = (what: string) => new RelayError('RELAY_ERR_NOT_FOUND', `${what} does not exist.`);

/** Operator API: dead letters, sync triggers, ledger and queue status. Bearer RELAY_ADMIN_TOKEN. */
export const adminRoutes: FastifyPluginAsyncTypebox<AdminRouteOptions> = async (
  fastify,
  { adminToken, store, registry, onEnqueued }
) => {
  fastify.addHook('onRequest', requireBearer(adminToken));
  const security = [{ adminToken: [] }];

  fastify.get(
    '/status',
    {
      schema: {
        summary: 'Queue depth, dead letters and registered flows',
        security,
        response: withErrors({ 200: StatusResponse }, [401])
      }
    },
    async () => {
      const counts = await store.counts();
      return {
        backend: store.backend,
        queue: { pending: counts.pending, running: counts.running },
        deadLetters: counts.deadLetters,
        flows: registry.names()
      };
    }
  );

  fastify.get(
    '/dead-letters',
    {
      schema: {
        summary: 'Lists dead letters, newest first',
        security,
        querystring: DeadLetterListQuery,
        response: withErrors({ 200: DeadLetterList }, [401])
      }
    },
    async (request) => {
      const limit = request.query.limit ?? 50;
      const letters = await store.listDeadLetters({
        limit,
        ...(request.query.flow !== undefined ? { flow: request.query.flow } : {}),
        ...(request.query.beforeId !== undefined ? { beforeId: request.query.beforeId } : {})
      });
      return {
        items: letters.map(summary),
        nextBeforeId: letters.length === limit ? letters[letters.length - 1]!.id : null
      };
    }
  );

  fastify.get(
    '/dead-letters/:id',
    {
      schema: {
        summary: 'Shows one dead letter with its payload',
        security,
        params: IdParams,
        response: withErrors({ 200: DeadLetterDetail }, [401, 404])
      }
    },
    async (request) => {
      const letter = await store.getDeadLetter(request.params.id);
      if (!letter) throw notFound(`Dead letter ${request.params.id}`);
      return { ...summary(letter), payload: letter.payload };
    }
  );

  fastify.post(
    '/dead-letters/:id/replay',
    {
      schema: {
        summary: 'Queues a dead letter again as a fresh job (same idempotency key)',
        security,
        params: IdParams,
        response: withErrors({ 202: Type.Object({ jobId: Type.Integer() }) }, [401, 404, 409])
      }
    },
    async (request, reply) => {
      const replayed = await store.replayDeadLetter(request.params.id);
      if (!replayed) throw notFound(`Dead letter ${request.params.id}`);
      request.log.info(
        { deadLetterId: request.params.id, jobId: replayed.jobId },
        'Dead letter replayed'
      );
      onEnqueued();
      reply.code(202);
      return replayed;
    }
  );

  fastify.delete(
    '/dead-letters/:id',
    {
      schema: {
        summary: 'Discards a dead letter',
        security,
        params: IdParams,
        response: withErrors({ 204: Type.Null() }, [401, 404])
      }
    },
    async (request, reply) => {
      if (!(await store.discardDeadLetter(request.params.id))) {
        throw notFound(`Dead letter ${request.params.id}`);
      }
      request.log.info({ deadLetterId: request.params.id }, 'Dead letter discarded');
      reply.code(204);
      return null;
    }
  );

  fastify.post(
    '/sync/:flow',
    {
      schema: {
        summary: 'Triggers a sync run of a flow (delta, or full with ?full=true)',
        security,
        params: SyncParams,
        querystring: SyncQuery,
        response: withErrors({ 202: SyncAck }, [401, 404])
      }
    },
    async (request, reply) => {
      const flow = registry.get(request.params.flow);
      if (!flow) {
        throw new RelayError(
          'RELAY_ERR_UNKNOWN_FLOW',
          `No flow named ${request.params.flow} is registered.`
        );
      }
      const full = request.query.full ?? false;
      // One pending run per flow and mode: a second trigger while one waits is acknowledged only.
      const result = await store.enqueue({
        flow: flow.name,
        idempotencyKey: `sync:${flow.name}:${full ? 'full' : 'delta'}`,
        payload: { trigger: 'admin', full },
        maxAttempts: registry.maxAttempts(flow),
        correlationId: request.id
      });
      if (!result.duplicate) onEnqueued();
      reply.code(202);
      return { flow: flow.name, full, ...result };
    }
  );

  fastify.get(
    '/ledger',
    {
      schema: {
        summary: 'Sync status per record',
        security,
        querystring: LedgerQueryString,
        response: withErrors({ 200: Type.Object({ items: Type.Array(LedgerItem) }) }, [401])
      }
    },
    async (request) => {
      const { limit, ...filters } = request.query;
      const entries = await store.queryLedger({ ...filters, limit: limit ?? 100 });
      return {
        items: entries.map((e) => ({
          ...e,
          createdAt: iso(e.createdAt),
          updatedAt: iso(e.updatedAt)
        }))
      };
    }
  );
};
