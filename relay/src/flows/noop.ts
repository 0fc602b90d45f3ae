import type { Flow } from './types.ts';

/** Business event id the no-op flow consumes; not a real D365 event, so production never sends it. */
export const NOOP_BUSINESS_EVENT = 'RelayNoopBusinessEvent';

/**
 * Does nothing and succeeds: measures the runtime alone (intake → store → worker → acknowledge) in
 * the benchmark, and lets an operator check a deployment end to end without touching either system.
 */
export const noopFlow: Flow = {
  name: 'noop',
  maxAttempts: 1,
  businessEvents: [NOOP_BUSINESS_EVENT],
  async handle() {
    return { status: 'done' };
  }
};
