import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { FlowRegistry } from '../../flows/registry.ts';
import type { RelayMetrics } from '../../observability/metrics.ts';
import type { IntakeItem, Store } from '../../store/types.ts';
import { requirePathSecret } from '../auth.ts';
import { BusinessEventAck, BusinessEventBody, withErrors, type BusinessEvent } from '../schemas.ts';

/**
 * The message D365 sends when an endpoint is activated, to validate it (reference/d365-fo.md §6.2).
 * It must be acknowledged but carries no business data.
 */
export const TEST_BUSINESS_EVENT_ID = 'BusinessEventsTestEndpointContract';

export interface BusinessEventRouteOptions {
  secret: string;
  store: Store;
  registry: FlowRegistry;
  metrics: RelayMetrics;
  onEnqueued: () => void;
}

/** The idempotency key of a business event: its EventId, which D365 keeps across retries and resends. */
export function businessEventKey(event: BusinessEvent): string {
  return `d365:${event.EventId.replace(/[{}]/g, '').toUpperCase()}`;
}

export const businessEventRoutes: FastifyPluginAsyncTypebox<BusinessEventRouteOptions> = async (
  fastify,
  { secret, store, registry, metrics, onEnqueued }
) => {
  fastify.post(
    '/business-events/:secret',
    {
      onRequest: requirePathSecret('secret', secret),
      schema: {
        summary: 'D365 Business Events HTTPS endpoint (one event or an array)',
        description:
          'Configure the endpoint URL in D365 (through Key Vault) as https://<relay>/api/v1/business-events/<RELAY_BUSINESS_EVENTS_SECRET>. ' +
          'Duplicates (same EventId) are acknowledged and not processed again.',
        params: Type.Object({ secret: Type.String({ maxLength: 256 }) }),
        body: BusinessEventBody,
        response: withErrors({ 200: BusinessEventAck }, [401])
      }
    },
    async (request) => {
      const events = Array.isArray(request.body) ? request.body : [request.body];
      const results: { eventId: string; status: 'accepted' | 'duplicate' | 'ignored' | 'test' }[] =
        [];
      const items: IntakeItem[] = [];
      const itemIndex: number[] = [];

      for (const event of events) {
        if (event.BusinessEventId === TEST_BUSINESS_EVENT_ID) {
          results.push({ eventId: event.EventId, status: 'test' });
          continue;
        }
        const flow = registry.forBusinessEvent(event.BusinessEventId);
        if (!flow) {
          request.log.warn(
            { businessEventId: event.BusinessEventId, eventId: event.EventId },
            'No flow processes this business event; acknowledged and dropped'
          );
          results.push({ eventId: event.EventId, status: 'ignored' });
          continue;
        }
        itemIndex.push(results.length);
        results.push({ eventId: event.EventId, status: 'accepted' });
        items.push({
          event: {
            idempotencyKey: businessEventKey(event),
            source: 'd365-business-event',
            topic: event.BusinessEventId,
            payload: event,
            // The EventId follows the event from D365 through every job and request it causes.
            correlationId: event.EventId.replace(/[{}]/g, '').toLowerCase()
          },
          job: { flow: flow.name, maxAttempts: registry.maxAttempts(flow) }
        });
      }

      const stored = items.length > 0 ? await store.intake(items) : [];
      stored.forEach((outcome, i) => {
        if (outcome.duplicate) results[itemIndex[i]!]!.status = 'duplicate';
      });
      if (stored.some((outcome) => outcome.jobId !== null)) onEnqueued();

      const count = (status: string) => results.filter((r) => r.status === status).length;
      for (const r of results) metrics.intake('d365-business-event', r.status);
      request.log.info(
        { accepted: count('accepted'), duplicates: count('duplicate'), ignored: count('ignored') },
        'Business events received'
      );
      return {
        accepted: count('accepted'),
        duplicates: count('duplicate'),
        ignored: count('ignored'),
        results
      };
    }
  );
};
