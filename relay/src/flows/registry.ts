import { accountFlow } from './account/index.ts';
import { contactFlow } from './contact/index.ts';
import { invoiceFlow } from './invoice/index.ts';
import { noopFlow } from './noop.ts';
import { orderFlow } from './order/index.ts';
import { paymentFlow } from './payment/index.ts';
import { productsFlow } from './products/index.ts';
import type { Flow } from './types.ts';

/** The flows this relay runs. Adding a flow: create its folder under `flows/` and add it here. */
export const FLOWS: readonly Flow[] = [
  noopFlow,
  accountFlow,
  contactFlow,
  orderFlow,
  productsFlow,
  invoiceFlow,
  paymentFlow
];

const FLOW_NAME = /^[a-z][a-z0-9-]{0,39}$/;

export interface FlowRegistry {
  get(name: string): Flow | undefined;
  names(): string[];
  /** The flow that processes a D365 business event id, if any. */
  forBusinessEvent(businessEventId: string): Flow | undefined;
  /** The flow that processes a Salesforce Pub/Sub topic, if any. */
  forTopic(topic: string): Flow | undefined;
  /** Every topic some flow consumes: the relay subscribes to each. */
  topics(): string[];
  maxAttempts(flow: Flow): number;
}

export function createFlowRegistry(
  flows: readonly Flow[],
  options: { defaultMaxAttempts: number }
): FlowRegistry {
  const byName = new Map<string, Flow>();
  const byEvent = new Map<string, Flow>();
  const byTopic = new Map<string, Flow>();
  for (const flow of flows) {
    if (!FLOW_NAME.test(flow.name)) throw new Error(`Invalid flow name: ${flow.name}`);
    if (byName.has(flow.name)) throw new Error(`Flow ${flow.name} is registered twice`);
    byName.set(flow.name, flow);
    for (const eventId of flow.businessEvents ?? []) {
      const other = byEvent.get(eventId);
      if (other) {
        throw new Error(`Business event ${eventId} is claimed by ${other.name} and ${flow.name}`);
      }
      byEvent.set(eventId, flow);
    }
    for (const topic of flow.topics ?? []) {
      const other = byTopic.get(topic);
      if (other) throw new Error(`Topic ${topic} is claimed by ${other.name} and ${flow.name}`);
      byTopic.set(topic, flow);
    }
  }
  return {
    get: (name) => byName.get(name),
    names: () => [...byName.keys()],
    forBusinessEvent: (id) => byEvent.get(id),
    forTopic: (topic) => byTopic.get(topic),
    topics: () => [...byTopic.keys()],
    maxAttempts: (flow) => flow.maxAttempts ?? options.defaultMaxAttempts
  };
}
