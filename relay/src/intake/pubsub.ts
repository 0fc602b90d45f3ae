import type { Logger } from 'pino';
import type { FlowRegistry } from '../flows/registry.ts';
import type { RelayMetrics } from '../observability/metrics.ts';
import type { ReceivedEvent } from '../salesforce/pubsub.ts';
import type { IntakeItem, Store } from '../store/types.ts';

/** Field every package platform event carries (docs/contracts.md), unique per change. */
const IDEMPOTENCY_FIELD = 'Idempotency_Key__c';
/** Its length in the package metadata: Text(80). */
const MAX_IDEMPOTENCY_KEY_LENGTH = 80;

/**
 * The idempotency key of a platform event: the package's `Idempotency_Key__c` (one per change of a
 * record, so a change published twice runs once), else the EventUuid Salesforce assigns.
 */
export function platformEventKey(event: ReceivedEvent): string {
  const key = event.payload[IDEMPOTENCY_FIELD];
  if (typeof key === 'string' && key !== '' && key.length <= MAX_IDEMPOTENCY_KEY_LENGTH) {
    return `sf:${key}`;
  }
  return `sf:uuid:${event.eventUuid}`;
}

export interface PubSubIntakeOptions {
  store: Store;
  registry: FlowRegistry;
  logger: Logger;
  metrics?: RelayMetrics;
  onEnqueued?: () => void;
}

/**
 * The subscriber's `onEvents`: stores a batch (inbox rows and jobs in one transaction) and resolves
 * only then, so the subscriber saves the replay checkpoint after the events are durable.
 */
export function createPubSubIntake(
  options: PubSubIntakeOptions
): (events: ReceivedEvent[]) => Promise<void> {
  const { store, registry, logger, metrics, onEnqueued } = options;
  return async (events) => {
    const items: IntakeItem[] = events.map((event) => {
      const flow = registry.forTopic(event.topic);
      return {
        event: {
          idempotencyKey: platformEventKey(event),
          source: 'salesforce-pubsub',
          topic: event.topic,
          payload: event.payload,
          // The EventUuid follows the change from Salesforce through every job and request.
          correlationId: event.eventUuid
        },
        ...(flow ? { job: { flow: flow.name, maxAttempts: registry.maxAttempts(flow) } } : {})
      };
    });
    const results = await store.intake(items);
    let duplicates = 0;
    for (const result of results) {
      if (result.duplicate) duplicates += 1;
      metrics?.intake('salesforce-pubsub', result.duplicate ? 'duplicate' : 'accepted');
    }
    if (results.some((r) => r.jobId !== null)) onEnqueued?.();
    logger.info(
      { topic: events[0]?.topic, received: events.length, duplicates },
      'Platform events stored'
    );
  };
}
