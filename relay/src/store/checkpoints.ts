import type { CheckpointStore } from '../salesforce/pubsub.ts';
import type { Store } from './types.ts';

/** The Pub/Sub subscriber's view of the store: one durable replay id per topic. */
export function checkpointStore(store: Store): CheckpointStore {
  return {
    load: (topic) => store.loadCheckpoint(topic),
    save: (topic, replayId) => store.saveCheckpoint(topic, replayId)
  };
}
