import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The correlation id of the work in progress (a job, a received event), kept across awaits so
 * that code far from the flow (the D365 and Salesforce clients, their logs) can tag what it does
 * without each call passing it along.
 */
const storage = new AsyncLocalStorage<string>();

export function withCorrelationId<T>(correlationId: string, fn: () => T): T {
  return storage.run(correlationId, fn);
}

export function currentCorrelationId(): string | undefined {
  return storage.getStore();
}
